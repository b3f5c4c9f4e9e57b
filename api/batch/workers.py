"""Fast mode's worker processes: one per core, forked after the student is loaded, so they share its memory.

Fast mode is single-threaded numpy and Python, so one process would leave the other cores idle. The accurate engine
already runs every model call on every core, so it scores in one process. Chunks go to the workers in order and
come back in that order; at most two chunks per worker are in flight, so a huge file is never held in memory.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections import deque

from models.analyzer import Analyzer


def default_workers(analyzer: Analyzer) -> int:
    """One worker process per core for fast mode; the accurate engine uses every core from one process."""
    return len(os.sched_getaffinity(0)) if analyzer.scorer.engine == "fast" and hasattr(os, "sched_getaffinity") else 1


_WORKER_ANALYZER: Analyzer | None = None  # what a forked worker inherits (set before the fork)


def _worker_setup(parent: int) -> None:
    """A worker ignores Ctrl-C (the parent stops and ends the pool) and dies with its parent when that is killed
    (SIGKILL, out of memory) instead of waiting for work, or failing to return it, on a pipe nobody reads."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def _analyze_in_worker(items):
    return _WORKER_ANALYZER.analyze(items)


def fork_pool(analyzer: Analyzer, workers: int):
    """Worker processes forked from this one: they share the loaded model's memory instead of loading it again."""
    global _WORKER_ANALYZER
    _WORKER_ANALYZER = analyzer
    return multiprocessing.get_context("fork").Pool(workers, initializer=_worker_setup, initargs=(os.getpid(),))


def analysed(analyzer: Analyzer, chunks, items_of, pool=None, workers: int = 1):
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
