"""Review times: time zones, ISO 8601 times and the range a review's time may fall in (the API, `voc score --store`
and /v1/stats read them the same way)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nlp.files import parse_when


def parse_tz(value: str | None) -> dt.tzinfo:
    """A time zone from "UTC", "Z", a fixed offset ("+08:00", "-0530") or an IANA name ("Asia/Shanghai")."""
    value = (value or "").strip() or "UTC"
    if value.upper() in ("UTC", "Z"):
        return dt.timezone.utc
    if value.startswith(("+", "-")):
        try:
            offset = dt.datetime.strptime(value[1:].replace(":", ""), "%H%M")
        except ValueError:
            raise ValueError(f"time zone {value!r}: write an offset as +08:00 or a name as Asia/Shanghai") from None
        delta = dt.timedelta(hours=offset.hour, minutes=offset.minute)
        return dt.timezone(delta if value[0] == "+" else -delta)
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name such as "America" is a folder
        raise ValueError(f"unknown time zone {value!r}: use an offset (+08:00) or a name (Asia/Shanghai)") from None


def parse_time(value: str, tz: dt.tzinfo) -> dt.datetime:
    """An ISO 8601 date or time as an aware UTC datetime; a time without an offset is read in `tz`."""
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date or time (e.g. 2026-11-01 or 2026-11-01T09:30:00+08:00)") from None
    try:
        return (t if t.tzinfo else t.replace(tzinfo=tz)).astimezone(dt.timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+08:00 is before year 1 in UTC
        raise ValueError(f"{value!r} is out of range") from None


EARLIEST_REVIEW = dt.datetime(1990, 1, 1, tzinfo=dt.timezone.utc)


def check_review_time(t: dt.datetime) -> dt.datetime:
    """`t` (aware) if it can be when a review was written: from 1990 to a day from now. Anything else is a typo or a
    stand-in (9999-12-31, 0001-01-01), and stored it would break /v1/stats, whose days near the ends of the calendar
    cannot be named in every time zone."""
    latest = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    if not EARLIEST_REVIEW <= t <= latest:
        raise ValueError(f"{t.isoformat()} is not a review time: use one from 1990-01-01 to a day from now")
    return t


def review_time(value, tz: dt.tzinfo) -> dt.datetime | None:
    """A time cell as an aware UTC datetime (dates, date-times, Excel dates, Unix times; no offset: `tz`), or None,
    also where it cannot be a review's time (check_review_time: 9999-12-31 and the like)."""
    t = parse_when(value)
    if t is None:
        return None
    t = t.to_pydatetime()
    try:
        return check_review_time((t if t.tzinfo else t.replace(tzinfo=tz)).astimezone(dt.timezone.utc))
    except (ValueError, OverflowError):
        return None
