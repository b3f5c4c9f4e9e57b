"""Storage of analysed items (SQLAlchemy): a SQLite file by default, PostgreSQL in production.

Settings.db_url picks the database (VOC_DB_URL; default: sqlite:///$VOC_HOME/voc.db); the schema is created and
upgraded by Alembic migrations (migrations/) when a Store opens it. Only the masked text is stored, and only with
`store_text`. Items count at their review time; /v1/stats is aggregated by the database (SQLite and PostgreSQL).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from api.storage.tables import analyses, analysis_aspects
from models.paths import voc_home
from models.schema import Analysis

BY = ("day", "aspect", "topic", "label", "lang")
BUCKET_SECONDS = 900  # days are counted from 15-minute buckets: every UTC offset in use is a multiple of 15 minutes
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def groupings(by: str) -> list[str]:
    """`by` of /v1/stats as a list of one or two groupings ("day", "day,aspect")."""
    dims = [d.strip() for d in by.split(",")]
    if not 1 <= len(dims) <= 2 or len(set(dims)) != len(dims) or any(d not in BY for d in dims):
        raise ValueError(f"by must be one of {', '.join(BY)}, or two of them joined by a comma (day,aspect)")
    return dims


def default_url() -> str:
    """The database without a configured URL: a SQLite file in VOC_HOME."""
    return f"sqlite:///{voc_home() / 'voc.db'}"


def migrate(url: str) -> None:
    """Bring the database schema to the latest Alembic revision."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


class Store:
    def __init__(self, url: str | None = None, store_text: bool = True):
        """`url`: Settings.db_url (None: `default_url`); `store_text`: Settings.store_text (False: no text kept)."""
        self.url = url or default_url()
        self.store_text = store_text
        migrate(self.url)
        # hide_parameters: a failed statement's error text must not carry review text into the logs
        self.engine = sa.create_engine(self.url, pool_pre_ping=True, hide_parameters=True)

    def save(self, results: list[Analysis], when: dt.datetime | None = None,
             reviewed: list[dt.datetime | None] | None = None) -> int:
        """Store analyses made at `when` (now); `reviewed` gives each one's review time where the caller knew it."""
        when = (when or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
        reviewed = reviewed or [None] * len(results)
        # SQLite keeps no offset: every stored time is UTC
        rows = [{"item_id": r.id, "created_at": when, "reviewed_at": t.astimezone(dt.timezone.utc) if t else when,
                 "lang": r.lang, "label": r.sentiment.label,
                 "score": r.sentiment.score, "confidence": r.sentiment.confidence,
                 "aspects": [{"aspect": a.aspect, "label": a.label} for a in r.aspects],
                 "topic_id": r.topic.id if r.topic else None, "model": r.model, "placeholder": bool(r.placeholder),
                 "text": r.text if self.store_text else None} for r, t in zip(results, reviewed)]
        if rows:
            with self.engine.begin() as con:
                ids = con.execute(analyses.insert().returning(analyses.c.id, sort_by_parameter_order=True), rows).scalars().all()
                found = [{"analysis_id": i, "aspect": a.aspect, "label": a.label} for i, r in zip(ids, results) for a in r.aspects]
                if found:
                    con.execute(analysis_aspects.insert(), found)
        return len(rows)

    def _bucket(self):
        """The SQL expression for reviewed_at's 15-minute bucket (seconds since 1970 // BUCKET_SECONDS)."""
        col = analyses.c.reviewed_at
        if self.engine.dialect.name == "sqlite":
            return sa.cast(sa.func.strftime("%s", col), sa.Integer) / BUCKET_SECONDS
        return sa.func.floor(sa.extract("epoch", col) / BUCKET_SECONDS)

    def stats(self, start: dt.datetime | None = None, end: dt.datetime | None = None, by: str = "day",
              tz: dt.tzinfo = dt.timezone.utc) -> dict:
        """Counts, sentiment shares and mean score per group over stored items reviewed in [start, end), platform
        placeholders (系统默认好评: no review was written) counted apart in `placeholders`; days are
        calendar days in `tz`. `by` names one grouping, or two joined by a comma ("day,aspect": each touchpoint's
        trend); a group's key is then a [first, second] pair. Aggregated by the database (GROUP BY), so the cost
        does not grow with what is sent back."""
        dims = groupings(by)
        window = [analyses.c.placeholder == sa.false()]
        if start:
            window.append(analyses.c.reviewed_at >= start)
        if end:
            window.append(analyses.c.reviewed_at < end)
        columns = {"day": self._bucket(), "topic": analyses.c.topic_id, "label": analyses.c.label,
                   "lang": analyses.c.lang, "aspect": analysis_aspects.c.aspect}
        keys = [columns[d] for d in dims]
        if "aspect" in dims:  # an item counts once per aspect it mentions, with that aspect's polarity
            label = analysis_aspects.c.label
            q = sa.select(*keys, label, sa.func.count()).select_from(analysis_aspects.join(analyses))
        else:
            label = analyses.c.label
            q = sa.select(*keys, label, sa.func.count(), sa.func.sum(analyses.c.score))
        groups: dict = defaultdict(lambda: {"count": 0, "positive": 0, "neutral": 0, "negative": 0, "score_sum": 0.0})
        with self.engine.connect() as con:
            total = con.execute(sa.select(sa.func.count()).select_from(analyses).where(*window)).scalar()
            placeholders = con.execute(sa.select(sa.func.count()).select_from(analyses)
                                       .where(analyses.c.placeholder == sa.true(), *window[1:])).scalar()
            for row in con.execute(q.where(*window).group_by(*keys, label)):
                key = tuple((EPOCH + dt.timedelta(seconds=int(v) * BUCKET_SECONDS)).astimezone(tz).date().isoformat()
                            if d == "day" else v for d, v in zip(dims, row))
                lab, count = row[len(dims)], row[len(dims) + 1]
                g = groups[key]
                g["count"] += count; g[lab] += count
                g["score_sum"] += count * (1.0 if lab == "positive" else -1.0) if "aspect" in dims else float(row[-1])
        out = []
        for key, g in sorted(groups.items(), key=lambda kv: [(v is None, str(v)) for v in kv[0]]):
            n = g["count"]
            out.append({"key": key[0] if len(dims) == 1 else list(key), "count": n, "mean_score": round(g["score_sum"] / n, 4),
                        "share": {lab: round(g[lab] / n, 4) for lab in ("positive", "neutral", "negative")}})
        return {"by": by, "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
                "tz": str(tz), "items": total, "placeholders": placeholders, "groups": out}
