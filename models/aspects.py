"""Aspect-level sentiment: which touchpoints a review judges, how, and where it says so.

For every clause of a `Document` (nlp splits on punctuation and contrast markers):

1. Aspect assignment is similarity-based. The taxonomy (data/aspects/taxonomy.json)
   gives each aspect a bilingual description and example clauses; clauses are
   embedded with the project's pretrained encoder (e5, "query: " prefix, ONNX Runtime) and an
   aspect's score is the mean of its top-k example similarities. A clause gets the
   aspects that beat both the threshold and the "none" examples (touchpoint words
   with no opinion, small talk) by a margin. Implicit mentions (三天才到,
   "arrived in pieces") work because similarity is semantic, not keyword-based.
2. Polarity combines the fine-tuned sentiment model's verdict on the clause alone
   (negation 没有色差 / "not bad" and contrast 虽然…但是… are the model's job) with a
   similarity vote of the aspect's labeled examples (domain phrases such as 是正品 or
   "arrived in pieces" that a general sentiment model misjudges). A clause the model
   finds neutral expresses no opinion and yields no aspect, unless the nearest labeled examples
   agree on a polarity (|vote| ≥ 0.9: "the mug arrived in pieces" reads as a plain fact to a
   general sentiment model, but every nearby packaging example is a complaint).
3. Evidence is the clause's span of the displayed text (offsets map back through
   Traditional/full-width normalisation).

Adding an aspect = adding an entry (name, description, examples) to a taxonomy
file; nothing is retrained.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from models.schema import Aspect
from nlp.document import Document, Span

TAXONOMY = Path(__file__).resolve().parent.parent / "data" / "aspects" / "taxonomy.json"
TOP_K = 2
FAST_THRESHOLD = 0.8  # static vectors spread similarities differently from e5 (see benchmarks/aspects.py)


@dataclass
class AspectDef:
    key: str
    name: str
    description: str
    positive: list[str]
    negative: list[str]

    @property
    def examples(self) -> list[str]:
        return self.positive + self.negative


def load_taxonomy(path: Path | None = None) -> tuple[list[AspectDef], list[str]]:
    """Aspects from JSON: key, name, description, and `positive`/`negative` example clauses
    (or plain `examples`, polarity unknown)."""
    data = json.loads(Path(path or TAXONOMY).read_text(encoding="utf-8"))
    aspects = [AspectDef(a["key"], a.get("name", a["key"]), a.get("description", ""),
                         list(a.get("positive", [])), list(a.get("negative", [])) + list(a.get("examples", [])))
               for a in data["aspects"]]
    for a in aspects:
        if len(a.examples) < 3:
            raise ValueError(f"aspect {a.key!r} needs at least 3 examples")
    return aspects, list(data.get("none", []))


@lru_cache(maxsize=1)
def e5_embedder() -> Callable[[list[str]], np.ndarray]:
    """The project's pretrained encoder (e5, "query: " prefix) as sentence embeddings, loaded once per process."""
    from models.onnx_engine import BaseEmbedder

    return BaseEmbedder()


class AspectModel:
    def __init__(self, aspects: list[AspectDef], none_examples: list[str], embed: Callable[[list[str]], np.ndarray],
                 score_texts, threshold: float = 0.86, margin: float = 0.01, tie: float = 0.01,
                 neutral_cutoff: float = 0.6, vote_weight: float = 0.5, neutral_vote: float = 0.9):
        self.aspects, self.embed, self.score_texts = aspects, embed, score_texts
        self.threshold, self.margin, self.tie, self.neutral_cutoff = threshold, margin, tie, neutral_cutoff
        self.vote_weight, self.neutral_vote = vote_weight, neutral_vote
        texts, owner, polarity = [], [], []
        for i, a in enumerate(aspects):
            for sign, group in ((1.0, a.positive), (-1.0, a.negative)):
                for ex in group:
                    texts.append(ex); owner.append(i); polarity.append(sign)
        for ex in none_examples:
            texts.append(ex); owner.append(-1); polarity.append(0.0)
        self._owner, self._polarity = np.array(owner), np.array(polarity)
        self._examples = self._unit(embed(texts))

    @staticmethod
    def _unit(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float32)
        return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)

    @classmethod
    def load(cls, scorer, taxonomy: Path | None = None, **kw) -> "AspectModel":
        """Fast mode brings its own static embedder (no transformer per clause); otherwise the e5 encoder."""
        aspects, none = load_taxonomy(taxonomy)
        embed = getattr(scorer, "aspect_embed", None) if getattr(scorer, "aspect_vectors", None) is not None else None
        if embed is not None:
            kw = {"threshold": FAST_THRESHOLD, **kw}
        return cls(aspects, none, embed or e5_embedder(), scorer.score_texts, **kw)

    def _scores(self, clause_vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n_clauses, n_aspects) top-k mean similarity, and the same for the none examples."""
        sims = clause_vecs @ self._examples.T
        def topk(cols):
            part = np.sort(sims[:, cols], axis=1)[:, -TOP_K:]
            return part.mean(1)
        per = np.stack([topk(self._owner == i) for i in range(len(self.aspects))], 1)
        none = topk(self._owner == -1) if (self._owner == -1).any() else np.full(len(sims), -1.0)
        return per, none

    def assign(self, clause_texts: list[str]) -> list[list[tuple[int, float, float]]]:
        """For each clause, the (aspect index, similarity, example polarity vote in [-1, 1]) it is about."""
        if not clause_texts:
            return []
        vecs = self._unit(self.embed(clause_texts))
        per, none = self._scores(vecs)
        sims = vecs @ self._examples.T
        out = []
        for k, (row, n) in enumerate(zip(per, none)):
            best = float(row.max())
            keep = []
            for i, s in enumerate(row):
                if s >= self.threshold and s >= n + self.margin and s >= best - self.tie:
                    cols = np.flatnonzero((self._owner == i) & (self._polarity != 0))
                    top = cols[np.argsort(-sims[k, cols])[:3]] if len(cols) else cols
                    w = np.maximum(sims[k, top] - self.threshold + 0.05, 0)  # closer examples count more
                    vote = float((w * self._polarity[top]).sum() / w.sum()) if w.sum() > 0 else 0.0
                    keep.append((i, float(s), vote))
            out.append(sorted(keep, key=lambda t: -t[1]))
        return out

    def detect(self, docs: list[Document], doc_sentiments: list | None = None) -> list[list[Aspect]]:
        """Aspects per document. `doc_sentiments` (the scorer's, same order) saves a model call for
        documents that are a single clause: the clause's sentiment is then the document's."""
        clauses: list[tuple[int, Span]] = [(d_i, c) for d_i, d in enumerate(docs) for c in d.clauses]
        assigned = self.assign([c.text for _, c in clauses])
        hits = [(k, a) for k, a in enumerate(assigned) if a]
        whole = {k for k, _ in hits
                 if doc_sentiments is not None and clauses[k][1].text.strip() == docs[clauses[k][0]].text.strip()}
        scored = iter(self.score_texts([clauses[k][1].text for k, _ in hits if k not in whole]))
        sentiments = [doc_sentiments[clauses[k][0]] if k in whole else next(scored) for k, _ in hits]
        results: list[dict[str, Aspect]] = [dict() for _ in docs]
        for (k, found), sent in zip(hits, sentiments):
            neutral = sent.probs.get("neutral", 0) >= self.neutral_cutoff
            d_i, clause = clauses[k]
            for idx, sim, vote in found:
                if neutral and abs(vote) < self.neutral_vote:
                    continue  # a touchpoint named without an opinion (unless its examples agree it has one)
                polarity = sent.score + self.vote_weight * vote
                label = "positive" if polarity > 0 else "negative"
                polarity_conf = min(1.0, 0.5 + abs(polarity) / 2)  # 0.5 when model and examples cancel out
                key = self.aspects[idx].key
                conf = round(float(np.clip(0.5 + (sim - self.threshold) * 5, 0.05, 1.0) * polarity_conf), 4)
                prev = results[d_i].get(key)
                if prev is None or conf > prev.confidence:  # one entry per aspect: the strongest clause
                    results[d_i][key] = Aspect(aspect=key, label=label, confidence=conf,
                                               evidence=docs[d_i].display[clause.start:clause.end],
                                               start=clause.start, end=clause.end)
        return [list(r.values()) for r in results]
