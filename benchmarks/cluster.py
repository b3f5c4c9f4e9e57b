"""`voc score --cluster` on this machine: rows/s on a LocalCluster of 1 and 2 workers beside the one-process run (the
baseline, in the same run), what a worker costs to start, and how fast the client reads and partitions the input.

    python benchmarks/cluster.py [--rows 2000] [--mode accurate] [--no-aspects] [--workers 1,2] [--repeats 2]

The export is benchmarks/batch.py's generator (team-written fragments). The configurations alternate over
--repeats rounds, since this machine's speed drifts; each line is one timed run. Scoring rows/s counts from the
first row read to the last partition written (Parquet: a dataset for the cluster, one file for the baseline), with
the analyzer already loaded; start-up (the LocalCluster's processes, then the analyzer loaded on every worker, timed
on the worker) is reported apart, as it is paid once per run whatever the input's size.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from batch import generate  # noqa: E402

from api.batch.cluster import AnalyzerSpec, partitions, score_on_cluster, warm_up  # noqa: E402
from api.batch.score import read_chunks, score_file  # noqa: E402
from nlp.files import iter_rows  # noqa: E402


def one_process(spec: AnalyzerSpec, src: Path, out: Path) -> str:
    t = time.perf_counter()
    analyzer = spec.load()
    load = time.perf_counter() - t
    t = time.perf_counter()
    summary = score_file(analyzer, str(src), str(out), progress=False)
    seconds = time.perf_counter() - t
    return f"{summary.scored / seconds:7.1f} rows/s scoring ({summary.scored} rows in {seconds:.1f} s); analyzer load {load:.1f} s"


def on_cluster(spec: AnalyzerSpec, src: Path, out: Path, workers: int) -> str:
    from distributed import Client, LocalCluster

    t = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as local, Client(local) as client:
        start = time.perf_counter() - t
        loads = client.gather([client.submit(warm_up, spec, workers=[w], pure=False, allow_other_workers=False)
                               for w in client.nthreads()])
        t = time.perf_counter()
        summary = score_on_cluster(spec, "", str(src), str(out), progress=False, client=client)
        seconds = time.perf_counter() - t
    return (f"{summary.scored / seconds:7.1f} rows/s scoring ({summary.scored} rows in {seconds:.1f} s); start-up: "
            f"cluster {start:.1f} s, analyzer load per worker {', '.join(f'{x:.1f}' for x in loads)} s")


def read_rate(src: Path) -> str:
    t = time.perf_counter()
    n = sum(p.read for p in partitions(read_chunks(iter_rows(src), lambda row: None)))
    return f"{n / (time.perf_counter() - t):,.0f} rows/s read and partitioned by the client"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--mode", default="accurate", choices=["accurate", "fast"])
    ap.add_argument("--no-aspects", action="store_true")
    ap.add_argument("--workers", default="1,2", help="LocalCluster sizes to time")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    spec = AnalyzerSpec(mode=args.mode, aspects=not args.no_aspects)
    print(f"{args.mode}{' sentiment only' if args.no_aspects else ' with aspects'}, {args.rows} rows, "
          f"{os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.csv"
        generate(src, args.rows, distinct=True)
        print(f"{'client':>12}: {read_rate(src)}", flush=True)
        for r in range(args.repeats):
            print(f"{'one process':>12}: {one_process(spec, src, Path(tmp) / f'one{r}.parquet')}", flush=True)
            for n in map(int, args.workers.split(",")):
                print(f"{f'local:{n}':>12}: {on_cluster(spec, src, Path(tmp) / f'dask{n}-{r}', n)}", flush=True)


if __name__ == "__main__":
    main()
