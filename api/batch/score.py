"""`voc score`: score an exported file, keep every input column, add the contract's columns.

Rows are streamed and scored in chunks (a tqdm bar on stderr shows rows/s and ETA).
A row that cannot be scored goes to OUTPUT.errors.jsonl with its row number and
reason; every good row is written. CSV and JSONL output is streamed; XLSX and
Parquet are written at the end (those formats cannot be appended to).

Resume: after every chunk, OUTPUT.progress.json records the last input row done and
the byte sizes of the output and error files. `--resume` truncates both files to
those sizes (dropping a half-written chunk) and continues after that row, so no
row is scored twice or lost. It needs CSV or JSONL output.

Fast mode scores in worker processes, one per core (workers.py); the output is the same, in input order.
"""
from __future__ import annotations

import datetime as dt
import json
import numbers
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm  # not tqdm.auto: its notebook probe costs 0.1 s of start-up in a terminal

from api.batch.output import OutputWriter, scored_row
from api.batch.workers import analysed, default_workers, fork_pool
from api.storage.times import review_time
from models.analyzer import Analyzer
from models.flags import DuplicateFinder, rating_mismatch, with_flags
from models.runtime.backends import release_free_memory
from models.schema import Analysis
from nlp.files import BadRow, InputError, iter_rows, missing_column

CHUNK = 256


@dataclass
class Chunk:
    """CHUNK rows as read: the rows to score, the unreadable ones, and the input row number it ends at."""
    rows: list[tuple[int, dict]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    last: int = 0


@dataclass
class Summary:
    scored: int = 0
    failed: int = 0
    output: str = ""
    errors_file: str | None = None
    reasons: dict = field(default_factory=dict)
    stored: int | None = None  # with a store: rows stored for /v1/stats
    untimed: int = 0  # of those, rows whose time cell was empty or unreadable: they count at the time of scoring
    ungrouped: int = 0  # of those, rows stored without a --by value that was not a group value (check_group)
    flagged: int = 0  # scored rows with a trust flag (the review queue: --flags-only writes only these)

    def line(self) -> str:
        s = f"scored {self.scored} row(s), failed {self.failed}"
        if self.failed:
            s += f" (see {self.errors_file}): " + ", ".join(f"{k} ×{v}" for k, v in self.reasons.items())
        if self.flagged:
            s += f"; {self.flagged} flagged for a human to check (flags column)"
        if self.stored is not None:
            s += f"; stored {self.stored} for /v1/stats"
            if self.untimed:
                s += f" ({self.untimed} without a readable time: they count at the time of scoring)"
            if self.ungrouped:
                s += f" ({self.ungrouped} without a --by value that is over 200 characters or holds control characters)"
        return s


def _cell_text(value):
    """A cell of the text column as review text. Spreadsheets store reviews such as 666 or 111 as numbers:
    they are scored as their digits (666.0 as 666) instead of failing as a wrong type. Booleans, lists and
    the like are left to the analyzer, which reports them."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def items_of(chunk: Chunk, text_col: str, id_col: str | None) -> list[tuple[str, object]]:
    """The chunk's (id, text) pairs for the analyzer: the id column's value, else the row number − 1."""
    return [(str(r.get(id_col)) if id_col and r.get(id_col) is not None else str(n - 1), _cell_text(r.get(text_col)))
            for n, r in chunk.rows]


def error_line(row_no: int, code: str, message: str, raw=None) -> str:
    """One line of OUTPUT.errors.jsonl."""
    return json.dumps({"row": row_no, "code": code, "reason": message, "raw": raw}, ensure_ascii=False, default=str)


def failures_of(chunk: Chunk, results: list, text_col: str) -> list[tuple[int, str, str, object]]:
    """(row, code, reason, raw) of every row of a scored chunk that has no analysis: unreadable rows and failed ones."""
    out = [(bad.row, "bad_row", bad.reason, bad.raw[:1000]) for bad in chunk.bad]
    out += [(n, res.error.code, res.error.message, row.get(text_col))
            for (n, row), res in zip(chunk.rows, results) if not isinstance(res, Analysis)]
    return out


def read_chunks(rows, check_row, rows_done: int = 0):
    """The input in chunks of CHUNK rows to score, after row `rows_done` (bad rows travel with the chunk they were
    read in, so that they are reported, and checkpointed, in row order). `check_row` sees the first good row."""
    chunk, checked = Chunk(), False
    for row_no, row in rows:
        if row_no <= rows_done:
            continue  # done in the run being resumed
        chunk.last = row_no
        if isinstance(row, BadRow):
            chunk.bad.append(row)
            continue
        if not checked:
            check_row(row)
            checked = True
        chunk.rows.append((row_no, row))
        if len(chunk.rows) >= CHUNK:
            yield chunk
            chunk = Chunk()
    if chunk.rows or chunk.bad:
        yield chunk


def check_columns(input_path, row: dict, text_col: str, id_col: str | None, time_col: str | None,
                  group_cols: tuple[str, ...] = (), rating_col: str | None = None) -> None:
    """A clear error when the input lacks a column the run reads."""
    missing = [c for c in [text_col, id_col, time_col, *group_cols, rating_col] if c and c not in row]
    if missing:
        option = {**{c: "--by" for c in group_cols}, text_col: "--text-col", id_col: "--id-col",
                  time_col: "--time-col", rating_col: "--rating-col"}[missing[0]]
        raise missing_column(input_path, missing[0], row, option)


def _rating(value) -> float | None:
    """A rating cell as a number (4, "4", "4.0", "4星"), or None where it holds none."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    m = re.match(r"\s*(\d+(?:\.\d+)?)", str(value or ""))
    return float(m.group(1)) if m else None


def _progress_path(output_path: str) -> Path:
    return Path(output_path + ".progress.json")


class ScoreRun:
    """The state of one `score_file` run: the output and error files, the summary, the resume checkpoint."""

    def __init__(self, input_path, output_path: str, text_col: str, id_col: str | None, time_col: str | None,
                 tz: dt.tzinfo, store, resume: bool, progress: bool, group_cols: tuple[str, ...] = (),
                 rating_col: str | None = None, rating_scale: int = 5, flags_only: bool = False):
        self.input_path, self.output_path = input_path, output_path
        self.text_col, self.id_col, self.time_col, self.tz, self.store = text_col, id_col, time_col, tz, store
        self.group_cols = tuple(group_cols)
        self.rating_col, self.rating_scale, self.flags_only = rating_col, rating_scale, flags_only
        # copy-paste repeats are looked for among this run's rows (a resumed run: among the rows after the resume)
        self.duplicates = DuplicateFinder()
        self.errors_path = "voc-score.errors.jsonl" if output_path == "-" else output_path + ".errors.jsonl"
        self.summary = Summary(output=output_path, errors_file=self.errors_path, stored=0 if store is not None else None)
        self.state = {"rows_done": 0, "out_bytes": None, "err_bytes": 0}
        if resume:
            self._resume()
        self.writer = OutputWriter(output_path, append_at=self.state["out_bytes"] if self.state["rows_done"] else None)
        self.rows = iter_rows(input_path, need=(text_col, id_col, time_col, *self.group_cols, rating_col))
        self.bar = tqdm(desc="scoring", unit="row", disable=not progress, file=sys.stderr, dynamic_ncols=True,
                        initial=self.state["rows_done"])
        self.errors = None
        self.pending: list[tuple[int, str]] = []  # this chunk's failures, written in row order when it is flushed

    def _resume(self) -> None:
        if self.output_path == "-" or Path(self.output_path).suffix.lower() not in (".csv", ".jsonl", ".json"):
            raise InputError("--resume needs a CSV or JSONL output file")
        pp = _progress_path(self.output_path)
        if pp.exists() and Path(self.output_path).exists():
            saved = json.loads(pp.read_text())
            if saved.get("input") != str(self.input_path):
                raise InputError(f"{self.output_path} was written from {saved.get('input')}, not {self.input_path}")
            self.state.update(saved)
            self.summary.scored, self.summary.failed = saved["scored"], saved["failed"]
            self.summary.reasons = saved.get("reasons", {})
            self.summary.flagged = saved.get("flagged", 0)

    def errors_file(self):
        """Opened on first use, once the input's columns are known to be there: a run that stops at a missing
        column must not empty the error file of the run before it."""
        if self.errors is None:
            if self.state["rows_done"] and Path(self.errors_path).exists():
                with open(self.errors_path, "r+b") as f:
                    f.truncate(self.state["err_bytes"])
                self.errors = open(self.errors_path, "a", encoding="utf-8")
            else:
                self.errors = open(self.errors_path, "w", encoding="utf-8")
        return self.errors

    def checkpoint(self, last_row: int) -> None:
        if self.output_path == "-":
            return
        self.errors_file().flush()
        path = _progress_path(self.output_path)
        tmp = path.with_suffix(".tmp")
        s = self.summary
        tmp.write_text(json.dumps({
            "input": str(self.input_path), "rows_done": last_row, "scored": s.scored, "failed": s.failed,
            "reasons": s.reasons, "flagged": s.flagged, "out_bytes": self.writer.tell(), "err_bytes": self.errors_file().tell()}))
        os.replace(tmp, path)  # atomic: a kill never leaves half a checkpoint

    def fail(self, row_no: int, code: str, message: str, raw=None) -> None:
        self.summary.failed += 1
        self.summary.reasons[code] = self.summary.reasons.get(code, 0) + 1
        self.pending.append((row_no, error_line(row_no, code, message, raw)))

    def write_errors(self) -> None:
        if self.pending:
            self.errors_file().writelines(line + "\n" for _, line in sorted(self.pending, key=lambda p: p[0]))
        self.pending.clear()

    def items_of(self, chunk: Chunk) -> list[tuple[str, object]]:
        return items_of(chunk, self.text_col, self.id_col)

    def flush(self, chunk: Chunk, results: list) -> None:
        for failure in failures_of(chunk, results, self.text_col):
            self.fail(*failure)
        good, done, times, groups = [], [], [], []
        for (n, row), res in zip(chunk.rows, results):
            if isinstance(res, Analysis):
                res = self.batch_flags(row, res)
                if res.flags or not self.flags_only:
                    good.append(scored_row(row, res, self.writer.structured))
                done.append(res)
                times.append(review_time(row.get(self.time_col), self.tz) if self.time_col else None)
                groups.append(self.groups_of(row))
        if good:
            self.writer.write(good)
        if self.store is not None and done:  # before the checkpoint: a crash here re-stores a chunk, never loses one
            self.summary.stored += self.store.save(done, reviewed=times, groups=groups)
            self.summary.untimed += sum(t is None for t in times) if self.time_col else 0
        self.summary.scored += len(done)
        self.summary.flagged += sum(bool(r.flags) for r in done)
        self.write_errors()
        self.bar.update(len(chunk.rows) + len(chunk.bad))
        self.checkpoint(chunk.last)
        release_free_memory()  # every chunk has other tensor shapes; keeps peak RSS flat over a long file

    def batch_flags(self, row: dict, res: Analysis) -> Analysis:
        """The flags that need more than the text: its star rating (--rating-col) and the batch's other reviews."""
        flags = [None if res.placeholder else self.duplicates.check(res.id, res.text)]
        if self.rating_col:
            flags.append(rating_mismatch(res, _rating(row.get(self.rating_col)), self.rating_scale))
        return with_flags(res, flags)

    def groups_of(self, row: dict) -> dict:
        """The row's --by values to store; one that cannot be a group value is left out (and counted), not the row."""
        from api.storage.store import check_group  # only runs with --store, whose import this is

        out = {}
        for col in self.group_cols if self.store is not None else ():
            try:
                value = check_group(col, row.get(col))
            except ValueError:
                self.summary.ungrouped += 1
                continue
            if value is not None:
                out[col] = value
        return out

    def chunks(self):
        return read_chunks(self.rows, lambda row: check_columns(self.input_path, row, self.text_col, self.id_col,
                                                                self.time_col, self.group_cols, self.rating_col),
                           self.state["rows_done"])

    def close(self) -> None:
        self.bar.close()
        self.writer.close()
        if self.errors is not None:
            self.errors.close()

    def finish(self) -> Summary:
        """After a complete run: nothing left to resume, and no error file when nothing failed."""
        if self.output_path != "-":
            _progress_path(self.output_path).unlink(missing_ok=True)
        if self.summary.failed == 0:
            Path(self.errors_path).unlink(missing_ok=True)
            self.summary.errors_file = None
        return self.summary


def score_file(analyzer: Analyzer, input_path: str, output_path: str, text_col: str = "text",
               id_col: str | None = None, progress: bool = True, resume: bool = False, store=None,
               time_col: str | None = None, tz: dt.tzinfo = dt.timezone.utc, workers: int | None = None,
               group_cols: tuple[str, ...] = (), rating_col: str | None = None, rating_scale: int = 5,
               flags_only: bool = False) -> Summary:
    """Score a file row by row into `output_path`. With `store` (api.storage.store.Store) every scored row is also stored,
    at its `time_col` time, for /v1/stats: batch exports and API traffic then feed one dashboard. `workers`:
    processes scoring at once (default `default_workers`; more than one only in fast mode). `group_cols`: columns
    (shop, category) whose values are stored with each row, for /v1/stats?by=group:shop and alerts. `rating_col`: star
    ratings (of `rating_scale`: 5 or 10), for the `rating_mismatch` flag. `flags_only`: write only the rows with a
    trust flag (the review queue; every row is still scored, counted and stored)."""
    workers = default_workers(analyzer) if workers is None else workers
    if workers < 1:
        raise InputError(f"workers must be at least 1, not {workers}")
    if workers > 1 and analyzer.scorer.engine != "fast":
        raise InputError("more than one worker is for fast mode; the accurate engine already runs on every core")
    run = ScoreRun(input_path, output_path, text_col, id_col, time_col, tz, store, resume, progress, group_cols,
                   rating_col=rating_col, rating_scale=rating_scale, flags_only=flags_only)
    pool = fork_pool(analyzer, workers) if workers > 1 else None
    try:
        for chunk, results in analysed(analyzer, run.chunks(), run.items_of, pool, workers):
            run.flush(chunk, results)
        run.errors_file()  # this run's (possibly empty) error file replaces any earlier one
    finally:
        if pool is not None:
            pool.terminate()
        run.close()
    return run.finish()
