"""The report's numbers, computed from a scored output file (so a resumed run reports on every row): sentiment
share, aspects (mentions, net sentiment), pain points with quotes, trend (--time-col), cross tabulation (--by),
topics (when fitted) and rating KPIs (--rating-col: CSAT on 1–5, NPS on 0–10, and ratings that contradict the text).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from models.alerts import choose_period, period_start, pick_quotes
from api.batch.output import json_list
from api.report.review_queue import review_queue
from nlp.document import is_placeholder_text
from nlp.files import BadRow, iter_rows, parse_when

LABELS = ("positive", "neutral", "negative")
MISSING = "(空 missing)"  # the --by group of rows that leave the column empty
QUOTES = 3


def _num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _is_placeholder(row: dict, label: str, text_col: str) -> bool:
    """A platform's stand-in for a missing review (此用户没有填写评价, 系统默认好评), which `voc score` marks neutral
    with confidence 1 and no aspects; only such rows are checked again, so the report stays fast."""
    if label != "neutral" or _num(row.get("sentiment_confidence")) != 1.0 or json_list(row.get("aspects")):
        return False
    return is_placeholder_text(str(row.get(text_col, "")))


def _contradicts(row: dict, rating: float, label: str) -> bool:
    """The text contradicts the rating: `voc score --rating-col` flagged it rating_mismatch (the text confidently
    opposite); a file scored without that flag falls back to the label against the stars."""
    if "flags" in row:
        return "rating_mismatch" in str(row["flags"] or "").split(",")
    return (rating >= 4 and label == "negative") or (rating <= 2 and label == "positive")


def aggregate(scored_path, text_col="text", time_col=None, by=(), rating_col=None) -> dict:
    """Read a scored file and compute every number the report shows."""
    share = Counter()
    asp = defaultdict(lambda: Counter())
    quotes = defaultdict(list)  # aspect -> [(confidence, evidence, text)]
    times, cross, ratings, contradictions = [], {c: defaultdict(Counter) for c in by}, [], []
    topics = defaultdict(Counter)
    topic_labels = {}
    n = placeholders = 0
    langs = Counter()
    for _, row in iter_rows(scored_path):
        if isinstance(row, BadRow) or "sentiment_label" not in row:
            continue
        label, score = row["sentiment_label"], _num(row.get("sentiment_score")) or 0.0
        if _is_placeholder(row, label, text_col):
            placeholders += 1  # nobody's opinion: kept in the scored file, left out of every share below
            continue
        n += 1
        share[label] += 1
        langs[row.get("lang")] += 1
        aspects = json_list(row.get("aspects"))
        for a in aspects:
            asp[a["aspect"]][a["label"]] += 1
            if a["label"] == "negative":
                quotes[a["aspect"]].append((float(a.get("confidence", 0)), a.get("evidence", ""), str(row.get(text_col, ""))[:200]))
        if time_col:
            t = parse_when(row.get(time_col))
            if t is not None and t.tzinfo is not None:
                t = t.tz_localize(None)  # one column, one clock: the wall time as written (Unix times: UTC)
            if t is not None:
                times.append((t, label, score, [a["aspect"] for a in aspects if a["label"] == "negative"]))
        for c in by:
            value = row.get(c)
            cross[c][MISSING if value is None or not str(value).strip() else str(value)][label] += 1
        if row.get("topic_id") not in (None, ""):
            tid = int(float(row["topic_id"]))
            topics[tid][label] += 1
            topic_labels[tid] = row.get("topic_label", "")
        if rating_col:
            r = _num(row.get(rating_col))
            if r is not None:
                ratings.append(r)
                if _contradicts(row, r, label):
                    contradictions.append({"rating": r, "label": label, "text": str(row.get(text_col, ""))[:200]})
    # the report's language: English where most reviews are, Chinese otherwise
    data = {"rows": n, "lang": "en" if langs["en"] > n / 2 else "zh", "sentiment_share": {lab: share[lab] for lab in LABELS}}
    if placeholders:
        data["placeholders"] = placeholders
    errors = Path(str(scored_path) + ".errors.jsonl")  # what `voc score` could not score, next to its output
    if errors.exists():
        with errors.open(encoding="utf-8") as f:
            data["not_scored"] = sum(1 for line in f if line.strip())
    aspects_out = []
    for key, c in asp.items():
        mentions = sum(c.values())
        neg = c["negative"]
        top = pick_quotes(quotes[key], QUOTES)  # distinct: the same complaint pasted twice is quoted once
        aspects_out.append({"aspect": key, "mentions": mentions, "positive": c["positive"], "negative": neg,
                            "net": round((c["positive"] - neg) / mentions, 4), "negative_share": round(neg / mentions, 4),
                            "pain_score": round(neg * neg / mentions, 4),
                            "quotes": [{"evidence": q.get("evidence", ""), "text": q["text"]} for q in top]})
    data["aspects"] = sorted(aspects_out, key=lambda a: -a["mentions"])
    data["pain_points"] = [a for a in sorted(aspects_out, key=lambda a: -a["pain_score"]) if a["negative"]]
    if times:
        # calendar periods, chosen as the alerts choose them (models.alerts.choose_period)
        period = choose_period(min(t for t, *_ in times).date(), max(t for t, *_ in times).date())
        per = defaultdict(lambda: {"n": 0, "score": 0.0, "negative": 0, "aspects": Counter()})
        for t, label, score, neg_aspects in times:
            key = period_start(t.date(), period).isoformat()
            p = per[key]
            p["n"] += 1; p["score"] += score; p["negative"] += label == "negative"; p["aspects"].update(neg_aspects)
        data["trend"] = {"period": period, "points": [
            {"period": k, "rows": v["n"], "mean_score": round(v["score"] / v["n"], 4),
             "negative_share": round(v["negative"] / v["n"], 4), "negative_aspects": dict(v["aspects"])}
            for k, v in sorted(per.items())]}
    if by:
        data["cross"] = {c: [{"group": g, "rows": sum(cnt.values()),
                              **{lab: round(cnt[lab] / sum(cnt.values()), 4) for lab in LABELS}}
                             for g, cnt in sorted(groups.items(), key=lambda kv: -sum(kv[1].values()))]
                         for c, groups in cross.items()}
    if topics:
        data["topics"] = [{"id": t, "label": topic_labels.get(t, ""), "size": sum(c.values()),
                           "negative_share": round(c["negative"] / sum(c.values()), 4)}
                          for t, c in sorted(topics.items(), key=lambda kv: -sum(kv[1].values()))]
    data["review_queue"] = review_queue(scored_path, text_col)
    if rating_col:
        kpi = {"rated_rows": len(ratings), "contradictions": len(contradictions), "contradiction_examples": contradictions[:10]}
        if ratings and max(ratings) > 5:  # 0–10 scale: Net Promoter Score
            kpi["scale"] = "0-10"
            kpi["nps"] = round(100 * (sum(r >= 9 for r in ratings) - sum(r <= 6 for r in ratings)) / len(ratings), 1)
        elif ratings:
            kpi["scale"] = "1-5"
            kpi["csat"] = round(100 * sum(r >= 4 for r in ratings) / len(ratings), 1)
        kpi["text_positive_share"] = round(100 * share["positive"] / max(n, 1), 1)
        data["kpi"] = kpi
    return data
