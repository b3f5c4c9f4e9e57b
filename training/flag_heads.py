"""Train the flag heads (models/flag_heads.py) of a model directory on the team-written corpus.

    python -m training.flag_heads [MODEL_DIR]     (default: models/default)

Features are each review's pooled vector from the model's own graph (fp32, so that they do not depend on the CPU's
engine). A head per kind is a logistic regression on the train split (batches of the corpus, training/corpus.py);
the regularisation and the probability threshold are the ones with the best F1 on the dev split; the test split
is only measured. Platform placeholders (此用户没有填写评价), which the analyzer marks itself, are left out.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from models.clause_heads import unit_rows
from models.flag_heads import FlagHeads
from models.paths import REPO_MODELS
from nlp.document import TextError, build_document
from training.corpus import load_corpus

KINDS = ["sarcasm", "templated"]


def review_vectors(scorer, rows: list[dict], batch: int = 64) -> tuple[np.ndarray, list[dict]]:
    """Pooled vectors of the rows that are text and not a platform placeholder, and those rows."""
    vecs, kept = [], []
    for k in tqdm(range(0, len(rows), batch), desc="review vectors", unit="batch", file=sys.stderr):
        docs, these = [], []
        for row in rows[k:k + batch]:
            try:
                doc = build_document(row["text"], spans=True)
            except TextError:
                continue
            if not doc.is_placeholder:
                docs.append(doc)
                these.append(row)
        if docs:
            vecs.append(scorer.analyze_docs(docs, doc_vectors=True)[2])
            kept += these
    return np.concatenate(vecs), kept


def gold(rows: list[dict], kind: str) -> np.ndarray:
    return np.array([kind in row.get("tags", []) for row in rows])


def pr(pred: np.ndarray, truth: np.ndarray) -> dict:
    tp = int((pred & truth).sum())
    p, r = tp / max(int(pred.sum()), 1), tp / max(int(truth.sum()), 1)
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / max(p + r, 1e-9), 4),
            "flagged": int(pred.sum()), "gold": int(truth.sum()), "n": int(len(truth))}


def best_threshold(probs: np.ndarray, truth: np.ndarray) -> float:
    grid = np.round(np.arange(0.1, 0.951, 0.025), 3)
    f1 = [pr(probs >= t, truth)["f1"] for t in grid]
    return float(grid[int(np.argmax(f1))])


def train_flag_heads(model_dir: Path, Cs=(0.5, 2.0, 8.0, 32.0), log=print) -> FlagHeads:
    from models.sentiment import SentimentScorer

    scorer = SentimentScorer.load(model_dir, engine="fp32")
    split = {s: review_vectors(scorer, load_corpus(s)) for s in ("train", "dev", "test")}
    X = {s: unit_rows(v) for s, (v, _) in split.items()}
    W, b, th, info = [], [], [], {"train_reviews": len(X["train"]), "dev_reviews": len(X["dev"]),
                                  "test_reviews": len(X["test"]), "C": {}, "thresholds": {}, "dev": {}, "test": {}}
    for kind in KINDS:
        y = {s: gold(rows, kind) for s, (_, rows) in split.items()}
        best = None
        for C in Cs:
            lr = LogisticRegression(C=C, max_iter=3000, class_weight="balanced", random_state=13).fit(X["train"], y["train"])
            p_dev = lr.predict_proba(X["dev"])[:, 1]
            t = best_threshold(p_dev, y["dev"])
            f1 = pr(p_dev >= t, y["dev"])["f1"]
            log(f"{kind}, C={C}: dev F1 {f1:.3f} at threshold {t}")
            if best is None or f1 > best[0]:
                best = (f1, C, t, lr)
        _, C, t, lr = best
        W.append(lr.coef_[0]); b.append(lr.intercept_[0]); th.append(t)
        info["C"][kind], info["thresholds"][kind] = C, t
        for s in ("dev", "test"):
            info[s][kind] = pr(lr.predict_proba(X[s])[:, 1] >= t, y[s])
    heads = FlagHeads(list(KINDS), np.array(W, np.float32), np.array(b, np.float32), np.array(th, np.float32), info)
    heads.save(model_dir)
    return heads


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", nargs="?", type=Path, default=REPO_MODELS)
    ap.add_argument("--C", type=float, nargs="+", default=[0.5, 2.0, 8.0, 32.0],
                    help="inverse regularisation strengths to try; the one with the best dev F1 is kept")
    args = ap.parse_args(argv)
    heads = train_flag_heads(args.model_dir, Cs=tuple(args.C), log=lambda m: print(m, file=sys.stderr))
    print(json.dumps({k: heads.info[k] for k in ("thresholds", "dev", "test")}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
