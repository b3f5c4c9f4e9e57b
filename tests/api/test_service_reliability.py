"""Failures found by fuzzing and by hand, on a real server (`voc serve`, fast mode) on a loopback port: review times
outside any sane range, texts that normalise to nothing, out-of-range seeds, a failing database, and the order of the
key check and body parsing."""
import sqlite3

import httpx
import pytest

from tests.server import start_server

KEY, ADMIN = "reliability-key", "reliability-admin"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api-reliability")
    home = tmp / "home"
    proc, base, log = start_server({"VOC_HOME": str(home), "VOC_MODE": "fast", "VOC_ASPECTS": "0", "VOC_API_KEYS": KEY,
                              "VOC_ADMIN_KEYS": ADMIN}, tmp)
    yield base, home, log
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00-05:00", "1989-12-31T23:00:00Z",
                                  "2999-01-01"])
def test_review_times_outside_1990_to_tomorrow_are_refused(server, when):
    """One stored item at 9999-12-31 (or year 1 west of UTC) made every /v1/stats by day in a zone east (west) of
    UTC a 500, for good."""
    base, _, _ = server
    r = httpx.post(base + "/v1/analyze", headers=AUTH, json={"text": "很好", "time": when})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_time", r.text
    r = httpx.post(base + "/v1/analyze", headers=AUTH, json={"items": [{"text": "很好", "time": "2021-05-01"},
                                                                      {"text": "很好", "time": when}]})
    assert r.status_code == 422 and "items[1].time" in r.json()["error"]["message"]
    for tz in ("Asia/Shanghai", "America/New_York", "+14:00", "-12:00"):
        assert httpx.get(base + "/v1/stats", headers=AUTH, params={"by": "day", "tz": tz}).status_code == 200


def test_topics_name_the_texts_that_cannot_be_analysed(server):
    base, _, _ = server
    texts = [f"第{i}条：快递太慢了，等了一个星期" for i in range(25)]
    for bad in ("\u200b", "\x00", "\u200b\u200c\ufeff"):
        r = httpx.post(base + "/v1/topics", headers=AUTH, json={"texts": texts[:12] + [bad] + texts[12:]})
        assert r.status_code == 422 and r.json()["error"]["code"] == "empty_text", r.text
        assert "texts[12]" in r.json()["error"]["message"]


@pytest.mark.parametrize("seed", [-1, 2**32, 2**80])
def test_topic_seeds_outside_what_numpy_takes_are_refused(server, seed):
    base, _, _ = server
    texts = [f"第{i}条：颜色和图片不一样" for i in range(25)]
    r = httpx.post(base + "/v1/topics", headers=AUTH, json={"texts": texts, "seed": seed})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request" and "seed" in r.json()["error"]["message"]


def test_a_failed_database_write_fails_the_request_and_logs_no_text(server):
    """The analysis was answered 200 and then lost, and the log held the review text (the statement's parameters)."""
    base, home, log = server
    db = sqlite3.connect(home / "voc.db")
    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON analyses BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
    db.commit()
    try:
        secret = "我的地址是幸福路七号，包装破了"
        r = httpx.post(base + "/v1/analyze", headers=AUTH, json={"text": secret})
        assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable", r.text
        r = httpx.post(base + "/v1/analyze", headers=AUTH, json={"items": [{"text": secret}, {"text": "很好"}]})
        assert r.status_code == 503
        assert "幸福路" not in log.read_text(encoding="utf-8")
        assert "disk I/O error" in log.read_text(encoding="utf-8")  # the reason is logged, the data is not
    finally:
        db.execute("DROP TRIGGER refuse")
        db.commit()
        db.close()
    assert httpx.post(base + "/v1/analyze", headers=AUTH, json={"text": "很好"}).status_code == 200


@pytest.mark.parametrize("path, key", [("/v1/analyze", KEY), ("/v1/topics", KEY), ("/v1/admin/train", ADMIN)])
@pytest.mark.parametrize("body", [b"{not json", '{"text": "物流很快"}'.encode("gbk"), b'{"text": 5}'])
def test_the_key_is_checked_before_the_body_is_judged(server, path, key, body):
    base, _, _ = server
    json_type = {"content-type": "application/json"}
    r = httpx.post(base + path, content=body, headers=json_type)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
    r = httpx.post(base + path, content=body, headers={**json_type, "Authorization": "Bearer wrong"})
    assert r.status_code == 403, r.text
    r = httpx.post(base + path, content=body, headers={**json_type, "Authorization": f"Bearer {key}"})
    assert r.status_code in (400, 422) and r.json()["error"]["code"], r.text


def test_the_openapi_document_names_every_error_status_the_server_answers(server):
    base, _, _ = server
    paths = httpx.get(base + "/openapi.json").json()["paths"]
    want = {("post", "/v1/analyze"): {"400", "401", "403", "413", "422", "503"},
            ("get", "/v1/stats"): {"401", "403", "409", "422", "503"},
            ("post", "/v1/topics"): {"400", "401", "403", "413", "422", "503"},
            ("post", "/v1/admin/train"): {"400", "401", "403", "409", "413", "422"},
            ("get", "/v1/admin/train/{job_id}"): {"401", "403", "404"},
            ("delete", "/v1/admin/train/{job_id}"): {"401", "403", "404", "409"},
            ("post", "/v1/admin/reload"): {"401", "403"}}
    for (method, path), statuses in want.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (method, path, sorted(responses))
        assert all(responses[s]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse") for s in statuses)
