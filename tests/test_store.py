"""Storage and /v1/stats aggregation, on SQLite and (when VOC_TEST_PG_URL is set, as in CI) PostgreSQL."""
import datetime as dt
import os

import pytest
import sqlalchemy as sa

from api.store import Store
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
    url = os.environ["VOC_TEST_PG_URL"]
    eng = sa.create_engine(url)
    with eng.begin() as con:  # a clean schema each time: drop the table and Alembic's bookkeeping
        con.execute(sa.text("DROP TABLE IF EXISTS analyses")); con.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    return Store(url)


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


def test_text_is_optional(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'x.db'}", store_text=False)
    s.save([item(1, "positive", 0.5)])
    with s.engine.connect() as con:
        assert con.execute(sa.text("select text from analyses")).scalar() is None


def test_migrations_are_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path / 'y.db'}"
    Store(url); Store(url)  # a second start-up upgrades nothing and loses nothing
    with sa.create_engine(url).connect() as con:
        assert con.execute(sa.text("select version_num from alembic_version")).scalar() == "0001"


def test_bad_group_is_rejected(store):
    with pytest.raises(ValueError):
        store.stats(by="shop")
