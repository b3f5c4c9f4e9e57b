"""Sentiment accuracy and throughput on the shared dev sets, in one go.

    python benchmarks/sentiment.py [--limit N] [--systems default,fast,snownlp,tfidf]

For each system and language: binary accuracy (score > 0 ⇒ positive), macro-F1
and rows/s. `default` and `fast` are timed as the whole `voc score` command
(process start, model load, reading and writing files) on a JSONL export, with
aspects (the default output) and with `--no-aspects` (sentiment only).
SnowNLP and TF-IDF + logistic regression (trained on the shipped model's own training data:
the refresh recipe's split, team corpus included) are the baselines. The shared sets are for
measuring only. `services` (80 team-written food-delivery, restaurant and hotel reviews in
tests/data/sentiment_services.jsonl) covers domains the shared sets lack; `corpus` is the held-out
writing batches of the team corpus (3 classes, so accuracy and macro-F1 are 3-class there, with a
line per domain). Rows/s of the small sets are start-up bound and mean nothing.
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


def run_voc(mode, rows, extra=(), three_class=False):
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        src.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n" for r in rows))
        voc = Path(sys.executable).parent / "voc"
        t = time.perf_counter()
        subprocess.run([str(voc), "score", str(src), "-o", str(out), "--id-col", "id", "--mode", mode, "-q", *extra], check=True)
        seconds = time.perf_counter() - t
        out_rows = {str(o["id"]): o for o in map(json.loads, out.open(encoding="utf-8"))}
    if three_class:
        return [out_rows.get(str(r["id"]), {}).get("sentiment_label", "neutral") for r in rows], seconds
    return ["positive" if out_rows.get(str(r["id"]), {}).get("sentiment_score", 0) > 0 else "negative" for r in rows], seconds


def run_snownlp(rows, three_class=False):
    from snownlp import SnowNLP

    t = time.perf_counter()
    pred = ["positive" if SnowNLP(r["text"]).sentiments > 0.5 else "negative" for r in rows]
    return pred, time.perf_counter() - t


_TFIDF = None


def run_tfidf(rows, three_class=False):
    global _TFIDF
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from nlp.normalize import normalize_text
    from nlp.tokenize import tokenize
    from training.recipes import refresh_split

    def analyzer(text):
        return tokenize(normalize_text(text))

    if _TFIDF is None:
        train, _ = refresh_split()
        _TFIDF = make_pipeline(TfidfVectorizer(analyzer=analyzer, ngram_range=(1, 1), min_df=2, sublinear_tf=True),
                               LogisticRegression(max_iter=2000, C=4.0))
        _TFIDF.fit([e.text for e in train], [e.label for e in train])
    t = time.perf_counter()
    probs = _TFIDF.predict_proba([r["text"] for r in rows])
    classes = list(_TFIDF.classes_)
    if three_class:
        pred = [classes[i] for i in probs.argmax(1)]
    else:  # binary sets: P(positive) > P(negative), as score > 0 for the models
        pred = ["positive" if p[classes.index("positive")] > p[classes.index("negative")] else "negative" for p in probs]
    return pred, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, help="rows per language (default: all)")
    ap.add_argument("--systems", default="default,default-sentiment-only,fast,fast-sentiment-only,snownlp,tfidf")
    ap.add_argument("--langs", default="zh,en,services,corpus",
                    help="zh, en (shared dev sets), services, corpus (team-written)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    results = []
    for lang in args.langs.split(","):
        rows = load(lang, args.limit)
        gold = [r["label"] for r in rows]
        three = lang == "corpus"
        for system in args.systems.split(","):
            if system in ("default", "fast", "default-sentiment-only", "fast-sentiment-only"):
                mode = "fast" if system.startswith("fast") else "accurate"
                pred, seconds = run_voc(mode, rows, ["--no-aspects"] if system.endswith("only") else [], three)
            elif system == "snownlp":
                if three:
                    continue  # two classes only
                pred, seconds = run_snownlp(rows)
            elif system == "tfidf":
                pred, seconds = run_tfidf(rows, three)
            else:
                sys.exit(f"unknown system {system}")
            results.append(report(system, lang, gold, pred, seconds))
            if three:
                for domain in sorted({r["domain"] for r in rows}):
                    idx = [i for i, r in enumerate(rows) if r["domain"] == domain]
                    rep = classification_report([gold[i] for i in idx], [pred[i] for i in idx])
                    print(f"{'':>12}{domain:>16}: accuracy {rep['accuracy']:.4f}  macro-F1 {rep['macro_f1']:.4f}  ({len(idx)} rows)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
