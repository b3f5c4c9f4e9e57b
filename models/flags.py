"""Trust flags that follow from facts rather than from a model's reading: a paid-for review (incentive phrases), a
star rating the text confidently contradicts, and copy-paste repeats within one batch.

The learned flags (sarcasm, templated wording) are in models/flag_heads.py; the Analyzer raises those and the
incentive flag for every review, and the batch paths (api/batch, POST /v1/analyze with items) add the two that
need more than the text: `rating_mismatch` (a rating column) and `duplicate` (the other reviews of the batch).
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from models.schema import Analysis, Flag
from nlp.tokenize import LEXICON

INCENTIVES = LEXICON / "incentives.txt"
# "not for the cash back" denies an incentive; the phrase after it is no evidence of one
_DENIED = re.compile(r"(不是|并非|并不是|不为|不是为了|没有为了|not|wasn'?t|never)\s*(for|为了|因为)?\s*$", re.I)

# rating_mismatch: the text's probability of the opposite label a review needs, calibrated on the dev half of
# benchmarks/data/flags_rated.jsonl (benchmarks/flags.py --calibrate): a 4-star review with a mild complaint reads
# as negative at ~0.6, a 5-star one whose text is a complaint at 0.85 or more
MISMATCH_P = 0.8
# duplicate: texts shorter than this (normalised, punctuation removed) repeat innocently (好评, 很好很好, "great")
MIN_DUPLICATE_CHARS = 10
# duplicate: Jaccard similarity of character 5-gram sets that counts as a near copy (an emoji or a word changed)
NEAR_COPY = 0.8
SHINGLE = 5


@lru_cache(maxsize=1)
def _incentive_pattern() -> re.Pattern:
    lines = INCENTIVES.read_text(encoding="utf-8").splitlines()
    return re.compile("|".join(f"(?:{p})" for p in lines if p.strip() and not p.startswith("#")), re.I)


def incentive_flag(text: str) -> Flag | None:
    """`incentivised` where the text says the review was paid or asked for (data/lexicon/incentives.txt)."""
    for m in _incentive_pattern().finditer(text):
        if not _DENIED.search(text[max(0, m.start() - 12):m.start()]):
            return Flag(kind="incentivised", confidence=1.0, reason=m.group(0))
    return None


def rating_mismatch(analysis: Analysis, rating: float | None, scale: int = 5) -> Flag | None:
    """`rating_mismatch` where the text is confidently opposite its stars: a high rating (≥ 4 of 5, ≥ 9 of 10) whose
    text is negative with P(negative) ≥ MISMATCH_P and praises no aspect, or a low one (≤ 2 of 5, ≤ 4 of 10) whose
    text is positive with P(positive) ≥ MISMATCH_P and criticises no aspect. A placeholder text has no opinion."""
    if rating is None or analysis.placeholder:
        return None
    high, low = (4, 2) if scale <= 5 else (9, 4)
    probs = analysis.sentiment.probs
    if rating >= high:
        opposite, other = "negative", "positive"
    elif rating <= low:
        opposite, other = "positive", "negative"
    else:
        return None
    p = probs.get(opposite, 0.0)
    if p < MISMATCH_P or any(a.label == other for a in analysis.aspects):
        return None
    stars = f"{rating:g}/{scale}"
    return Flag(kind="rating_mismatch", confidence=round(p, 4), reason=f"{stars} but the text is {opposite}")


def with_flags(analysis: Analysis, flags: list[Flag | None]) -> Analysis:
    """`analysis` with `flags` added to its own (one per kind: the more confident wins)."""
    found = {f.kind: f for f in (analysis.flags or [])}
    for f in flags:
        if f is not None and (f.kind not in found or f.confidence > found[f.kind].confidence):
            found[f.kind] = f
    if not found:
        return analysis
    return analysis.model_copy(update={"flags": sorted(found.values(), key=lambda f: f.kind)})


def _canonical(text: str) -> str:
    """The text without case, width, spaces, punctuation and emoji: what a copy-paste keeps."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


class DuplicateFinder:
    """Copy-paste repeats among the reviews of one batch, fed in order: a review whose text (normalised) equals or
    nearly equals (character 5-gram Jaccard ≥ NEAR_COPY) an earlier one is flagged `duplicate`, naming the first.
    The first occurrence itself is not flagged (batches are streamed: it was written before its copy was seen).

    Near copies are found through an index of each text's 5-grams; a 5-gram shared by more than `max_postings`
    earlier texts (食品很新鲜口 in a grocery export) is not used to find candidates, so a batch of n reviews costs
    about n × its texts' length, not n²."""

    def __init__(self, max_postings: int = 200):
        self.exact: dict[str, str] = {}
        self.shingles: list[frozenset[str]] = []
        self.ids: list[str] = []
        self.index: dict[str, list[int]] = {}
        self.max_postings = max_postings

    def check(self, item_id: str, text: str) -> Flag | None:
        key = _canonical(text)
        if len(key) < MIN_DUPLICATE_CHARS:
            return None
        if key in self.exact:
            return Flag(kind="duplicate", confidence=1.0, reason=f"same text as {self.exact[key]}")
        self.exact[key] = item_id
        grams = frozenset(key[i:i + SHINGLE] for i in range(len(key) - SHINGLE + 1))
        hits: dict[int, int] = {}
        for g in grams:
            post = self.index.get(g)
            if post is not None and len(post) <= self.max_postings:
                for j in post:
                    hits[j] = hits.get(j, 0) + 1
        best, best_sim = None, 0.0
        for j, shared in hits.items():
            sim = shared / (len(grams) + len(self.shingles[j]) - shared)
            if sim > best_sim:
                best, best_sim = j, sim
        k = len(self.shingles)
        self.shingles.append(grams)
        self.ids.append(item_id)
        for g in grams:
            self.index.setdefault(g, []).append(k)
        if best is not None and best_sim >= NEAR_COPY:
            return Flag(kind="duplicate", confidence=round(best_sim, 4), reason=f"near copy of {self.ids[best]}")
        return None


def flag_kinds(analysis: Analysis) -> str:
    """The scored file's `flags` column: the kinds, comma-separated ("" where none)."""
    return ",".join(f.kind for f in analysis.flags or [])
