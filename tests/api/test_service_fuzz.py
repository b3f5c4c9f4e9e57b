"""schemathesis against the running server's OpenAPI schema, every operation (topics and admin included, with a
key): no generated input may cause a server error, and every answer must be one the document names, in the
error body it names. Bounded so that the whole run takes well under a minute on two cores."""
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from tests.server import start_server

KEY = "fuzz-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
EXAMPLES = {"/v1/topics": 20}  # a text set that passes validation is a topic fit: seconds each


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    proc, base, _ = start_server({"VOC_HOME": str(tmp / "home"), "VOC_API_KEYS": KEY}, tmp)
    yield base
    proc.terminate()
    proc.wait(10)


def test_no_server_errors_and_only_documented_answers(base_url):
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    checked = []
    for result in schema.get_all_operations():
        op = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):  # valid by the schema, then not

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES.get(op.path, 60), deadline=None, suppress_health_check=list(HealthCheck),
                      database=None)
            def fuzz(case):
                response = case.call_and_validate(base_url=base_url, headers=AUTH, checks=CHECKS, timeout=60)
                if op.path == "/v1/admin/train" and response.status_code == 202:  # a real job (the schema's example):
                    httpx.delete(f"{base_url}/v1/admin/train/{response.json()['id']}", headers=AUTH)  # not for here

            try:
                fuzz()
            except Unsatisfiable:  # no input to get wrong (GET /healthz)
                assert mode == GenerationMode.NEGATIVE
        checked.append(f"{op.method.upper()} {op.path}")
    assert {"POST /v1/analyze", "GET /v1/stats", "POST /v1/topics", "POST /v1/admin/train", "GET /v1/admin/train",
            "GET /v1/admin/train/{job_id}", "DELETE /v1/admin/train/{job_id}", "POST /v1/admin/reload"} <= set(checked)
