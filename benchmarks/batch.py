"""`voc score` on a large generated export: rows/s end to end and peak RSS.

    python benchmarks/batch.py [--rows 100000] [--modes fast,accurate] [--accurate-rows N]

Rows are generated from team-written review fragments (zh, en, mixed), so nothing
external is needed. Peak RSS is the child process's maximum resident set size.

The fragments repeat, as short clauses (物流很快, 好评) do in real exports, and the analyzer
embeds each distinct clause of a chunk once. `--distinct` numbers every clause (物流很快3817)
so that no clause repeats: the worst case for that saving.
"""
import argparse
import csv
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADS = ["物流很快", "快递太慢了", "质量很好", "用了两天就坏了", "颜色和图片不一样", "客服态度很好", "客服不理人",
         "包装很严实", "盒子压坏了", "性价比很高", "价格太贵", "退款很快", "售后推卸责任", "Great value", "Arrived broken",
         "The app keeps crashing", "物流超slow", "音质很nice"]
TAILS = ["，下次还会买", "，很失望", "，一般般吧", "。", "！", "，推荐", ", would not buy again", ", love it"]


def generate(path: Path, n: int, seed: int = 0, distinct: bool = False):
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "date", "shop", "rating", "text"])
        for i in range(n):
            mark = (lambda k: str(2 * i + k)) if distinct else (lambda k: "")
            text = rng.choice(HEADS) + mark(0) + rng.choice(["，", ", "]) + rng.choice(HEADS) + mark(1) + rng.choice(TAILS)
            w.writerow([i, f"2026-10-{1 + i % 28:02d}", f"shop{i % 7}", rng.randint(1, 5), text])


def run(src: Path, out: Path, mode: str) -> tuple[float, float]:
    voc = Path(sys.executable).parent / "voc"
    t = time.perf_counter()
    proc = subprocess.run([str(voc), "score", str(src), "-o", str(out), "--mode", mode, "-q"], capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode:
        sys.exit(proc.stderr)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--accurate-rows", type=int, help="rows for accurate mode (default: --rows)")
    ap.add_argument("--modes", default="fast,accurate")
    ap.add_argument("--distinct", action="store_true", help="no clause repeats (see above)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            n = args.accurate_rows if mode == "accurate" and args.accurate_rows else args.rows
            src, out = Path(tmp) / f"in{n}.csv", Path(tmp) / f"out-{mode}.csv"
            if not src.exists():
                generate(src, n, distinct=args.distinct)
            seconds, peak = run(src, out, mode)
            print(f"{mode:>9}{' (distinct clauses)' if args.distinct else ''}: {n} rows in {seconds:.1f}s = {n / seconds:,.0f} rows/s end to end, "
                  f"peak RSS (max over child runs so far) {peak:,.0f} MB", flush=True)


if __name__ == "__main__":
    main()
