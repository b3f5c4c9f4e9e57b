"""`voc score` on a dirty GBK export: is every good row scored exactly once, and every bad one reported?

    python benchmarks/dirty_export.py [--rows 20000] [--bad-share 0.01] [--mode fast] [--keep DIR]

Writes a GBK CSV export (订单编号, 店铺, 评分, 评价内容, 日期) in which a share of the rows is dirty, in four
kinds taken in turn: a quote that never closes (some of them within a few rows of each other, the case that once
merged everything between two of them into one "review"), a byte sequence GBK cannot decode, an empty review and a
review of 100,000 characters. The first three must be reported in the errors file (by row number) and never
scored; the long review is a review and must be scored. Every other row must be scored once.
"""
import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from batch import HEADS, TAILS

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("broken_quote", "bad_bytes", "empty", "long")
REPORTED = {"broken_quote", "bad_bytes", "empty"}  # the long review is scored


def generate(path: Path, n: int, bad_share: float, seed: int = 0) -> dict[int, str]:
    """Write the export; returns the kind of each dirty row, by data row number (from 1)."""
    rng = random.Random(seed)
    n_bad = max(len(KINDS), round(n * bad_share))
    rows = rng.sample(range(1, n + 1), n_bad)
    # two broken quotes a few rows apart, twice: one opened field must not reach the other
    for pair in (rows[:2], rows[4:6]):
        pair[1] = min(n, pair[0] + rng.randint(2, 180))
    dirty = {}
    for k, row in enumerate(rows):
        dirty.setdefault(row, KINDS[k % len(KINDS)])
    with path.open("wb") as f:
        f.write("订单编号,店铺,评分,评价内容,日期\n".encode("gbk"))
        for i in range(1, n + 1):
            text = rng.choice(HEADS) + rng.choice(["，", ", "]) + rng.choice(HEADS) + rng.choice(TAILS)
            head = f"R{i:06d},shop{i % 7},{rng.randint(1, 5)},".encode("gbk")
            date = f",2026-10-{1 + i % 28:02d}".encode("gbk")
            kind = dirty.get(i)
            if kind == "broken_quote":
                line = head + f'"{text}'.encode("gbk") + date
            elif kind == "bad_bytes":
                cut = len(text) // 2
                line = head + text[:cut].encode("gbk") + b"\x81\x20" + text[cut:].encode("gbk") + date
            elif kind == "empty":
                line = head + date
            elif kind == "long":
                line = head + ("物流很快，质量很好" * 12_500)[:100_000].encode("gbk") + date
            else:
                line = head + _csv_field(text).encode("gbk") + date
            f.write(line + b"\n")
    return dirty


def _csv_field(text: str) -> str:
    return f'"{text}"' if any(c in text for c in ',"\n') else text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--bad-share", type=float, default=0.01)
    ap.add_argument("--mode", choices=["fast", "accurate"], default="fast")
    ap.add_argument("--keep", help="write the export, the output and the errors file here (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        src, out = folder / "dirty_export.csv", folder / "dirty_export.scored.csv"
        dirty = generate(src, args.rows, args.bad_share)
        size_mb = src.stat().st_size / 2**20
        t = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "api.cli", "score", str(src), "-o", str(out), "--text-col", "评价内容",
                              "--id-col", "订单编号", "--mode", args.mode, "-q"], cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        if run.returncode != 0:
            print(run.stderr, file=sys.stderr)
            return 1
        with out.open(encoding="utf-8-sig", newline="") as f:
            scored = Counter(r["订单编号"] for r in csv.DictReader(f))
        errors_file = Path(str(out) + ".errors.jsonl")
        errors = [json.loads(x) for x in errors_file.read_text("utf-8").splitlines()] if errors_file.exists() else []
        reported = Counter(e["row"] for e in errors)
    should_report = {row for row, kind in dirty.items() if kind in REPORTED}
    should_score = {f"R{i:06d}" for i in range(1, args.rows + 1) if i not in should_report}
    good_once = all(scored[i] == 1 for i in should_score) and set(scored) == should_score
    bad_reported = set(reported) == should_report and all(c == 1 for c in reported.values())
    figures = {
        "rows": args.rows, "dirty": dict(Counter(dirty.values())), "file_mb": round(size_mb, 1),
        "mode": args.mode, "seconds": round(seconds, 1), "rows_scored": sum(scored.values()), "rows_reported": len(errors),
        "reasons": dict(Counter(e["code"] for e in errors)),
        "every_good_row_scored_once": good_once, "every_bad_row_reported": bad_reported,
        "summary": run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "",
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0 if good_once and bad_reported else 1


if __name__ == "__main__":
    sys.exit(main())
