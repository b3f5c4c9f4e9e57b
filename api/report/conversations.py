"""The report's conversations section (`voc score --chat --report`): satisfaction share, escalation and unresolved
rates, the agent behaviours flagged most often with quotes, and their trend over time, from a file that
`voc score --chat` wrote (one row per conversation; api/batch/chats.py)."""
from __future__ import annotations

import html
from collections import Counter, defaultdict

from api.batch.output import json_list
from nlp.files import BadRow, iter_rows, parse_when

LABELS = ("positive", "neutral", "negative")
COLORS = {"positive": "#2e9d5b", "neutral": "#9aa0a6", "negative": "#d6453d"}
ISSUE_NAMES = {"rude": "粗鲁 rude", "dismissive": "敷衍 dismissive", "scripted_non_answer": "套话不答 scripted non-answer",
               "unhelpful": "没帮上 unhelpful", "slow": "回复慢 slow"}
QUOTES = 3


def _flag(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1")



def aggregate_conversations(scored_path) -> dict:
    """Numbers of the conversations section, from the scored conversations file."""
    n = 0
    share, issues, quotes = Counter(), Counter(), defaultdict(list)
    escalated = unresolved = effort = 0
    by_period: dict[str, Counter] = defaultdict(Counter)
    for _, row in iter_rows(scored_path):
        if isinstance(row, BadRow) or row.get("satisfaction_label") not in LABELS:
            continue
        n += 1
        share[row["satisfaction_label"]] += 1
        esc, unres = _flag(row.get("escalation")), not _flag(row.get("resolved"))
        escalated += esc
        unresolved += unres
        effort += _flag(row.get("effort_high"))
        seen = set()
        for f in json_list(row.get("agent_flags")):
            if f.get("kind") in seen:
                continue  # a conversation counts once per kind of behaviour
            seen.add(f.get("kind"))
            issues[f["kind"]] += 1
            quotes[f["kind"]].append((float(f.get("confidence", 0)), f.get("quote", ""), str(row.get("conversation_id"))))
        when = parse_when(row.get("started_at"))
        if when is not None:
            p = by_period[when.strftime("%Y-%m-%d")]
            p["n"] += 1
            p[row["satisfaction_label"]] += 1
            p["escalated"] += esc
            p["unresolved"] += unres
    rate = (lambda k: round(k / n, 4) if n else 0.0)
    out = {"count": n, "satisfaction_share": {lab: rate(share[lab]) for lab in LABELS},
           "escalation_rate": rate(escalated), "unresolved_rate": rate(unresolved), "high_effort_rate": rate(effort),
           "agent_behaviours": [{"kind": k, "conversations": c, "share": rate(c),
                                 "quotes": [{"conversation_id": cid, "quote": q} for _, q, cid in
                                            sorted(quotes[k], key=lambda t: -t[0])[:QUOTES]]}
                                for k, c in issues.most_common()]}
    if len(by_period) > 1:
        out["trend"] = [{"period": day, "count": c["n"], **{lab: round(c[lab] / c["n"], 4) for lab in LABELS},
                         "escalation_rate": round(c["escalated"] / c["n"], 4),
                         "unresolved_rate": round(c["unresolved"] / c["n"], 4)} for day, c in sorted(by_period.items())]
    return out


def conversation_sections(c: dict) -> list[tuple[str, str, dict | None, str]]:
    """(section id, title, plotly figure or None, extra HTML), as api.report.render draws them."""
    s = c["satisfaction_share"]
    out = [("conversations", "对话 Conversations: satisfaction", {
        "data": [{"type": "pie", "labels": list(s), "values": list(s.values()), "hole": 0.45, "sort": False,
                  "marker": {"colors": [COLORS[k] for k in s]}}], "layout": {"height": 340}},
        f"<p class='kpi'>{c['count']} conversations · 升级 escalated {c['escalation_rate']:.0%} · "
        f"未解决 unresolved {c['unresolved_rate']:.0%} · 费力 high effort {c['high_effort_rate']:.0%}</p>")]
    rows = "".join(f"<tr><td>{html.escape(ISSUE_NAMES.get(b['kind'], b['kind']))}</td><td>{b['conversations']}</td>"
                   f"<td>{b['share']:.0%}</td><td>{'<br>'.join('“' + html.escape(q['quote']) + '”' for q in b['quotes'])}</td></tr>"
                   for b in c["agent_behaviours"])
    out.append(("agent_behaviours", "客服问题 Agent behaviours flagged", None,
                f"<table><tr><th>behaviour</th><th>conversations</th><th>share</th><th>quotes</th></tr>{rows}</table>"
                if rows else "<p>No agent turn was flagged.</p>"))
    if "trend" in c:
        x = [p["period"] for p in c["trend"]]
        out.append(("conversation_trend", "对话趋势 Conversations over time", {
            "data": [{"type": "scatter", "mode": "lines+markers", "name": name, "x": x, "y": [p[key] for p in c["trend"]]}
                     for key, name in (("negative", "dissatisfied share"), ("escalation_rate", "escalation rate"),
                                       ("unresolved_rate", "unresolved rate"))],
            "layout": {"height": 360, "yaxis": {"range": [0, 1], "tickformat": ".0%"}}}, ""))
    return out
