"""Shared helpers: the development sets live in ../shared/data (measuring only, never shipped)."""
import json
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {"zh": "zh_online_shopping_dev.jsonl", "en": "en_amazon_books_dvd_dev.jsonl"}
# 80 team-written food-delivery, restaurant and hotel reviews (40 zh, 40 en), shipped with the tests: the
# domains the shared sets lack. Written to measure only; no training data was derived from them.
SERVICES = Path(__file__).resolve().parents[1] / "tests" / "data" / "sentiment_services.jsonl"


def load(lang: str, limit: int | None = None) -> list[dict]:
    """A labelled set: `zh`, `en` (shared, binary), `services` (team-written, binary) or `corpus` (the held-out
    writing batches of data/corpus, 3-class `overall`, with `lang` and `domain`)."""
    if lang == "corpus":
        from training.corpus import load_corpus

        rows = [{**r, "id": f"{r['batch']}:{k}", "label": r["overall"]} for k, r in enumerate(load_corpus("test"))]
        return rows[:limit] if limit else rows
    path = SERVICES if lang == "services" else SHARED / SETS[lang]
    if not path.exists():
        sys.exit(f"benchmark data not found: {path} (the shared dev sets are not present on this machine)")
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    return rows[:limit] if limit else rows
