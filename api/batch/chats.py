"""`voc score --chat`: score customer-service conversations, one output row per conversation.

Two input shapes:
- a table with one row per message (CSV, XLSX, Parquet, JSONL): `--conv-col` groups the messages, `--role-col`
  holds roles or speaker names, `--text-col` the message, `--time-col` (optional) orders them and times the waits
  (nlp.files.group_messages);
- without `--conv-col`, one conversation per row: a transcript in the text column (any shape nlp.chat reads) or a
  `turns` list of {role, text, time} (JSONL, as in data/corpus/chats).

A message row that cannot be read costs that row (OUTPUT.errors.jsonl, with its row number); a conversation that
cannot be analysed costs that conversation (its rows are named). Conversations are scored CHUNK at a time, each
chunk in one model pass over all its turns.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from tqdm import tqdm

from api.batch.output import OutputWriter
from api.batch.score import Summary, review_time
from models.analyzer import Analyzer
from models.schema import Analysis, ItemError
from nlp.chat import ACCEPTED, parse_roles
from nlp.files import BadRow, InputError, iter_rows, group_messages

CHUNK = 64


def conversation_row(conv_id: str, res: Analysis, structured: bool, rows: list[int] | None = None) -> dict:
    """The output columns of one scored conversation (lists as JSON text unless the format is `structured`)."""
    c = res.conversation
    dump = (lambda v: v) if structured else (lambda v: json.dumps(v, ensure_ascii=False))
    aspects = [a.model_dump(mode="json", exclude_none=True, exclude={"start", "end"}) for a in res.aspects]
    started = next((t.time for t in res.turns or [] if t.time), None)
    row = {"conversation_id": conv_id, "turns": len(res.turns or []), "started_at": started, "lang": res.lang,
           "satisfaction_label": res.sentiment.label, "satisfaction_score": res.sentiment.score,
           # today's summary: the customer's length-weighted average sentiment over their turns
           "customer_sentiment_avg": res.chat.overall.score if res.chat and res.chat.overall else None,
           "aspects": dump(aspects)}
    if c is not None:
        resp = c.agent.response_min or {}
        row.update({
            "resolved": c.resolved, "resolved_probability": c.resolved_probability,
            "escalation": c.escalation.escalated, "escalation_probability": c.escalation.probability,
            "escalation_turn": c.escalation.turn, "escalation_quote": c.escalation.quote,
            "effort_high": c.effort.high, "effort_turns": dump(c.effort.turns), "longest_wait_min": c.effort.longest_wait_min,
            "turning_turn": c.turning_turn, "first_response_min": resp.get("first"), "mean_response_min": resp.get("mean"),
            "agent_flags": dump([f.model_dump(mode="json") for f in c.agent.flags])})
    if structured and rows is not None:
        row["rows"] = rows
    return row


def _transcripts(path, text_col: str, id_col: str | None):
    """One conversation per row: (id, transcript or turn list, [row number]) and the unreadable rows."""
    items, bad = [], []
    column = None
    for row_no, row in iter_rows(path, need=(text_col, id_col)):
        if isinstance(row, BadRow):
            bad.append(row)
            continue
        if column is None:
            column = text_col if text_col in row else "turns" if isinstance(row.get("turns"), (list, str)) else None
            if column is None:
                raise InputError(f"{path}: no conversations found: the rows have no {text_col!r} or 'turns' column "
                                 f"(columns: {', '.join(map(str, row))}). Accepted: a table with one row per message "
                                 "(--conv-col, --role-col, --text-col, --time-col), or one conversation per row: "
                                 f"a transcript in --text-col ({ACCEPTED}) or a JSON 'turns' list")
            if id_col and id_col not in row:
                raise InputError(f"{path}: no column {id_col!r}; the columns are: {', '.join(map(str, row))} "
                                 "(name the right one with --id-col)")
        conv_id = str(row[id_col]) if id_col and row.get(id_col) is not None else str(row_no - 1)
        log = row.get(text_col) or row.get("turns")  # JSONL rows may hold either
        if not isinstance(log, (str, list)) or not log:
            bad.append(BadRow(row_no, f"no transcript in column {text_col!r} or 'turns'", str(row)[:500]))
            continue
        items.append((conv_id, log, [row_no]))
    return items, bad


def score_chats(analyzer: Analyzer, input_path: str, output_path: str, conv_col: str | None = None,
                text_col: str = "text", role_col: str = "role", time_col: str | None = None, id_col: str | None = None,
                roles: str | dict | None = None, progress: bool = True, store=None,
                tz: dt.tzinfo = dt.timezone.utc) -> Summary:
    """Score the conversations of `input_path` into `output_path`, one row per conversation. With `store`, each is
    also stored (kind `conversation`) at its first message's time, for /v1/stats."""
    roles = parse_roles(roles)
    if analyzer.conversation is None:
        raise InputError("conversation scoring needs the accurate model with conversation heads "
                         "(models/default has them; fast mode does not)")
    if conv_col:
        rows = iter_rows(input_path, need=(conv_col, text_col, role_col, time_col))
        try:
            groups, bad = group_messages(rows, conv_col, text_col, role_col, time_col, roles)
        except InputError as e:
            raise InputError(str(e).replace("the message table", str(input_path), 1)) from None
        items = [(g.id, g.turns, g.rows) for g in groups]
    else:
        items, bad = _transcripts(input_path, text_col, id_col)
    errors_path = "voc-score.errors.jsonl" if output_path == "-" else output_path + ".errors.jsonl"
    summary = Summary(output=output_path, errors_file=errors_path, stored=0 if store is not None else None)
    writer = OutputWriter(output_path)
    failures = [(b.row, {"row": b.row, "code": "bad_row", "reason": b.reason, "raw": b.raw[:1000]}) for b in bad]
    bar = tqdm(total=len(items), desc="conversations", unit="conv", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    try:
        for k in range(0, len(items), CHUNK):
            part = items[k:k + CHUNK]
            results = analyzer.analyze_chats([(conv_id, log) for conv_id, log, _ in part], roles=roles)
            good, done, times = [], [], []
            for (conv_id, log, row_nos), res in zip(part, results):
                if isinstance(res, ItemError):
                    failures.append((row_nos[0], {"row": row_nos[0], "rows": row_nos, "conversation_id": conv_id,
                                                  "code": res.error.code, "reason": res.error.message}))
                    continue
                good.append(conversation_row(conv_id, res, writer.structured, row_nos if conv_col else None))
                done.append(res)
                first = next((t.time for t in res.turns or [] if t.time), None)
                times.append(review_time(first, tz) if first else None)
            if good:
                writer.write(good)
            if store is not None and done:
                summary.stored += store.save(done, reviewed=times)
                summary.untimed += sum(t is None for t in times)
            summary.scored += len(good)
            bar.update(len(part))
    finally:
        bar.close()
        writer.close()
    for _, f in failures:
        summary.reasons[f["code"]] = summary.reasons.get(f["code"], 0) + 1
    summary.failed = len(failures)
    if failures:
        with open(errors_path, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(f, ensure_ascii=False, default=str) + "\n" for _, f in sorted(failures, key=lambda p: p[0]))
    else:
        Path(errors_path).unlink(missing_ok=True)
        summary.errors_file = None
    return summary
