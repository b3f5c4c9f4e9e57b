"""Conversations end to end: `voc score --chat` on real files in a child process, and the HTTP API over HTTP."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.server import browser_page, start_server

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

CONVERSATIONS = {
    "A-1": [("tb_8823", "2024-05-03 14:20:11", "在吗，我买的耳机左边没声音"), ("小美", "2024-05-03 14:45:02", "亲亲这边理解您的心情呢"),
            ("tb_8823", "2024-05-03 14:46:00", "我已经说了三遍了！我要投诉，给我转人工，不然给差评")],
    "A-2": [("tb_5120", "2024-05-04 09:00:00", "你们这什么破服务，快递丢了！"),
            ("小美", "2024-05-04 09:01:00", "亲，非常抱歉，已为您补发并加急，明天送到"), ("tb_5120", "2024-05-04 09:02:00", "好的谢谢，解决了")],
    "B-7": [("user", "2024-05-05 10:00:00", "Hi, my refund for order 5512 still hasn't arrived after two weeks."),
            ("helpdesk", "2024-05-05 10:02:00", "Sorry about that! I've pushed the refund through, it will show within 24 hours."),
            ("user", "2024-05-05 10:03:00", "Great, thanks for sorting it out so quickly.")],
}


def run_voc(*args, home: Path):
    env = {**os.environ, "VOC_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_voc_score_chat_on_a_message_table(tmp_path):
    src = tmp_path / "messages.csv"
    rows = [(cid, who, when, text) for cid, msgs in CONVERSATIONS.items() for who, when, text in msgs]
    rows = rows[::-1] + [("", "user", "2024-05-05 10:00:00", "a message of no conversation")]  # out of time order
    with src.open("w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["会话ID", "发送方", "时间", "内容"])
        w.writerows(rows)
    out, report = tmp_path / "scored.csv", tmp_path / "report.html"
    done = run_voc("score", "--chat", str(src), "--conv-col", "会话ID", "--role-col", "发送方", "--text-col", "内容",
                   "--time-col", "时间", "-o", str(out), "--report", str(report), "--store", "-q", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert "scored 3 conversation(s), failed 1" in done.stderr
    with out.open(encoding="utf-8-sig") as f:
        scored = {r["conversation_id"]: r for r in csv.DictReader(f)}
    assert set(scored) == {"A-1", "A-2", "B-7"}
    assert scored["A-1"]["escalation"] == "True" and "投诉" in scored["A-1"]["escalation_quote"]
    assert float(scored["A-1"]["first_response_min"]) == pytest.approx(24.85, abs=0.01)
    assert scored["A-2"]["resolved"] == "True" and scored["A-2"]["satisfaction_label"] != "negative"
    assert scored["B-7"]["escalation"] == "False" and scored["B-7"]["lang"] == "en"
    errors = [json.loads(line) for line in Path(str(out) + ".errors.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(e["row"], e["code"]) for e in errors] == [(10, "bad_row")]
    page = report.read_text(encoding="utf-8")
    data = json.loads(page.split('<script type="application/json" id="voc-data">')[1].split("</script>")[0])
    assert data["conversations"]["count"] == 3 and data["conversations"]["escalation_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert "id='agent_behaviours'" in page and "id='conversation_trend'" in page
    drawn = _in_browser(report)
    assert drawn["charts"] == 2 and "3 conversations" in drawn["text"] and "escalated 33%" in drawn["text"]
    from api.storage.store import Store

    stats = Store(f"sqlite:///{tmp_path / 'home' / 'voc.db'}").stats(by="label")
    assert stats["conversations"]["count"] == 3 and stats["conversations"]["escalated"] == 1


def _in_browser(page: Path) -> dict:
    """The report as Chromium draws it: how many plotly charts rendered, and the visible text."""
    with browser_page() as (tab, _):
        tab.goto(page.as_uri())
        tab.wait_for_selector("#chart-conversation_trend .main-svg", timeout=60_000)
        return {"charts": tab.locator(".chart .main-svg >> nth=0").count() and tab.evaluate(
                    "document.querySelectorAll('.chart .plot-container').length"),
                "text": tab.inner_text("body")}


def test_voc_score_chat_reads_transcripts_and_rejects_an_unknown_shape(tmp_path):
    src = tmp_path / "chats.jsonl"
    src.write_text(json.dumps({"id": "x", "turns": [{"role": "customer", "text": "我要投诉，给我转人工"},
                                                    {"role": "agent", "text": "亲，马上为您转接"}]}, ensure_ascii=False) + "\n"
                   + json.dumps({"id": "y", "text": "Customer: where is my order?\nAgent: It ships today.\nCustomer: ok"}) + "\n",
                   encoding="utf-8")
    done = run_voc("score", "--chat", str(src), "--id-col", "id", "-o", str(tmp_path / "out.jsonl"), "-q", home=tmp_path / "h")
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [o["conversation_id"] for o in out] == ["x", "y"] and out[0]["escalation"] is True
    bad = tmp_path / "reviews.csv"
    bad.write_text("评价,日期\n很好,2024-05-01\n", encoding="utf-8")
    done = run_voc("score", "--chat", str(bad), "-q", home=tmp_path / "h")
    assert done.returncode == 2 and "one row per message" in done.stderr and "--conv-col" in done.stderr
    assert "Traceback" not in done.stderr


def test_analyze_a_chat_over_http_and_count_it(tmp_path):
    proc, base, _ = start_server({"VOC_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}, tmp_path)
    try:
        log = "\n".join(f"[{when}] {who}: {text}" for who, when, text in CONVERSATIONS["A-1"])
        res = httpx.post(base + "/v1/analyze", json={"chat": log, "roles": {"小美": "agent"}}, timeout=60).json()["results"][0]
        c = res["conversation"]
        assert c["escalation"]["escalated"] and c["escalation"]["turn"] == 2 and not c["resolved"]
        assert [t["role"] for t in res["turns"]] == ["customer", "agent", "customer"]
        assert res["sentiment"] == c["satisfaction"]
        bad = httpx.post(base + "/v1/analyze", json={"chat": log, "roles": {"小美": "boss"}}, timeout=60)
        assert bad.status_code == 422 and "NAME=ROLE" in bad.json()["error"]["message"]
        stats = httpx.get(base + "/v1/stats", timeout=60).json()
        assert stats["conversations"] == {"count": 1, "escalated": 1, "unresolved": 1,
                                          "share": stats["conversations"]["share"]} and stats["items"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
