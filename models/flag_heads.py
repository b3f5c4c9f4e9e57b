"""Learned trust flags on the review's pooled vector from the sentiment model's own pass.

`SentimentScorer.analyze_docs(docs, doc_vectors=True)` returns, beside sentiment and clause features, each review's
mean token states (the same layers as a clause's features, over the whole review): no extra encoder pass. A
logistic head per kind reads that vector:

- `sarcasm`: praise that means the opposite (物流真快啊，才走了半个月; "oh great, another broken charger");
- `templated`: boilerplate written for the form, not about the purchase (凑字数, 非常好非常好非常好, "Good product.
  Good packaging. Good delivery.").

Both are learned from the team-written corpus (tags `sarcasm` and `templated` of data/corpus/reviews), thresholds
calibrated on its dev split (training/flag_heads.py). Stored beside the encoder as ``flag_heads.safetensors`` and
``flag_heads.json``; a model directory without them raises no learned flag.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from models.clause_heads import unit_rows
from models.schema import Flag

FLAG_HEADS_FILE = "flag_heads.safetensors"
FLAG_HEADS_META = "flag_heads.json"
REASONS = {"sarcasm": "praise that reads as irony", "templated": "boilerplate wording, not about the purchase"}


@dataclass
class FlagHeads:
    kinds: list[str]          # one logistic output per kind
    w: np.ndarray             # (n_kinds, n_features)
    b: np.ndarray             # (n_kinds,)
    thresholds: np.ndarray    # (n_kinds,) probability a flag needs
    info: dict                # how the heads were trained (sizes, C, dev and test precision/recall)

    def predict(self, vecs: np.ndarray) -> np.ndarray:
        """Pooled review vectors (n, n_features) → each kind's probability (n, n_kinds)."""
        z = unit_rows(vecs) @ self.w.T + self.b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def flags(self, vecs: np.ndarray) -> list[list[Flag]]:
        """Each review's flags: the kinds whose probability reaches their threshold."""
        if len(vecs) == 0:
            return []
        probs = self.predict(vecs)
        return [[Flag(kind=k, confidence=round(float(p[j]), 4), reason=REASONS.get(k, ""))
                 for j, k in enumerate(self.kinds) if p[j] >= self.thresholds[j]] for p in probs]

    def save(self, model_dir: Path) -> None:
        save_file({"w": self.w.astype(np.float32), "b": self.b.astype(np.float32),
                   "thresholds": self.thresholds.astype(np.float32)}, str(Path(model_dir) / FLAG_HEADS_FILE))
        (Path(model_dir) / FLAG_HEADS_META).write_text(json.dumps({"kinds": self.kinds, **self.info},
                                                                  ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, model_dir: Path) -> "FlagHeads | None":
        path = Path(model_dir) / FLAG_HEADS_FILE
        if not path.exists():
            return None
        t = load_file(str(path))
        meta = json.loads((Path(model_dir) / FLAG_HEADS_META).read_text(encoding="utf-8"))
        return cls(meta.pop("kinds"), t["w"], t["b"], t["thresholds"], meta)
