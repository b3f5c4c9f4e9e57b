"""Storage of analysed items (SQLAlchemy): a SQLite file by default, PostgreSQL in production.

Settings.db_url picks the database (VOC_DB_URL; default: sqlite:///$VOC_HOME/voc.db); the schema is created and
upgraded by Alembic migrations (migrations/) when a Store opens it. Only the masked text is stored, and only with
`store_text`. Items count at their review time; /v1/stats is aggregated by the database (SQLite and PostgreSQL).
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from api.storage.tables import analyses, analysis_aspects, analysis_flags, analysis_groups
from models.alerts import Item, choose_period, period_start, pick_quotes
from models.paths import voc_home
from models.schema import Analysis

BY = ("day", "week", "month", "aspect", "topic", "label", "lang")  # and group:NAME (a stored group column)
PERIODS = ("day", "week", "month")
GROUP_NAME = re.compile(r"[^\W\d]\w{0,63}")  # shop, category, 店铺, region_code: a word, not a number
BUCKET_SECONDS = 900  # days are counted from 15-minute buckets: every UTC offset in use is a multiple of 15 minutes
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def check_group(name: str, value) -> str | None:
    """A group value as stored: `name` a word of up to 64 letters, digits and _ ; the value text of up to 200
    characters without control characters (None or blank: the item has no value for it). ValueError otherwise."""
    if not isinstance(name, str) or not GROUP_NAME.fullmatch(name):
        raise ValueError(f"group name {str(name)[:80]!r}: use a word of letters, digits and _ (up to 64), such as shop")
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"group {name}: the value must be text")
    value = str(value).strip()
    if len(value) > 200:
        raise ValueError(f"group {name}: the value has {len(value)} characters; the limit is 200")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value):
        raise ValueError(f"group {name}: the value holds control characters")
    return value or None


def groupings(by: str) -> list[str]:
    """`by` of /v1/stats as a list of one or two groupings ("day", "day,aspect")."""
    dims = [d.strip() for d in by.split(",")]
    ok = all(d in BY or (d.startswith("group:") and GROUP_NAME.fullmatch(d[6:])) for d in dims)
    if not 1 <= len(dims) <= 2 or len(set(dims)) != len(dims) or not ok or sum(d in PERIODS for d in dims) > 1:
        raise ValueError(f"by must be one of {', '.join(BY)} or group:NAME (group:shop), or two of them joined by "
                         "a comma (week,aspect; group:shop,label), at most one of them a period")
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
             reviewed: list[dt.datetime | None] | None = None, groups: list[dict[str, str]] | None = None) -> int:
        """Store analyses made at `when` (now); `reviewed` gives each one's review time where the caller knew it,
        `groups` each one's group values ({"shop": "旗舰店"}, checked by `check_group`); each analysis's trust flags
        are stored with it."""
        when = (when or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
        reviewed = reviewed or [None] * len(results)
        # SQLite keeps no offset: every stored time is UTC
        rows = [{"item_id": r.id, "created_at": when, "reviewed_at": t.astimezone(dt.timezone.utc) if t else when,
                 "lang": r.lang, "label": r.sentiment.label,
                 "score": r.sentiment.score, "confidence": r.sentiment.confidence,
                 "aspects": [{"aspect": a.aspect, "label": a.label} for a in r.aspects],
                 "topic_id": r.topic.id if r.topic else None, "model": r.model, "placeholder": bool(r.placeholder),
                 "text": r.text if self.store_text else None, **_conversation_columns(r),
                 "flags": [f.model_dump() for f in r.flags] if r.flags else None} for r, t in zip(results, reviewed)]
        groups = groups or [{}] * len(results)
        if rows:
            with self.engine.begin() as con:
                ids = con.execute(analyses.insert().returning(analyses.c.id, sort_by_parameter_order=True), rows).scalars().all()
                found = [{"analysis_id": i, "aspect": a.aspect, "label": a.label} for i, r in zip(ids, results) for a in r.aspects]
                if found:
                    con.execute(analysis_aspects.insert(), found)
                values = [{"analysis_id": i, "name": name, "value": v} for i, g in zip(ids, groups)
                          for name, value in g.items() if (v := check_group(name, value)) is not None]
                if values:
                    con.execute(analysis_groups.insert(), values)
                flags = [{"analysis_id": i, "flag": f.kind} for i, r in zip(ids, results) for f in (r.flags or [])]
                if flags:
                    con.execute(analysis_flags.insert(), flags)
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
        calendar days (weeks from Monday, months) in `tz`. `by` names one grouping (group:shop: a stored group
        column), or two joined by a comma ("day,aspect": each touchpoint's trend); a group's key is then a
        [first, second] pair. Aggregated by the database (GROUP BY), so the cost
        does not grow with what is sent back."""
        dims = groupings(by)
        window = [analyses.c.placeholder == sa.false()]
        if start:
            window.append(analyses.c.reviewed_at >= start)
        if end:
            window.append(analyses.c.reviewed_at < end)
        bucket = self._bucket()
        columns = {"topic": analyses.c.topic_id, "label": analyses.c.label,
                   "lang": analyses.c.lang, "aspect": analysis_aspects.c.aspect}
        joined = analysis_aspects.join(analyses) if "aspect" in dims else analyses
        for d in dims:
            if d in PERIODS:
                columns[d] = bucket
            elif d.startswith("group:"):  # items without a value for the group count under None
                g = analysis_groups.alias()
                joined = joined.outerjoin(g, sa.and_(g.c.analysis_id == analyses.c.id, g.c.name == d[6:]))
                columns[d] = g.c.value
        keys = [columns[d] for d in dims]
        if "aspect" in dims:  # an item counts once per aspect it mentions, with that aspect's polarity
            label = analysis_aspects.c.label
            q = sa.select(*keys, label, sa.func.count()).select_from(joined)
        else:
            label = analyses.c.label
            q = sa.select(*keys, label, sa.func.count(), sa.func.sum(analyses.c.score)).select_from(joined)
        groups: dict = defaultdict(lambda: {"count": 0, "positive": 0, "neutral": 0, "negative": 0, "score_sum": 0.0})

        def period_key(d, v):  # a 15-minute bucket → the calendar day, week (its Monday) or month (its 1st) in tz
            day = (EPOCH + dt.timedelta(seconds=int(v) * BUCKET_SECONDS)).astimezone(tz).date()
            return period_start(day, d).isoformat()
        with self.engine.connect() as con:
            total = con.execute(sa.select(sa.func.count()).select_from(analyses).where(*window)).scalar()
            placeholders = con.execute(sa.select(sa.func.count()).select_from(analyses)
                                       .where(analyses.c.placeholder == sa.true(), *window[1:])).scalar()
            for row in con.execute(q.where(*window).group_by(*keys, label)):
                key = tuple(period_key(d, v) if d in PERIODS else v for d, v in zip(dims, row))
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
                "tz": str(tz), "items": total, "placeholders": placeholders, "groups": out,
                "conversations": self.conversation_counts(window)}

    def conversation_counts(self, window: list) -> dict:
        """Scored chat conversations among the items in `window`: how many, escalated, unresolved, and their
        satisfaction shares (each is also an item above, labelled with its satisfaction)."""
        counts = {"count": 0, "escalated": 0, "unresolved": 0, "positive": 0, "neutral": 0, "negative": 0}
        q = sa.select(analyses.c.conversation, analyses.c.label).where(analyses.c.kind == "conversation", *window)
        with self.engine.connect() as con:
            for conv, label in con.execute(q):
                counts["count"] += 1
                counts[label] += 1
                counts["escalated"] += bool((conv or {}).get("escalated"))
                counts["unresolved"] += not (conv or {}).get("resolved", True)
        n = counts["count"]
        return {"count": n, "escalated": counts["escalated"], "unresolved": counts["unresolved"],
                "share": {lab: round(counts[lab] / n, 4) if n else 0.0 for lab in ("positive", "neutral", "negative")}}


    def alert_items(self, tz: dt.tzinfo = dt.timezone.utc, period: str | None = None, end: dt.datetime | None = None,
                    periods: int = 13) -> tuple[list[Item], str | None]:
        """Stored reviews (no placeholders, no conversations) for models.alerts.detect: those of the latest `periods`
        calendar periods before `end` (period None: chosen from the stored span by the detector's rule),
        with their aspects, topic, group values and masked text. Returns (items, period)."""
        reviews = [analyses.c.placeholder == sa.false(), analyses.c.kind == "review"]
        if end:
            reviews.append(analyses.c.reviewed_at < end)
        with self.engine.connect() as con:
            first, last = con.execute(sa.select(sa.func.min(analyses.c.reviewed_at), sa.func.max(analyses.c.reviewed_at))
                                      .where(*reviews)).one()
            if last is None:
                return [], period
            first, last = (t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t for t in (first, last))
            period = period or choose_period(first.astimezone(tz).date(), last.astimezone(tz).date())
            since = period_start(last.astimezone(tz).date(), period)
            for _ in range(periods - 1):
                since = period_start(since - dt.timedelta(days=1), period)
            since_t = dt.datetime.combine(since, dt.time(), tz).astimezone(dt.timezone.utc)
            rows = con.execute(sa.select(analyses.c.id, analyses.c.reviewed_at, analyses.c.label, analyses.c.aspects,
                                         analyses.c.topic_id, sa.func.substr(analyses.c.text, 1, 300),  # a quote's length
                                         analyses.c.confidence)
                               .where(*reviews, analyses.c.reviewed_at >= since_t)).all()
            values = defaultdict(dict)
            ids = sa.select(analyses.c.id).where(*reviews, analyses.c.reviewed_at >= since_t)
            for aid, name, value in con.execute(sa.select(analysis_groups.c.analysis_id, analysis_groups.c.name,
                                                          analysis_groups.c.value)
                                                .where(analysis_groups.c.analysis_id.in_(ids))):
                values[aid][name] = value
        items = [Item(time=t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc), label=label, text=text or "",
                      aspects=[(a["aspect"], a["label"], "") for a in aspects or []], topic=topic,
                      groups=values.get(aid, {}), confidence=conf)
                 for aid, t, label, aspects, topic, text, conf in rows]
        return items, period

    def flagged(self, limit: int = 50) -> dict:
        """The latest stored items with trust flags (newest first) and the count of each flag."""
        with self.engine.connect() as con:
            counts = dict(con.execute(sa.select(analysis_flags.c.flag, sa.func.count()).group_by(analysis_flags.c.flag)).all())
            flagged = sa.select(analysis_flags.c.analysis_id)
            rows = con.execute(sa.select(analyses.c.item_id, analyses.c.reviewed_at, analyses.c.label, analyses.c.text,
                                         analyses.c.flags).where(analyses.c.id.in_(flagged))
                               .order_by(analyses.c.reviewed_at.desc(), analyses.c.id.desc()).limit(limit)).all()
        return {"counts": counts, "items": [
            {"id": item_id, "time": (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).isoformat(), "label": label,
             "text": text, "flags": flags or []} for item_id, t, label, text, flags in rows]}

    def conversation_kpis(self) -> dict:
        """Stored conversations (kind='conversation'): how many, their satisfaction shares and mean score, and the
        resolved and escalated shares, read from each `analyses.conversation` summary (a key it lacks is skipped)."""
        with self.engine.connect() as con:
            summaries = [s for s in con.execute(sa.select(analyses.c.conversation)
                                                .where(analyses.c.kind == "conversation")).scalars() if isinstance(s, dict)]
        out: dict = {"conversations": len(summaries)}
        sat = [s["satisfaction"] for s in summaries if isinstance(s.get("satisfaction"), dict)]
        if sat:
            out["satisfaction"] = {lab: round(sum(x.get("label") == lab for x in sat) / len(sat), 4)
                                   for lab in ("positive", "neutral", "negative")}
            scores = [x["score"] for x in sat if isinstance(x.get("score"), (int, float))]
            if scores:
                out["satisfaction_score"] = round(sum(scores) / len(scores), 4)
        for key, names in (("resolved", ("resolved",)), ("escalated", ("escalation", "escalated"))):
            vals = [_yes(s.get(n)) for s in summaries for n in names if n in s]
            vals = [v for v in vals if v is not None]
            if vals:
                out[key] = round(sum(vals) / len(vals), 4)
        return out


    def group_names(self) -> list[str]:
        """The group columns items were stored with (shop, category, ...), for the dashboard's breakdown."""
        with self.engine.connect() as con:
            return sorted(con.execute(sa.select(analysis_groups.c.name).distinct()).scalars())


    def pain_points(self, start: dt.datetime | None = None, limit: int = 10, quotes: int = 3) -> list[dict]:
        """Aspects by negative mentions × negative share (the report's pain score) over items reviewed since `start`,
        each with up to `quotes` distinct masked texts of its latest negative mentions."""
        window = [analyses.c.placeholder == sa.false()] + ([analyses.c.reviewed_at >= start] if start else [])
        with self.engine.connect() as con:
            counts = defaultdict(lambda: {"positive": 0, "neutral": 0, "negative": 0})
            for aspect, label, n in con.execute(sa.select(analysis_aspects.c.aspect, analysis_aspects.c.label, sa.func.count())
                                                .select_from(analysis_aspects.join(analyses)).where(*window)
                                                .group_by(analysis_aspects.c.aspect, analysis_aspects.c.label)):
                counts[aspect][label] += n
            ranked = sorted(((a, c) for a, c in counts.items() if c["negative"]),
                            key=lambda ac: -ac[1]["negative"] ** 2 / sum(ac[1].values()))[:limit]
            out = []
            for aspect, c in ranked:
                texts = con.execute(sa.select(analyses.c.text).select_from(analysis_aspects.join(analyses))
                                    .where(*window, analysis_aspects.c.aspect == aspect, analysis_aspects.c.label == "negative",
                                           analyses.c.text.is_not(None))
                                    .order_by(analyses.c.reviewed_at.desc()).limit(quotes * 10)).scalars().all()
                mentions = sum(c.values())
                out.append({"aspect": aspect, "mentions": mentions, "negative": c["negative"],
                            "negative_share": round(c["negative"] / mentions, 4),
                            "quotes": pick_quotes([(0.0, "", t) for t in texts], quotes)})
        return out


def _yes(value) -> bool | None:
    """A summary's yes/no: a bool, or an object holding one (`{"resolved": true, "prob": 0.9}`, `{"value": ...}`)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, dict):
        for v in value.values():
            if isinstance(v, bool):
                return v
    return None


def _conversation_columns(r: Analysis) -> dict:
    """A chat's kind and the summary /v1/stats counts (the full analysis is the caller's to keep)."""
    c = r.conversation
    if c is None:
        return {"kind": "conversation" if r.chat is not None else "review"}
    return {"kind": "conversation", "conversation": {
        "satisfaction": {"label": c.satisfaction.label, "score": c.satisfaction.score}, "resolved": c.resolved, "escalated": c.escalation.escalated, "effort_high": c.effort.high,
        "agent_flags": sorted({f.kind for f in c.agent.flags}), "turns": c.customer_turns + c.agent_turns}}
