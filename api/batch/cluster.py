"""`voc score --cluster`: the same scoring on a Dask cluster, a `LocalCluster` started here or a running scheduler.

Partitions. This process reads the input with the reader of a one-machine run (`nlp.files.iter_rows`: a CSV's
encoding decided from the whole file, unreadable rows as `BadRow`, Parquet streamed by batches) and cuts it into the
chunks a one-machine run scores (`score.read_chunks`, CHUNK rows each), PART_CHUNKS of them to a partition, and each
partition is one Dask task. A CSV is not split by byte ranges: a quoted field may span lines, and the encoding belongs
to the whole file. Rows go to the workers and scored rows come back, so workers need no access to the input or the
output (no shared file system); reading here runs at tens of thousands of rows/s, far above what even a hundred
workers score. At most two partitions per worker thread are in flight, so memory stays flat for any input size.

Output. Each partition that comes back is written here atomically (a temporary file, then a rename): its scored rows
as OUTPUT/part-NNNNNN.parquet when OUTPUT is a dataset (a directory), else under OUTPUT.parts/, from which the single
file is gathered at the end; its failures and a done mark with its counts under _progress/ (a name Parquet readers
skip). A worker that dies mid-run loses nothing: the scheduler gives its partitions to another worker, and nothing of a
partition is written before its result is back. `--resume` reads the input again and scores only the partitions
without a done mark.

Analyzer. Loaded once per worker process, by the first partition the worker scores (`worker_analyzer`), in the task
thread rather than the worker's event loop: loading takes seconds, and a blocked event loop misses its heartbeats.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from api.batch import score as one_machine
from api.batch.output import SINGLE_FILE, OutputWriter, scored_row, write_parquet
from api.batch.score import Chunk, Summary, check_columns, error_line, failures_of, items_of, read_chunks
from models.analyzer import Analyzer
from models.runtime.backends import release_free_memory
from models.schema import Analysis
from nlp.files import InputError, iter_rows

PART_CHUNKS = 8  # chunks per partition: 2,048 rows, a few seconds to half a minute of a worker's time


@dataclass(frozen=True)
class AnalyzerSpec:
    """What each worker loads: the Settings' model fields (the model by name, found in the worker's VOC_HOME)."""
    model: str | None = None
    mode: str = "accurate"
    aspects: bool = True
    taxonomy: str | None = None
    engine: str = "auto"

    def load(self) -> Analyzer:
        return Analyzer.load(self.model, mode=self.mode, aspects=self.aspects, engine=self.engine,
                             taxonomy=Path(self.taxonomy) if self.taxonomy else None)


_ANALYZERS: dict[AnalyzerSpec, Analyzer] = {}  # per worker process
_LOADING = threading.Lock()


def worker_analyzer(spec: AnalyzerSpec) -> Analyzer:
    """This worker process's analyzer for `spec`, loaded on first use (one load however many threads ask)."""
    with _LOADING:
        if spec not in _ANALYZERS:
            _ANALYZERS[spec] = spec.load()
        return _ANALYZERS[spec]


def warm_up(spec: AnalyzerSpec) -> float:
    """Load the analyzer on this worker now; the seconds it took (0 when it was loaded)."""
    start = time.perf_counter()
    worker_analyzer(spec)
    return time.perf_counter() - start


@dataclass
class Partition:
    index: int
    chunks: list[Chunk] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(len(c.rows) + len(c.bad) for c in self.chunks)


@dataclass
class PartResult:
    index: int
    read: int
    rows: list[dict]  # scored rows in input order, aspects as JSON text (as in a CSV or Parquet output)
    failures: list[tuple[int, str, str, object]]  # (row, code, reason, raw)


def score_partition(spec: AnalyzerSpec, part: Partition, text_col: str, id_col: str | None) -> PartResult:
    """The Dask task: score a partition chunk by chunk, exactly as a one-machine run scores those chunks."""
    analyzer = worker_analyzer(spec)
    rows, failures = [], []
    for chunk in part.chunks:
        results = analyzer.analyze(items_of(chunk, text_col, id_col)) if chunk.rows else []
        failures += failures_of(chunk, results, text_col)
        rows += [scored_row(row, res, structured=False) for (_, row), res in zip(chunk.rows, results)
                 if isinstance(res, Analysis)]
        release_free_memory()
    return PartResult(part.index, part.read, rows, failures)


def partitions(chunks) -> Iterator[Partition]:
    part = Partition(0)
    for chunk in chunks:
        part.chunks.append(chunk)
        if len(part.chunks) == PART_CHUNKS:
            yield part
            part = Partition(part.index + 1)
    if part.chunks:
        yield part


def is_dataset(output: str) -> bool:
    """OUTPUT is a Parquet dataset (a directory) unless it names a file of a format `voc score` writes."""
    return output.endswith(("/", os.sep)) or Path(output).is_dir() or Path(output).suffix.lower() not in SINGLE_FILE


class Layout:
    """Where a cluster run writes: the parts, their failures and done marks, the run's description, the error file."""

    def __init__(self, output: str):
        self.output = output.rstrip("/" + os.sep) or output
        self.dataset = is_dataset(output)
        self.parts = Path(self.output) if self.dataset else Path(self.output + ".parts")
        self.progress = self.parts / "_progress"
        self.errors_path = self.output + ".errors.jsonl"

    def part(self, i: int) -> Path:
        return self.parts / f"part-{i:06d}.parquet"

    def done_mark(self, i: int) -> Path:
        return self.progress / f"part-{i:06d}.done.json"

    def failures(self, i: int) -> Path:
        return self.progress / f"part-{i:06d}.errors.jsonl"

    def ours(self, p: Path) -> bool:
        return p.name == "_progress" or (p.name.startswith(("part-", ".part-")) and p.is_file())

    def prepare(self, run: dict, resume: bool) -> dict[int, dict]:
        """Make the parts folder ready; the done marks of a resumed run by partition. Without --resume, parts of an
        earlier run are removed; a folder holding anything else is refused, never emptied."""
        if self.parts.exists() and not self.parts.is_dir():
            raise InputError(f"{self.parts} exists and is not a folder")
        if self.parts.is_dir():
            foreign = [p.name for p in self.parts.iterdir() if not self.ours(p)]
            if foreign:
                raise InputError(f"{self.parts} holds files that are not a voc score dataset ({', '.join(sorted(foreign)[:3])}); "
                                 "name an empty or new folder")
        saved = self.progress / "run.json"
        if resume and saved.exists():
            before = json.loads(saved.read_text())
            if before != run:
                raise InputError(f"{self.output} was written from {before.get('input')} ({before.get('size')} bytes, "
                                 f"text column {before.get('text_col')!r}), not this input: run without --resume")
            return {int(p.name[5:11]): json.loads(p.read_text()) for p in self.progress.glob("part-*.done.json")}
        if self.parts.is_dir():
            for p in self.parts.iterdir():
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        self.progress.mkdir(parents=True, exist_ok=True)
        _atomic_write(saved, json.dumps(run))
        return {}

    def write(self, res: PartResult) -> dict:
        """A partition's files, each written whole; the done mark last, so that a mark means its files are there."""
        if res.rows:
            import pandas as pd

            tmp = self.parts / f".part-{res.index:06d}.tmp.parquet"
            write_parquet(pd.DataFrame(res.rows), tmp)
            os.replace(tmp, self.part(res.index))
        else:
            self.part(res.index).unlink(missing_ok=True)
        failures = sorted(res.failures, key=lambda f: f[0])
        _atomic_write(self.failures(res.index), "".join(error_line(*f) + "\n" for f in failures))
        reasons: dict[str, int] = {}
        for f in failures:
            reasons[f[1]] = reasons.get(f[1], 0) + 1
        mark = {"read": res.read, "scored": len(res.rows), "failed": len(failures), "reasons": reasons}
        _atomic_write(self.done_mark(res.index), json.dumps(mark))
        return mark

    def finish(self, count: int, summary: Summary) -> None:
        """After every partition is done: the error file in row order, the single file gathered, the marks removed."""
        if summary.failed:
            tmp = Path(self.errors_path + ".tmp")
            with tmp.open("w", encoding="utf-8") as out:
                for i in range(count):
                    if self.failures(i).exists():
                        out.write(self.failures(i).read_text("utf-8"))
            os.replace(tmp, self.errors_path)
        else:
            Path(self.errors_path).unlink(missing_ok=True)
            summary.errors_file = None
        if not self.dataset:
            self._gather()
            shutil.rmtree(self.parts)
        else:
            shutil.rmtree(self.progress)

    def _gather(self) -> None:
        """The parts, in order, as one file of the format OUTPUT names (aspects as lists in JSONL, as `voc score`)."""
        writer = OutputWriter(self.output)
        batch = []
        for _, row in iter_rows(self.parts):
            if writer.structured and isinstance(row.get("aspects"), str):
                row["aspects"] = json.loads(row["aspects"])
            batch.append(row)
            if len(batch) == 1000:
                writer.write(batch)
                batch = []
        if batch:
            writer.write(batch)
        writer.close()


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def parse_cluster(spec: str) -> tuple[str, int | None]:
    """`local`, `local:N` or a scheduler address (`tcp://host:8786`) as ("local", N or None) or ("address", None)."""
    if spec == "local" or spec.startswith("local:"):
        n = spec.partition(":")[2]
        if n and not (n.isdigit() and int(n) >= 1):
            raise InputError(f"--cluster {spec}: local:N needs a whole number of workers, at least 1")
        return "local", int(n) if n else None
    if "://" in spec:
        return spec, None
    raise InputError(f"--cluster {spec!r}: use local, local:N or a Dask scheduler address such as tcp://host:8786")


@contextmanager
def connect(spec: str, quiet: bool = False):
    """A Dask client: to a LocalCluster of N one-thread worker processes (default: one per core), or to a scheduler."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("--cluster needs Dask: pip install 'voc-analyzer[cluster]'") from None
    where, n = parse_cluster(spec)
    if where == "local":
        n = n or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=40 if quiet else 30) as local, Client(local) as client:
            yield client
        return
    try:
        client = Client(where, timeout="30s")
    except OSError as e:
        raise InputError(f"--cluster {where}: cannot reach the Dask scheduler: {e}") from None
    with client:
        yield client


def run_description(input_path, text_col: str, id_col: str | None, spec: AnalyzerSpec) -> dict:
    """What a resumed run must share with the run it continues."""
    size = os.path.getsize(input_path) if str(input_path) != "-" else None
    return {"input": str(input_path), "size": size, "text_col": text_col, "id_col": id_col,
            "rows_per_part": one_machine.CHUNK * PART_CHUNKS, "analyzer": [spec.model, spec.mode, spec.aspects, spec.taxonomy]}


def score_on_cluster(spec: AnalyzerSpec, cluster: str, input_path, output_path: str, text_col: str = "text",
                     id_col: str | None = None, time_col: str | None = None, progress: bool = True,
                     resume: bool = False, client=None) -> Summary:
    """Score `input_path` into `output_path` on the Dask cluster `cluster` (or on `client`'s); the same rows, values
    and error file as `score_file`. Returns the run's Summary."""
    if output_path == "-" or str(input_path) == "-":
        raise InputError("--cluster reads and writes files, not stdin or stdout")
    if client is None:
        parse_cluster(cluster)  # a mistyped --cluster fails before any reading
    rows = iter_rows(input_path, need=(text_col, id_col, time_col))  # a missing or unreadable file fails here
    parts = partitions(read_chunks(rows, lambda row: check_columns(input_path, row, text_col, id_col, time_col)))
    first = next(parts, None)  # a missing column fails here, before a cluster starts or an earlier run's files go
    parts = chain([first] if first else [], parts)
    with connect(cluster, quiet=not progress) if client is None else nullcontext(client) as client:
        layout = Layout(output_path)
        done = layout.prepare(run_description(input_path, text_col, id_col, spec), resume)
        summary = Summary(output=layout.output, errors_file=layout.errors_path)
        for mark in done.values():
            _count(summary, mark)
        bar = tqdm(desc="scoring", unit="row", disable=not progress, file=sys.stderr, dynamic_ncols=True,
                   initial=sum(m["read"] for m in done.values()))
        try:
            count = _submit_all(client, spec, parts, done, text_col, id_col, layout, summary, bar)
        finally:
            bar.close()
    layout.finish(count, summary)
    return summary


def _submit_all(client, spec, parts, done, text_col, id_col, layout, summary, bar) -> int:
    """Every partition not `done` as a task, at most two per worker thread in flight, each written as it comes
    back (in any order); the number of partitions."""
    from distributed import as_completed

    run_id, count = uuid.uuid4().hex[:8], 0
    in_flight, pending = as_completed(), set()

    def record(future) -> None:
        try:
            res = future.result()
        except Exception as e:  # noqa: BLE001 — a worker's failure (model missing there, partition killed workers)
            raise InputError(f"a partition failed on the cluster: {type(e).__name__}: {e}") from e
        pending.discard(future)
        future.release()  # the worker holds a result until its future is released
        mark = layout.write(res)
        _count(summary, mark)
        bar.update(mark["read"])

    try:
        for part in parts:
            count = part.index + 1
            if part.index in done:
                continue
            future = client.submit(score_partition, spec, part, text_col, id_col, pure=False,
                                   key=f"voc-score-{run_id}-{part.index}")
            pending.add(future)
            in_flight.add(future)
            while in_flight.count() >= 2 * max(1, sum(client.nthreads().values())):
                record(next(in_flight))
        for future in in_flight:
            record(future)
    finally:
        if pending:  # stopped early (a failure, Ctrl-C): nothing more to score
            client.cancel(list(pending))
    return count


def _count(summary: Summary, mark: dict) -> None:
    summary.scored += mark["scored"]
    summary.failed += mark["failed"]
    for k, v in mark["reasons"].items():
        summary.reasons[k] = summary.reasons.get(k, 0) + v
