"""Shared helpers: the development sets live in ../shared/data (measuring only, never shipped)."""
import json
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {"zh": "zh_online_shopping_dev.jsonl", "en": "en_amazon_books_dvd_dev.jsonl"}


def load(lang: str, limit: int | None = None) -> list[dict]:
    path = SHARED / SETS[lang]
    if not path.exists():
        sys.exit(f"benchmark data not found: {path} (the shared dev sets are not present on this machine)")
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    return rows[:limit] if limit else rows
