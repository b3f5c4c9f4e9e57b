"""Emerging complaints: which aspect, topic or group got worse in the latest calendar period than in the ones before.

Pure computation over scored items (`Item`); the interfaces feed it from a scored file (`voc score`) or the store
(GET /v1/alerts). For every segment — all items, each aspect, each topic, each group value (shop=…), and each
aspect within a group value — the latest period is compared with the baseline of the earlier periods by two
one-sided exact tests:

- **share**: the segment's negative share (negative mentions / mentions of the aspect; negative reviews / reviews
  otherwise), Fisher's exact test on the 2×2 table latest vs baseline;
- **rate**: the segment's negative count per review of its scope (all reviews, or the group's), the conditional
  test of two Poisson rates: given k₁ + k₀ negatives, k₁ ~ Binomial(k₁ + k₀, n₁ / (n₁ + n₀)) where n is the scope's
  review count (so more sales alone do not alert, and a partly elapsed latest period is fair to it).

All p-values of one run are adjusted together by Benjamini–Hochberg (scipy.stats.false_discovery_control); a
segment alerts when a test's adjusted p is below `fdr`, the latest period holds at least `min_negative` negatives
and the measured change is at least `min_ratio`. docs/design.md explains the choices.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

PERIODS = ("day", "week", "month")
QUOTES = 3


@dataclass
class Item:
    """One scored review as the detector needs it. `time`: aware (converted to the detector's zone) or naive (a
    wall-clock time, taken as written). `aspects`: (aspect, label, evidence) triples."""
    time: dt.datetime
    label: str
    text: str = ""
    aspects: list[tuple[str, str, str]] = field(default_factory=list)
    topic: int | None = None
    groups: dict[str, str] = field(default_factory=dict)
    confidence: float = 0.0


@dataclass(frozen=True)
class Options:
    period: str | None = None  # day, week or month; None: chosen from the data's span (choose_period)
    fdr: float = 0.05  # Benjamini–Hochberg false discovery rate over every test of a run
    min_negative: int = 8  # negatives the latest period must hold for a segment to alert
    min_ratio: float = 1.5  # latest share (or rate) at least this many times the baseline's
    min_baseline_periods: int = 2  # earlier periods with items; fewer: nothing to compare with
    max_baseline_periods: int = 12  # the baseline is at most this many periods before the latest

    def __post_init__(self):
        if self.period is not None and self.period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}")
        if not 0 < self.fdr < 1:
            raise ValueError("fdr must be between 0 and 1")


def choose_period(first: dt.date, last: dt.date) -> str:
    """Days for data spanning under three weeks, weeks up to about half a year, months beyond: the latest period is
    then one of at least ~3 and at most ~26 to compare, each holding enough items to test."""
    span = (last - first).days
    return "day" if span < 21 else "week" if span < 183 else "month"


def period_start(d: dt.date, period: str) -> dt.date:
    """The calendar period holding `d`: the day, the ISO week's Monday, or the month's first day."""
    if period == "week":
        return d - dt.timedelta(days=d.weekday())
    if period == "month":
        return d.replace(day=1)
    return d


def period_end(start: dt.date, period: str) -> dt.date:
    """The first day after the period starting at `start`."""
    if period == "week":
        return start + dt.timedelta(days=7)
    if period == "month":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=1)


def local_date(t: dt.datetime, tz: dt.tzinfo) -> dt.date:
    return (t.astimezone(tz) if t.tzinfo else t).date()


def _norm(text: str) -> str:
    """A quote's identity: without spaces and punctuation, case-folded (the same complaint pasted twice is one)."""
    return re.sub(r"[\W_]+", "", text).casefold()


def pick_quotes(candidates: list[tuple[float, str, str]], n: int = QUOTES) -> list[dict]:
    """Up to `n` distinct quotes from (confidence, evidence, text) candidates, most confident first; one whose text
    repeats another's (or contains it), or whose evidence is another's, is skipped."""
    out, seen, said = [], [], set()
    for conf, evidence, text in sorted(candidates, key=lambda c: -c[0]):
        key, ev = _norm(text), _norm(evidence)
        if not key or (ev and ev in said) or any(key in s or s in key for s in seen):
            continue
        seen.append(key)
        said.add(ev)
        out.append({"text": text[:300], **({"evidence": evidence} if evidence else {})})
        if len(out) == n:
            break
    return out


class _Counts:
    """Per period: mentions, negatives and negative quotes of one segment."""
    __slots__ = ("n", "neg", "quotes")

    def __init__(self):
        self.n, self.neg, self.quotes = defaultdict(int), defaultdict(int), defaultdict(list)

    def add(self, period, negative: bool, quote=None):
        self.n[period] += 1
        if negative:
            self.neg[period] += 1
            if quote is not None:
                self.quotes[period].append(quote)


def _segments(items: list[Item], dates: list[dt.date], period: str):
    """segment → (scope, _Counts), and scope → reviews per period. A scope is the set of reviews a segment's rate is
    counted against: all of them, or one group value's."""
    seg: dict[tuple, tuple[tuple, _Counts]] = {}
    scope_n: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))

    def counts(key, scope) -> _Counts:
        if key not in seg:
            seg[key] = (scope, _Counts())
        return seg[key][1]

    for it, d in zip(items, dates):
        p = period_start(d, period)
        neg = it.label == "negative"
        quote = (it.confidence, "", it.text)
        scopes = [()] + [(("group", name, value),) for name, value in sorted(it.groups.items()) if value]
        for scope in scopes:
            scope_n[scope][p] += 1
            counts(scope[0] if scope else ("all",), scope).add(p, neg, quote)
            if not scope and it.topic is not None and it.topic >= 0:
                counts(("topic", it.topic), scope).add(p, neg, quote)
            for aspect, label, evidence in {tuple(a) for a in it.aspects}:
                key = ("aspect", aspect, *scope[0][1:]) if scope else ("aspect", aspect)
                counts(key, scope).add(p, label == "negative", (it.confidence, evidence, it.text))
    return seg, scope_n


def _describe(key: tuple) -> dict:
    if key[0] == "all":
        return {"dimension": "all"}
    if key[0] == "topic":
        return {"dimension": "topic", "topic": key[1]}
    if key[0] == "group":
        return {"dimension": "group", "group": {"name": key[1], "value": key[2]}}
    out = {"dimension": "aspect", "aspect": key[1]}
    if len(key) == 4:
        out["group"] = {"name": key[2], "value": key[3]}
    return out


def detect(items: list[Item], options: Options = Options(), tz: dt.tzinfo = dt.timezone.utc,
           history: bool = False) -> dict:
    """Alerts for the latest period of `items` (placeholders already left out), or with `history` for every period
    that has enough earlier ones (a past export: the week-6 spike of an 8-week file), all tests of the run adjusted
    together. Returns {period, latest, baseline, tested, alerts}: `alerts` newest period first, then by adjusted
    p-value; `tested`: the segment-periods with enough volume to test."""
    # imported here: scipy.stats takes ~0.5 s to import, and the report and `voc` import this module for its periods
    from scipy.stats import binomtest, false_discovery_control, fisher_exact

    result = {"period": options.period, "latest": None, "baseline": None, "tested": 0, "alerts": []}
    if not items:
        return result
    dates = [local_date(it.time, tz) for it in items]
    period = options.period or choose_period(min(dates), max(dates))
    periods = sorted({period_start(d, period) for d in dates})
    latest = periods[-1]
    targets = periods[options.min_baseline_periods:] if history else [latest]
    before = periods[:-1][-options.max_baseline_periods:]
    result.update(period=period, latest={"start": latest.isoformat(), "end": period_end(latest, period).isoformat()},
                  baseline={"start": before[0].isoformat(), "end": latest.isoformat(), "periods": len(before)}
                  if before else None)
    if len(periods) - 1 < options.min_baseline_periods:
        result["reason"] = (f"{len(periods) - 1} earlier {period}(s) with items; at least "
                            f"{options.min_baseline_periods} are needed as a baseline")
        return result
    seg, scope_n = _segments(items, dates, period)
    tests = []  # (segment key, period, test name, p, ratio, numbers)
    for target in targets:
        baseline = [p for p in periods if p < target][-options.max_baseline_periods:]
        for key, (scope, c) in seg.items():
            k1, n1 = c.neg[target], c.n[target]
            k0, m0 = sum(c.neg[p] for p in baseline), sum(c.n[p] for p in baseline)
            if k1 < options.min_negative or m0 == 0:
                continue
            s1, s0 = scope_n[scope][target], sum(scope_n[scope][p] for p in baseline)
            share1, share0, rate1, rate0 = k1 / n1, k0 / m0, k1 / s1, k0 / s0
            numbers = {"latest": {"mentions": n1, "negative": k1, "negative_share": round(share1, 4), "reviews": s1,
                                  "negative_per_100_reviews": round(100 * rate1, 2)},
                       "baseline": {"periods": len(baseline), "mentions": m0, "negative": k0,
                                    "negative_share": round(share0, 4), "reviews": s0,
                                    "negative_per_100_reviews": round(100 * rate0, 2),
                                    "negative_per_period": round(k0 / len(baseline), 2)},
                       "quotes": c.quotes[target]}
            p_share = fisher_exact([[k1, n1 - k1], [k0, m0 - k0]], alternative="greater")[1]
            p_rate = binomtest(k1, k1 + k0, s1 / (s1 + s0), alternative="greater").pvalue
            # how many times the baseline's share / rate; a baseline without negatives counts as half of one
            tests.append((key, target, "share", p_share, share1 / max(share0, 0.5 / m0), numbers))
            tests.append((key, target, "rate", p_rate, rate1 / max(rate0, 0.5 / s0), numbers))
    result["tested"] = len(tests) // 2
    if not tests:
        return result
    q = false_discovery_control(np.array([t[3] for t in tests]), method="bh")
    best: dict[tuple, dict] = {}
    for (key, target, test, p, ratio, numbers), qv in zip(tests, q):
        if qv >= options.fdr or ratio < options.min_ratio:
            continue
        if (key, target) in best and best[(key, target)]["q_value"] <= qv:
            continue
        best[(key, target)] = {
            "id": _alert_id(key, period, target), **_describe(key), "period": period, "start": target.isoformat(),
            "end": period_end(target, period).isoformat(), "size": numbers["latest"]["negative"], "test": test,
            "change": {"ratio": round(ratio, 2),
                       "negative_share_pp": round(100 * (numbers["latest"]["negative_share"]
                                                         - numbers["baseline"]["negative_share"]), 1)},
            "p_value": float(f"{p:.3g}"), "q_value": float(f"{qv:.3g}"),
            "latest": numbers["latest"], "baseline": numbers["baseline"], "quotes": pick_quotes(numbers["quotes"])}
    result["alerts"] = sorted(best.values(), key=lambda a: (a["start"], -a["q_value"], a["size"]), reverse=True)
    return result


def _alert_id(key: tuple, period: str, latest: dt.date) -> str:
    """Stable across runs over the same data: a webhook receiver (and the server's sent-list) can tell a repeat."""
    return hashlib.sha1(repr((key, period, latest.isoformat())).encode()).hexdigest()[:12]
