"""Aspect-level sentiment: which touchpoints a review judges, how, and where it says so.

For every clause of a `Document` (nlp splits on punctuation and contrast markers):

1. Aspect assignment is similarity-based. The taxonomy (data/aspects/taxonomy.json)
   gives each aspect a bilingual description and example clauses; clauses are
   embedded (without a leading contrast marker: "but the blender works great" is about the blender)
   with the project's pretrained encoder (e5, "query: " prefix, models.runtime.embedder) and an
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
   A clause made only of feeling words (气死了😡, 太开心了, "so disappointed"; data/lexicon/bare_emotions.txt)
   is not matched at all: it names no touchpoint, though similarity would put it under one.
3. Evidence is the clause's span of the displayed text (offsets map back through
   Traditional/full-width normalisation).

Adding an aspect = adding an entry (name, description, examples) to a taxonomy
file; nothing is retrained.
"""
from __future__ import annotations

import json
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from models.fast import FastScorer
from models.runtime.backends import PRECISIONS
from models.runtime.embedder import shared_embedder
from models.schema import Aspect
from nlp.document import Document, Span, is_bare_emotion, is_lone_english_word, without_contrast_marker

TAXONOMY = Path(__file__).resolve().parent.parent / "data" / "aspects" / "taxonomy.json"
TOP_K = 2
# The similarity threshold is calibrated on the taxonomy itself, per embedder: the 5th percentile of each
# example's leave-one-out top-k similarity to its own aspect. For e5 that gives 0.861; fast mode's static vectors
# spread similarities lower (0.54), where e5's threshold would leave a recall of 0.2.
THRESHOLD_PERCENTILE = 5
AMBIGUOUS = 3  # this many aspects tied for a clause: keep only the best (see AspectModel.assign)


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


def aspect_names(path: Path | None = None) -> dict[str, dict[str, str]]:
    """Each aspect's display names: {key: {"zh": 商品质量, "en": Product quality}} (`name`, `name_en`; the key where
    a user's taxonomy gives none), for reports and the dashboard."""
    data = json.loads(Path(path or TAXONOMY).read_text(encoding="utf-8"))
    out = {}
    for a in data["aspects"]:
        en = a.get("name_en") or a["key"].replace("_", " ").capitalize()
        out[a["key"]] = {"zh": a.get("name") or en, "en": en}
    return out


class AspectModel:
    def __init__(self, aspects: list[AspectDef], none_examples: list[str], embed: Callable[[list[str]], np.ndarray],
                 score_texts, threshold: float | None = None, margin: float = 0.01, tie: float = 0.01,
                 neutral_cutoff: float = 0.6, vote_weight: float = 0.4, neutral_vote: float = 0.9,
                 embed_and_score=None):
        self.aspects, self.embed, self.score_texts = aspects, embed, score_texts
        self.embed_and_score = embed_and_score  # optional: texts → (vectors, sentiments) in one pass
        self.threshold, self.margin, self.tie, self.neutral_cutoff = threshold, margin, tie, neutral_cutoff
        # vote_weight 0.4: on the team's aspects eval polarity 0.860 against 0.858 at 0.5, and short negated praise
        # (这次没有色差, +0.45 from the model) wins over its neighbour 有色差
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
        self._polar_cols = [np.flatnonzero((self._owner == i) & (self._polarity != 0)) for i in range(len(aspects))]
        if self.threshold is None:
            self.threshold = self.calibrated_threshold()

    def calibrated_threshold(self) -> float:
        """The THRESHOLD_PERCENTILE-th percentile of the examples' leave-one-out top-k own-aspect similarity."""
        sims = self._examples @ self._examples.T
        np.fill_diagonal(sims, -np.inf)
        own = [np.sort(sims[k, self._owner == self._owner[k]])[-TOP_K:].mean()
               for k in range(len(sims)) if self._owner[k] >= 0]
        return round(float(np.percentile(own, THRESHOLD_PERCENTILE)), 3)

    @staticmethod
    def _unit(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float32)
        return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)

    @classmethod
    def load(cls, scorer, taxonomy: Path | None = None, only: list[str] | None = None, **kw) -> "AspectModel":
        """Fast mode brings its own static embedder (no transformer per clause); otherwise the pretrained e5
        encoder, on the scorer's engine. `only`: keep just these aspects of the taxonomy (those a learned model does
        not cover)."""
        aspects, none = load_taxonomy(taxonomy)
        if only is not None:
            aspects = [a for a in aspects if a.key in only]
        if isinstance(scorer, FastScorer) and scorer.aspect_vectors is not None:
            return cls(aspects, none, scorer.aspect_embed, scorer.score_texts,
                       embed_and_score=scorer.aspect_embed_and_score, **kw)
        embedder = shared_embedder(scorer.engine if scorer.engine in PRECISIONS else "auto")
        return cls(aspects, none, embedder, scorer.score_texts, **kw)

    def _scores(self, sims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """From clause × example similarities: (n_clauses, n_aspects) top-k mean similarity, and the same for
        the none examples."""
        def topk(cols):
            return np.sort(sims[:, cols], axis=1)[:, -TOP_K:].mean(1)
        per = np.stack([topk(self._owner == i) for i in range(len(self.aspects))], 1)
        none = topk(self._owner == -1) if (self._owner == -1).any() else np.full(len(sims), -1.0)
        return per, none

    def assign(self, vecs: np.ndarray, unique: list[str], clause_texts: list[str]) -> list[list[tuple[int, float, float]]]:
        """For each clause of `clause_texts`, the (aspect index, similarity, example polarity vote in [-1, 1])
        it is about. `vecs` embeds each distinct text of `unique` once (identical clauses such as 好评 or
        物流很快 are common in real exports)."""
        if not clause_texts:
            return []
        row = {t: k for k, t in enumerate(unique)}
        sims = (self._unit(vecs) @ self._examples.T)[[row[t] for t in clause_texts]]
        per, none = self._scores(sims)
        # an aspect must beat the threshold, the none examples by a margin, and be within `tie` of the best
        ok = (per >= self.threshold) & (per >= none[:, None] + self.margin) & (per >= per.max(1, keepdims=True) - self.tie)
        # a clause as close to three or more aspects as to the best names none of them clearly (e5 found "Not worth
        # the money" about as similar to platform, product_quality, description_match, price and payment): only the
        # best stays. Two tied aspects stay both (色差太严重了 is product quality and description match).
        flat = ok.sum(1) >= AMBIGUOUS
        ok[flat] &= per[flat] == per[flat].max(1, keepdims=True)
        out: list[list[tuple[int, float, float]]] = [[] for _ in clause_texts]
        for k, i in zip(*np.nonzero(ok)):  # vectorised above: in bulk scoring most clauses match nothing
            cols = self._polar_cols[i]
            top = cols[np.argsort(-sims[k, cols])[:3]]
            w = np.maximum(sims[k, top] - self.threshold + 0.05, 0)  # closer examples count more
            vote = float((w * self._polarity[top]).sum() / w.sum()) if w.sum() > 0 else 0.0
            out[k].append((int(i), float(per[k, i]), vote))
        return [sorted(found, key=lambda t: -t[1]) for found in out]

    def detect(self, docs: list[Document], doc_sentiments: list | Future | None = None) -> list[list[Aspect]]:
        """Aspects per document. `doc_sentiments` (the scorer's, same order) saves a model call for
        documents that are a single clause: the clause's sentiment is then the document's. It may be a
        Future: the documents' own pass then runs beside the clause embedding pass, and is awaited here only
        once the clauses are assigned."""
        # a clause that only voices a feeling (气死了😡, "so disappointed") names no touchpoint: similarity alone
        # puts such clauses under product quality, packaging or price. Nor does a one-word English clause of a
        # longer review: in 300 English reviews 42 of 372 aspects found come from such clauses ("Thanks" as
        # packaging, "Finally" as product quality, "Sadly" as description match), nearly all wrong; a review that
        # is one word ("Overpriced!") is still read.
        clauses: list[tuple[int, Span]] = [(d_i, c) for d_i, d in enumerate(docs) for c in d.clauses
                                           if not is_bare_emotion(c.text)
                                           and not (len(d.clauses) > 1 and is_lone_english_word(c.text))]
        texts = [c.text for _, c in clauses]
        unique = list(dict.fromkeys(texts))
        topics = [without_contrast_marker(t) for t in unique]  # what each clause is about, for similarity
        if self.embed_and_score is not None and unique:  # fast mode: one tokenisation gives both
            vecs, sents = self.embed_and_score(topics)
            known = {t: s for t, topic, s in zip(unique, topics, sents) if t == topic}  # a marker's clause is scored whole
        else:
            vecs, known = (self.embed(topics) if unique else None), {}
        assigned = self.assign(vecs, unique, texts)
        hits = [(k, a) for k, a in enumerate(assigned) if a]
        if isinstance(doc_sentiments, Future):
            doc_sentiments = doc_sentiments.result()
        for k, _ in hits:
            if doc_sentiments is not None and clauses[k][1].text.strip() == docs[clauses[k][0]].text.strip():
                known[texts[k]] = doc_sentiments[clauses[k][0]]  # the clause is the whole document
        to_score = list(dict.fromkeys(texts[k] for k, _ in hits if texts[k] not in known))
        known.update(zip(to_score, self.score_texts(to_score)))
        sentiments = [known[texts[k]] for k, _ in hits]
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
