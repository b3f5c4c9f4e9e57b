"""Storage and /v1/stats aggregation, on SQLite and (when VOC_TEST_PG_URL is set, as in CI) PostgreSQL."""
import datetime as dt
import os

import pytest
import sqlalchemy as sa

from api.storage.store import Store
from api.storage.times import parse_tz
from models.schema import Analysis, Aspect, Sentiment

UTC = dt.timezone.utc
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("VOC_TEST_PG_URL") else [])


def item(i, label, score, aspects=()):
    probs = {"negative": max(-score, 0), "neutral": 0.0, "positive": max(score, 0)}
    return Analysis(id=str(i), text=f"review {i} [PHONE]", lang="zh", model="m",
                    sentiment=Sentiment(label=label, score=score, confidence=0.9, probs=probs),
                    aspects=[Aspect(aspect=a, label=lab, confidence=0.8, evidence="x") for a, lab in aspects])


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'voc.db'}")
    return Store(clean_pg())


def clean_pg() -> str:
    """The test PostgreSQL database with no tables of ours: dropped, with Alembic's bookkeeping."""
    url = os.environ["VOC_TEST_PG_URL"]
    with sa.create_engine(url).begin() as con:
        for table in ("analysis_aspects", "analysis_groups", "analysis_flags", "analyses", "alembic_version"):
            con.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    return url


def test_save_and_stats_by_day_aspect_label(store):
    d1, d2 = dt.datetime(2026, 11, 1, 10, tzinfo=UTC), dt.datetime(2026, 11, 2, 10, tzinfo=UTC)
    store.save([item(1, "positive", 0.8, [("logistics", "positive")]), item(2, "negative", -0.6, [("logistics", "negative"), ("packaging", "negative")])], d1)
    store.save([item(3, "negative", -0.9, [("logistics", "negative")])], d2)
    days = store.stats(by="day")
    assert days["items"] == 3
    assert [(g["key"], g["count"]) for g in days["groups"]] == [("2026-11-01", 2), ("2026-11-02", 1)]
    assert days["groups"][0]["share"] == {"positive": 0.5, "neutral": 0.0, "negative": 0.5}
    aspects = {g["key"]: g for g in store.stats(by="aspect")["groups"]}
    assert aspects["logistics"]["count"] == 3 and aspects["logistics"]["share"]["negative"] == pytest.approx(2 / 3, abs=1e-3)
    assert aspects["packaging"]["count"] == 1
    window = store.stats(dt.datetime(2026, 11, 2, tzinfo=UTC), dt.datetime(2026, 11, 3, tzinfo=UTC), by="label")
    assert window["items"] == 1 and window["groups"][0]["key"] == "negative"


def test_platform_placeholders_are_counted_apart_from_the_shares(store):
    """系统默认好评 is nobody's opinion: in an export it can be a third of the rows, and as "neutral" it would swamp
    the sentiment shares."""
    when = dt.datetime(2026, 11, 1, 10, tzinfo=UTC)
    stand_in = item(2, "neutral", 0.0).model_copy(update={"placeholder": True})
    store.save([item(1, "negative", -0.8, [("logistics", "negative")]), stand_in, stand_in, item(3, "positive", 0.6)], when)
    days = store.stats(by="day")
    assert days["items"] == 2 and days["placeholders"] == 2
    assert days["groups"] == [{"key": "2026-11-01", "count": 2, "mean_score": -0.1,
                               "share": {"positive": 0.5, "neutral": 0.0, "negative": 0.5}}]
    assert store.stats(by="label")["groups"][-1]["key"] == "positive"  # no "neutral" group made of stand-ins
    assert store.stats(dt.datetime(2026, 11, 2, tzinfo=UTC))["placeholders"] == 0  # the window applies to them too


def test_text_is_optional(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'x.db'}", store_text=False)
    s.save([item(1, "positive", 0.5)])
    with s.engine.connect() as con:
        assert con.execute(sa.text("select text from analyses")).scalar() is None


def test_migrations_are_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path / 'y.db'}"
    Store(url); Store(url)  # a second start-up upgrades nothing and loses nothing
    with sa.create_engine(url).connect() as con:
        assert con.execute(sa.text("select version_num from alembic_version")).scalar() == "0003"


def test_items_count_at_their_review_time_in_the_asked_time_zone(store):
    now = dt.datetime(2026, 11, 20, 12, tzinfo=UTC)  # when the batch was analysed
    reviewed = [dt.datetime(2026, 11, 1, 23, 30, tzinfo=UTC),  # 07:30 on 11-02 in Beijing
                dt.datetime(2026, 11, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=8))),  # 01:00 UTC
                None]  # no review time: counts when it was analysed
    store.save([item(1, "positive", 0.8, [("logistics", "positive")]), item(2, "negative", -0.6, [("logistics", "negative")]),
                item(3, "neutral", 0.0)], now, reviewed)
    utc = store.stats(by="day")
    assert [(g["key"], g["count"]) for g in utc["groups"]] == [("2026-11-01", 2), ("2026-11-20", 1)]
    beijing = store.stats(by="day", tz=parse_tz("Asia/Shanghai"))
    assert [(g["key"], g["count"]) for g in beijing["groups"]] == [("2026-11-01", 1), ("2026-11-02", 1), ("2026-11-20", 1)]
    assert beijing["tz"] == "Asia/Shanghai" and beijing["groups"][1]["mean_score"] == 0.8
    # the window is on review time too, and so is counting by aspect
    early = store.stats(dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC), by="aspect")
    assert early["items"] == 2
    assert early["groups"] == [{"key": "logistics", "count": 2, "mean_score": 0.0,
                                "share": {"positive": 0.5, "neutral": 0.0, "negative": 0.5}}]
    assert store.stats(dt.datetime(2026, 11, 10, tzinfo=UTC), by="aspect") == {
        "by": "aspect", "from": "2026-11-10T00:00:00+00:00", "to": None, "tz": "UTC", "items": 1, "placeholders": 0,
        "groups": [], "conversations": {"count": 0, "escalated": 0, "unresolved": 0,
                                        "share": {"positive": 0.0, "neutral": 0.0, "negative": 0.0}}}


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_keeps_and_counts_rows_stored_before_review_times(backend, tmp_path):
    """A database written by the first schema (0001) is upgraded at start-up: its rows keep counting, by day at
    their analysis time and by aspect from their JSON column."""
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else clean_pg()
    cfg = Config()
    cfg.set_main_option("script_location", "api/storage/migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "0001")
    old = sa.table("analyses", *(sa.column(c) for c in ("item_id", "created_at", "lang", "label", "score", "confidence",
                                                       "model")), sa.column("aspects", sa.JSON))
    with sa.create_engine(url).begin() as con:
        con.execute(old.insert(), [
            {"item_id": "a", "created_at": dt.datetime(2026, 10, 5, 8, tzinfo=UTC), "lang": "zh", "label": "negative",
             "score": -0.7, "confidence": 0.9, "model": "m",
             "aspects": [{"aspect": "logistics", "label": "negative"}, {"aspect": "packaging", "label": "negative"}]},
            {"item_id": "b", "created_at": dt.datetime(2026, 10, 6, 8, tzinfo=UTC), "lang": "zh", "label": "positive",
             "score": 0.9, "confidence": 0.9, "model": "m", "aspects": []}])
    store = Store(url)
    assert [(g["key"], g["count"]) for g in store.stats(by="day")["groups"]] == [("2026-10-05", 1), ("2026-10-06", 1)]
    assert [(g["key"], g["count"]) for g in store.stats(by="aspect")["groups"]] == [("logistics", 1), ("packaging", 1)]
    store.save([item(3, "positive", 0.5, [("logistics", "positive")])], dt.datetime(2026, 10, 6, 9, tzinfo=UTC))
    logistics = store.stats(by="aspect")["groups"][0]
    assert logistics["count"] == 2 and logistics["share"]["positive"] == 0.5


def test_bad_group_is_rejected(store):
    for by in ("shop", "day,day", "day,aspect,lang", ""):
        with pytest.raises(ValueError):
            store.stats(by=by)


def test_two_groupings_give_each_touchpoints_trend(store):
    d1, d2 = dt.datetime(2026, 11, 1, 10, tzinfo=UTC), dt.datetime(2026, 11, 2, 10, tzinfo=UTC)
    store.save([item(1, "positive", 0.8, [("logistics", "positive")]),
                item(2, "negative", -0.6, [("logistics", "negative"), ("packaging", "negative")])], d1)
    store.save([item(3, "negative", -0.9, [("logistics", "negative")]), item(4, "positive", 0.7)], d2)
    trend = store.stats(by="day,aspect")
    assert trend["items"] == 4
    assert [(g["key"], g["count"], g["share"]["negative"]) for g in trend["groups"]] == [
        (["2026-11-01", "logistics"], 2, 0.5), (["2026-11-01", "packaging"], 1, 1.0), (["2026-11-02", "logistics"], 1, 1.0)]
    by_lang_label = store.stats(by="label,day")
    assert [(g["key"], g["count"], g["mean_score"]) for g in by_lang_label["groups"]] == [
        (["negative", "2026-11-01"], 1, -0.6), (["negative", "2026-11-02"], 1, -0.9),
        (["positive", "2026-11-01"], 1, 0.8), (["positive", "2026-11-02"], 1, 0.7)]
