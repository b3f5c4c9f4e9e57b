"""Labeled data: reading, label mapping and validation before any training starts."""
from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field

from models.schema import LABELS
from nlp.document import is_placeholder_text
from nlp.files import InputError, read_table, require_column

NAMED = {
    "positive": "positive", "pos": "positive", "正面": "positive", "好评": "positive",
    "neutral": "neutral", "neu": "neutral", "中性": "neutral", "中评": "neutral",
    "negative": "negative", "neg": "negative", "负面": "negative", "差评": "negative",
}
STARS = {"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"}
BINARY = {"0": "negative", "1": "positive"}
MIN_PER_CLASS = 20
MIN_TRAIN_ROWS = 20  # labelled rows a run needs at all: with two, the trainer gets an empty training split
MIN_EVAL_ROWS = 50  # evaluation rows a promotion needs: on a handful, one row moves macro-F1 by many points
DEV_FRACTION, SPLIT_SEED = 0.15, 13  # without --eval, the evaluation rows are this share of the labelled ones


class LabelError(InputError):
    pass


class TooLittleData(LabelError):
    pass


@dataclass
class Example:
    text: str
    label: str


@dataclass
class LabeledSet:
    examples: list[Example]
    scheme: str
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for ex in self.examples:
            h.update(f"{ex.label}\t{ex.text}\n".encode())
        return h.hexdigest()[:16]


def _canon(value) -> str:
    s = str(value).strip()
    if s.endswith(".0") and s[:-2].isdigit():  # 5.0 from spreadsheets
        s = s[:-2]
    return s.lower()


def label_scheme(values: set[str]) -> tuple[str, dict]:
    """Pick the mapping that explains every label, or raise listing the unknown ones."""
    if values <= set(BINARY):
        return "binary 0/1", BINARY
    if values <= set(STARS):
        return "stars 1-5", STARS
    unknown = sorted(v for v in values if v not in NAMED)
    if unknown:
        raise LabelError(
            f"unknown label(s): {', '.join(map(repr, unknown[:20]))}. Use positive/neutral/negative, "
            "1-5 stars (1-2 negative, 3 neutral, 4-5 positive) or 0/1")
    return "named", NAMED


# what a class with fewer than MIN_PER_CLASS examples means, for what the file is read for
FEW_EXAMPLES = {"training": "the model will learn it poorly",
                "evaluation": "its precision and recall rest on too few examples to trust"}


def placeholder(text: str) -> bool:
    return len(text) <= 40 and is_placeholder_text(text)  # the length test first: normalising costs more


def build_labeled_set(pairs: list[tuple[str, str]], source: str = "data", purpose: str = "training",
                      row_numbers: list[int] | None = None, unreadable: list[tuple[int, str]] = ()) -> LabeledSet:
    """Validate (text, raw label) pairs: map labels, drop empty/duplicate/conflicting rows with a report.
    `row_numbers`: each pair's row in its file (default: its position, from 1); `unreadable`: (row, reason) of
    the file's rows that could not be parsed, reported in file order with the rest."""
    skipped, cleaned = list(unreadable), []
    for i, (text, label) in zip(row_numbers or range(1, len(pairs) + 1), pairs):
        if text is None or not str(text).strip():
            skipped.append((i, "empty text"))
        elif label is None or not str(label).strip():
            skipped.append((i, "empty label"))
        elif placeholder(str(text)):  # the analyzer never asks the model about these (models.analyzer)
            skipped.append((i, "a platform's placeholder for a missing review, not a review"))
        else:
            cleaned.append((str(text).strip(), _canon(label)))
    if not cleaned:
        why = "; ".join(f"row {n}: {r}" for n, r in sorted(skipped)[:3])
        raise LabelError(f"{source}: no usable labeled rows" + (f" ({why}{'; ...' if len(skipped) > 3 else ''})" if why else ""))
    scheme, mapping = label_scheme({lab for _, lab in cleaned})
    by_text: dict[str, set[str]] = {}
    for text, lab in cleaned:
        by_text.setdefault(text, set()).add(mapping[lab])
    warnings = []
    conflicts = [t for t, labs in by_text.items() if len(labs) > 1]
    if conflicts:
        warnings.append(f"{len(conflicts)} text(s) carry conflicting labels and were dropped, e.g. {conflicts[0][:60]!r}")
    dupes = len(cleaned) - len(by_text)
    if dupes:
        warnings.append(f"{dupes} duplicate row(s) merged")
    examples = [Example(t, next(iter(labs))) for t, labs in by_text.items() if len(labs) == 1]
    counts = Counter(ex.label for ex in examples)
    for lab in LABELS:
        if 0 < counts[lab] < MIN_PER_CLASS:
            warnings.append(f"class {lab!r} has only {counts[lab]} examples; {FEW_EXAMPLES[purpose]}")
    if len(counts) < 2:
        raise LabelError(f"{source}: needs at least two classes, found only {dict(counts)}")
    return LabeledSet(examples, scheme, {lab: counts[lab] for lab in LABELS}, warnings,
                      [f"row {n}: {why}" for n, why in sorted(skipped)])


def read_labeled(path, text_col: str = "text", label_col: str = "label", purpose: str = "training") -> LabeledSet:
    rows, bad = read_table(path, need=(text_col, label_col))
    if not rows:
        raise LabelError(f"{path}: no readable rows" + (f" (row {bad[0].row}: {bad[0].reason})" if bad else ""))
    require_column(rows, text_col, path, "--text-col")
    require_column(rows, label_col, path, "--label-col")
    return build_labeled_set([(r.get(text_col), r.get(label_col)) for _, r in rows], str(path), purpose,
                             row_numbers=[n for n, _ in rows], unreadable=[(b.row, b.reason) for b in bad])


def log_skipped(skipped: list[str], path, log, show: int = 20) -> None:
    """How many rows of a labeled file were left out and why (the first `show` of them)."""
    if skipped:
        log(f"{path}: skipped {len(skipped)} row(s)" + (f", the first {show}:" if len(skipped) > show else ":"))
        for s in skipped[:show]:
            log(f"  {s}")


def split(examples: list[Example], dev_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Stratified split so every class is in both parts."""
    rng = random.Random(seed)
    train, dev = [], []
    for lab in LABELS:
        group = [e for e in examples if e.label == lab]
        rng.shuffle(group)
        k = max(1, round(len(group) * dev_fraction)) if len(group) > 1 else 0
        dev += group[:k]
        train += group[k:]
    rng.shuffle(train)
    return train, dev


def plan_split(data: LabeledSet, held_out: LabeledSet | None = None, promote: bool = False) -> tuple[list[Example], list[Example]]:
    """The training and evaluation rows of a run (`held_out`, else a stratified share of `data`), refused before any
    training when there are too few to train on, or, with `promote`, too few to compare two models on."""
    if len(data.examples) < MIN_TRAIN_ROWS:
        raise TooLittleData(f"{len(data.examples)} usable labelled row(s); training needs at least {MIN_TRAIN_ROWS}, "
                            "of two classes or more")
    train, dev = (data.examples, held_out.examples) if held_out is not None else split(data.examples, DEV_FRACTION, SPLIT_SEED)
    if promote and len(dev) < MIN_EVAL_ROWS:
        where = "the --eval file has" if held_out is not None else f"{DEV_FRACTION:.0%} of the labelled rows are"
        raise TooLittleData(f"promoting needs at least {MIN_EVAL_ROWS} evaluation rows to compare the new and the serving "
                            f"model on; {where} {len(dev)}. Add rows (or an --eval file), or train without promote")
    return train, dev


def read_aspect_rows(path, text_col: str = "text", aspects_col: str = "aspects") -> list[dict]:
    """Reviews with aspect labels from a labelled file that has an `aspects` column: a JSON list of
    {"aspect", "label", "evidence"} per row (JSON text in CSV/XLSX), as in data/corpus/GUIDELINES.md. Rows without
    the column's value are skipped; evidence that is not in the text is dropped from its row. Empty list when the
    file has no such column."""
    import json

    rows, _ = read_table(path)
    if not rows or aspects_col not in rows[0][1]:
        return []
    out = []
    for _, row in rows:
        value, text = row.get(aspects_col), row.get(text_col)
        if value in (None, "") or not isinstance(text, str):
            continue
        try:
            aspects = json.loads(value) if isinstance(value, str) else list(value)
        except (json.JSONDecodeError, TypeError):
            continue
        kept = []
        for a in aspects:
            if isinstance(a, dict) and isinstance(a.get("evidence"), str) and a["evidence"] in text:
                start = text.find(a["evidence"])
                kept.append({**a, "start": start, "end": start + len(a["evidence"])})
        out.append({"text": text, "aspects": kept})
    return out
