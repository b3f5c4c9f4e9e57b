"""The monitoring page and its API, on a real server: reviews with times and shops sent over HTTP, a planted spike
at one shop in the latest week, /v1/alerts finds it and delivers it to a real local webhook receiver, and the
dashboard shows it in headless Chromium with every request kept on this server."""
import csv
from urllib.parse import urlparse

import httpx
import pytest

from tests.api.test_alerts import ROOT, Receiver, write_shop_export
from tests.server import browser_page, off_host, start_server


def _send(base, rows, headers=None):
    items = [{"id": r["id"], "text": r["text"], "time": r["date"], "groups": {"shop": r["shop"]}} for r in rows]
    for i in range(0, len(items), 200):
        r = httpx.post(base + "/v1/analyze", json={"items": items[i:i + 200]}, headers=headers or {}, timeout=120)
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboard")
    receiver = Receiver()
    proc, base, _ = start_server({"VOC_HOME": str(tmp / "home"), "VOC_MODE": "fast", "VOC_ASPECTS": "0",
                                  "PYTHONPATH": str(ROOT), "VOC_ALERT_WEBHOOK": receiver.url}, tmp)
    write_shop_export(tmp / "shop.csv")
    with open(tmp / "shop.csv", encoding="utf-8") as f:
        _send(base, list(csv.DictReader(f)))
    yield base, receiver
    proc.terminate()
    proc.wait(10)
    receiver.close()


def test_the_api_finds_the_planted_spike_and_notifies_once(seeded):
    base, receiver = seeded
    res = httpx.get(base + "/v1/alerts", timeout=60).json()
    assert res["period"] == "week" and res["latest"]["start"] == "2026-10-12"
    shop = [a for a in res["alerts"] if a.get("group") == {"name": "shop", "value": "专营店"}]
    assert shop and shop[0]["size"] >= 18 and len(shop[0]["quotes"]) == 3
    assert not [a for a in res["alerts"] if (a.get("group") or {}).get("value") == "旗舰店"]
    assert httpx.get(base + "/v1/alerts?notify=1", timeout=60).json()["notified"] == len(res["alerts"])
    assert httpx.get(base + "/v1/alerts?notify=1", timeout=60).json()["notified"] == 0  # sent once per alert
    for _ in range(100):  # delivered in the background, after one 503
        if len(receiver.bodies) >= 2:
            break
        httpx.get(base + "/healthz")
    assert [a["id"] for a in receiver.bodies[-1]["alerts"]] == [a["id"] for a in res["alerts"]]
    weeks = httpx.get(base + "/v1/stats?by=week").json()["groups"]
    assert [g["key"] for g in weeks][-1] == "2026-10-12" and len(weeks) == 6
    shops = {g["key"]: g["count"] for g in httpx.get(base + "/v1/stats?by=group:shop").json()["groups"]}
    assert shops["专营店"] == shops["旗舰店"] + 18
    assert httpx.get(base + "/v1/groups").json() == {"groups": ["shop"]}


@pytest.mark.parametrize("groups", [{"shop name": "a"}, {"shop": "x" * 201}, {"shop": "a\u0000"},
                                    {f"g{i}": "v" for i in range(9)}])
def test_bad_groups_are_refused_and_nothing_is_stored(seeded, groups):
    base, _ = seeded
    before = httpx.get(base + "/v1/stats?by=week").json()["items"]
    r = httpx.post(base + "/v1/analyze", json={"items": [{"text": "很好", "groups": groups}]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_groups"
    assert httpx.get(base + "/v1/stats?by=week").json()["items"] == before
    assert httpx.get(base + "/v1/stats?by=group:bad%20name").status_code == 422


def _open(url, lang_check, fill_key=None):
    with browser_page() as (page, requested):
        page.goto(url)
        if fill_key:
            page.wait_for_selector("#keybox", state="visible", timeout=30_000)
            page.fill("#key", fill_key)
            page.click("#keysave")
        page.wait_for_selector("body[data-loaded='1']", timeout=60_000)
        alerts = page.inner_text("#alerts")
        charts = page.locator("#chart-trend .main-svg").count()
        group_chart = page.locator("#chart-groups .main-svg").count()
        title = page.inner_text("h1")
    assert lang_check in title
    return alerts, charts, group_chart, requested


def test_the_dashboard_shows_the_alert_and_asks_nothing_of_other_hosts(seeded):
    base, _ = seeded
    host = urlparse(base).netloc
    alerts, charts, group_chart, requested = _open(base + "/?lang=zh", "看板")  # / redirects to the dashboard
    assert "shop = 专营店" in alerts and "2026-10-12 当周" in alerts
    assert charts and group_chart
    elsewhere = off_host(requested, host)
    assert not elsewhere, elsewhere
    assert any(u.endswith("/dashboard/plotly.min.js") for u in requested)
    alerts, *_ = _open(base + "/dashboard?lang=en", "Dashboard")
    assert "shop = 专营店" in alerts and ("negatives-per-review test" in alerts or "negative-share test" in alerts)


def test_with_an_api_key_the_page_asks_for_it(tmp_path):
    proc, base, _ = start_server({"VOC_HOME": str(tmp_path / "home"), "VOC_MODE": "fast", "VOC_ASPECTS": "0",
                                  "PYTHONPATH": str(ROOT), "VOC_API_KEYS": "s3cret"}, tmp_path)
    try:
        assert httpx.get(base + "/dashboard").status_code == 200  # the page holds no data; the data needs the key
        assert httpx.get(base + "/v1/alerts").status_code == 401
        alerts, *_ = _open(base + "/dashboard?lang=en", "Dashboard", fill_key="s3cret")
        assert "No stored reviews yet" in alerts
    finally:
        proc.terminate()
        proc.wait(10)
