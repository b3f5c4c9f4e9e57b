"""Aspect detection, side by side: the learned clause heads (default), the similarity model they replaced, and a
TF-IDF + logistic regression baseline trained on the same corpus split, on every labelled set at hand.

    python benchmarks/aspects.py [--systems learned,similarity,tfidf] [--sets shared,corpus-test,team,services]

Sets: `shared` = ../shared/data/aspects_dev.jsonl (280 real reviews; measuring only, skipped when absent),
`corpus-test` = the held-out writing batches of data/corpus (training/corpus.py), `team` and `services` =
tests/data/aspects_eval*.jsonl. For each: micro precision/recall/F1 over (review, aspect) pairs, polarity
accuracy on the aspects found, per-aspect precision/recall with the number predicted, and reviews/s
(in process, model loaded; the first call's warm-up excluded).
"""
import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from models.metrics import aspect_report  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "aspects_dev.jsonl"
TEAM = ROOT / "tests" / "data"


def load_set(name: str) -> list[dict] | None:
    from training.corpus import load_corpus

    if name == "shared":
        return [json.loads(x) for x in SHARED.open(encoding="utf-8")] if SHARED.exists() else None
    if name == "corpus-test":
        return load_corpus("test") or None
    files = {"team": ["aspects_eval.jsonl"], "services": ["aspects_eval_services.jsonl", "aspects_eval_services_heldout.jsonl"]}
    return [json.loads(x) for f in files[name] for x in (TEAM / f).open(encoding="utf-8")]


class TfidfAspects:
    """Clause-level baseline: character 1–3-gram TF-IDF, one logistic regression per aspect and one for polarity,
    trained on the corpus train split with the same clause labels as the heads."""

    def __init__(self):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        from nlp.document import build_document
        from training.clause_heads import ASPECT_KEYS, _clause_labels
        from training.corpus import load_corpus

        texts, labels = [], []
        for row in load_corpus("train"):
            for c in build_document(row["text"], spans=True).clauses:
                texts.append(c.text); labels.append(_clause_labels(c, row))
        self.keys = ASPECT_KEYS
        self.vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
        X = self.vec.fit_transform(texts)
        self.presence = {k: LogisticRegression(max_iter=2000, C=4.0).fit(X, [k in lab for lab in labels])
                         for k in self.keys if sum(k in lab for lab in labels) >= 2}
        polar = [i for i, lab in enumerate(labels) if lab and set(lab.values()) <= {"positive", "negative"}]
        self.polarity = LogisticRegression(max_iter=2000, C=4.0).fit(
            X[polar], [list(labels[i].values())[0] == "positive" for i in polar])

    def predict(self, texts: list[str]) -> list[dict[str, str]]:
        from nlp.document import build_document

        out = []
        for text in texts:
            clauses = [c.text for c in build_document(text, spans=True).clauses]
            X = self.vec.transform(clauses)
            pos = self.polarity.predict_proba(X)[:, 1]
            found: dict[str, tuple[float, str]] = {}
            for k, lr in self.presence.items():
                p = lr.predict_proba(X)[:, 1]
                j = int(p.argmax())
                if p[j] >= 0.5:
                    found[k] = (p[j], "positive" if pos[j] >= 0.5 else "negative")
            out.append({k: v[1] for k, v in found.items()})
        return out


def systems(names: list[str], model: str | None = None):
    from models.analyzer import Analyzer
    from models.aspects import AspectModel
    from models.runtime.hardware import blas_on_one_thread

    blas_on_one_thread()  # as `voc` and the server do
    learned = Analyzer.load(model)
    for name in names:
        if name == "learned":
            yield name, lambda texts, a=learned: [{x.aspect: x.label for x in r.aspects}
                                                  for r in a.analyze([(str(i), t) for i, t in enumerate(texts)])]
        elif name == "similarity":
            sim = Analyzer(learned.scorer, AspectModel.load(learned.scorer))
            yield name, lambda texts, a=sim: [{x.aspect: x.label for x in r.aspects} for r in a.analyze([(str(i), t) for i, t in enumerate(texts)])]
        elif name == "tfidf":
            yield name, TfidfAspects().predict
        else:
            sys.exit(f"unknown system {name}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--systems", default="learned,similarity,tfidf")
    ap.add_argument("--sets", default="shared,corpus-test,team,services")
    ap.add_argument("--per-aspect", action="store_true", help="print per-aspect precision/recall too")
    ap.add_argument("--model", help="a registered model's name or a model directory (default: the serving model)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    sets = {name: load_set(name) for name in args.sets.split(",")}
    results = []
    for system, predict in systems(args.systems.split(","), args.model):
        predict(["物流很快，质量不错"])  # warm-up: first-call costs are not throughput
        for name, rows in sets.items():
            if rows is None:
                print(f"{system:>10} {name}: not available here, skipped")
                continue
            t = time.perf_counter()
            pred = predict([r["text"] for r in rows])
            seconds = time.perf_counter() - t
            rep = aspect_report([{a["aspect"]: a["label"] for a in r["aspects"]} for r in rows], pred)
            print(f"{system:>10} {name:>11}: P {rep['precision']:.3f} R {rep['recall']:.3f} micro-F1 {rep['micro_f1']:.3f}  "
                  f"polarity {rep['polarity']:.3f}  {len(rows) / seconds:7.1f} reviews/s ({len(rows)} reviews)", flush=True)
            if args.per_aspect:
                for k, v in rep["per_aspect"].items():
                    print(f"{'':>24}{k:>18} P {v['precision']:.3f} R {v['recall']:.3f} predicted {v['predicted']:>3} support {v['support']:>3}")
            results.append({"system": system, "set": name, **rep, "reviews_per_s": round(len(rows) / seconds, 1)})
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
