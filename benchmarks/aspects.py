"""Aspect detection on the team's labeled sets (tests/data/aspects_eval*.jsonl).

    python benchmarks/aspects.py [--mode accurate|fast] [--eval FILE]

FILE: aspects_eval.jsonl (default: 327 e-commerce reviews), aspects_eval_services.jsonl (50
food-delivery, restaurant and hotel reviews: the taxonomy's service examples were chosen on it) or
aspects_eval_services_heldout.jsonl (30 more, written before those examples; none became an example).

Prints per-aspect precision/recall/F1, micro-F1, and polarity accuracy on the
aspects found correctly; plus the share of predicted evidence spans that are
substrings of the text and overlap the gold evidence.
"""
import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from models.analyzer import Analyzer  # noqa: E402

EVAL = ROOT / "tests" / "data" / "aspects_eval.jsonl"


def overlap(a: str, b: str) -> bool:
    return bool(set(a) & set(b)) and (a in b or b in a or len(set(a) & set(b)) >= min(len(set(a)), len(set(b))) / 2)


def evaluate(analyzer, rows):
    tp, fp, fn = Counter(), Counter(), Counter()
    pol_ok = pol_n = ev_ok = 0
    results = analyzer.analyze([(r["id"], r["text"]) for r in rows])
    for r, res in zip(rows, results):
        gold = {a["aspect"]: a for a in r["aspects"]}
        pred = {a.aspect: a for a in res.aspects}
        for k in gold.keys() & pred.keys():
            tp[k] += 1
            pol_n += 1
            pol_ok += gold[k]["label"] == pred[k].label
            ev_ok += pred[k].evidence in r["text"] and overlap(pred[k].evidence, gold[k]["evidence"])
        for k in pred.keys() - gold.keys():
            fp[k] += 1
        for k in gold.keys() - pred.keys():
            fn[k] += 1
    return tp, fp, fn, pol_ok, pol_n, ev_ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="accurate")
    ap.add_argument("--eval", type=Path, default=EVAL, help="labeled reviews (JSONL)")
    args = ap.parse_args()
    rows = [json.loads(x) for x in args.eval.open(encoding="utf-8")]
    analyzer = Analyzer.load(mode=args.mode)
    t = time.perf_counter()
    tp, fp, fn, pol_ok, pol_n, ev_ok = evaluate(analyzer, rows)
    dt = time.perf_counter() - t
    print(f"{'aspect':>18} {'P':>6} {'R':>6} {'F1':>6}  support")
    for k in sorted(set(tp) | set(fp) | set(fn)):
        p = tp[k] / max(tp[k] + fp[k], 1)
        r = tp[k] / max(tp[k] + fn[k], 1)
        f = 2 * p * r / max(p + r, 1e-9)
        print(f"{k:>18} {p:6.3f} {r:6.3f} {f:6.3f}  {tp[k] + fn[k]}")
    TP, FP, FN = sum(tp.values()), sum(fp.values()), sum(fn.values())
    p, r = TP / max(TP + FP, 1), TP / max(TP + FN, 1)
    print(f"micro: P {p:.3f} R {r:.3f} F1 {2 * p * r / max(p + r, 1e-9):.3f}; polarity accuracy {pol_ok / max(pol_n, 1):.3f} "
          f"on {pol_n} found; evidence overlaps gold {ev_ok / max(pol_n, 1):.3f}; {len(rows)} reviews in {dt:.1f}s "
          f"({len(rows) / dt:.0f} reviews/s, mode {args.mode})")


if __name__ == "__main__":
    main()
