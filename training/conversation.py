"""Train the conversation heads (models/conversation.py) of a model directory on the team's labelled chats.

    python -m training.conversation [MODEL_DIR]        (default: models/default)

Data: data/corpus/chats/*.jsonl (data/corpus/CHAT_GUIDELINES.md), one file per writing batch. The split is by
batch, never by conversation (a writer's batch shares habits; a row split would flatter the model): within each
language and writer, the ceil(n/5) files whose names have the lowest CRC-32 are the test split, the rest train.
The rule depends only on file names, so a batch's split never changes when other batches are added.

Training runs on the train split only: C and the decision thresholds come from out-of-fold predictions over a
4-fold split of the training batches (GroupKFold by file), and the turn heads' scores that the conversation heads
read are out-of-fold too, as they will be on unseen conversations. The test split is only measured.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold

from models.conversation import (AGENT_ISSUES, CUSTOMER_SIGNALS, SATISFACTION, ConversationHeads, Linear, ReadTurn,
                                 agent_turn_features, conversation_features, customer_turn_features, read_conversations)
from models.paths import REPO_MODELS
from nlp.chat import Turn

CHATS_DIR = Path(__file__).resolve().parent.parent / "data" / "corpus" / "chats"
EFFORT_TAGS = {"repeated_question", "already_told_you", "long_wait"}
OUTCOMES = ("resolved", "escalation", "effort")
CS = (0.01,)  # inverse regularisation strengths tried; 0.01 won for every head against 0.005 out of fold


def writer_of(stem: str) -> tuple[str, str]:
    """(language, writer) of a batch file `<lang>_<industry>_<writer>_<NN>`."""
    parts = stem.split("_")
    return parts[0], parts[-2]


def test_batches(stems: list[str]) -> set[str]:
    """Per language and writer, the ceil(n/5) batch files with the lowest CRC-32 of their name."""
    groups = defaultdict(list)
    for s in stems:
        groups[writer_of(s)].append(s)
    held = set()
    for files in groups.values():
        files.sort(key=lambda s: zlib.crc32(s.encode("utf-8")))
        held.update(files[:math.ceil(len(files) / 5)])
    return held


def load_chats(split: str | None = None, directory: Path = CHATS_DIR) -> list[dict]:
    """Conversations of the corpus (all, or the `train` / `test` split), each with `batch` (its file's stem)."""
    paths = sorted(Path(directory).glob("*.jsonl"))
    held = test_batches([p.stem for p in paths])
    rows = []
    for path in paths:
        if split is not None and (path.stem in held) != (split == "test"):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append({**json.loads(line), "batch": path.stem})
    return rows


def as_turns(row: dict) -> list[Turn]:
    return [Turn(t["role"], t["text"], t["role"], t.get("time")) for t in row["turns"]]


def labels_of(row: dict) -> dict:
    return {"satisfaction": SATISFACTION.index(row["satisfaction"]), "resolved": int(row["resolved"]),
            "escalation": int(row["escalation"]), "effort": int(bool(EFFORT_TAGS & set(row.get("tags", [])))),
            **{k: int(k in row.get("agent_issues", [])) for k in AGENT_ISSUES}}


# -- turn heads (multiple-instance) -----------------------------------------------------------------------------
def _turn_rows(read: list[list[ReadTurn]], rows: list[dict], role: str, dim: int):
    """Turn features of `role`, with the index of their conversation."""
    feats = customer_turn_features if role == "customer" else agent_turn_features
    X, conv = [], []
    for c, turns in enumerate(read):
        facts = [t.facts for t in turns]
        for i, f in enumerate(facts):
            if f.role == role and f.vec is not None:
                X.append(feats(facts, i, dim))
                conv.append(c)
    return np.array(X, np.float32), np.array(conv)


def _fit_mil(X: np.ndarray, conv: np.ndarray, bag_labels: np.ndarray, C: float) -> tuple[np.ndarray, float]:
    """One sigmoid output for a label known per conversation (bag): fit with every turn of a positive conversation
    positive, then refit with only each positive conversation's highest-scoring turn positive (its other turns
    are left out) and every turn of a negative conversation negative. (Standardised X.)"""
    y = bag_labels[conv]
    if y.min() == y.max():
        return np.zeros(X.shape[1], np.float32), -10.0
    lr = LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit(X, y)
    s = lr.decision_function(X)
    keep = y == 0
    for c in np.unique(conv[y == 1]):
        idx = np.flatnonzero(conv == c)
        keep[idx[np.argmax(s[idx])]] = True
    lr = LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit(X[keep], y[keep])
    return lr.coef_[0].astype(np.float32), float(lr.intercept_[0])


def fit_turn_head(X, conv, bag: np.ndarray, labels, C: float) -> Linear:
    mean, scale = X.mean(0), X.std(0) + 1e-6
    Z = (X - mean) / scale
    fits = [_fit_mil(Z, conv, bag[:, j], C) for j in range(len(labels))]
    return Linear(mean.astype(np.float32), scale.astype(np.float32), np.stack([w for w, _ in fits]),
                  np.array([b for _, b in fits], np.float32), list(labels))


def _bag_max(head: Linear, X, conv, n_conv: int) -> list[np.ndarray]:
    """Per conversation, the (n_turns, n_labels) turn probabilities."""
    p = head.predict(X) if len(X) else np.zeros((0, len(head.labels)))
    return [p[conv == c] for c in range(n_conv)]


# -- conversation heads ------------------------------------------------------------------------------------------
def _fit_linear(X, y, C, softmax: bool) -> tuple[np.ndarray, np.ndarray]:
    lr = LogisticRegression(C=C, max_iter=3000, class_weight="balanced").fit(X, y)
    if softmax:
        return lr.coef_.astype(np.float32), lr.intercept_.astype(np.float32)
    return lr.coef_[0].astype(np.float32), np.float32(lr.intercept_[0])


def _best_threshold(p: np.ndarray, y: np.ndarray) -> float:
    grid = np.round(np.arange(0.1, 0.91, 0.025), 3)
    return float(grid[int(np.argmax([f1_score(y, p >= t, zero_division=0) for t in grid]))])


class Featurized:
    """A split after the model pass: turn features, labels, and what the conversation heads read."""

    def __init__(self, rows: list[dict], read: list[list[ReadTurn]], dim: int):
        self.rows, self.read, self.dim = rows, read, dim
        self.y = {k: np.array([labels_of(r)[k] for r in rows]) for k in ("satisfaction", *OUTCOMES, *AGENT_ISSUES)}
        self.cX, self.cconv = _turn_rows(read, rows, "customer", dim)
        self.aX, self.aconv = _turn_rows(read, rows, "agent", dim)
        self.groups = np.array([r["batch"] for r in rows])

    def bags(self, names) -> np.ndarray:
        return np.stack([self.y[k] for k in names], 1)

    def conv_matrix(self, cust: list[np.ndarray], agent: list[np.ndarray]) -> np.ndarray:
        return np.stack([conversation_features([t.facts for t in turns], cs, ags, self.dim)
                         for turns, cs, ags in zip(self.read, cust, agent)])


def fit_heads(train: Featurized, log=print) -> ConversationHeads:
    n = len(train.rows)
    folds = list(GroupKFold(n_splits=4).split(np.zeros(n), groups=train.groups))
    turn_C = 0.05
    # out-of-fold turn scores, as the conversation heads will see them on unseen conversations
    oof_c = [None] * n
    oof_a = [None] * n
    for tr, va in folds:
        vas = set(va)
        cm, am = np.isin(train.cconv, tr), np.isin(train.aconv, tr)
        remap = {c: k for k, c in enumerate(tr)}
        ch = fit_turn_head(train.cX[cm], np.array([remap[c] for c in train.cconv[cm]]),
                           train.bags(CUSTOMER_SIGNALS)[tr], CUSTOMER_SIGNALS, turn_C)
        ah = fit_turn_head(train.aX[am], np.array([remap[c] for c in train.aconv[am]]),
                           train.bags(AGENT_ISSUES)[tr], AGENT_ISSUES, turn_C)
        for c in vas:
            oof_c[c] = ch.predict(train.cX[train.cconv == c]) if (train.cconv == c).any() else np.zeros((0, 2))
            oof_a[c] = ah.predict(train.aX[train.aconv == c]) if (train.aconv == c).any() else np.zeros((0, 5))
    customer_turn = fit_turn_head(train.cX, train.cconv, train.bags(CUSTOMER_SIGNALS), CUSTOMER_SIGNALS, turn_C)
    agent_turn = fit_turn_head(train.aX, train.aconv, train.bags(AGENT_ISSUES), AGENT_ISSUES, turn_C)
    agent_turn.thresholds = [_best_threshold(np.array([s[:, j].max() if len(s) else 0 for s in oof_a]),
                                             train.y[k]) for j, k in enumerate(AGENT_ISSUES)]

    X = train.conv_matrix(oof_c, oof_a)
    mean, scale = X.mean(0), X.std(0) + 1e-6
    Z = (X - mean) / scale
    info = {"train_conversations": n, "C": {}, "oof": {}}

    def oof_predict(y, C, softmax):
        p = np.zeros((n, 3)) if softmax else np.zeros(n)
        for tr, va in folds:
            W, b = _fit_linear(Z[tr], y[tr], C, softmax)
            z = Z[va] @ W.T + b
            p[va] = (np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)
                     if softmax else 1 / (1 + np.exp(-z)))
        return p

    best = max(CS, key=lambda C: f1_score(train.y["satisfaction"], oof_predict(train.y["satisfaction"], C, True).argmax(1),
                                          average="macro"))
    info["C"]["satisfaction"] = best
    W, b = _fit_linear(Z, train.y["satisfaction"], best, True)
    satisfaction = Linear(mean, scale, W, b, list(SATISFACTION), softmax=True)
    Ws, bs, ths = [], [], []
    info["blend"] = []
    for k in OUTCOMES:
        # escalation and effort may also be decided by the mean of the conversation head and the customer turn that
        # shows the signal most (the turn head's maximum): kept where that is better out of fold
        turn_max = (np.array([s[:, CUSTOMER_SIGNALS.index(k)].max() if len(s) else 0.0 for s in oof_c])
                    if k in CUSTOMER_SIGNALS else None)
        fits = {}
        for C in CS:
            p = oof_predict(train.y[k], C, False)
            for blend in ([False, True] if turn_max is not None else [False]):
                q = (p + turn_max) / 2 if blend else p
                t = _best_threshold(q, train.y[k])
                fits[C, blend] = (t, f1_score(train.y[k], q >= t))
        (C, blend) = max(fits, key=lambda cb: fits[cb][1])
        if blend:
            info["blend"].append(k)
        info["C"][k], info["oof"][k] = C, round(fits[C, blend][1], 4)
        log(f"conversation head {k}: C={C}{', blended with its turn head' if blend else ''}, "
            f"out-of-fold F1 {fits[C, blend][1]:.3f} at threshold {fits[C, blend][0]}")
        w, bb = _fit_linear(Z, train.y[k], C, False)
        Ws.append(w), bs.append(bb), ths.append(fits[C, blend][0])
    outcome = Linear(mean, scale, np.stack(Ws), np.array(bs, np.float32), list(OUTCOMES), thresholds=ths)
    return ConversationHeads(customer_turn, agent_turn, satisfaction, outcome, train.dim, info)


def featurize(scorer, rows: list[dict]) -> Featurized:
    read = read_conversations(scorer, [as_turns(r) for r in rows])
    dim = next(t.facts.vec.shape[0] for turns in read for t in turns if t.facts.vec is not None)
    return Featurized(rows, read, dim)


def evaluate(heads: ConversationHeads, data: Featurized) -> dict:
    """Satisfaction 3-class macro-F1 and binary accuracy (satisfied vs dissatisfied conversations, by P(pos) >
    P(neg)); F1 of resolved, escalation, effort and of each agent issue (conversation level)."""
    judged = [heads.judge([t.facts for t in turns]) for turns in data.read]
    sat = np.array([j["satisfaction"] for j in judged])
    out = {"n": len(judged), **satisfaction_metrics(data.y["satisfaction"], sat)}
    for k in OUTCOMES:
        out[f"{k}_f1"] = round(f1_score(data.y[k], [j[k] >= heads.threshold(k) for j in judged]), 4)
    out["agent_issue_f1"] = {
        k: round(f1_score(data.y[k], [len(j["agent_scores"]) > 0 and j["agent_scores"][:, a].max() >= heads.issue_threshold(k)
                                      for j in judged], zero_division=0), 4) for a, k in enumerate(AGENT_ISSUES)}
    return out


def satisfaction_metrics(gold: np.ndarray, probs: np.ndarray) -> dict:
    polar = gold != 1
    return {"satisfaction_macro_f1": round(f1_score(gold, probs.argmax(1), average="macro"), 4),
            "satisfaction_binary_acc": round(float(((probs[polar, 2] > probs[polar, 0]) == (gold[polar] == 2)).mean()), 4)}


def train(model_dir: Path, log=print) -> ConversationHeads:
    from models.sentiment import SentimentScorer

    scorer = SentimentScorer.load(model_dir, engine="fp32")
    train_rows, test_rows = load_chats("train"), load_chats("test")
    log(f"featurizing {len(train_rows)} training and {len(test_rows)} test conversations")
    tr, te = featurize(scorer, train_rows), featurize(scorer, test_rows)
    heads = fit_heads(tr, log)
    heads.info.update({"test_conversations": len(test_rows), "test_batches": sorted({r["batch"] for r in test_rows}),
                       "test": evaluate(heads, te)})
    heads.save(model_dir)
    return heads


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", nargs="?", type=Path, default=REPO_MODELS)
    args = ap.parse_args(argv)
    heads = train(args.model_dir, log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(heads.info["test"], ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
