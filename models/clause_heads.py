"""Learned aspect heads over clause features from the sentiment model's own forward pass.

The sentiment graph outputs, for every token, the sentiment logits and the token's hidden states (last layer and
`layer`); a clause's feature vector is the mean of its tokens' states, read in the context of the whole review
(models.sentiment.SentimentScorer.analyze_docs). So one encoder pass gives the review's sentiment and every
clause's features, and these heads turn the features into:

- aspect presence: one logistic output per aspect of the taxonomy (multi-label), with a probability threshold
  per aspect calibrated on the team's own dev split (training/clause_heads.py);
- polarity: P(positive) of the opinion the clause expresses.

The heads are numpy matrices stored beside the encoder weights (``clause_heads.safetensors``, ~60 KB); retraining
them never touches the encoder or its exported graph.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from models.schema import Aspect
from nlp.document import CONTRAST, Document, Span, is_bare_emotion, is_lone_english_word

HEADS_FILE = "clause_heads.safetensors"
HEADS_META = "clause_heads.json"


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


@dataclass
class ClauseHeads:
    keys: list[str]             # aspect keys, one per presence column
    presence_w: np.ndarray      # (n_aspects, n_features)
    presence_b: np.ndarray      # (n_aspects,)
    thresholds: np.ndarray      # (n_aspects,) presence probability an aspect needs
    polarity_w: np.ndarray      # (n_features,)
    polarity_b: float
    layer: int                  # the encoder layer whose states join the last layer's
    info: dict                  # how the heads were trained (sizes, dev metrics)

    @property
    def n_features(self) -> int:
        return self.presence_w.shape[1]

    def predict(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Clause features (n, n_features) → (presence probabilities (n, n_aspects), P(positive) (n,))."""
        x = unit_rows(feats)
        return _sigmoid(x @ self.presence_w.T + self.presence_b), _sigmoid(x @ self.polarity_w + self.polarity_b)

    def detect(self, doc: Document, clause_feats: list[np.ndarray | None]) -> list[Aspect]:
        """The aspects of one document: each aspect once, from the clause that shows it most clearly."""
        rows = [k for k, (c, f) in enumerate(zip(doc.clauses, clause_feats)) if f is not None and _may_name(c, doc)]
        if not rows:
            return []
        presence, positive = self.predict(np.stack([clause_feats[k] for k in rows]))
        best: dict[str, Aspect] = {}
        for r, k in enumerate(rows):
            clause = doc.clauses[k]
            for j in np.flatnonzero(presence[r] >= self.thresholds):
                key = self.keys[j]
                pos = float(positive[r])
                conf = round(float(presence[r, j]) * max(pos, 1 - pos), 4)
                if key not in best or conf > best[key].confidence:
                    start = _opinion_start(doc.display, clause)
                    best[key] = Aspect(aspect=key, label="positive" if pos >= 0.5 else "negative", confidence=conf,
                                       evidence=doc.display[start:clause.end], start=start, end=clause.end)
        return sorted(best.values(), key=lambda a: a.start)

    def save(self, model_dir: Path) -> None:
        save_file({"presence_w": self.presence_w.astype(np.float32), "presence_b": self.presence_b.astype(np.float32),
                   "thresholds": self.thresholds.astype(np.float32), "polarity_w": self.polarity_w.astype(np.float32),
                   "polarity_b": np.array([self.polarity_b], np.float32)}, str(Path(model_dir) / HEADS_FILE))
        (Path(model_dir) / HEADS_META).write_text(json.dumps({"keys": self.keys, "layer": self.layer, **self.info},
                                                             ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, model_dir: Path) -> "ClauseHeads | None":
        """The heads of a model directory, or None when it has none (then aspects come from similarity)."""
        path = Path(model_dir) / HEADS_FILE
        if not path.exists():
            return None
        t = load_file(str(path))
        meta = json.loads((Path(model_dir) / HEADS_META).read_text(encoding="utf-8"))
        keys, layer = meta.pop("keys"), meta.pop("layer")
        return cls(keys, t["presence_w"], t["presence_b"], t["thresholds"], t["polarity_w"], float(t["polarity_b"][0]),
                   int(layer), meta)


def _may_name(clause: Span, doc: Document) -> bool:
    """A clause that only voices a feeling (气死了😡, "so disappointed") or a one-word English clause of a longer
    review ("Thanks", "Finally") names no touchpoint."""
    return not is_bare_emotion(clause.text) and not (len(doc.clauses) > 1 and is_lone_english_word(clause.text))


def _opinion_start(display: str, clause: Span) -> int:
    """Where the opinion starts: after a leading contrast marker (但是物流太慢 → 物流太慢)."""
    if not clause.contrast:
        return clause.start
    m = CONTRAST.match(display, clause.start, clause.end)
    start = m.end() if m else clause.start
    while start < clause.end and display[start] in " ，,":
        start += 1
    return start if start < clause.end else clause.start
