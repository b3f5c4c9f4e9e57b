"""Fast mode: a static-embedding student distilled from the fine-tuned transformer.

Following model2vec, every subword token of a pruned vocabulary gets one vector:
the fine-tuned encoder's mean-pooled output for that token alone, reduced by PCA
and weighted by SIF (rarer tokens weigh more). A text is the mean of its token
vectors; a linear head trained on the teacher's predictions labels it. There is
no attention at inference, so scoring is a tokenizer call and a sparse matmul:
thousands of rows per second on one core. The student lives in the model
directory as ``fast.safetensors``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from models.paths import read_meta
from models.schema import LABELS, Sentiment, sentiment_from_probs
from nlp.document import Document

FAST_FILE = "fast.safetensors"


class FastScorer:
    def __init__(self, tokenizer, vectors: np.ndarray, row_of: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                 meta: dict, labels=LABELS, aspect_vectors: np.ndarray | None = None):
        self.tokenizer = tokenizer
        self.aspect_vectors = None if aspect_vectors is None else aspect_vectors.astype(np.float32)
        self.vectors = vectors.astype(np.float32)  # (n_kept + 1, dim); the last row is the zero vector for pruned tokens
        self.row_of = row_of  # vocab id -> row in `vectors`
        self.coef, self.intercept = coef.astype(np.float32), intercept.astype(np.float32)
        self.labels = tuple(labels)
        self.meta = meta
        self.name = meta.get("name", "voc-sentiment") + "+fast"

    @classmethod
    def load(cls, model_dir: Path) -> "FastScorer":
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        from models.encoder import base_model_dir, ensure_base_model

        path = Path(model_dir) / FAST_FILE
        if not path.exists():
            raise FileNotFoundError(f"{model_dir} has no fast-mode student ({FAST_FILE}); build it with "
                                    f"`python -m training.distill {model_dir}`")
        t = load_file(str(path))
        meta = read_meta(model_dir)
        base = base_model_dir()
        if not (base / "voc_converter.json").exists():
            base = ensure_base_model()  # first use only: needs transformers; later runs stay torch-free
        return cls(Tokenizer.from_file(str(base / "tokenizer.json")), t["vectors"], t["row_of"], t["coef"],
                   t["intercept"], meta, meta.get("labels", LABELS), t.get("aspect_vectors"))

    def aspect_embed(self, texts: list[str]) -> np.ndarray:
        """Static vectors distilled from the base encoder: topical similarity for aspects in fast mode."""
        return np.asarray(self._bags(texts) @ self.aspect_vectors)

    def aspect_embed_and_score(self, texts: list[str]) -> tuple[np.ndarray, list[Sentiment]]:
        """aspect_embed and score_texts of the same texts from one tokenisation (the tokenizer is a third of
        fast-mode time)."""
        bags = self._bags(texts)
        return np.asarray(bags @ self.aspect_vectors), self._sentiments(np.asarray(bags @ self.vectors))

    def _bags(self, texts: list[str]) -> sp.csr_matrix:
        """Each text as a row of token weights (1/length per token) over the vector table's rows."""
        ids = [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]
        rows = [self.row_of[np.asarray(x, dtype=np.int64)] if x else np.zeros(0, np.int64) for x in ids]
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        data = np.repeat(1.0 / np.maximum(lengths, 1), lengths).astype(np.float32)
        return sp.csr_matrix((data, np.concatenate(rows) if rows else np.zeros(0, np.int64), indptr),
                             shape=(len(texts), self.vectors.shape[0]))

    def features(self, texts: list[str]) -> np.ndarray:
        """Mean token vector per text (a sparse bag-of-rows times the vector table)."""
        return np.asarray(self._bags(texts) @ self.vectors)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self._probs(self.features(texts))

    def _probs(self, features: np.ndarray) -> np.ndarray:
        logits = features @ self.coef.T + self.intercept
        logits -= logits.max(1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(1, keepdims=True)

    def _sentiments(self, features: np.ndarray) -> list[Sentiment]:
        return [sentiment_from_probs(p, self.labels) for p in self._probs(features)]

    def score_texts(self, texts: list[str]) -> list[Sentiment]:
        if not texts:
            return []
        return self._sentiments(self.features(texts))

    def score_docs(self, docs: list[Document]) -> list[Sentiment]:
        return self.score_texts([d.text for d in docs])
