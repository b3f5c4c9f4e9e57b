"""The report's "reviews to check" section: the scored rows with trust flags (the `flags` and `flag_details`
columns that `voc score` writes), for a human to read before trusting the numbers."""
from __future__ import annotations

import html
from collections import Counter

from api.batch.output import json_list
from nlp.files import BadRow, iter_rows

SHOWN = 50  # rows listed in the report; the scored file (or `voc score --flags-only`) has them all
KIND_NAMES = {"rating_mismatch": "评分与文字矛盾 rating contradicts text", "incentivised": "返现/激励 incentivised",
              "templated": "模板化 templated", "duplicate": "重复 copy-paste repeat", "sarcasm": "反讽 sarcasm"}



def review_queue(scored_path, text_col: str = "text", id_col: str | None = None, limit: int = SHOWN) -> dict:
    """Counts per flag kind and the first `limit` flagged rows (most confident first) of a scored file."""
    counts, rows = Counter(), []
    for row_no, row in iter_rows(scored_path):
        if isinstance(row, BadRow) or not row.get("flags"):
            continue
        flags = json_list(row.get("flag_details")) or [{"kind": k, "confidence": 1.0, "reason": ""}
                                                     for k in str(row["flags"]).split(",")]
        counts.update(f["kind"] for f in flags)
        rows.append({"row": row_no, "id": str(row.get(id_col)) if id_col else str(row_no - 1),
                     "text": str(row.get(text_col, ""))[:300], "flags": flags})
    rows.sort(key=lambda r: -max(f.get("confidence", 0) for f in r["flags"]))
    return {"flagged": len(rows), "per_kind": dict(counts.most_common()), "rows": rows[:limit]}


def review_queue_section(queue: dict) -> tuple[str, str, None, str]:
    """(section id, title, no chart, HTML) as render's sections are."""
    if not queue["flagged"]:
        return ("review_queue", "待核查 Reviews to check", None, "<p>No review was flagged.</p>")
    kinds = " · ".join(f"{html.escape(KIND_NAMES.get(k, k))}: {n}" for k, n in queue["per_kind"].items())
    body = "".join(
        f"<tr><td>{r['row']}</td><td>{html.escape(r['text'])}</td><td>"
        + "<br>".join(f"<b>{html.escape(f['kind'])}</b> {f.get('confidence', 0):.2f}"
                      + (f" — {html.escape(str(f.get('reason', '')))}" if f.get("reason") else "") for f in r["flags"])
        + "</td></tr>" for r in queue["rows"])
    more = (f"<p>The {len(queue['rows'])} most confident of {queue['flagged']} are listed; "
            "<code>voc score --flags-only</code> writes them all.</p>" if queue["flagged"] > len(queue["rows"]) else "")
    return ("review_queue", "待核查 Reviews to check", None,
            f"<p>{queue['flagged']} review(s) flagged — {kinds}</p>{more}"
            f"<table><tr><th>row</th><th>review</th><th>flags</th></tr>{body}</table>")
