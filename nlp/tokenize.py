"""Word tokenisation for zh, en and mixed text.

jieba alone splits "iPhone15" or "3.5mm" into letters and digits, so Latin/digit
runs are cut out first and kept whole; only the Chinese runs go to jieba, which
loads the team's e-commerce dictionary (data/lexicon/ecommerce_dict.txt).
English contractions keep their negation as a token ("don't" → do, n't).
"""
from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

import jieba

LEXICON = Path(__file__).resolve().parent.parent / "data" / "lexicon"
NEGATIONS = {"不", "没", "没有", "别", "无", "未", "非", "不是", "不要", "不会", "not", "no", "never", "n't", "nothing", "nobody"}
# Latin words, numbers and model names (iPhone15, 3.5mm, 1080P, Type-C, Wi-Fi) stay whole.
LATIN_RUN = re.compile(r"[A-Za-z0-9]+(?:[.\-+_'][A-Za-z0-9]+)*")
CHUNK = re.compile(r"([A-Za-z0-9]+(?:[.\-+_'][A-Za-z0-9]+)*)|([\u3400-\u9fff\uf900-\ufaff]+)|(\S)")
NEG_CONTRACTION = re.compile(r"^([A-Za-z]+)(n't)$", re.I)


@lru_cache(maxsize=1)
def _jieba():
    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    tk.load_userdict(str(LEXICON / "ecommerce_dict.txt"))
    return tk


@lru_cache(maxsize=4)
def stopwords(lang: str) -> frozenset[str]:
    words = (LEXICON / f"stopwords_{lang}.txt").read_text(encoding="utf-8").split()
    return frozenset(w for w in words if w not in NEGATIONS)


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    jb = _jieba()
    for m in CHUNK.finditer(text):
        latin, han, other = m.groups()
        if latin:
            neg = NEG_CONTRACTION.match(latin)
            tokens += [neg.group(1), neg.group(2)] if neg else [latin]
        elif han:
            tokens += [w for w in jb.lcut(han, HMM=True) if w.strip()]
        elif other and not other.isspace():
            tokens.append(other)
    return tokens


def content_tokens(tokens: list[str]) -> list[str]:
    """Tokens without stop words or punctuation (negations are kept)."""
    zh, en = stopwords("zh"), stopwords("en")
    return [t for t in tokens if any(c.isalnum() for c in t) and t not in zh and t.lower() not in en]


def is_dictionary_word(word: str) -> bool:
    """A word of jieba's dictionary or the e-commerce one, not one jieba's HMM guessed from unknown characters
    (头用 of 耳机头用了两天, 价买 of 这个价买到): such guesses make unreadable topic labels."""
    return _jieba().FREQ.get(word, 0) > 0
