"""`voc score`'s alerts: the scored file read into models.alerts items, every period of the export tested against
the ones before it, written as OUTPUT.alerts.json (next to OUTPUT.errors.jsonl) and shown first in the report."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from api.batch.output import json_list
from api.report.aggregate import _is_placeholder, _num
from models.alerts import Item, Options, detect
from api.storage.times import review_time
from nlp.files import BadRow, iter_rows


def alerts_path(output: str) -> Path:
    return Path(output + ".alerts.json")


def scored_items(scored_path, text_col: str, time_col: str, by=(), tz: dt.tzinfo = dt.timezone.utc
                 ) -> tuple[list[Item], int]:
    """The scored rows with a readable time as alert items (platform placeholders left out), and how many rows had
    no readable time (also times that cannot be a review's, such as 9999-12-31: `review_time`, as `--store` reads them)."""
    items, untimed = [], 0
    for _, row in iter_rows(scored_path):
        if isinstance(row, BadRow) or "sentiment_label" not in row:
            continue
        label = row["sentiment_label"]
        if _is_placeholder(row, label, text_col):
            continue
        t = review_time(row.get(time_col), tz)
        if t is None:
            untimed += 1
            continue
        topic = row.get("topic_id")
        items.append(Item(
            time=t, label=label, text=str(row.get(text_col, "")),
            aspects=[(a["aspect"], a["label"], a.get("evidence", "")) for a in json_list(row.get("aspects"))],
            topic=int(float(topic)) if topic not in (None, "") else None,
            groups={c: str(row[c]).strip() for c in by if row.get(c) not in (None, "") and str(row[c]).strip()},
            confidence=_num(row.get("sentiment_confidence")) or 0.0))
    return items, untimed


def file_alerts(scored_path, text_col: str, time_col: str, by=(), tz: dt.tzinfo = dt.timezone.utc,
                options: Options = Options()) -> dict:
    """Alerts over the whole export (`history`: a spike in week 6 of 8 is reported, not only the latest week's)."""
    items, untimed = scored_items(scored_path, text_col, time_col, by, tz)
    result = detect(items, options, tz, history=True)
    result.update(rows=len(items), untimed=untimed, tz=str(tz))
    return result


def write_alerts(result: dict, output: str) -> Path:
    path = alerts_path(output)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
