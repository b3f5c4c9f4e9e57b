"""The team-written review corpus (data/corpus/reviews/*.jsonl, see data/corpus/GUIDELINES.md).

Each file is one writing batch. Splits are made by batch, never by row: reviews of one batch share a writer's
habits, so a random row split would put near-twins on both sides and flatter the model. A batch's split follows
from a hash of its file name, so it never changes when other batches are added.
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent.parent / "data" / "corpus" / "reviews"
SPLITS = ("train", "dev", "test")


def batch_split(name: str) -> str:
    """test for 1 batch in 8, dev (threshold calibration) for 1 in 8, train for the rest."""
    bucket = zlib.crc32(name.encode("utf-8")) % 8
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def load_corpus(split: str | None = None, directory: Path = CORPUS_DIR) -> list[dict]:
    """Rows of the corpus (all, or one split), each with `batch` (its file's stem) and `start`/`end` offsets of every
    aspect's evidence (its first occurrence in the text)."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    rows = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        if split is not None and batch_split(path.stem) != split:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            row["batch"] = path.stem
            for a in row.get("aspects", []):
                a["start"] = row["text"].find(a["evidence"])
                a["end"] = a["start"] + len(a["evidence"])
            rows.append(row)
    return rows
