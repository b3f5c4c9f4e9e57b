"""`voc score --report` and `--resume`: the HTML report has every section and its data; resume never duplicates."""
import json
import re
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

VOC = str(Path(sys.executable).parent / "voc")
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "reviews.csv"


class Sections(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.scripts, self._in_script = [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.ids.append(attrs.get("id"))
        self._in_script = tag == "script"

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def test_report_has_every_section_with_chart_data(tmp_path):
    out, report = tmp_path / "scored.csv", tmp_path / "report.html"
    r = subprocess.run([VOC, "score", SAMPLE, "-o", out, "--id-col", "id", "--time-col", "date", "--by", "category", "shop",
                        "--rating-col", "rating", "--report", report, "-q"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    html = report.read_text("utf-8")
    parser = Sections()
    parser.feed(html)
    assert parser.ids == ["alerts", "sentiment", "aspects", "pain_points", "trend", "cross_category", "cross_shop", "kpi",
                          "review_queue"]
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=|<link[^>]*\shref=", html)  # nothing is fetched: it opens offline
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js embedded
    data = json.loads(re.search(r'<script type="application/json" id="voc-data">(.*?)</script>', html, re.S).group(1))
    assert data["rows"] == 30 and sum(data["sentiment_share"].values()) == 30
    assert data["pain_points"] and all(len(p["quotes"]) <= 3 for p in data["pain_points"])
    assert data["pain_points"][0]["pain_score"] >= data["pain_points"][-1]["pain_score"]
    assert [p["period"] for p in data["trend"]["points"]] == sorted(p["period"] for p in data["trend"]["points"])
    assert {g["group"] for g in data["cross"]["category"]} == {"服装", "数码", "外卖", "酒店", "家电"}
    kpi = data["kpi"]
    assert kpi["scale"] == "1-5" and 0 <= kpi["csat"] <= 100 and kpi["rated_rows"] == 30
    ratings = pd.read_csv(SAMPLE)["rating"]
    assert kpi["csat"] == round(100 * (ratings >= 4).mean(), 1)
    assert "痛点" in html and "满意度" in html  # Chinese labels in the page


def test_report_counts_rows_not_scored_and_groups_empty_cells(tmp_path):
    src, out, report = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "report.html"
    src.write_text("text,shop\n质量很好,A\n物流太慢了,\n,B\n", encoding="utf-8")
    r = subprocess.run([VOC, "score", src, "-o", out, "--by", "shop", "--report", report, "-q", "--no-aspects"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    html = report.read_text("utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="voc-data">(.*?)</script>', html, re.S).group(1))
    assert data["rows"] == 2 and data["not_scored"] == 1 and "1 row(s) could not be scored" in html
    assert {g["group"] for g in data["cross"]["shop"]} == {"A", "(空 missing)"}  # not "None" or ""


def test_platform_placeholders_are_left_out_of_the_shares(tmp_path):
    """Three of five rows are what the shop system wrote for customers who wrote nothing: as "neutral" they would make
    the report say 60% of customers are indifferent."""
    src, out, report = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "report.html"
    src.write_text("text,shop\n质量很好,A\n此用户没有填写评价。,A\n该用户未及时主动评价，系统默认好评,B\n此用戶沒有填寫評價,B\n"
                   "物流太慢了,B\n", encoding="utf-8")
    r = subprocess.run([VOC, "score", src, "-o", out, "--by", "shop", "--report", report, "-q"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(out, encoding="utf-8-sig")) == 5  # the scored file keeps every row
    html = report.read_text("utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="voc-data">(.*?)</script>', html, re.S).group(1))
    assert data["rows"] == 2 and data["placeholders"] == 3 and "3 row(s) were the platform's stand-in" in html
    assert data["sentiment_share"] == {"positive": 1, "neutral": 0, "negative": 1}
    assert {g["group"]: g["rows"] for g in data["cross"]["shop"]} == {"A": 1, "B": 1}


def test_resume_after_a_killed_run_has_no_duplicates_or_gaps(tmp_path):
    src = tmp_path / "big.jsonl"
    texts = ["物流很快，质量很好", "颜色和图片不一样", "客服态度很差", "性价比很高", "包装破损了"]
    src.write_text("".join(json.dumps({"id": i, "text": f"{texts[i % 5]} 第{i}单"}, ensure_ascii=False) + "\n"
                           for i in range(3000)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    cmd = [VOC, "score", src, "-o", out, "--id-col", "id", "--mode", "fast", "--no-aspects", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = Path(str(out) + ".progress.json")
    deadline = time.time() + 300
    while time.time() < deadline and not (progress.exists() and json.loads(progress.read_text() or "{}").get("rows_done", 0) >= 512):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open(out, "a", encoding="utf-8") as f:
        f.write('{"half-written ro')  # what a kill mid-write leaves behind
    done_before = json.loads(progress.read_text())["rows_done"]
    assert 0 < done_before < 3000
    r = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    ids = [json.loads(x)["id"] for x in out.read_text("utf-8").splitlines()]
    assert ids == list(range(3000))
    assert not progress.exists()
