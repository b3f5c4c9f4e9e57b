"""Text normalisation that remembers where every output character came from.

Two strings come out of raw input:

- ``display``: the input with personal data masked and nothing else changed. It
  is what the analysis echoes and stores, and what evidence spans index into.
- ``text``: ``display`` after HTML stripping, NFKC (full-width → half-width),
  Traditional → Simplified, emoticons turned into words, and collapsed
  punctuation/whitespace. Models read this.

``offsets[i]`` is the index in ``display`` of ``text[i]`` (with one extra entry
for the end), so any span found in ``text`` maps back to ``display``.
"""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache

import opencc

# Personal data. Masked first, on the raw input, so nothing downstream sees it.
# Each pattern comes with a cheap test, on the text and its lower-case copy, of whether it can match at all:
# Python's re scans slowly when a pattern has no literal prefix (the phone pattern alone took a quarter of
# normalisation time on long English reviews), and most reviews hold no "@", URL, order keyword or digit run.
PII_PATTERNS = [
    ("[EMAIL]", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), lambda t, low: "@" in t),
    ("[URL]", re.compile(r"(?:https?://|www\.)[^\s\u3000-\u303f\uff00-\uffef]+", re.I),
     lambda t, low: "http" in low or "www." in low),
    # an order id holds a digit: without that lookahead "I placed an order yesterday" lost "order yesterday"
    ("[ORDER]", re.compile(r"(?:订单号?|訂單號?|单号|\border\s*(?:no\.?|number|#|id)?)\s*(?:is\s+|是)?[:：#]?\s*"
                           r"(?=[A-Za-z-]*\d)[A-Za-z0-9-]{6,}", re.I),
     lambda t, low: "order" in low or "单号" in t or "订单" in t or "訂單" in t),
    ("[PHONE]", re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)|(?<!\d)0\d{2,3}-\d{7,8}(?!\d)"),
     lambda t, low: digit_count(t) >= 10),  # a mobile number has 11 digits, a landline 10-12
    # international: +country code and groups (+1 415-555-0132, +44 20 7946 0958, +1 (415) 555-0199), masked when
    # they hold 8-15 digits, as E.164 numbers do ("+3 500" is a score, not a number)
    (lambda m: "[PHONE]" if 8 <= digit_count(m.group()) <= 15 else m.group(),
     re.compile(r"(?<![A-Za-z0-9_+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,5})){2,6}(?!\d)"),
     lambda t, low: "+" in t and digit_count(t) >= 8),
    # North American without the country code: (415) 555-0199, 415-555-0132, 415.555.0132
    ("[PHONE]", re.compile(r"(?<![A-Za-z0-9_(+.-])(?:\(\d{3}\) ?|\d{3}[.-])\d{3}[.-]\d{4}(?![A-Za-z0-9_.-])"),
     lambda t, low: digit_count(t) >= 10),
    ("[ORDER]", re.compile(r"(?<![\d.])\d{12,}(?![\d.])"),  # long digit runs are order/tracking numbers
     lambda t, low: digit_count(t) >= 12),
]
DIGIT = re.compile(r"\d")


def digit_count(text: str) -> int:
    """How many characters of `text` are digits (\\d). For ASCII text ten str.count passes: a regex search for a
    digit run scans as slowly as the patterns it guards (~0.06 s per 3,910 English reviews), and a mere "has a
    digit" test would let the phone pattern run on every review that names a year."""
    return sum(map(text.count, "0123456789")) if text.isascii() else len(DIGIT.findall(text))


HTML_TAG = re.compile(r"<[^<>]{1,200}>")
HTML_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z]{2,8});")

# Emoticons and net slang with a clear sentiment become plain words the model
# (and the jieba dictionary) know. Emoji stay: the encoder's vocabulary has them.
EMOTICONS = [  # (pattern, word, cheap test on the text and its lower-case copy: see PII_PATTERNS)
    (re.compile(r"\borz\b|\botl\b", re.I), "无奈", lambda t, low: "orz" in low or "otl" in low),
    (re.compile(r"2333+|h{3,}|哈{3,}", re.I), "哈哈", lambda t, low: "233" in t or "hhh" in low or "哈哈哈" in t),
    # the tests name every literal the pattern can match (":" alone passed a sixth of English reviews)
    (re.compile(r"(?<![\w])(?:[:：]-?\)|\^_\^|\^\^)"), "开心",
     lambda t, low: any(e in t for e in (":)", ":-)", "：)", "：-)", "^_^", "^^"))),
    (re.compile(r"(?<![\w])(?:[:：]-?\(|T_T|QAQ|[;；]_[;；])"), "难过",
     lambda t, low: any(e in t for e in (":(", ":-(", "：(", "：-(", "T_T", "QAQ", "_;", "_；"))),
    (re.compile(r"\bxswl\b", re.I), "笑死", lambda t, low: "xswl" in low),
    (re.compile(r"\byyds\b", re.I), "非常好", lambda t, low: "yyds" in low),
]
EMOJI_WORDS = {
    "😡": "生气", "😠": "生气", "🤬": "生气", "👎": "差评", "💩": "垃圾", "😤": "生气",
    "😭": "哭", "😢": "难过", "😞": "失望", "😒": "不满", "🙄": "无语", "😓": "无奈",
    "👍": "赞", "❤": "喜欢", "❤️": "喜欢", "😍": "喜欢", "😊": "开心", "😄": "开心",
    "😀": "开心", "🥰": "喜欢", "💯": "满分", "👌": "好", "🌟": "好", "⭐": "星",
}
EMOJI_RE = re.compile("|".join(sorted(map(re.escape, EMOJI_WORDS), key=len, reverse=True)))
# A space where Chinese meets Latin letters (物流超slow → 物流超 slow): SentencePiece then reads
# "▁slow" as the English word instead of the fragments "s" + "low".
SCRIPT_BOUNDARY = re.compile(r"(?<=[\u3400-\u9fff])(?=[A-Za-z])|(?<=[A-Za-z])(?=[\u3400-\u9fff])")
REPEATED_PUNCT = re.compile(r"([!！?？。，,.、~～…;；])\1+")
WHITESPACE = re.compile(r"\s{2,}|[^\S ]")  # runs and non-space whitespace; single spaces stay as they are (no rebuild)
# In ASCII text WHITESPACE can only match where there are two spaces or one of these; a one-class search
# is much faster than the two-branch pattern (~0.08 s per 3,910 English reviews)
ASCII_NON_SPACE = re.compile(r"[\t\n\r\x0b\x0c\x1c-\x1f]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class Normalized:
    display: str
    text: str

    @cached_property
    def offsets(self) -> tuple[int, ...]:
        """``offsets[i]`` is the index in ``display`` of ``text[i]``, plus one entry for the end. Computed on
        first use (evidence spans, clauses) by running the same steps again with the map kept: scoring alone
        never needs it, and keeping it cost a third of normalisation time on long English reviews."""
        text, offs = _steps(self.display, track=True)
        assert text == self.text
        return tuple(offs) + (len(self.display),)

    def to_display(self, start: int, end: int) -> tuple[int, int]:
        """Map the span [start, end) of ``text`` to ``display``."""
        a = self.offsets[start]
        if end <= start:
            return a, a
        # the next kept character's origin bounds the span; trailing whitespace is trimmed
        b = max(self.offsets[end], self.offsets[end - 1] + 1)
        while b > a and self.display[b - 1].isspace():
            b -= 1
        return a, b


@lru_cache(maxsize=1)
def _t2s():
    return opencc.OpenCC("t2s")


def _sub(text: str, offs: list[int] | None, pattern: re.Pattern, repl) -> tuple[str, list[int] | None]:
    """re.sub that keeps the offset map when there is one: a replacement's characters all point at the
    match start."""
    if offs is None:
        return pattern.sub(repl if callable(repl) else lambda m: repl, text), None
    out, new_offs, last = [], [], 0
    for m in pattern.finditer(text):
        out.append(text[last:m.start()]); new_offs.extend(offs[last:m.start()])
        r = repl(m) if callable(repl) else repl
        out.append(r); new_offs.extend([offs[m.start()]] * len(r))
        last = m.end()
    if not out:
        return text, offs
    out.append(text[last:]); new_offs.extend(offs[last:])
    return "".join(out), new_offs


def _per_char(text: str, offs: list[int] | None, fn) -> tuple[str, list[int] | None]:
    """Apply `fn` to each character. Each distinct character is mapped once and str.translate does the
    work; the offset map (when kept) needs a loop only when some character becomes several (a Python loop
    over every character cost 0.3 s per 8,000 reviews)."""
    table = {ord(c): fn(c) for c in set(text)}
    if offs is None or all(len(r) == 1 for r in table.values()):
        return text.translate(table), offs
    out, new_offs = [], []
    for ch, o in zip(text, offs):
        r = table[ord(ch)]
        out.append(r); new_offs.extend([o] * len(r))
    return "".join(out), new_offs


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" for c in text)


def mask_pii(text: str) -> str:
    lower = text.lower()
    for token, pattern, possible in PII_PATTERNS:
        if possible(text, lower):
            text = pattern.sub(token, text)
            lower = text.lower()
    return text


def clean_unicode(text: str) -> str:
    """Remove what cannot be encoded or shown: lone surrogates and control characters."""
    return CONTROL.sub(" ", SURROGATE.sub("", text))


def _steps(display: str, track: bool) -> tuple[str, list[int] | None]:
    """The model-facing text of `display`, and with `track` the index in `display` of each character."""
    text, offs = display, (list(range(len(display))) if track else None)
    if "<" in text:
        text, offs = _sub(text, offs, HTML_TAG, " ")
    if "&" in text:
        text, offs = _sub(text, offs, HTML_ENTITY, lambda m: html.unescape(m.group()))
    if not text.isascii():
        text, offs = _per_char(text, offs, lambda c: unicodedata.normalize("NFKC", c))
        if _has_cjk(text):
            converted = _t2s().convert(text)
            if len(converted) == len(text):
                text = converted  # phrase-level conversion kept the alignment
            else:
                text, offs = _per_char(text, offs, _t2s().convert)
        text, offs = _sub(text, offs, EMOJI_RE, lambda m: EMOJI_WORDS[m.group()])
    lower = text.lower()
    for pattern, word, possible in EMOTICONS:
        if possible(text, lower):
            text, offs = _sub(text, offs, pattern, word)
    text, offs = _sub(text, offs, REPEATED_PUNCT, lambda m: m.group(1))
    if not text.isascii():
        text, offs = _sub(text, offs, SCRIPT_BOUNDARY, " ")
    if offs is None:  # every whitespace run becomes one space: str.split is ~6× faster than the regex
        return " ".join(text.split()), None
    if not text.isascii() or "  " in text or ASCII_NON_SPACE.search(text):
        text, offs = _sub(text, offs, WHITESPACE, " ")
    # trim, keeping the map in step
    stripped = text.strip()
    if offs is not None:
        lead = len(text) - len(text.lstrip())
        offs = offs[lead:lead + len(stripped)]
    return stripped, offs


def normalize(raw: str, offsets: bool = False) -> Normalized:
    """`offsets=True` when the caller will map spans back (aspects, evidence): one tracking pass then,
    instead of a plain pass now and a tracking pass later."""
    display = mask_pii(clean_unicode(raw))
    text, offs = _steps(display, track=offsets)
    norm = Normalized(display, text)
    if offs is not None:
        norm.__dict__["offsets"] = tuple(offs) + (len(display),)  # fills the cached property
    return norm


def normalize_text(raw: str) -> str:
    """The model-facing text only (training and scoring use this same function)."""
    return normalize(raw).text
