"""schemathesis against the running server's OpenAPI schema: no generated input may cause a server error."""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.test_api import _start

KEY = "fuzz-key"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    proc, base, _ = _start({"VOC_HOME": str(tmp / "home"), "VOC_API_KEYS": KEY}, tmp)
    yield base
    proc.terminate()
    proc.wait(10)


def test_no_server_errors(base_url):
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    checked = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path == "/v1/topics":
            continue  # fitting topics on fuzzed texts takes minutes; covered by test_topics / test_api

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
            assert response.status_code < 500, (op.method, op.path, case.body, response.text[:300])

        fuzz()
        checked.append(f"{op.method.upper()} {op.path}")
    assert "POST /v1/analyze" in checked and "GET /v1/stats" in checked
