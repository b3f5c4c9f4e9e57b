"""The real server, started as `voc serve` on a free loopback port, called over HTTP."""
import concurrent.futures as cf
import json
import time

import httpx
import pytest

from models.runtime.hardware import choose_engine
from tests.server import start_server

KEY = "test-key-123"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    proc, base, log = start_server({"VOC_HOME": str(tmp / "home")}, tmp)
    yield base, log
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api-secured")
    proc, base, _ = start_server({"VOC_HOME": str(tmp / "home"), "VOC_API_KEYS": KEY, "VOC_MODE": "fast", "VOC_ASPECTS": "0"}, tmp)
    yield base
    proc.terminate()
    proc.wait(10)


def test_health_ready_and_request_id(server):
    base, _ = server
    assert httpx.get(base + "/healthz").json() == {"status": "ok"}
    r = httpx.get(base + "/readyz")
    assert r.json()["ready"] is True and r.headers["x-request-id"]
    assert httpx.get(base + "/healthz", headers={"X-Request-ID": "abc"}).headers["x-request-id"] == "abc"


def test_analyze_one_text(server):
    base, _ = server
    r = httpx.post(base + "/v1/analyze", json={"text": "物流很快，质量很好，非常满意", "id": "r1"})
    assert r.status_code == 200
    [res] = r.json()["results"]
    assert res["id"] == "r1" and res["lang"] == "zh" and res["sentiment"]["label"] == "positive"
    s = res["sentiment"]
    assert s["score"] == pytest.approx(s["probs"]["positive"] - s["probs"]["negative"], abs=1e-3)
    assert res["model"]


def test_analyze_batch_keeps_ids_and_order(server):
    base, _ = server
    items = [{"id": "a", "text": "Terrible, it broke after a day."}, {"text": "質量很好，很滿意"}, {"id": "c", "text": "太差了，退货"}]
    res = httpx.post(base + "/v1/analyze", json={"items": items}).json()["results"]
    assert [r["id"] for r in res] == ["a", "1", "c"]
    assert [r["sentiment"]["label"] for r in res] == ["negative", "positive", "negative"]


def test_personal_data_never_comes_back(server):
    base, log = server
    res = httpx.post(base + "/v1/analyze", json={"text": "电话13812345678，快递太慢了"}).json()["results"][0]
    assert "13812345678" not in res["text"] and "[PHONE]" in res["text"]
    assert "快递太慢了" not in log.read_text(encoding="utf-8")  # logs carry no review text


def test_chat_log(server):
    base, _ = server
    # the greeting opens a complaint: it stays in the turn but is not scored (你好 holds 好, "good")
    chat = [{"role": "customer", "text": "你好，我的快递三天了还没到，太慢了"}, {"role": "agent", "text": "亲，帮您催一下"},
            {"role": "customer", "text": "收到了，东西很好，谢谢！"}]
    res = httpx.post(base + "/v1/analyze", json={"chat": chat}).json()["results"][0]
    assert [t["role"] for t in res["turns"]] == ["customer", "agent", "customer"]
    assert "sentiment" not in res["turns"][1] and res["turns"][0]["text"].startswith("你好，")
    assert res["chat"]["first"]["label"] == "negative" and res["chat"]["last"]["label"] == "positive"
    assert res["chat"]["trend"] > 0
    # aspects of every turn point into the transcript `text`, as everywhere else
    assert {a["aspect"] for a in res["aspects"]} >= {"logistics"}
    assert all(res["text"][a["start"]:a["end"]] == a["evidence"] for a in res["aspects"])
    text = httpx.post(base + "/v1/analyze", json={"chat": "顾客：东西坏了\n客服：亲，可以换货"}).json()["results"][0]
    assert text["chat"]["customer_turns"] == 1
    bad = httpx.post(base + "/v1/analyze", json={"chat": "no speakers here"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_chat_format"


@pytest.mark.parametrize("body, status, code", [
    ({"text": ""}, 422, "empty_text"),
    ({"text": "   "}, 422, "empty_text"),
    ({"text": "好" * 5001}, 413, "text_too_long"),
    ({"items": [{"text": "好"}] * 257}, 413, "too_many_items"),
    ({"items": []}, 422, "empty_batch"),
    ({"items": [{"text": "好"}, {"text": ""}]}, 422, "empty_text"),
    ({"text": 5}, 422, "invalid_request"),
    ({"text": "好", "extra": 1}, 422, "invalid_request"),
    ({}, 422, "invalid_request"),
    ({"text": "好", "items": [{"text": "好"}]}, 422, "invalid_request"),
])
def test_limits_and_bad_input_are_4xx_json(server, body, status, code):
    base, _ = server
    r = httpx.post(base + "/v1/analyze", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]


def test_limit_messages_name_the_limit(server):
    base, _ = server
    assert "5,000" in httpx.post(base + "/v1/analyze", json={"text": "好" * 6000}).json()["error"]["message"]
    assert "256" in httpx.post(base + "/v1/analyze", json={"items": [{"text": "x"}] * 300}).json()["error"]["message"]


def test_body_too_large_and_invalid_utf8(server):
    base, _ = server
    r = httpx.post(base + "/v1/analyze", content=b'{"text": "' + b"a" * (2 * 1024 * 1024 + 10) + b'"}',
                   headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    # chunked uploads carry no length: the server measures them, and replays a body within the limit
    big = iter([b'{"text": "', b"a" * (2 * 1024 * 1024), b'"}'])
    r = httpx.post(base + "/v1/analyze", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    small = iter([b'{"text": ', '"物流很快"}'.encode()])
    r = httpx.post(base + "/v1/analyze", content=small, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["results"][0]["text"] == "物流很快"
    r = httpx.post(base + "/v1/analyze", content='{"text": "物流很快"}'.encode("gbk"), headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500 and "error" in r.json()
    r = httpx.post(base + "/v1/analyze", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_json"


def test_unknown_route_and_models(server):
    base, _ = server
    r = httpx.get(base + "/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    models = httpx.get(base + "/v1/models").json()
    assert models["serving"] and any(m["name"] == "default" for m in models["models"])
    assert models["engine"] == choose_engine()  # bf16 where measured faster (AMX, AMD AVX-512 BF16), else int8


def test_admin_needs_a_key_even_when_the_api_is_open(server):
    base, _ = server
    assert httpx.post(base + "/v1/admin/reload").status_code == 403


def test_concurrent_requests_are_all_answered(server):
    base, _ = server
    texts = ["物流很快，很满意", "质量太差了", "Great product!", "It broke in a day."] * 8

    def call(t):
        return httpx.post(base + "/v1/analyze", json={"text": t}, timeout=60).json()["results"][0]["sentiment"]["label"]

    alone = [call(t) for t in texts[:4]]
    with cf.ThreadPoolExecutor(16) as pool:
        labels = list(pool.map(call, texts))
    assert labels == alone * 8  # micro-batched answers equal one-at-a-time answers
    assert alone[:2] == ["positive", "negative"]


def test_openapi_docs(server):
    base, _ = server
    spec = httpx.get(base + "/openapi.json").json()
    assert "/v1/analyze" in spec["paths"]
    assert "物流很快" in json.dumps(spec, ensure_ascii=False)
    assert httpx.get(base + "/docs").status_code == 200


def test_api_keys(secured):
    r = httpx.post(secured + "/v1/analyze", json={"text": "好"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = httpx.post(secured + "/v1/analyze", json={"text": "好"}, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403
    r = httpx.post(secured + "/v1/analyze", json={"text": "物流很快，质量很好"}, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 200 and r.json()["results"][0]["model"].endswith("+fast")
    assert r.json()["results"][0]["aspects"] == []  # VOC_ASPECTS=0: sentiment only
    assert httpx.get(secured + "/healthz").status_code == 200  # liveness needs no key


def test_results_are_stored_and_counted(server):
    base, _ = server
    httpx.post(base + "/v1/analyze", json={"items": [{"text": "物流太慢了，等了一个星期"}, {"text": "质量很好"}]})
    stats = httpx.get(base + "/v1/stats", params={"by": "day"}).json()
    assert stats["items"] >= 2 and stats["groups"][0]["count"] >= 2
    assert set(stats["groups"][0]["share"]) == {"positive", "neutral", "negative"}
    by_aspect = httpx.get(base + "/v1/stats", params={"by": "aspect"}).json()
    assert any(g["key"] == "logistics" for g in by_aspect["groups"])
    future = httpx.get(base + "/v1/stats", params={"from": "2999-01-01"}).json()
    assert future["items"] == 0
    assert httpx.get(base + "/v1/stats", params={"by": "shop"}).status_code == 422
    assert httpx.get(base + "/v1/stats", params={"from": "yesterday"}).status_code == 422
    assert httpx.get(base + "/v1/stats", params={"tz": "Mars/Base"}).json()["error"]["code"] == "invalid_request"


def test_review_times_place_items_on_their_days(server):
    """Reviews sent later (a nightly sync, a backfill) count on the day they were written, in the asked time zone."""
    base, _ = server
    items = [{"id": "t1", "text": "物流太慢了，等了一个星期", "time": "2021-03-01T23:30:00Z"},  # 07:30 on 03-02 in Beijing
             {"id": "t2", "text": "质量很好，很满意", "time": "2021-03-02"}]
    assert httpx.post(base + "/v1/analyze", json={"items": items}).status_code == 200
    assert httpx.post(base + "/v1/analyze", json={"text": "包装破了", "time": "2021-03-03 10:00"}).status_code == 200
    window = {"from": "2021-03-01", "to": "2021-03-04"}
    for _ in range(50):  # results are stored off the request path
        utc = httpx.get(base + "/v1/stats", params={"by": "day", **window}).json()
        if utc["items"] == 3:
            break
        time.sleep(0.1)
    assert [(g["key"], g["count"]) for g in utc["groups"]] == [("2021-03-01", 1), ("2021-03-02", 1), ("2021-03-03", 1)]
    beijing = httpx.get(base + "/v1/stats", params={"by": "day", "tz": "+08:00", **window}).json()
    assert beijing["tz"] == "UTC+08:00" and [(g["key"], g["count"]) for g in beijing["groups"]][0] == ("2021-03-02", 2)
    trend = httpx.get(base + "/v1/stats", params={"by": "day,aspect", **window}).json()
    assert ["2021-03-01", "logistics"] in [g["key"] for g in trend["groups"]]
    assert httpx.get(base + "/v1/stats", params={"by": "day,shop"}).json()["error"]["code"] == "invalid_request"
    stand_in = httpx.post(base + "/v1/analyze", json={"text": "该用户未及时主动评价，系统默认好评", "time": "2021-03-02"}).json()
    assert stand_in["results"][0]["placeholder"] is True and stand_in["results"][0]["sentiment"]["label"] == "neutral"
    for _ in range(50):
        counted = httpx.get(base + "/v1/stats", params={"by": "day", **window}).json()
        if counted["placeholders"] == 1:
            break
        time.sleep(0.1)
    assert counted["placeholders"] == 1 and counted["items"] == 3  # nobody's opinion: not in the shares
    bad = httpx.post(base + "/v1/analyze", json={"items": [{"text": "好"}, {"text": "好", "time": "last week"}]})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_time" and "items[1].time" in bad.json()["error"]["message"]
    assert httpx.post(base + "/v1/analyze", json={"items": [{"text": "好"}], "time": "2021-03-01"}).status_code == 422


def test_topics_endpoint(server):
    from tests.topic_corpus import corpus

    base, _ = server
    texts, _ = corpus(per_theme=20, seed=5)
    r = httpx.post(base + "/v1/topics", json={"texts": texts, "seed": 3}, timeout=300)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["assignments"]) == len(texts)
    assert len([t for t in body["topics"] if t["id"] != -1]) >= 3
    t = body["topics"][0]
    assert {"id", "label", "keywords", "size", "negative_share", "aspect", "examples"} <= set(t)
    few = httpx.post(base + "/v1/topics", json={"texts": ["快递太慢"] * 30})
    assert few.status_code == 422 and few.json()["error"]["code"] == "topic_input"
    assert httpx.post(base + "/v1/topics", json={"texts": ["a"] * 5001}).status_code == 413
