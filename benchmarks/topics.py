"""Topic discovery on 3,000 short reviews: wall time (embeddings included) and stability across seeds.

    python benchmarks/topics.py [--n 3000]

Reads the shared zh dev set when present (measuring only), else a generated corpus.
Prints topics found, outlier share, seconds, label quality (words per label; the share of label words that are
whole dictionary words, not jieba's guesses such as 头用 or 价买) and the adjusted Rand index between the
assignments of two seeds.
"""
import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._data import SETS, SHARED  # noqa: E402


def texts(n):
    path = SHARED / SETS["zh"]
    if path.exists():
        rows = [json.loads(x)["text"] for x in path.open(encoding="utf-8")]
        rows = [t for t in rows if len(t) <= 120]
        random.Random(0).shuffle(rows)
        return rows[:n]
    print("(shared dev set absent: generated corpus)")
    from tests.topic_corpus import corpus

    return corpus(per_theme=n // 3)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    args = ap.parse_args()
    from sklearn.metrics import adjusted_rand_score

    from models.topics import discover

    docs = texts(args.n)
    ids = [str(i) for i in range(len(docs))]
    runs = []
    for seed in (1, 2):
        t = time.perf_counter()
        result, _ = discover(docs, ids, seed=seed)
        dt = time.perf_counter() - t
        outliers = sum(a == -1 for a in result.assignments) / len(docs)
        print(f"seed {seed}: {len(docs)} texts → {len([x for x in result.topics if x['id'] != -1])} topics, "
              f"{outliers:.1%} outliers, {dt:.1f}s", flush=True)
        from nlp.tokenize import _jieba  # the dictionary itself, so that the script also measures older versions

        words = [w for x in result.topics if x["id"] != -1 for w in x["label"].split(" / ")]
        labels = max(1, len([x for x in result.topics if x["id"] != -1]))
        whole = sum(w.isascii() or _jieba().FREQ.get(w, 0) > 0 for w in words) / max(len(words), 1)
        print(f"   labels: {len(words) / labels:.1f} words each, {whole:.0%} whole dictionary words")
        for x in result.topics[:8]:
            print(f"   {x['id']:3d} {x['size']:5d}  {x['label']}  ({x.get('aspect')})")
        runs.append(result.assignments)
    print(f"adjusted Rand index between seeds: {adjusted_rand_score(runs[0], runs[1]):.3f}")


if __name__ == "__main__":
    main()
