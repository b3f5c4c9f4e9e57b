"""Emerging-complaint detection on planted spikes: detection rate per spike size and false alerts per 100
group-periods, for models.alerts.detect and a naive rule (the period's negatives > 1.5 × the mean of the periods
before it), in the same run on the same data.

Synthetic counts (it measures the statistics, not the model): `--groups` shops, `--periods` weeks; each shop has its
own negative share (5–20%) and its reviews per week vary ±20% (Poisson around a shop-level volume). In each run a
fifth of the shops is left alone and the rest get a spike in the latest week: the week's negatives multiplied by
1.5, 2, 3 or 4. Every week from the third on is tested against the weeks before it (detect's `history`), so false
alerts are counted over every group-week without a planted spike.

    python benchmarks/alerts.py [--runs 20] [--groups 50] [--periods 8] [--volume 40 150]
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from models.alerts import Item, Options, detect  # noqa: E402

SIZES = (1.5, 2.0, 3.0, 4.0)
MONDAY = dt.datetime(2026, 9, 7, 12, tzinfo=dt.timezone.utc)


def simulate(rng: np.random.Generator, groups: int, periods: int, volume: int):
    """(counts[g][p] = (reviews, negatives), planted {group: size})."""
    sizes = [None] * (groups // 5) + [SIZES[i % len(SIZES)] for i in range(groups - groups // 5)]
    rng.shuffle(sizes)
    counts, planted = [], {}
    for g in range(groups):
        share = rng.uniform(0.05, 0.20)
        level = volume * rng.uniform(0.8, 1.2)
        row = []
        for p in range(periods):
            n = int(rng.poisson(level))
            k = int(rng.binomial(n, share))
            if p == periods - 1 and sizes[g]:
                k = min(n, int(round(k * sizes[g])))  # the spike: this week's complaints × size
                planted[g] = sizes[g]
            row.append((n, k))
        counts.append(row)
    return counts, planted


def as_items(counts) -> list[Item]:
    items = []
    for g, row in enumerate(counts):
        for p, (n, k) in enumerate(row):
            t = MONDAY + dt.timedelta(weeks=p)
            items += [Item(t, "negative" if i < k else "positive", groups={"shop": f"s{g}"}) for i in range(n)]
    return items


def naive(counts, min_baseline: int = 2) -> set[tuple[int, int]]:
    """(group, period) where the negatives exceed 1.5 × the mean of the earlier periods."""
    out = set()
    for g, row in enumerate(counts):
        for p in range(min_baseline, len(row)):
            base = np.mean([k for _, k in row[:p]])
            if row[p][1] > 1.5 * base:
                out.add((g, p))
    return out


def tested(counts, min_baseline: int = 2) -> int:
    return sum(len(row) - min_baseline for row in counts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--groups", type=int, default=50)
    ap.add_argument("--periods", type=int, default=8)
    ap.add_argument("--volume", type=int, nargs="+", default=[40, 150], help="mean reviews per shop and week")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"{args.runs} runs × {args.groups} shops × {args.periods} weeks; spikes in the latest week")
    for volume in args.volume:
        hits = {m: Counter() for m in ("detect", "naive")}
        planted_n = Counter()
        false = {"detect": 0, "naive": 0}
        group_periods, seconds = 0, 0.0
        for _ in range(args.runs):
            counts, planted = simulate(rng, args.groups, args.periods, volume)
            t = time.perf_counter()
            res = detect(as_items(counts), Options(period="week"), history=True)
            seconds += time.perf_counter() - t
            found = {(int(a["group"]["value"][1:]), (dt.date.fromisoformat(a["start"]) - MONDAY.date()).days // 7)
                     for a in res["alerts"] if a["dimension"] == "group"}
            last = args.periods - 1
            for method, alerts in (("detect", found), ("naive", naive(counts))):
                for g, size in planted.items():
                    hits[method][size] += (g, last) in alerts
                false[method] += sum(1 for g, p in alerts if not (p == last and g in planted))
            for size in planted.values():
                planted_n[size] += 1
            group_periods += tested(counts) - len(planted)
        print(f"\nmean {volume} reviews per shop-week ({seconds / args.runs:.2f} s per detect run)")
        print(f"{'':>28}" + "".join(f"{'×' + format(s, 'g'):>8}" for s in SIZES) + f"{'false alerts /100':>20}")
        for method, label in (("detect", "detect (Fisher+Poisson, BH)"), ("naive", "naive (> 1.5 × mean)")):
            rates = "".join(f"{hits[method][s] / planted_n[s]:>8.0%}" for s in SIZES)
            print(f"{label:>28}{rates}{100 * false[method] / group_periods:>20.2f}")


if __name__ == "__main__":
    main()
