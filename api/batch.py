"""`voc score`: score an exported file, keep every input column, add the contract's columns.

Rows are streamed and scored in chunks (a tqdm bar on stderr shows rows/s and ETA).
A row that cannot be scored goes to OUTPUT.errors.jsonl with its row number and
reason; every good row is written. CSV and JSONL output is streamed; XLSX and
Parquet are written at the end (those formats cannot be appended to).

Resume: after every chunk, OUTPUT.progress.json records the last input row done and
the byte sizes of the output and error files. `--resume` truncates both files to
those sizes (dropping a half-written chunk) and continues after that row, so no
row is scored twice or lost. It needs CSV or JSONL output.

Fast mode runs in worker processes, one per core (`workers`): it is single-threaded numpy and
Python, so one process left the second core idle. The accurate engine already runs every model call on
every core, so it scores in this process. Chunks are handed to the workers in order and their results
written in that order; at most two chunks per worker are read ahead, so a huge file is never held in memory.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import numbers
import os
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm  # not tqdm.auto: its notebook probe costs 0.1 s of start-up in a terminal

from models.analyzer import Analyzer
from models.onnx_engine import release_free_memory
from models.schema import Analysis
from nlp.files import BadRow, InputError, iter_rows, missing_column, parse_when

CHUNK = 256


@dataclass
class Chunk:
    """CHUNK rows as read: the rows to score, the unreadable ones, and the input row number it ends at."""
    rows: list[tuple[int, dict]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    last: int = 0


def default_workers(analyzer: Analyzer) -> int:
    """One worker process per core for fast mode; the accurate engine uses every core from one process."""
    return len(os.sched_getaffinity(0)) if analyzer.scorer.engine == "fast" and hasattr(os, "sched_getaffinity") else 1


_WORKER_ANALYZER: Analyzer | None = None  # what a forked worker inherits (set before the fork)


def _worker_setup(parent: int) -> None:
    """A worker ignores Ctrl-C (the parent stops and ends the pool) and dies with its parent when that is killed
    (SIGKILL, out of memory) instead of waiting for work, or failing to return it, on a pipe nobody reads."""
    import ctypes
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def _analyze_in_worker(items):
    return _WORKER_ANALYZER.analyze(items)


def _fork_pool(analyzer: Analyzer, workers: int):
    """Worker processes forked from this one: they share the loaded model's memory instead of loading it again."""
    import multiprocessing

    global _WORKER_ANALYZER
    _WORKER_ANALYZER = analyzer
    return multiprocessing.get_context("fork").Pool(workers, initializer=_worker_setup, initargs=(os.getpid(),))


def _analysed(analyzer: Analyzer, chunks, items_of, pool=None, workers: int = 1):
    """(chunk, its analyses) in input order; with a pool, up to two chunks per worker are in flight."""
    if pool is None:
        for chunk in chunks:
            yield chunk, analyzer.analyze(items_of(chunk)) if chunk.rows else []
        return
    in_flight: deque = deque()

    def done(limit: int):
        while in_flight and (len(in_flight) > limit or in_flight[0][1] is None or in_flight[0][1].ready()):
            chunk, result = in_flight.popleft()
            yield chunk, [] if result is None else result.get()

    for chunk in chunks:
        in_flight.append((chunk, pool.apply_async(_analyze_in_worker, (items_of(chunk),)) if chunk.rows else None))
        yield from done(2 * workers)
    yield from done(0)


@dataclass
class Summary:
    scored: int = 0
    failed: int = 0
    output: str = ""
    errors_file: str | None = None
    reasons: dict = field(default_factory=dict)
    stored: int | None = None  # with a store: rows stored for /v1/stats
    untimed: int = 0  # of those, rows whose time cell was empty or unreadable: they count at the time of scoring

    def line(self) -> str:
        s = f"scored {self.scored} row(s), failed {self.failed}"
        if self.failed:
            s += f" (see {self.errors_file}): " + ", ".join(f"{k} ×{v}" for k, v in self.reasons.items())
        if self.stored is not None:
            s += f"; stored {self.stored} for /v1/stats"
            if self.untimed:
                s += f" ({self.untimed} without a readable time: they count at the time of scoring)"
        return s


def review_time(value, tz: dt.tzinfo) -> dt.datetime | None:
    """A time cell as an aware UTC datetime (dates, date-times, Excel dates, Unix times; no offset: `tz`), or None,
    also where it cannot be a review's time (api.store.check_review_time: 9999-12-31 and the like)."""
    from api.store import check_review_time

    t = parse_when(value)
    if t is None:
        return None
    t = t.to_pydatetime()
    try:
        return check_review_time((t if t.tzinfo else t.replace(tzinfo=tz)).astimezone(dt.timezone.utc))
    except (ValueError, OverflowError):
        return None


def _cell_text(value):
    """A cell of the text column as review text. Spreadsheets store reviews such as 666 or 111 as numbers:
    they are scored as their digits (666.0 as 666) instead of failing as a wrong type. Booleans, lists and
    the like are left to the analyzer, which reports them."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def _flat(row: dict, res: Analysis, structured: bool) -> dict:
    aspects = [a.model_dump(mode="json", exclude_none=True) for a in res.aspects]
    return {**row, "lang": res.lang, "sentiment_label": res.sentiment.label, "sentiment_score": res.sentiment.score,
            "sentiment_confidence": res.sentiment.confidence,
            "aspects": aspects if structured else json.dumps(aspects, ensure_ascii=False)}


class _Writer:
    def __init__(self, path: str, append_at: int | None = None):
        self.path = path
        self.suffix = ".jsonl" if path == "-" else Path(path).suffix.lower()
        if self.suffix not in (".csv", ".jsonl", ".json", ".xlsx", ".parquet"):
            raise InputError(f"{path}: unsupported output type {self.suffix!r}; use .csv, .jsonl, .xlsx or .parquet")
        self.rows: list[dict] = []
        self._csv = None
        self._fh = sys.stdout if path == "-" else None
        self.append_at = append_at  # resume: continue this file from that byte

    def _open(self, **kw):
        if self.append_at is None:
            return open(self.path, "w", **kw)
        with open(self.path, "r+b") as f:
            f.truncate(self.append_at)
        return open(self.path, "a", **kw)

    def tell(self) -> int:
        if self._fh is None or self._fh is sys.stdout:
            return self.append_at or 0
        self._fh.flush()
        return self._fh.tell()

    @property
    def structured(self) -> bool:
        return self.suffix in (".jsonl", ".json")

    def write(self, rows: list[dict]) -> None:
        if self.suffix == ".csv":
            if self._csv is None:
                # BOM so Excel shows Chinese right (plain utf-8 when appending after it)
                self._fh = self._open(encoding="utf-8" if self.append_at else "utf-8-sig", newline="")
                self._csv = csv.DictWriter(self._fh, fieldnames=list(rows[0]), extrasaction="ignore")
                if not self.append_at:
                    self._csv.writeheader()
            self._csv.writerows(rows)
        elif self.structured:
            if self._fh is None:
                self._fh = self._open(encoding="utf-8")
            for r in rows:
                self._fh.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
        else:
            self.rows += rows

    def close(self) -> None:
        if self.rows:
            import pandas as pd

            df = pd.DataFrame(self.rows)
            if self.suffix == ".xlsx":
                df.to_excel(self.path, index=False)
            else:
                df = df.astype({c: "string" for c in df.columns if df[c].dtype == object})
                df.to_parquet(self.path, index=False)
        if self._fh is not None and self._fh is not sys.stdout:
            self._fh.close()
        elif self._fh is sys.stdout:
            self._fh.flush()


def _progress_path(output_path: str) -> Path:
    return Path(output_path + ".progress.json")


def score_file(analyzer: Analyzer, input_path: str, output_path: str, text_col: str = "text",
               id_col: str | None = None, progress: bool = True, resume: bool = False, store=None,
               time_col: str | None = None, tz: dt.tzinfo = dt.timezone.utc, workers: int | None = None) -> Summary:
    """Score a file row by row into `output_path`. With `store` (api.store.Store) every scored row is also stored,
    at its `time_col` time, for /v1/stats: batch exports and API traffic then feed one dashboard. `workers`:
    processes scoring at once (default `default_workers`; more than one only in fast mode)."""
    workers = default_workers(analyzer) if workers is None else workers
    if workers < 1:
        raise InputError(f"workers must be at least 1, not {workers}")
    if workers > 1 and analyzer.scorer.engine != "fast":
        raise InputError("more than one worker is for fast mode; the accurate engine already runs on every core")
    errors_path = "voc-score.errors.jsonl" if output_path == "-" else output_path + ".errors.jsonl"
    summary = Summary(output=output_path, errors_file=errors_path, stored=0 if store is not None else None)
    state = {"rows_done": 0, "out_bytes": None, "err_bytes": 0}
    if resume:
        if output_path == "-" or Path(output_path).suffix.lower() not in (".csv", ".jsonl", ".json"):
            raise InputError("--resume needs a CSV or JSONL output file")
        pp = _progress_path(output_path)
        if pp.exists() and Path(output_path).exists():
            saved = json.loads(pp.read_text())
            if saved.get("input") != str(input_path):
                raise InputError(f"{output_path} was written from {saved.get('input')}, not {input_path}")
            state.update(saved)
            summary.scored, summary.failed = saved["scored"], saved["failed"]
            summary.reasons = saved.get("reasons", {})
    writer = _Writer(output_path, append_at=state["out_bytes"] if state["rows_done"] else None)
    rows = iter_rows(input_path, need=(text_col, id_col, time_col))
    bar = tqdm(desc="scoring", unit="row", disable=not progress, file=sys.stderr, dynamic_ncols=True,
               initial=state["rows_done"])
    errors = None
    checked = False

    def errors_file():
        """Opened on first use, once the input's columns are known to be there: a run that stops at a missing
        column must not empty the error file of the run before it."""
        nonlocal errors
        if errors is None:
            if state["rows_done"] and Path(errors_path).exists():
                with open(errors_path, "r+b") as f:
                    f.truncate(state["err_bytes"])
                errors = open(errors_path, "a", encoding="utf-8")
            else:
                errors = open(errors_path, "w", encoding="utf-8")
        return errors

    def checkpoint(last_row: int):
        if output_path == "-":
            return
        errors_file().flush()
        path = _progress_path(output_path)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({
            "input": str(input_path), "rows_done": last_row, "scored": summary.scored, "failed": summary.failed,
            "reasons": summary.reasons, "out_bytes": writer.tell(), "err_bytes": errors_file().tell()}))
        os.replace(tmp, path)  # atomic: a kill never leaves half a checkpoint

    pending: list[tuple[int, str]] = []  # this chunk's failures, written in row order when it is flushed

    def fail(row_no: int, code: str, message: str, raw=None):
        summary.failed += 1
        summary.reasons[code] = summary.reasons.get(code, 0) + 1
        pending.append((row_no, json.dumps({"row": row_no, "code": code, "reason": message, "raw": raw},
                                           ensure_ascii=False, default=str)))

    def write_errors():
        if pending:
            errors_file().writelines(line + "\n" for _, line in sorted(pending, key=lambda p: p[0]))
        pending.clear()

    def items_of(chunk: Chunk) -> list[tuple[str, object]]:
        return [(str(r.get(id_col)) if id_col and r.get(id_col) is not None else str(n - 1), _cell_text(r.get(text_col)))
                for n, r in chunk.rows]

    def flush(chunk: Chunk, results: list):
        for bad in chunk.bad:
            fail(bad.row, "bad_row", bad.reason, bad.raw[:1000])
        good, analysed, times = [], [], []
        for (n, row), res in zip(chunk.rows, results):
            if isinstance(res, Analysis):
                good.append(_flat(row, res, writer.structured))
                analysed.append(res)
                times.append(review_time(row.get(time_col), tz) if time_col else None)
            else:
                fail(n, res.error.code, res.error.message, row.get(text_col))
        if good:
            writer.write(good)
        if store is not None and analysed:  # before the checkpoint: a crash here re-stores a chunk, never loses one
            summary.stored += store.save(analysed, reviewed=times)
            summary.untimed += sum(t is None for t in times) if time_col else 0
        summary.scored += len(good)
        write_errors()
        bar.update(len(chunk.rows) + len(chunk.bad))
        checkpoint(chunk.last)
        release_free_memory()  # every chunk has other tensor shapes; keeps peak RSS flat over a long file

    def chunks():
        """The input in chunks of CHUNK rows to score (bad rows travel with the chunk they were read in, so that
        they are reported, and checkpointed, in row order)."""
        nonlocal checked
        chunk = Chunk()
        for row_no, row in rows:
            if row_no <= state["rows_done"]:
                continue  # done in the run being resumed
            chunk.last = row_no
            if isinstance(row, BadRow):
                chunk.bad.append(row)
                continue
            if not checked:
                missing = [c for c in [text_col, id_col, time_col] if c and c not in row]
                if missing:
                    option = {text_col: "--text-col", id_col: "--id-col", time_col: "--time-col"}[missing[0]]
                    raise missing_column(input_path, missing[0], row, option)
                checked = True
            chunk.rows.append((row_no, row))
            if len(chunk.rows) >= CHUNK:
                yield chunk
                chunk = Chunk()
        if chunk.rows or chunk.bad:
            yield chunk

    pool = _fork_pool(analyzer, workers) if workers > 1 else None
    try:
        for chunk, results in _analysed(analyzer, chunks(), items_of, pool, workers):
            flush(chunk, results)
        errors_file()  # this run's (possibly empty) error file replaces any earlier one
    finally:
        if pool is not None:
            pool.terminate()
        bar.close()
        writer.close()
        if errors is not None:
            errors.close()
    if output_path != "-":
        _progress_path(output_path).unlink(missing_ok=True)  # complete: nothing to resume
    if summary.failed == 0:
        Path(errors_path).unlink(missing_ok=True)
        summary.errors_file = None
    return summary
