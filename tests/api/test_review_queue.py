"""Trust flags through the interfaces: `voc score --rating-col --flags-only`, the report's "reviews to check"
section, and POST /v1/analyze items with ratings, on a real server."""
import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd

from tests.server import start_server

VOC = str(Path(sys.executable).parent / "voc")
ROWS = [("a1", 5, "好评返现，东西一般般"),
        ("a2", 5, "收到的杯子裂了一条缝，联系客服三天没人理，太失望了，再也不买了"),
        ("a3", 4, "整体还不错，就是物流慢了点，等了五天"),
        ("a4", 5, "这款电脑包做工很好，拉链顺滑，装15寸电脑刚刚好，推荐购买"),
        ("a5", 5, "这款电脑包做工很好！拉链顺滑，装15寸电脑刚刚好。推荐购买"),
        ("a6", 5, "衣服质量很好，面料舒服，尺码标准，物流也快")]


def test_score_flags_only_writes_the_review_queue_and_the_report_lists_it(tmp_path):
    src, out, report = tmp_path / "in.csv", tmp_path / "queue.csv", tmp_path / "report.html"
    pd.DataFrame(ROWS, columns=["id", "stars", "text"]).to_csv(src, index=False)
    r = subprocess.run([VOC, "score", src, "-o", out, "--id-col", "id", "--rating-col", "stars", "--flags-only",
                        "--report", report, "-q"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "scored 6 row(s), failed 0; 3 flagged" in r.stderr
    df = pd.read_csv(out, encoding="utf-8-sig", dtype=str).set_index("id")
    assert list(df.index) == ["a1", "a2", "a5"]  # only the flagged rows
    assert df.loc["a1", "flags"] == "incentivised" and df.loc["a2", "flags"] == "rating_mismatch"
    assert df.loc["a5", "flags"] == "duplicate"
    assert json.loads(df.loc["a5", "flag_details"])[0]["reason"] == "same text as a4"
    html = report.read_text("utf-8")
    assert "Reviews to check" in html and "好评返现" in html
    data = json.loads(re.search(r'<script type="application/json" id="voc-data">(.*?)</script>', html, re.S).group(1))
    assert data["review_queue"]["flagged"] == 3 and data["kpi"]["contradictions"] == 1


def test_missing_rating_column_is_a_clear_error(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("text\n质量很好\n", encoding="utf-8")
    r = subprocess.run([VOC, "score", src, "-o", tmp_path / "o.csv", "--rating-col", "stars", "-q"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and "stars" in r.stderr and "--rating-col" in r.stderr


def test_api_items_with_ratings_get_flags(tmp_path):
    proc, base, _ = start_server({"VOC_HOME": str(tmp_path / "home")}, tmp_path)
    try:
        items = [{"id": i, "text": t, "rating": s} for i, s, t in ROWS]
        r = httpx.post(base + "/v1/analyze", json={"items": items}, timeout=60)
        assert r.status_code == 200, r.text
        flags = {x["id"]: [f["kind"] for f in x.get("flags", [])] for x in r.json()["results"]}
        assert flags == {"a1": ["incentivised"], "a2": ["rating_mismatch"], "a3": [], "a4": [], "a5": ["duplicate"], "a6": []}
        assert "flags" not in r.json()["results"][5]  # absent where none
        bad = httpx.post(base + "/v1/analyze", json={"items": [{"text": "好", "rating": 11}]}, timeout=60)
        assert bad.status_code == 422
    finally:
        proc.terminate()
        proc.wait(10)
