"""The one entry point from raw text to a `Document` that later stages consume.

`build_document(raw)` never raises anything but `TextError` subclasses (a clear,
typed error for empty, non-text or oversized input), whatever Unicode it gets.
No text is truncated here: very long input is kept whole and split into
sentences, which the scorer windows (see models/sentiment.py); the only limit
is `MAX_TEXT_CHARS`, past which input is refused rather than cut.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from nlp.normalize import Normalized, normalize, normalize_text
from nlp.tokenize import tokenize

MAX_TEXT_CHARS = 2_000_000  # ~2 MB of Chinese text; larger input is refused, not cut

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
# words with a digit (iPhone15, 3C) are not English. Tried only where a word starts: r"\w*\d\w*" would be tried at
# every position of a word, which is quadratic on a long run of Chinese without punctuation (\w too): 26 s for
# 40,000 characters
MODEL_NAME = re.compile(r"\b(?=\w*\d)\w+")
DIGIT = re.compile(r"\d")
# Sentence ends; a '.' only when followed by space/end (keeps 3.5mm and e.g. www.x.com whole).
SENTENCE_END = re.compile(r"[。！？!?；;\n]+|\.(?=\s|$)|…+")
# English clauses also break at "and" before a new subject ("the room was dirty and the shuttle never came"),
# not inside "fast and reliable"; Chinese clauses also at a space between Chinese text (or an emoji) and Chinese
# text, the phone typist's comma ("物流很快 质量不错 客服态度差"), but not around a Latin word ("iPhone 很好用")
CLAUSE_BREAK = re.compile(r"[，,、:：]+|\s+and\s+(?=(?:the|it|they|we|he|she|i|my|our|their|this|that|there)\b)"
                          r"|(?<=[^\x00-\x7f])\s+(?=[\u3400-\u4dbf\u4e00-\u9fff])", re.I)
NEVER = re.compile(r"(?!)")  # matches nothing: a sentence as one span
CONTRAST = re.compile(r"但是|不过|可是|然而|就是|只是|\bbut\b|\bhowever\b|\balthough\b|\bthough\b", re.I)


class TextError(ValueError):
    """Input that cannot be analysed; `code` is the stable machine-readable reason."""

    code = "invalid_text"


class EmptyTextError(TextError):
    code = "empty_text"


class TextTooLongError(TextError):
    code = "text_too_long"


@dataclass(frozen=True)
class Span:
    """A piece of the document: `text` is normalised; `start`/`end` index the display text."""

    text: str
    start: int
    end: int
    lang: str
    contrast: bool = False  # begins with a contrast marker (但是, but, ...)


def without_contrast_marker(text: str) -> str:
    """The clause without its leading contrast marker (但是质量很差 → 质量很差, "but it works great" → "it works
    great"): what the clause is about, for aspect similarity. The marker names no touchpoint but pulls the
    clause away from the taxonomy's examples, which have none."""
    m = CONTRAST.match(text)
    rest = text[m.end():].lstrip(" ,，、:：") if m else text
    return rest or text


def detect_lang(text: str) -> str:
    """zh, en or mixed, by the share of Chinese characters and Latin letters (model names excluded)."""
    cjk = len(CJK.findall(text))
    if cjk == 0:  # no need to count letters (the digit-word removal below is the slow part on long reviews)
        return "en" if text.isascii() or LATIN_WORD.search(text) and LATIN_WORD.search(MODEL_NAME.sub(" ", text)) else "zh"
    latin = sum(len(w) for w in LATIN_WORD.findall(MODEL_NAME.sub(" ", text) if DIGIT.search(text) else text))
    if latin == 0:
        return "zh"
    share = latin / (latin + cjk)
    return "mixed" if share >= 0.2 and cjk >= 2 else ("zh" if share < 0.2 else "en")


@dataclass
class Document:
    norm: Normalized
    lang: str
    id: str | None = None
    meta: dict = field(default_factory=dict)

    @cached_property
    def _segments(self) -> tuple[list[Span], list[Span]]:
        return segment(self.norm)

    @property
    def sentences(self) -> list[Span]:
        """Sentences with offsets into the display text (computed on first use: fast scoring needs none)."""
        return self._segments[0]

    @property
    def clauses(self) -> list[Span]:
        """Clauses: sentences split further at commas and before contrast markers (但是, but, ...)."""
        return self._segments[1]

    @property
    def display(self) -> str:
        """The input with personal data masked: what is shown, stored, and what evidence indexes into."""
        return self.norm.display

    @property
    def text(self) -> str:
        """Normalised text the models read."""
        return self.norm.text

    @property
    def is_placeholder(self) -> bool:
        """The text is what a platform writes where the customer left no review (data/lexicon/placeholders.txt)."""
        return is_placeholder(self.text)

    @cached_property
    def tokens(self) -> list[str]:
        """Word tokens (jieba + whole English words/model names); computed on first use."""
        return tokenize(self.text)


def _spans(norm: Normalized, start: int, end: int, pattern: re.Pattern, contrast_split: bool) -> list[Span]:
    """Split text[start:end] at `pattern` (and before contrast markers), dropping empty pieces."""
    text, cuts = norm.text, [start]
    for m in pattern.finditer(text, start, end):
        cuts += [m.start(), m.end()]
    if contrast_split:
        for m in CONTRAST.finditer(text, start, end):
            if m.start() > start:
                cuts += [m.start(), m.start()]
    cuts.append(end)
    cuts.sort()
    spans = []
    for a, b in zip(cuts[0::2], cuts[1::2]):
        piece = text[a:b]
        stripped = piece.strip(" ，,、:：")
        if not stripped or not any(ch.isalnum() for ch in stripped):
            continue
        a += len(piece) - len(piece.lstrip(" ，,、:："))
        b = a + len(stripped)
        da, db = norm.to_display(a, b)
        spans.append(Span(stripped, da, db, detect_lang(stripped), bool(CONTRAST.match(stripped))))
    return spans


def _pairs(cuts_pattern: re.Pattern, text: str) -> list[tuple[int, int]]:
    out, last = [], 0
    for m in cuts_pattern.finditer(text):
        out.append((last, m.end()))
        last = m.end()
    out.append((last, len(text)))
    return [(a, b) for a, b in out if text[a:b].strip()]


@lru_cache(maxsize=1)
def _placeholder_pattern() -> re.Pattern:
    path = Path(__file__).resolve().parent.parent / "data" / "lexicon" / "placeholders.txt"
    lines = [x.strip() for x in path.read_text(encoding="utf-8").splitlines()]
    return re.compile("|".join(f"(?:{x})" for x in lines if x and not x.startswith("#")))


_NOT_WORDS = re.compile(r"[\W_]+")


def is_placeholder(text: str) -> bool:
    """Whether `text` (normalised) is a platform's stand-in for a missing review: "此用户没有填写评价。"."""
    return len(text) <= 40 and _placeholder_pattern().fullmatch(_NOT_WORDS.sub("", text)) is not None


def is_placeholder_text(raw: str) -> bool:
    """`is_placeholder` of a raw text: what `build_document(raw).is_placeholder` says, without the document."""
    return is_placeholder(normalize_text(raw))


@lru_cache(maxsize=1)
def _bare_emotion_pattern() -> re.Pattern:
    """data/lexicon/bare_emotions.txt as one pattern: filler or emotion words, at least one of them an emotion."""
    path = Path(__file__).resolve().parent.parent / "data" / "lexicon" / "bare_emotions.txt"
    words: dict[str, list[str]] = {}
    section = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = words.setdefault(line[1:-1], [])
        elif line and not line.startswith("#") and section is not None:
            section += line.split()

    def alternation(ws):  # longest first, so that 气死 wins over 气; Latin words whole
        return "|".join(re.escape(w) + (r"\b" if w.isascii() else "") for w in sorted(set(ws), key=len, reverse=True))

    token = f"(?:{alternation(words['emotion'] + words['filler'])})"
    return re.compile(rf"(?=.*(?:{alternation(words['emotion'])}))(?:\s*{token})+\s*", re.I)


def is_bare_emotion(text: str) -> bool:
    """Whether a clause only voices a feeling, naming no touchpoint: "气死了😡", "太开心了", "so disappointed"
    (data/lexicon/bare_emotions.txt). Punctuation, emoji and apostrophes are ignored."""
    words = _NOT_WORDS.sub(" ", text.replace("'", "").replace("’", "")).strip()
    return bool(words) and len(words) <= 30 and _bare_emotion_pattern().fullmatch(words) is not None


def is_lone_english_word(text: str) -> bool:
    """Whether a clause is a single English word ("Well", "Thanks", "Finally", "Sadly", "size"), its contrast marker
    aside. Inside a longer review such a clause is a discourse word or a list item cut off at a comma, not a
    judgement of a touchpoint (see models.aspects.AspectModel.detect)."""
    rest = without_contrast_marker(text)
    return not CJK.search(rest) and len(LATIN_WORD.findall(rest)) == 1


def _carries_content(ch: str) -> bool:
    """A letter, digit, CJK character, emoji or symbol (★): anything but punctuation, spaces and controls. "？" and
    "。。。" alone are as empty as "?": full-width punctuation is not content to score."""
    return ch.isalnum() or (not ch.isascii() and unicodedata.category(ch)[0] not in "PZC")


def build_document(raw, id: str | None = None, spans: bool = False) -> Document:
    """`spans`: the caller will use clauses or evidence spans (see `normalize`)."""
    if raw is None:
        raise EmptyTextError("text is missing (null)")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TextError(f"text is not valid UTF-8 (byte {e.start}); decode it first (GBK exports: use gb18030)") from e
    if not isinstance(raw, str):
        raise TextError(f"text must be a string, not {type(raw).__name__}")
    if len(raw) > MAX_TEXT_CHARS:
        raise TextTooLongError(f"text has {len(raw):,} characters; the limit is {MAX_TEXT_CHARS:,}")
    if not raw.strip():
        raise EmptyTextError("text is empty")
    norm = normalize(raw, offsets=spans)
    if not norm.text or not any(map(_carries_content, norm.text)):
        raise EmptyTextError("text is empty after normalisation (only markup, punctuation or control characters)")
    lang = detect_lang(norm.text)
    if lang == "mixed" and detect_lang(norm.display) == "en":
        lang = "en"  # the only Chinese is what normalisation put in for emoticons (":)" → 开心)
    return Document(norm, lang, id=id)


def segment(norm: Normalized) -> tuple[list[Span], list[Span]]:
    """Sentences and clauses of normalised text, with offsets into its display text."""
    sentences, clauses = [], []
    clause_break = re.compile(CLAUSE_BREAK.pattern + "|" + SENTENCE_END.pattern)
    for a, b in _pairs(SENTENCE_END, norm.text):
        sent = _spans(norm, a, b, NEVER, contrast_split=False)
        if not sent:
            continue
        sentences.append(Span(norm.text[a:b].strip(), sent[0].start, sent[-1].end, detect_lang(norm.text[a:b])))
        clauses += _spans(norm, a, b, clause_break, contrast_split=True)
    if not sentences:  # e.g. emoji only: one sentence, one clause covering everything
        whole = Span(norm.text, *norm.to_display(0, len(norm.text)), detect_lang(norm.text))
        sentences, clauses = [whole], [whole]
    return sentences, clauses
