"""Emerging-complaint detection (models/alerts.py) on planted counts: the spike is found with its size, change,
p-value and quotes; steady data and small volumes raise nothing; periods are calendar periods in the asked zone."""
import datetime as dt
import random

import pytest

from models.alerts import Item, Options, choose_period, detect, period_end, period_start, pick_quotes

MONDAY = dt.date(2026, 9, 7)
LOGISTICS = ["物流太慢了，等了一个星期", "快递三天都没动", "发货太慢，十天才到", "快递员不送上门", "物流信息一直不更新"]


def _week(rng, w, reviews, negative_logistics, shops=("旗舰店", "专营店"), spike_shop=None):
    out = []
    for i in range(reviews):
        day = MONDAY + dt.timedelta(days=7 * w + rng.randrange(7))
        t = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.timezone.utc)
        shop = spike_shop if spike_shop and i < negative_logistics else rng.choice(shops)
        if i < negative_logistics:
            text = f"{rng.choice(LOGISTICS)}（第{w}周第{i}条）"
            out.append(Item(t, "negative", text, [("logistics", "negative", text[:6])], None, {"shop": shop}, rng.random()))
        else:
            neg = rng.random() < 0.1
            out.append(Item(t, "negative" if neg else "positive", f"评论{w}-{i}",
                            [("product_quality", "negative" if neg else "positive", "质量")] if rng.random() < 0.5 else [],
                            None, {"shop": shop}, rng.random()))
    return out


def test_the_planted_week_6_logistics_spike_is_the_alert():
    """The issue's export: 8 weeks of ~152 reviews, 65 negative logistics mentions in week 6 against 11–18."""
    rng = random.Random(3)
    items = [it for w in range(8) for it in _week(rng, w, 152, 65 if w == 5 else rng.randint(11, 18))]
    res = detect(items, history=True)
    assert res["period"] == "week"
    spike_week = (MONDAY + dt.timedelta(weeks=5)).isoformat()
    assert {a["start"] for a in res["alerts"]} == {spike_week}
    logistics = next(a for a in res["alerts"] if a["dimension"] == "aspect" and a["aspect"] == "logistics" and "group" not in a)
    assert logistics["size"] == 65 and logistics["latest"]["negative"] == 65
    assert 11 <= logistics["baseline"]["negative_per_period"] <= 18
    assert logistics["change"]["ratio"] > 3 and logistics["p_value"] < 1e-6 and logistics["q_value"] < 0.05
    assert len(logistics["quotes"]) == 3 and len({q["text"] for q in logistics["quotes"]}) == 3
    assert all("第5周" in q["text"] for q in logistics["quotes"])  # quotes come from the spike's week
    # only the latest period: week 8 is ordinary
    assert detect(items)["alerts"] == []


def test_a_spike_in_one_shop_names_that_shop():
    rng = random.Random(5)
    items = [it for w in range(6) for it in _week(rng, w, 120, 12 if w < 5 else 40, spike_shop="专营店" if w == 5 else None)]
    alerts = detect(items)["alerts"]
    scopes = {(a["dimension"], a.get("aspect"), (a.get("group") or {}).get("value")) for a in alerts}
    assert ("aspect", "logistics", "专营店") in scopes
    assert ("aspect", "logistics", "旗舰店") not in scopes


@pytest.mark.parametrize("seed", range(5))
def test_steady_weeks_raise_no_alert(seed):
    rng = random.Random(seed)
    items = [it for w in range(8) for it in _week(rng, w, 150, rng.randint(11, 18))]
    res = detect(items, history=True)
    assert res["tested"] > 0 and res["alerts"] == []


def test_below_the_minimum_volume_nothing_alerts():
    """3 negatives against none before is a big ratio and a small p, but too few to act on."""
    rng = random.Random(1)
    items = [it for w in range(4) for it in _week(rng, w, 40, 0 if w < 3 else 3)]
    for it in items:  # no other negatives at all
        if not it.aspects or it.aspects[0][0] != "logistics":
            it.label, it.aspects = "positive", []
    assert detect(items, Options(min_negative=8))["alerts"] == []
    assert detect(items, Options(min_negative=3))["alerts"]


def test_too_little_history_says_why():
    rng = random.Random(1)
    res = detect([it for w in range(2) for it in _week(rng, w, 50, 10)], Options(period="week"))
    assert res["alerts"] == [] and "baseline" in res["reason"]
    assert detect([])["alerts"] == []


def test_periods_are_calendar_periods_in_the_time_zone():
    assert choose_period(dt.date(2026, 1, 1), dt.date(2026, 1, 15)) == "day"
    assert choose_period(dt.date(2026, 1, 1), dt.date(2026, 2, 26)) == "week"
    assert choose_period(dt.date(2025, 1, 1), dt.date(2026, 1, 1)) == "month"
    assert period_start(dt.date(2026, 12, 6), "week") == dt.date(2026, 11, 30)  # a Sunday: its week began Monday
    assert period_end(dt.date(2026, 12, 1), "month") == dt.date(2027, 1, 1)
    # 23:30 UTC on Sunday is Monday in Shanghai: the review belongs to the next week there
    t = dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.timezone.utc)
    from zoneinfo import ZoneInfo
    items = [Item(t - dt.timedelta(weeks=k), "positive") for k in range(3)]
    assert detect(items, Options(period="week"), ZoneInfo("Asia/Shanghai"))["latest"]["start"] == "2026-12-07"
    assert detect(items, Options(period="week"))["latest"]["start"] == "2026-11-30"
    with pytest.raises(ValueError):
        Options(period="year")


def test_quotes_are_distinct():
    quotes = pick_quotes([(0.9, "物流太慢", "物流太慢了！"), (0.8, "物流太慢", "物流太慢了。"),
                          (0.7, "太慢", "物流 太慢了"), (0.6, "不送上门", "快递员不送上门"), (0.5, "没动", "快递三天没动")])
    assert [q["text"] for q in quotes] == ["物流太慢了！", "快递员不送上门", "快递三天没动"]
