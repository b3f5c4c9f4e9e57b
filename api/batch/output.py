"""The scored output file: every input column plus the contract's columns, as CSV, JSONL, XLSX or Parquet.

CSV and JSONL are streamed (and can be continued from a byte offset: `--resume`); XLSX and Parquet are written at
the end, since those formats cannot be appended to.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from models.flags import flag_kinds
from models.schema import Analysis
from nlp.files import InputError


def scored_row(row: dict, res: Analysis, structured: bool) -> dict:
    """An input row with the analysis' columns added (aspects as JSON text unless the format is `structured`)."""
    aspects = [a.model_dump(mode="json", exclude_none=True) for a in res.aspects]
    details = [f.model_dump(mode="json") for f in res.flags or []]
    return {**row, "lang": res.lang, "sentiment_label": res.sentiment.label, "sentiment_score": res.sentiment.score,
            "sentiment_confidence": res.sentiment.confidence,
            "aspects": aspects if structured else json.dumps(aspects, ensure_ascii=False),
            # trust flags: the kinds, comma-separated, then each flag's confidence and reason
            "flags": flag_kinds(res), "flag_details": details if structured else json.dumps(details, ensure_ascii=False)}


SINGLE_FILE = (".csv", ".jsonl", ".json", ".xlsx", ".parquet")  # the formats of an output file


def write_parquet(df, path) -> None:
    """A frame of scored rows as Parquet; columns of mixed Python values (text, None, numbers read as text) as strings."""
    df = df.astype({c: "string" for c in df.columns if df[c].dtype == object})
    df.to_parquet(path, index=False)


class OutputWriter:
    def __init__(self, path: str, append_at: int | None = None):
        self.path = path
        self.suffix = ".jsonl" if path == "-" else Path(path).suffix.lower()
        if self.suffix not in SINGLE_FILE:
            raise InputError(f"{path}: unsupported output type {self.suffix!r}; use .csv, .jsonl, .xlsx or .parquet")
        self.rows: list[dict] = []
        self._csv = None
        self._fh = sys.stdout if path == "-" else None
        self.append_at = append_at  # resume: continue this file from that byte

    def _open(self, **kw):
        if self.append_at is None:
            return open(self.path, "w", **kw)
        with open(self.path, "r+b") as f:
            f.truncate(self.append_at)
        return open(self.path, "a", **kw)

    def tell(self) -> int:
        if self._fh is None or self._fh is sys.stdout:
            return self.append_at or 0
        self._fh.flush()
        return self._fh.tell()

    @property
    def structured(self) -> bool:
        return self.suffix in (".jsonl", ".json")

    def write(self, rows: list[dict]) -> None:
        if self.suffix == ".csv":
            if self._csv is None:
                # BOM so Excel shows Chinese right (plain utf-8 when appending after it)
                self._fh = self._open(encoding="utf-8" if self.append_at else "utf-8-sig", newline="")
                self._csv = csv.DictWriter(self._fh, fieldnames=list(rows[0]), extrasaction="ignore")
                if not self.append_at:
                    self._csv.writeheader()
            self._csv.writerows(rows)
        elif self.structured:
            if self._fh is None:
                self._fh = self._open(encoding="utf-8")
            for r in rows:
                self._fh.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
        else:
            self.rows += rows

    def close(self) -> None:
        if self.rows:
            import pandas as pd  # ~0.4 s: only XLSX and Parquet output pay for it, not a fast-mode run's start-up

            df = pd.DataFrame(self.rows)
            if self.suffix == ".xlsx":
                df.to_excel(self.path, index=False)
            else:
                write_parquet(df, self.path)
        if self._fh is not None and self._fh is not sys.stdout:
            self._fh.close()
        elif self._fh is sys.stdout:
            self._fh.flush()


def json_list(value) -> list:
    """A cell holding a JSON list (aspects, flag details, agent flags): the list, or [] when it holds none."""
    if isinstance(value, list):
        return value
    try:
        return json.loads(value) if value else []
    except (TypeError, json.JSONDecodeError):
        return []
