"""The request-context middleware (api/service/middleware.py), without a server."""
from starlette.testclient import TestClient

from api.service.middleware import RequestContext


def test_a_bug_answers_500_with_the_request_id():
    async def broken(scope, receive, send):
        raise RuntimeError("a bug")

    r = TestClient(RequestContext(broken, max_body_bytes=1000)).get("/x", headers={"X-Request-ID": "req-7"})
    assert r.status_code == 500 and r.headers["x-request-id"] == "req-7"
    assert r.json()["error"]["code"] == "internal_error" and "a bug" not in r.text  # the trace goes to the log only
