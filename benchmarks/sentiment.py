"""Sentiment accuracy and throughput on the shared dev sets, in one go.

    python benchmarks/sentiment.py [--limit N] [--systems default,fast,snownlp,tfidf]

For each system and language: binary accuracy (score > 0 ⇒ positive), macro-F1
and rows/s. `default` and `fast` are timed as the whole `voc score` command
(process start, model load, reading and writing files) on a JSONL export, with
aspects (the default output) and with `--no-aspects` (sentiment only).
SnowNLP and TF-IDF + logistic regression (trained on the default recipe's own
training split) are the baselines. The shared sets are for measuring only. A third
set, `services` (80 team-written food-delivery, restaurant and hotel reviews in
tests/data/sentiment_services.jsonl), covers domains the shared sets lack; its rows/s
are start-up bound and mean nothing.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._data import load  # noqa: E402
from models.metrics import classification_report  # noqa: E402


def report(name, lang, gold, pred, seconds):
    rep = classification_report(gold, pred)
    print(f"{name:>8} {lang}: accuracy {rep['accuracy']:.4f}  macro-F1 {rep['macro_f1']:.4f}  "
          f"{len(gold) / seconds:8.1f} rows/s  ({len(gold)} rows, {seconds:.1f}s)", flush=True)
    return {"system": name, "lang": lang, "accuracy": rep["accuracy"], "macro_f1": rep["macro_f1"],
            "rows_per_s": round(len(gold) / seconds, 1)}


def run_voc(mode, rows, extra=()):
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        src.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n" for r in rows))
        voc = Path(sys.executable).parent / "voc"
        t = time.perf_counter()
        subprocess.run([str(voc), "score", str(src), "-o", str(out), "--id-col", "id", "--mode", mode, "-q", *extra], check=True)
        seconds = time.perf_counter() - t
        scores = {str(o["id"]): o["sentiment_score"] for o in map(json.loads, out.open(encoding="utf-8"))}
    return ["positive" if scores.get(str(r["id"]), 0) > 0 else "negative" for r in rows], seconds


def run_snownlp(rows):
    from snownlp import SnowNLP

    t = time.perf_counter()
    pred = ["positive" if SnowNLP(r["text"]).sentiments > 0.5 else "negative" for r in rows]
    return pred, time.perf_counter() - t


_TFIDF = None


def run_tfidf(rows):
    global _TFIDF
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from nlp.normalize import normalize_text
    from nlp.tokenize import tokenize
    from training.recipes import default_split

    def analyzer(text):
        return tokenize(normalize_text(text))

    if _TFIDF is None:
        train, _ = default_split()
        train = [e for e in train if e.label != "neutral"]
        _TFIDF = make_pipeline(TfidfVectorizer(analyzer=analyzer, ngram_range=(1, 1), min_df=2, sublinear_tf=True),
                               LogisticRegression(max_iter=2000, C=4.0))
        _TFIDF.fit([e.text for e in train], [e.label for e in train])
    t = time.perf_counter()
    pred = list(_TFIDF.predict([r["text"] for r in rows]))
    return pred, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, help="rows per language (default: all)")
    ap.add_argument("--systems", default="default,default-sentiment-only,fast,fast-sentiment-only,snownlp,tfidf")
    ap.add_argument("--langs", default="zh,en,services", help="zh, en (shared dev sets), services (team-written)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    results = []
    for lang in args.langs.split(","):
        rows = load(lang, args.limit)
        gold = [r["label"] for r in rows]
        for system in args.systems.split(","):
            if system in ("default", "fast", "default-sentiment-only", "fast-sentiment-only"):
                mode = "fast" if system.startswith("fast") else "accurate"
                pred, seconds = run_voc(mode, rows, ["--no-aspects"] if system.endswith("only") else [])
            elif system == "snownlp":
                pred, seconds = run_snownlp(rows)
            elif system == "tfidf":
                pred, seconds = run_tfidf(rows)
            else:
                sys.exit(f"unknown system {system}")
            results.append(report(system, lang, gold, pred, seconds))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
