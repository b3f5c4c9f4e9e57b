"""The report as one self-contained HTML file: plotly.js and all data embedded, so it opens offline. The aggregated
numbers are also embedded as JSON (<script id="voc-data">) so they can be checked or re-used."""
from __future__ import annotations

import datetime as dt
import html
import json
from collections import Counter
from pathlib import Path

from plotly.offline import get_plotlyjs

from api.report.aggregate import LABELS
from models.aspects import aspect_names
from api.report.conversations import conversation_sections
from api.report.review_queue import review_queue_section

COLORS = {"positive": "#2e9d5b", "neutral": "#9aa0a6", "negative": "#d6453d"}
# neither green nor red: those mean positive/negative everywhere else in the report
ASPECT_PALETTE = ["#4c78a8", "#f58518", "#72b7b2", "#b279a2", "#9d755d", "#bab0ac"]


REPORT_ALERTS = 15  # newest period first, most significant first: the rest are in OUTPUT.alerts.json
PERIOD_AXIS = {"zh": {"day": "日期", "week": "周（自周一起）", "month": "月份"},
               "en": {"day": "day", "week": "week starting Monday", "month": "month"}}


def _alerts_section(alerts: dict, name, lang: str) -> tuple[str, str, None, str]:
    """The report's first section: the emerging complaints of api/report/alerts.py, newest period first."""
    zh = lang == "zh"
    if not alerts["alerts"]:
        why = alerts.get("reason") or ("没有显著上升的投诉。" if zh else "no complaint rose significantly.")
        return ("alerts", "预警 Emerging complaints", None, f"<p>{html.escape(why)}</p>")
    unit = {"day": "日", "week": "周", "month": "月"}[alerts["period"]] if zh else alerts["period"]
    rows = []
    for a in alerts["alerts"][:REPORT_ALERTS]:
        scope = (name(a["aspect"]) if a["dimension"] == "aspect" else f"主题 topic {a['topic']}" if a["dimension"] == "topic"
                 else ("全部评论" if zh else "all reviews") if a["dimension"] == "all" else "")
        if a.get("group"):
            scope = (scope + " · " if scope else "") + f"{a['group']['name']} = {a['group']['value']}"
        quotes = "<br>".join("“" + html.escape(q["text"]) + "”" for q in a["quotes"])
        rows.append(f"<tr><td>{html.escape(a['start'])}</td><td>{html.escape(scope)}</td><td>{a['size']}</td>"
                    f"<td>{a['baseline']['negative_per_period']:g}</td><td>×{a['change']['ratio']:g}</td>"
                    f"<td>{a['latest']['negative_share']:.0%} ← {a['baseline']['negative_share']:.0%}</td>"
                    f"<td>{a['p_value']:.2g} / {a['q_value']:.2g}</td><td>{quotes}</td></tr>")
    head = (f"<tr><th>{unit}起</th><th>范围</th><th>负面数</th><th>基线每{unit}</th><th>倍数</th><th>负面占比</th>"
            "<th>p / q</th><th>原话</th></tr>" if zh else
            f"<tr><th>{unit} from</th><th>scope</th><th>negatives</th><th>baseline per {unit}</th><th>ratio</th>"
            "<th>negative share</th><th>p / q</th><th>quotes</th></tr>")
    note = ("每个周期与此前各周期比较（负面占比的 Fisher 精确检验、每条评论负面数的泊松检验，Benjamini–Hochberg 校正）。"
            if zh else "Each period against the ones before it (Fisher's exact test on the negative share, a Poisson "
            "test on negatives per review, Benjamini–Hochberg adjusted).")
    more = len(alerts["alerts"]) - REPORT_ALERTS
    if more > 0:
        file = html.escape(alerts.get("file", "OUTPUT.alerts.json"))
        note += f" 另有 {more} 条见 {file}。" if zh else f" {more} more in {file}."
    return ("alerts", "预警 Emerging complaints", None, f"<p>{note}</p><table>{head}{''.join(rows)}</table>")


def _figures(data: dict, names: dict | None = None) -> list[tuple[str, str, dict | None, str]]:
    """(section id, title, plotly figure dict or None, extra HTML) per section. `names`: aspect key → display names
    by language (models.aspects.aspect_names); aspects show in the report's language."""
    lang = data.get("lang", "zh")
    names = names if names is not None else aspect_names()

    def name(key):
        return names.get(key, {}).get(lang, key)
    out = []
    if "alerts" in data:
        out.append(_alerts_section(data["alerts"], name, lang))
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
        "data": [{"type": "bar", "name": lab, "x": [name(x["aspect"]) for x in a], "y": [x[lab] for x in a],
                  "marker": {"color": COLORS[lab]}} for lab in ("positive", "negative")] +
                [{"type": "scatter", "mode": "markers+lines", "name": "net", "yaxis": "y2",
                  "x": [name(x["aspect"]) for x in a], "y": [x["net"] for x in a]}],
        "layout": {"barmode": "stack", "height": 380, "yaxis": {"title": {"text": "提及 mentions"}},
                   "yaxis2": {"overlaying": "y", "side": "right", "range": [-1, 1], "tickvals": [-1, -0.5, 0, 0.5, 1],
                              "showgrid": False, "title": {"text": "净情感 net"}}}},
        "" if a else "<p>No aspect was mentioned.</p>"))
    rows = "".join(f"<tr><td>{i + 1}</td><td>{html.escape(name(p['aspect']))}</td><td>{p['negative']}</td>"
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
        bars = [(f"{name(k)} (neg.)", [p["negative_aspects"].get(k, 0) for p in pts]) for k in top]
        bars += [("其他 other (neg.)", other)] if any(other) else []
        period = data["trend"]["period"]
        # two panels sharing the time axis: scores above, negative aspect mentions stacked below
        out.append(("trend", f"趋势 Trend per {data['trend']['period']}", {
            "data": [{"type": "scatter", "mode": "lines+markers", "name": "mean score", "x": x, "y": [p["mean_score"] for p in pts]},
                     {"type": "scatter", "mode": "lines+markers", "name": "negative share", "x": x,
                      "y": [p["negative_share"] for p in pts]}] +
                    [{"type": "bar", "name": name, "yaxis": "y2", "x": x, "y": y, "marker": {"color": colour}}
                     for (name, y), colour in zip(bars, ASPECT_PALETTE)],
            # category axis: one tick per calendar period, written as a date (a date axis puts times between them)
            "layout": {"height": 520, "barmode": "stack",
                       "xaxis": {"type": "category", "title": {"text": PERIOD_AXIS[lang][period]}},
                       "yaxis": {"domain": [0.5, 1], "range": [-1, 1], "title": {"text": "得分/占比 score / share"}},
                       "yaxis2": {"domain": [0, 0.4], "title": {"text": "负面提及 negative mentions"}, "anchor": "x"}}}, ""))
    for col, groups in data.get("cross", {}).items():
        out.append((f"cross_{col}", f"交叉分析 By {col}", {
            "data": [{"type": "bar", "orientation": "h", "name": lab, "y": [g["group"] for g in groups], "x": [g[lab] for g in groups],
                      "marker": {"color": COLORS[lab]}} for lab in LABELS],
            "layout": {"barmode": "stack", "height": 120 + 28 * len(groups),
                       "xaxis": {"tickformat": ".0%", "title": {"text": "占比 share"}},
                       "yaxis": {"type": "category", "automargin": True, "title": {"text": col}}}}, ""))
    if "topics" in data:
        t = data["topics"]
        out.append(("topics", "主题 Topics", {
            "data": [{"type": "bar", "x": [f"{x['id']}: {x['label']}" for x in t], "y": [x["size"] for x in t], "name": "size"},
                     {"type": "scatter", "mode": "markers", "yaxis": "y2", "name": "negative share",
                      "x": [f"{x['id']}: {x['label']}" for x in t], "y": [x["negative_share"] for x in t]}],
            "layout": {"height": 400, "xaxis": {"type": "category", "title": {"text": "主题 topic"}},
                       "yaxis": {"title": {"text": "评论数 reviews"}},
                       "yaxis2": {"overlaying": "y", "side": "right", "range": [0, 1], "tickformat": ".0%",
                                  "title": {"text": "负面占比 negative share"}}}}, ""))
    if "kpi" in data:
        k = data["kpi"]
        headline = f"CSAT {k['csat']}%" if "csat" in k else f"NPS {k['nps']}" if "nps" in k else "no ratings"
        ex = "".join(f"<li>{r['rating']:g}★ but {r['label']}: “{html.escape(r['text'])}”</li>" for r in k["contradiction_examples"])
        out.append(("kpi", "满意度 Satisfaction KPIs", None,
                    f"<p class='kpi'>{headline} · text positive {k['text_positive_share']}% · "
                    f"{k['contradictions']} rating/text contradictions</p><ul>{ex}</ul>"))
    if "review_queue" in data:
        out.append(review_queue_section(data["review_queue"]))
    return out


def render(data: dict, path: Path, title: str = "VoC report", names: dict | None = None) -> None:
    """Write the report. `names`: aspect display names (models.aspects.aspect_names of the run's taxonomy)."""
    sections = []
    figures = _figures(data, names) if "sentiment_share" in data else []
    if "conversations" in data:  # voc score --chat
        figures += conversation_sections(data["conversations"])
    for sid, heading, fig, extra in figures:
        chart = (f"<div id='chart-{sid}' class='chart'></div><script>Plotly.newPlot('chart-{sid}', "
                 f"{json.dumps(fig['data'], ensure_ascii=False)}, {json.dumps({**fig['layout'], 'margin': {'t': 20}}, ensure_ascii=False)}, "
                 "{displaylogo: false, responsive: true});</script>") if fig else ""
        sections.append(f"<section id='{sid}'><h2>{html.escape(heading)}</h2>{chart}{extra}</section>")
    payload = json.dumps(data, ensure_ascii=False, default=str).replace("</", "<\\/")
    doc = f"""<!DOCTYPE html><html lang="{data.get('lang', 'zh')}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:6px;vertical-align:top}}.kpi{{font-size:1.4em}}</style>
<script>{get_plotlyjs()}</script></head><body><h1>{html.escape(title)}</h1>
<p>Generated {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} by VoC Analyzer.</p>
{''.join(sections)}
<script type="application/json" id="voc-data">{payload}</script>
</body></html>"""
    Path(path).write_text(doc, encoding="utf-8")
