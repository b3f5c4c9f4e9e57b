"""Storage of analysed items (SQLAlchemy): SQLite file by default, PostgreSQL in production.

VOC_DB_URL picks the database (default: sqlite:///$VOC_HOME/voc.db); the schema is
created and upgraded by Alembic migrations (api/migrations) at start-up. Only the
masked text is stored, and only when VOC_STORE_TEXT is not 0.
"""
from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa

from models.paths import voc_home
from models.schema import Analysis

metadata = sa.MetaData()
analyses = sa.Table(
    "analyses", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("lang", sa.String(8), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("aspects", sa.JSON, nullable=False),
    sa.Column("topic_id", sa.Integer, nullable=True, index=True),
    sa.Column("model", sa.String(120), nullable=False),
    sa.Column("text", sa.Text, nullable=True),
)
BY = ("day", "aspect", "topic", "label", "lang")


def default_url() -> str:
    return os.environ.get("VOC_DB_URL") or f"sqlite:///{voc_home() / 'voc.db'}"


def migrate(url: str) -> None:
    """Bring the database schema to the latest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


class Store:
    def __init__(self, url: str | None = None, store_text: bool | None = None):
        self.url = url or default_url()
        self.store_text = os.environ.get("VOC_STORE_TEXT", "1") != "0" if store_text is None else store_text
        migrate(self.url)
        self.engine = sa.create_engine(self.url, pool_pre_ping=True)

    def save(self, results: list[Analysis], when: dt.datetime | None = None) -> int:
        when = when or dt.datetime.now(dt.timezone.utc)
        rows = [{"item_id": r.id, "created_at": when, "lang": r.lang, "label": r.sentiment.label,
                 "score": r.sentiment.score, "confidence": r.sentiment.confidence,
                 "aspects": [{"aspect": a.aspect, "label": a.label} for a in r.aspects],
                 "topic_id": r.topic.id if r.topic else None, "model": r.model,
                 "text": r.text if self.store_text else None} for r in results]
        if rows:
            with self.engine.begin() as con:
                con.execute(analyses.insert(), rows)
        return len(rows)

    def stats(self, start: dt.datetime | None = None, end: dt.datetime | None = None, by: str = "day") -> dict:
        """Counts, sentiment shares and mean score per group over stored items in [start, end)."""
        if by not in BY:
            raise ValueError(f"by must be one of {', '.join(BY)}")
        q = sa.select(analyses.c.created_at, analyses.c.label, analyses.c.score, analyses.c.aspects,
                      analyses.c.topic_id, analyses.c.lang)
        if start:
            q = q.where(analyses.c.created_at >= start)
        if end:
            q = q.where(analyses.c.created_at < end)
        groups: dict = defaultdict(lambda: {"count": 0, "positive": 0, "neutral": 0, "negative": 0, "score_sum": 0.0})
        total = 0
        with self.engine.connect() as con:
            for row in con.execute(q):
                total += 1
                if by == "aspect":  # an item counts once per aspect it mentions, with that aspect's polarity
                    keys = [(a["aspect"], a["label"], 1.0 if a["label"] == "positive" else -1.0) for a in row.aspects]
                else:
                    key = {"day": lambda: row.created_at.date().isoformat(), "topic": lambda: row.topic_id,
                           "label": lambda: row.label, "lang": lambda: row.lang}[by]()
                    keys = [(key, row.label, row.score)]
                for key, label, score in keys:
                    g = groups[key]
                    g["count"] += 1; g[label] += 1; g["score_sum"] += score
        out = []
        for key, g in sorted(groups.items(), key=lambda kv: (kv[0] is None, str(kv[0]))):
            n = g["count"]
            out.append({"key": key, "count": n, "mean_score": round(g["score_sum"] / n, 4),
                        "share": {lab: round(g[lab] / n, 4) for lab in ("positive", "neutral", "negative")}})
        return {"by": by, "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
                "items": total, "groups": out}
