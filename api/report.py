"""The batch report: one self-contained HTML file (plotly.js and all data embedded; opens offline).

Built from the scored output file, so a resumed run reports on every row. Sections:
sentiment share, aspects (mentions, net sentiment), pain points with quotes, trend
(--time-col), cross tabulation (--by), topics (when fitted) and rating KPIs
(--rating-col: CSAT on 1–5, NPS on 0–10, and ratings that contradict the text).
The aggregated numbers are also embedded as JSON (<script id="voc-data">) so they
can be checked or re-used.
"""
from __future__ import annotations

import datetime as dt
import html
import json
from collections import Counter, defaultdict
from pathlib import Path

from nlp.files import BadRow, iter_rows, parse_when

LABELS = ("positive", "neutral", "negative")
COLORS = {"positive": "#2e9d5b", "neutral": "#9aa0a6", "negative": "#d6453d"}
MISSING = "(空 missing)"  # the --by group of rows that leave the column empty
QUOTES = 3


def _aspects(value) -> list[dict]:
    if isinstance(value, list):
        return value
    try:
        return json.loads(value) if value else []
    except (TypeError, json.JSONDecodeError):
        return []


def _num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _is_placeholder(row: dict, label: str, text_col: str) -> bool:
    """A platform's stand-in for a missing review (此用户没有填写评价, 系统默认好评), which `voc score` marks neutral
    with confidence 1 and no aspects; only such rows are checked again, so the report stays fast."""
    if label != "neutral" or _num(row.get("sentiment_confidence")) != 1.0 or _aspects(row.get("aspects")):
        return False
    from nlp.document import TextError, build_document

    try:
        return build_document(str(row.get(text_col, ""))).is_placeholder
    except TextError:
        return False


def aggregate(scored_path, text_col="text", time_col=None, by=(), rating_col=None) -> dict:
    """Read a scored file and compute every number the report shows."""
    share = Counter()
    asp = defaultdict(lambda: Counter())
    quotes = defaultdict(list)  # aspect -> [(confidence, evidence, text)]
    times, cross, ratings, contradictions = [], {c: defaultdict(Counter) for c in by}, [], []
    topics = defaultdict(Counter)
    topic_labels = {}
    n = placeholders = 0
    for _, row in iter_rows(scored_path):
        if isinstance(row, BadRow) or "sentiment_label" not in row:
            continue
        label, score = row["sentiment_label"], _num(row.get("sentiment_score")) or 0.0
        if _is_placeholder(row, label, text_col):
            placeholders += 1  # nobody's opinion: kept in the scored file, left out of every share below
            continue
        n += 1
        share[label] += 1
        aspects = _aspects(row.get("aspects"))
        for a in aspects:
            asp[a["aspect"]][a["label"]] += 1
            if a["label"] == "negative":
                quotes[a["aspect"]].append((float(a.get("confidence", 0)), a.get("evidence", ""), str(row.get(text_col, ""))[:200]))
        if time_col:
            t = parse_when(row.get(time_col))
            if t is not None and t.tzinfo is not None:
                t = t.tz_localize(None)  # one column, one clock: the wall time as written (Unix times: UTC)
            if t is not None:
                times.append((t, label, score, [a["aspect"] for a in aspects if a["label"] == "negative"]))
        for c in by:
            value = row.get(c)
            cross[c][MISSING if value is None or not str(value).strip() else str(value)][label] += 1
        if row.get("topic_id") not in (None, ""):
            tid = int(float(row["topic_id"]))
            topics[tid][label] += 1
            topic_labels[tid] = row.get("topic_label", "")
        if rating_col:
            r = _num(row.get(rating_col))
            if r is not None:
                ratings.append(r)
                if (r >= 4 and label == "negative") or (r <= 2 and label == "positive"):
                    contradictions.append({"rating": r, "label": label, "text": str(row.get(text_col, ""))[:200]})
    data = {"rows": n, "sentiment_share": {lab: share[lab] for lab in LABELS}}
    if placeholders:
        data["placeholders"] = placeholders
    errors = Path(str(scored_path) + ".errors.jsonl")  # what `voc score` could not score, next to its output
    if errors.exists():
        with errors.open(encoding="utf-8") as f:
            data["not_scored"] = sum(1 for line in f if line.strip())
    aspects_out = []
    for key, c in asp.items():
        mentions = sum(c.values())
        neg = c["negative"]
        top = sorted(quotes[key], key=lambda q: -q[0])[:QUOTES]
        aspects_out.append({"aspect": key, "mentions": mentions, "positive": c["positive"], "negative": neg,
                            "net": round((c["positive"] - neg) / mentions, 4), "negative_share": round(neg / mentions, 4),
                            "pain_score": round(neg * neg / mentions, 4),
                            "quotes": [{"evidence": e, "text": t} for _, e, t in top]})
    data["aspects"] = sorted(aspects_out, key=lambda a: -a["mentions"])
    data["pain_points"] = [a for a in sorted(aspects_out, key=lambda a: -a["pain_score"]) if a["negative"]]
    if times:
        span = (max(t for t, *_ in times) - min(t for t, *_ in times)).days
        freq = "D" if span <= 60 else "W"
        per = defaultdict(lambda: {"n": 0, "score": 0.0, "negative": 0, "aspects": Counter()})
        for t, label, score, neg_aspects in times:
            key = (t.to_period(freq).start_time.date()).isoformat()
            p = per[key]
            p["n"] += 1; p["score"] += score; p["negative"] += label == "negative"; p["aspects"].update(neg_aspects)
        data["trend"] = {"period": "day" if freq == "D" else "week", "points": [
            {"period": k, "rows": v["n"], "mean_score": round(v["score"] / v["n"], 4),
             "negative_share": round(v["negative"] / v["n"], 4), "negative_aspects": dict(v["aspects"])}
            for k, v in sorted(per.items())]}
    if by:
        data["cross"] = {c: [{"group": g, "rows": sum(cnt.values()),
                              **{lab: round(cnt[lab] / sum(cnt.values()), 4) for lab in LABELS}}
                             for g, cnt in sorted(groups.items(), key=lambda kv: -sum(kv[1].values()))]
                         for c, groups in cross.items()}
    if topics:
        data["topics"] = [{"id": t, "label": topic_labels.get(t, ""), "size": sum(c.values()),
                           "negative_share": round(c["negative"] / sum(c.values()), 4)}
                          for t, c in sorted(topics.items(), key=lambda kv: -sum(kv[1].values()))]
    if rating_col:
        kpi = {"rated_rows": len(ratings), "contradictions": len(contradictions), "contradiction_examples": contradictions[:10]}
        if ratings and max(ratings) > 5:  # 0–10 scale: Net Promoter Score
            kpi["scale"] = "0-10"
            kpi["nps"] = round(100 * (sum(r >= 9 for r in ratings) - sum(r <= 6 for r in ratings)) / len(ratings), 1)
        elif ratings:
            kpi["scale"] = "1-5"
            kpi["csat"] = round(100 * sum(r >= 4 for r in ratings) / len(ratings), 1)
        kpi["text_positive_share"] = round(100 * share["positive"] / max(n, 1), 1)
        data["kpi"] = kpi
    return data


# neither green nor red: those mean positive/negative everywhere else in the report
ASPECT_PALETTE = ["#4c78a8", "#f58518", "#72b7b2", "#b279a2", "#9d755d", "#bab0ac"]


def _figures(data: dict) -> list[tuple[str, str, dict | None, str]]:
    """(section id, title, plotly figure dict or None, extra HTML) per section."""
    out = []
    s = data["sentiment_share"]
    out.append(("sentiment", "情感分布 Sentiment share", {
        "data": [{"type": "pie", "labels": list(s), "values": list(s.values()), "hole": 0.45,
                  "marker": {"colors": [COLORS[k] for k in s]}, "sort": False}],
        "layout": {"height": 340}}, f"<p>{data['rows']} reviews scored" + (
            f"; {data['placeholders']} row(s) were the platform's stand-in for a missing review (此用户没有填写评价, "
            "系统默认好评) and are left out of every share" if data.get("placeholders") else "") + (
            f"; {data['not_scored']} row(s) could not be scored (empty, broken or not text: see the .errors.jsonl file next to "
            "the scored output).</p>" if data.get("not_scored") else ".</p>")))
    a = data["aspects"]
    out.append(("aspects", "触点 Aspects: mentions and net sentiment", {
        "data": [{"type": "bar", "name": lab, "x": [x["aspect"] for x in a], "y": [x[lab] for x in a],
                  "marker": {"color": COLORS[lab]}} for lab in ("positive", "negative")] +
                [{"type": "scatter", "mode": "markers+lines", "name": "net", "yaxis": "y2",
                  "x": [x["aspect"] for x in a], "y": [x["net"] for x in a]}],
        "layout": {"barmode": "stack", "height": 380, "yaxis2": {"overlaying": "y", "side": "right", "range": [-1, 1], "title": "net"}}},
        "" if a else "<p>No aspect was mentioned.</p>"))
    rows = "".join(f"<tr><td>{i + 1}</td><td>{html.escape(p['aspect'])}</td><td>{p['negative']}</td>"
                   f"<td>{p['negative_share']:.0%}</td><td>{'<br>'.join('“' + html.escape(q['evidence']) + '”' for q in p['quotes'])}</td></tr>"
                   for i, p in enumerate(data["pain_points"]))
    out.append(("pain_points", "痛点 Pain points (negative mentions × negative share)", None,
                f"<table><tr><th>#</th><th>aspect</th><th>negative</th><th>share</th><th>quotes</th></tr>{rows}</table>"
                if rows else "<p>No negative aspect mentions.</p>"))
    if "trend" in data:
        pts = data["trend"]["points"]
        x = [p["period"] for p in pts]
        totals = Counter()
        for p in pts:
            totals.update(p["negative_aspects"])
        top = [k for k, _ in totals.most_common(5)]  # more stacked colours than this is unreadable on a slide
        other = [sum(v for k, v in p["negative_aspects"].items() if k not in top) for p in pts]
        bars = [(f"{k} (neg.)", [p["negative_aspects"].get(k, 0) for p in pts]) for k in top]
        bars += [("other aspects (neg.)", other)] if any(other) else []
        # two panels sharing the time axis: scores above, negative aspect mentions stacked below
        out.append(("trend", f"趋势 Trend per {data['trend']['period']}", {
            "data": [{"type": "scatter", "mode": "lines+markers", "name": "mean score", "x": x, "y": [p["mean_score"] for p in pts]},
                     {"type": "scatter", "mode": "lines+markers", "name": "negative share", "x": x,
                      "y": [p["negative_share"] for p in pts]}] +
                    [{"type": "bar", "name": name, "yaxis": "y2", "x": x, "y": y, "marker": {"color": colour}}
                     for (name, y), colour in zip(bars, ASPECT_PALETTE)],
            "layout": {"height": 520, "barmode": "stack",
                       "yaxis": {"domain": [0.5, 1], "range": [-1, 1], "title": "score / share"},
                       "yaxis2": {"domain": [0, 0.4], "title": "negative mentions", "anchor": "x"}}}, ""))
    for col, groups in data.get("cross", {}).items():
        out.append((f"cross_{col}", f"交叉分析 By {col}", {
            "data": [{"type": "bar", "orientation": "h", "name": lab, "y": [g["group"] for g in groups], "x": [g[lab] for g in groups],
                      "marker": {"color": COLORS[lab]}} for lab in LABELS],
            "layout": {"barmode": "stack", "height": 120 + 28 * len(groups), "xaxis": {"tickformat": ".0%"}}}, ""))
    if "topics" in data:
        t = data["topics"]
        out.append(("topics", "主题 Topics", {
            "data": [{"type": "bar", "x": [f"{x['id']}: {x['label']}" for x in t], "y": [x["size"] for x in t], "name": "size"},
                     {"type": "scatter", "mode": "markers", "yaxis": "y2", "name": "negative share",
                      "x": [f"{x['id']}: {x['label']}" for x in t], "y": [x["negative_share"] for x in t]}],
            "layout": {"height": 400, "yaxis2": {"overlaying": "y", "side": "right", "range": [0, 1]}}}, ""))
    if "kpi" in data:
        k = data["kpi"]
        headline = f"CSAT {k['csat']}%" if "csat" in k else f"NPS {k['nps']}" if "nps" in k else "no ratings"
        ex = "".join(f"<li>{r['rating']:g}★ but {r['label']}: “{html.escape(r['text'])}”</li>" for r in k["contradiction_examples"])
        out.append(("kpi", "满意度 Satisfaction KPIs", None,
                    f"<p class='kpi'>{headline} · text positive {k['text_positive_share']}% · "
                    f"{k['contradictions']} rating/text contradictions</p><ul>{ex}</ul>"))
    return out


def render(data: dict, path: Path, title: str = "VoC report") -> None:
    from plotly.offline import get_plotlyjs

    sections = []
    for sid, heading, fig, extra in _figures(data):
        chart = (f"<div id='chart-{sid}' class='chart'></div><script>Plotly.newPlot('chart-{sid}', "
                 f"{json.dumps(fig['data'], ensure_ascii=False)}, {json.dumps({**fig['layout'], 'margin': {'t': 20}}, ensure_ascii=False)}, "
                 "{displaylogo: false, responsive: true});</script>") if fig else ""
        sections.append(f"<section id='{sid}'><h2>{html.escape(heading)}</h2>{chart}{extra}</section>")
    payload = json.dumps(data, ensure_ascii=False, default=str).replace("</", "<\\/")
    doc = f"""<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:6px;vertical-align:top}}.kpi{{font-size:1.4em}}</style>
<script>{get_plotlyjs()}</script></head><body><h1>{html.escape(title)}</h1>
<p>Generated {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} by VoC Analyzer.</p>
{''.join(sections)}
<script type="application/json" id="voc-data">{payload}</script>
</body></html>"""
    Path(path).write_text(doc, encoding="utf-8")
