"""Alerts end to end outside the browser: group values and flags stored, /v1/stats by week, month and group, the
webhook against a real local receiver that fails first, and `voc score` writing OUTPUT.alerts.json and a report
that opens with the alerts."""
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from api.storage.store import Store, check_group, groupings
from api.webhook import Notifier, post_alerts
from models.schema import Analysis, Aspect, Flag, Sentiment
from tests.api.test_storage import store  # noqa: F401 — the SQLite / PostgreSQL store fixture

VOC = str(Path(sys.executable).parent / "voc")
ROOT = Path(__file__).resolve().parents[2]
MONDAY = dt.datetime(2026, 9, 7, 10, tzinfo=dt.timezone.utc)
GOOD = ["质量很好，非常满意", "物流很快，包装完好", "很好用，推荐购买", "衣服很好看，面料舒服", "性价比很高，会回购"]
BAD = ["质量太差了，用了两天就坏了", "物流太慢了，等了一个星期", "客服态度很差，一直不回消息", "颜色和图片完全不一样，很失望"]


def _analysis(i, label, aspects=(), flags=None, text="评论"):
    return Analysis(id=str(i), text=text, lang="zh", model="test",
                    sentiment=Sentiment(label=label, score=-0.8 if label == "negative" else 0.8, confidence=0.9, probs={}),
                    aspects=[Aspect(aspect=a, label=label, confidence=0.9, evidence="e") for a in aspects], flags=flags)


class Receiver:
    """A real HTTP server on loopback that answers 503 to its first `fail` POSTs, then 200, and keeps the bodies."""

    def __init__(self, fail=1):
        self.bodies, self.fail = [], fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.bodies.append(json.loads(body))
                self.send_response(503 if len(outer.bodies) <= outer.fail else 200)
                self.end_headers()

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_groups_and_flags_are_stored_and_counted(store):  # noqa: F811
    results = [_analysis(0, "negative", ["logistics"], [Flag(kind="sarcasm", confidence=0.8, reason="真快啊")]),
               _analysis(1, "positive", ["logistics"]), _analysis(2, "negative"), _analysis(3, "positive")]
    times = [MONDAY, MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=8), MONDAY + dt.timedelta(days=40)]
    store.save(results, reviewed=times, groups=[{"shop": "旗舰店", "region": "华东"}, {"shop": "专营店"}, {"shop": "旗舰店"}, {}])
    by_shop = {g["key"]: g for g in store.stats(by="group:shop")["groups"]}
    assert by_shop["旗舰店"]["count"] == 2 and by_shop["旗舰店"]["share"]["negative"] == 1.0
    assert by_shop["专营店"]["count"] == 1 and by_shop[None]["count"] == 1  # no value: counted under None
    weeks = store.stats(by="week")["groups"]
    assert [(g["key"], g["count"]) for g in weeks] == [("2026-09-07", 2), ("2026-09-14", 1), ("2026-10-12", 1)]
    assert [g["key"] for g in store.stats(by="month")["groups"]] == ["2026-09-01", "2026-10-01"]
    pairs = {tuple(g["key"]): g["count"] for g in store.stats(by="group:shop,aspect")["groups"]}
    assert pairs == {("旗舰店", "logistics"): 1, ("专营店", "logistics"): 1}
    assert {tuple(g["key"]) for g in store.stats(by="week,group:region")["groups"]} >= {("2026-09-07", "华东")}
    flagged = store.flagged()
    assert flagged["counts"] == {"sarcasm": 1}
    assert flagged["items"][0]["flags"][0]["reason"] == "真快啊"
    assert store.group_names() == ["region", "shop"]
    assert store.pain_points()[0]["aspect"] == "logistics"
    assert store.conversation_kpis() == {"conversations": 0}
    items, period = store.alert_items()
    assert period == "week" and len(items) == 4
    assert sorted(it.groups.get("shop", "") for it in items) == ["", "专营店", "旗舰店", "旗舰店"]
    assert {it.text for it in items} == {"评论"}
    with pytest.raises(ValueError, match="two of them|one of"):
        groupings("week,day")
    with pytest.raises(ValueError):
        groupings("group:shop name")


@pytest.mark.parametrize("name,value", [("shop name", "a"), ("1shop", "a"), ("shop", "x" * 201), ("shop", "a\x00b"),
                                        ("shop", ["list"])])
def test_bad_group_values_are_refused(name, value):
    with pytest.raises(ValueError):
        check_group(name, value)
    assert check_group("店铺", "  旗舰店 ") == "旗舰店" and check_group("shop", " ") is None


def test_the_webhook_retries_until_the_receiver_takes_the_alerts(receiver):
    payload = {"period": "week", "alerts": [{"id": "abc", "size": 65}]}
    assert post_alerts(receiver.url, payload, backoff_s=0.05)
    assert len(receiver.bodies) == 2 and receiver.bodies[1] == payload  # the first answer was a 503
    receiver.fail = 10
    assert not post_alerts(receiver.url, payload, attempts=3, backoff_s=0.01)
    assert len(receiver.bodies) == 5


def test_the_server_notifier_sends_each_alert_once(receiver):
    notifier = Notifier(receiver.url)
    assert notifier.notify({"alerts": [{"id": "a"}, {"id": "b"}]}) == 2
    assert notifier.notify({"alerts": [{"id": "a"}, {"id": "c"}]}) == 1
    for _ in range(200):
        if len(receiver.bodies) >= 3:
            break
        threading.Event().wait(0.05)
    delivered = [a["id"] for b in receiver.bodies[-2:] for a in b["alerts"]]
    assert sorted(delivered) == ["a", "b", "c"]


def write_shop_export(path: Path, weeks=6, per_week=30, spike_shop="专营店", spike=18):
    """Two shops, `weeks` weeks, about 1 review in 8 negative; the last week `spike` extra complaints at one shop."""
    rows, n = [], 0
    for w in range(weeks):
        for i in range(per_week):
            day = (MONDAY + dt.timedelta(days=7 * w + i % 7)).date()
            rows.append({"id": n, "date": day.isoformat(), "shop": ["旗舰店", spike_shop][i % 2],
                         "text": BAD[(w + i) % len(BAD)] if i % 8 == 0 else GOOD[(w + i) % len(GOOD)]})
            n += 1
        if w == weeks - 1:
            for i in range(spike):
                day = (MONDAY + dt.timedelta(days=7 * w + i % 7)).date()
                rows.append({"id": n, "date": day.isoformat(), "shop": spike_shop, "text": BAD[i % len(BAD)] + "！" * (i // 4)})
                n += 1
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "date", "shop", "text"])
        writer.writeheader()
        writer.writerows(rows)


def test_voc_score_writes_alerts_delivers_them_and_the_report_opens_with_them(tmp_path, receiver):
    src, out, report = tmp_path / "shop.csv", tmp_path / "out.csv", tmp_path / "r.html"
    write_shop_export(src)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VOC_ALERT_WEBHOOK": receiver.url}
    r = subprocess.run([VOC, "score", str(src), "-o", str(out), "--time-col", "date", "--by", "shop", "--report",
                        str(report), "--mode", "fast", "--no-aspects", "-q", "--store"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    alerts = json.loads((tmp_path / "out.csv.alerts.json").read_text(encoding="utf-8"))
    assert alerts["period"] == "week" and alerts["latest"]["start"] == "2026-10-12"
    shop = [a for a in alerts["alerts"] if a.get("group") == {"name": "shop", "value": "专营店"}]
    assert shop and shop[0]["start"] == "2026-10-12" and shop[0]["size"] >= 18
    assert not [a for a in alerts["alerts"] if a.get("group", {}).get("value") == "旗舰店"]
    assert len(shop[0]["quotes"]) == 3
    assert "delivered to VOC_ALERT_WEBHOOK" in r.stderr
    assert receiver.bodies[-1]["alerts"] == alerts["alerts"]  # the first POST got a 503; the retry went through
    page = report.read_text(encoding="utf-8")
    assert page.index("<section id='alerts'>") < page.index("<section id='sentiment'>")
    assert "专营店" in page[page.index("<section id='alerts'>"):page.index("<section id='sentiment'>")]
    store = Store()  # VOC_HOME of this test: the rows went in with their shop
    assert {g["key"] for g in store.stats(by="group:shop")["groups"]} == {"旗舰店", "专营店"}
