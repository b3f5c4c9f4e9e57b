"""Train the clause heads (models/clause_heads.py) of a model directory on aspect-labelled reviews.

    python -m training.clause_heads [--model-dir models/default] [--extra FILE.jsonl ...]

Features are what the model's own graph computes when it serves (fp32, so that they do not depend on the CPU's
engine); a clause is labelled with an aspect when the aspect's evidence span covers at least half of the clause
or the clause covers at least half of the evidence. Presence heads are one logistic regression per aspect;
the polarity head is a logistic regression on the clauses that carry a labelled opinion. Each aspect's
threshold is the one that maximises its review-level F1 on the dev split (batches of the corpus, see
training/corpus.py); the test split is only measured.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from models.clause_heads import ClauseHeads, unit_rows
from models.metrics import aspect_report
from models.paths import REPO_MODELS
from models.sentiment import SentimentScorer
from nlp.document import TextError, build_document
from training.corpus import load_corpus

ASPECT_KEYS = ["product_quality", "description_match", "logistics", "packaging", "customer_service", "after_sales",
               "price", "platform", "payment"]
CLAUSE_LAYER = 6  # mid-encoder states keep more of what a clause is about than the sentiment-tuned last layer
MIN_THRESHOLD, MAX_THRESHOLD, DEFAULT_THRESHOLD = 0.05, 0.9, 0.5


def clause_features(scorer, rows: list[dict], batch: int = 64):
    """Per row: (row, document, clause features, clause labels {aspect: label}, the document head's sentiment);
    rows that are not text are skipped."""
    out = []
    for k in tqdm(range(0, len(rows), batch), desc="clause features", unit="batch", file=sys.stderr):
        docs, kept = [], []
        for row in rows[k:k + batch]:
            try:
                docs.append(build_document(row["text"], spans=True))
                kept.append(row)
            except TextError:
                continue
        sentiments, feats = scorer.analyze_docs(docs)
        for row, doc, f, s in zip(kept, docs, feats, sentiments):
            out.append((row, doc, f, [_clause_labels(c, row) for c in doc.clauses], s))
    return out


def _clause_labels(clause, row: dict) -> dict[str, str]:
    labels = {}
    for a in row.get("aspects", []):
        s, e = a.get("start", -1), a.get("end", -1)
        if s < 0:
            continue
        overlap = min(clause.end, e) - max(clause.start, s)
        if overlap > 0 and (overlap >= 0.5 * (e - s) or overlap >= 0.5 * (clause.end - clause.start)):
            labels[a["aspect"]] = a["label"]
    return labels


def _matrix(featurized, keys):
    X, Y, P = [], [], []
    for _, _, feats, labels, _ in featurized:
        for f, lab in zip(feats, labels):
            if f is None:
                continue
            X.append(f)
            Y.append([k in lab for k in keys])
            pol = {v for v in lab.values() if v in ("positive", "negative")}
            P.append(1 if pol == {"positive"} else 0 if pol == {"negative"} else -1)
    return unit_rows(np.array(X)), np.array(Y, dtype=np.int8), np.array(P)


def _review_scores(heads: ClauseHeads, featurized) -> list[np.ndarray]:
    """Per review, each aspect's best clause presence probability."""
    out = []
    for _, doc, feats, _, _ in featurized:
        rows = [f for f in feats if f is not None]
        out.append(heads.predict(np.stack(rows))[0].max(0) if rows else np.zeros(len(heads.keys)))
    return out


def calibrate(heads: ClauseHeads, dev) -> np.ndarray:
    """Per aspect, the presence threshold with the best review-level F1 on `dev` (DEFAULT_THRESHOLD when dev has
    fewer than 5 reviews with that aspect)."""
    scores = np.stack(_review_scores(heads, dev))
    gold = np.array([[any(a["aspect"] == k for a in row.get("aspects", [])) for k in heads.keys] for row, *_ in dev])
    grid = np.round(np.arange(MIN_THRESHOLD, MAX_THRESHOLD + 1e-9, 0.025), 3)
    out = np.full(len(heads.keys), DEFAULT_THRESHOLD)
    for j in range(len(heads.keys)):
        if gold[:, j].sum() < 5:
            continue
        f1 = [2 * (tp := ((scores[:, j] >= t) & gold[:, j]).sum()) / max((scores[:, j] >= t).sum() + gold[:, j].sum(), 1)
              for t in grid]
        out[j] = grid[int(np.argmax(f1))]
    return out


def fit_heads(train, keys=ASPECT_KEYS, layer: int = CLAUSE_LAYER, C: float = 1.0, seed: int = 13) -> ClauseHeads:
    X, Y, P = _matrix(train, keys)
    W, b = np.zeros((len(keys), X.shape[1]), np.float32), np.full(len(keys), -10.0, np.float32)
    for j in range(len(keys)):
        if Y[:, j].sum() >= 2:  # an aspect with no examples never fires
            lr = LogisticRegression(C=C, max_iter=3000, random_state=seed).fit(X, Y[:, j])
            W[j], b[j] = lr.coef_[0], lr.intercept_[0]
    polar = P >= 0
    pol = LogisticRegression(C=C, max_iter=3000, random_state=seed).fit(X[polar], P[polar])
    info = {"clauses": int(len(X)), "labelled_clauses": int((Y.sum(1) > 0).sum()), "polar_clauses": int(polar.sum()),
            "per_aspect_clauses": {k: int(Y[:, j].sum()) for j, k in enumerate(keys)}, "C": C}
    return ClauseHeads(list(keys), W, b, np.full(len(keys), DEFAULT_THRESHOLD, np.float32), pol.coef_[0].astype(np.float32),
                       float(pol.intercept_[0]), layer, info)


def evaluate(heads: ClauseHeads, featurized) -> dict:
    """Review-level aspect micro-F1, per-aspect P/R and polarity accuracy (the measure of benchmarks/aspects.py)."""
    gold = [{a["aspect"]: a["label"] for a in row.get("aspects", [])} for row, *_ in featurized]
    pred = [{a.aspect: a.label for a in heads.detect(doc, feats)} for _, doc, feats, _, _ in featurized]
    return aspect_report(gold, pred)


def train_heads(model_dir: Path, user_rows: list[dict] | None = None, layer: int = CLAUSE_LAYER,
                Cs: tuple[float, ...] = (0.5, 2.0, 8.0), log=print) -> ClauseHeads:
    """Train and save the clause heads of `model_dir` on the corpus (and `user_rows`: reviews with `aspects`, as
    `voc train` reads them, 85% added to training and 15% to the calibration split). The C with the best dev
    micro-F1 is kept; dev and test metrics go into the heads' info."""
    from models.sentiment import SentimentScorer
    from training.corpus import load_corpus

    scorer = SentimentScorer.load(model_dir, engine="fp32", clause_layer=layer)
    split = {s: clause_features(scorer, load_corpus(s)) for s in ("train", "dev", "test")}
    if user_rows:
        cut = max(1, len(user_rows) * 85 // 100)
        split["user_train"] = clause_features(scorer, user_rows[:cut])
        split["user_dev"] = clause_features(scorer, user_rows[cut:])
        split["train"] += split["user_train"]
        split["dev"] += split["user_dev"]
    best = None
    for C in Cs:
        heads = fit_heads(split["train"], layer=layer, C=C)
        heads.thresholds = calibrate(heads, split["dev"]).astype(np.float32)
        f1 = evaluate(heads, split["dev"])["micro_f1"]
        log(f"aspect heads, C={C}: dev micro-F1 {f1:.4f}")
        if best is None or f1 > best[0]:
            best = (f1, heads)
    heads = best[1]
    heads.info.update({"train_reviews": len(split["train"]), "dev_reviews": len(split["dev"]),
                       "test_reviews": len(split["test"]), "thresholds": dict(zip(heads.keys, map(float, heads.thresholds))),
                       "dev": evaluate(heads, split["dev"]), "test": evaluate(heads, split["test"])})
    if split.get("user_dev"):
        heads.info["user_dev"] = evaluate(heads, split["user_dev"])
    heads.save(model_dir)
    return heads


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=REPO_MODELS)
    ap.add_argument("--C", type=float, nargs="+", default=[0.5, 2.0, 8.0],
                    help="inverse regularisation strengths to try; the one with the best dev micro-F1 is kept")
    ap.add_argument("--layer", type=int, default=CLAUSE_LAYER)
    args = ap.parse_args(argv)
    heads = train_heads(args.model_dir, layer=args.layer, Cs=tuple(args.C), log=lambda m: print(m, file=sys.stderr))
    print(json.dumps({k: heads.info[k] for k in ("train_reviews", "dev_reviews", "test_reviews", "thresholds")},
                     ensure_ascii=False))
    for s in ("dev", "test"):
        r = heads.info[s]
        print(f"{s}: micro P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['micro_f1']:.3f}; polarity {r['polarity']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
