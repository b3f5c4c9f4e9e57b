"""The scorer protocol: what the analyzer, the aspect model, batch scoring and the API use of a sentiment scorer.

Two implement it: the accurate scorer (models.sentiment.SentimentScorer, the fine-tuned transformer on the inference
runtime) and the fast one (models.fast.FastScorer, the distilled static-vector student).
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from models.clause_heads import ClauseHeads
from models.schema import Sentiment
from nlp.document import Document


@runtime_checkable
class Scorer(Protocol):
    name: str  # the model's name, reported with every analysis (`model`)
    engine: str  # what runs it: int8, bf16, ov-int8, fp32, torch, or fast (GET /v1/models says which)
    heads: ClauseHeads | None  # learned aspect heads read from the scorer's own pass; None: aspects by similarity
    net: Any  # the network; an OnnxNet loads its graphs in the background (`wait_ready`); None in fast mode

    def score_docs(self, docs: list[Document]) -> list[Sentiment]:
        """Each document's sentiment."""

    def score_texts(self, texts: list[str]) -> list[Sentiment]:
        """Each clause-sized, already normalised text's sentiment (the similarity aspect model's clauses)."""

    def analyze_docs(self, docs: list[Document]) -> tuple[list[Sentiment], list[list[np.ndarray | None]]]:
        """One pass: each document's sentiment and, per clause, its features for `heads` (RuntimeError without
        heads)."""
