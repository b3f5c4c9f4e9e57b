"""Validate team-written corpus files against data/corpus/GUIDELINES.md.

Usage: python3 data/corpus/check.py FILE [FILE ...]   (exit 1 when a row is wrong; every problem is printed)
       python3 data/corpus/check.py --stats [DIR]     (the datasheet's counts and the near-duplicate check)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ASPECTS = {"product_quality", "description_match", "logistics", "packaging", "customer_service", "after_sales",
           "price", "platform", "payment"}
DOMAINS = {"apparel", "shoes", "electronics", "computers", "appliances", "beauty", "personal_care", "food_delivery",
           "fresh_food", "snacks_drinks", "books_media", "hotels_travel", "mother_baby", "furniture", "services"}
OVERALL = {"positive", "neutral", "negative"}


def problems(row: dict) -> list[str]:
    out = []
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        return ["text missing or empty"]
    if row.get("lang") not in {"zh", "en"}:
        out.append(f"lang {row.get('lang')!r} is not zh/en")
    if row.get("domain") not in DOMAINS:
        out.append(f"domain {row.get('domain')!r} unknown")
    if row.get("overall") not in OVERALL:
        out.append(f"overall {row.get('overall')!r} unknown")
    seen = set()
    for a in row.get("aspects", []):
        if a.get("aspect") not in ASPECTS:
            out.append(f"aspect {a.get('aspect')!r} unknown")
        if a.get("label") not in OVERALL:
            out.append(f"aspect label {a.get('label')!r} unknown")
        if a.get("aspect") in seen:
            out.append(f"aspect {a.get('aspect')} given twice")
        seen.add(a.get("aspect"))
        ev = a.get("evidence")
        if not isinstance(ev, str) or not ev or ev not in text:
            out.append(f"evidence {ev!r} is not an exact substring of the text")
    return out


def main(paths: list[str], check=None) -> int:
    """Print every problem of every row of the files (`check`: a row's problems; default: a review's)."""
    check = check or problems
    bad = 0
    for path in paths:
        for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"{path}:{n}: not JSON: {e}")
                bad += 1
                continue
            for p in check(row):
                print(f"{path}:{n}: {p}")
                bad += 1
    print(f"{bad} problem(s)")
    return 1 if bad else 0


def near_duplicates(texts: list[str], n: int = 5, threshold: float = 0.6) -> list[tuple[int, int, float]]:
    """Pairs whose character n-gram sets have Jaccard similarity above `threshold` (texts shorter than n
    characters are compared whole)."""
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer

    grams = CountVectorizer(analyzer="char", ngram_range=(n, n), binary=True, lowercase=True)
    X = grams.fit_transform([t if len(t) >= n else t + " " * (n - len(t)) for t in texts]).tocsr().astype(np.int32)
    sizes = np.asarray(X.sum(1)).ravel()
    pairs = []
    for a in range(0, X.shape[0], 500):
        inter = (X[a:a + 500] @ X.T).tocoo()
        for i, j, v in zip(inter.row + a, inter.col, inter.data):
            if i < j:
                jac = v / (sizes[i] + sizes[j] - v)
                if jac > threshold:
                    pairs.append((int(i), int(j), float(jac)))
    return pairs


def stats(directory: Path) -> None:
    from collections import Counter

    rows = []
    for path in sorted(directory.glob("*.jsonl")):
        rows += [dict(json.loads(x), batch=path.stem) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    print(f"{len(rows)} reviews in {len({r['batch'] for r in rows})} batch files")
    for key in ("lang", "overall"):
        print(f"by {key}: " + ", ".join(f"{k} {v}" for k, v in Counter(r[key] for r in rows).most_common()))
    by_domain = Counter((r["domain"], r["lang"]) for r in rows)
    print("by domain (zh / en): " + ", ".join(f"{d} {by_domain[(d, 'zh')]}/{by_domain[(d, 'en')]}" for d in sorted(DOMAINS)))
    aspects = Counter((a["aspect"], a["label"]) for r in rows for a in r.get("aspects", []))
    print("aspects: " + ", ".join(f"{k} +{aspects[(k, 'positive')]}/-{aspects[(k, 'negative')]}" for k in sorted(ASPECTS)))
    print(f"reviews without an aspect: {sum(not r.get('aspects') for r in rows)}")
    tags = Counter(t for r in rows for t in r.get("tags", []))
    print("tags: " + ", ".join(f"{k} {v}" for k, v in tags.most_common()))
    lengths = sorted(len(r["text"]) for r in rows)
    q = lambda f: lengths[min(len(lengths) - 1, int(f * len(lengths)))]  # noqa: E731
    long_zh = [len(r["text"]) > 80 for r in rows if r["lang"] == "zh"]
    long_en = [len(r["text"]) > 200 for r in rows if r["lang"] == "en"]
    print(f"length in characters: min {lengths[0]}, p25 {q(0.25)}, median {q(0.5)}, p75 {q(0.75)}, p95 {q(0.95)}, "
          f"max {lengths[-1]}; zh over 80: {sum(long_zh) / max(len(long_zh), 1):.1%}; en over 200: "
          f"{sum(long_en) / max(len(long_en), 1):.1%}")
    pairs = near_duplicates([r["text"] for r in rows])
    n = len(rows)
    print(f"near-duplicate pairs (character 5-gram Jaccard > 0.6): {len(pairs)} of {n * (n - 1) // 2} pairs; "
          f"reviews in such a pair: {len({i for p in pairs for i in p[:2]})} ({len({i for p in pairs for i in p[:2]}) / n:.2%})")
    for i, j, jac in sorted(pairs, key=lambda p: -p[2])[:10]:
        print(f"  {jac:.2f}  {rows[i]['text'][:40]!r} ~ {rows[j]['text'][:40]!r}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--stats"]:
        stats(Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent / "reviews")
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
