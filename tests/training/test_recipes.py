"""The default recipe's data (training/recipes.py) and the fast-mode distillation's transfer texts (training/distill.py)."""
from collections import Counter

import numpy as np

from training.distill import augmented
from training.recipes import vader_snippets


def test_vader_sentences_are_read_with_their_rating_bands():
    rated = vader_snippets()
    counts = Counter(e.label for e in rated)
    assert counts == {"positive": 8541, "negative": 6935, "neutral": 1207}
    assert all(e.text.strip() for e in rated)
    assert len(vader_snippets(0.0, 0.0)) == 3708 + 10605 + 4200  # every sentence, for distillation


def test_distillation_augments_the_corpus_with_its_clauses_and_mixes_of_its_sentences():
    corpus = ["物流很快，但是质量很差", "包装完好，客服态度好", "非常满意", "The battery died after a week.",
              "Great screen and the price is fair.", "love", "Shipping was slow but support was helpful."]
    out = augmented(corpus, np.random.default_rng(0), clauses=100, mixes={"zh": 5, "en": 7})
    clauses, mixes = out[:-12], out[-12:]
    assert {"物流很快", "但是质量很差", "包装完好", "客服态度好", "Shipping was slow"} <= set(clauses)
    assert not set(clauses) & set(corpus)  # nothing the corpus already holds
    def joined(text, parts, sep):  # how many of `parts` (repeats allowed) joined by `sep` make `text`, or 0
        if text in parts:
            return 1
        return max((1 + joined(text[len(p) + len(sep):], parts, sep) for p in parts
                    if text.startswith(p + sep) and joined(text[len(p) + len(sep):], parts, sep)), default=0)

    assert all(2 <= joined(m, corpus[:3], "，") <= 3 for m in mixes[:5])
    english = [s for s in corpus[3:] if len(s.split()) >= 4]  # the lexicon word "love" is not a sentence
    assert all(2 <= joined(m, english, " ") <= 6 for m in mixes[5:])
    capped = augmented(corpus, np.random.default_rng(0), clauses=2, mixes={"zh": 0, "en": 0})
    assert len(capped) == 2 and set(capped) <= set(clauses)

