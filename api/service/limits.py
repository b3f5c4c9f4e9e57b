"""What a request may hold, checked before any scoring: text sizes and review times."""
from __future__ import annotations

import datetime as dt

from api.service.errors import ApiError
from api.settings import Settings
from api.storage.store import check_group
from api.storage.times import check_review_time, parse_time

MAX_GROUPS = 8


def check_text(text: str, where: str, settings: Settings) -> None:
    if len(text) > settings.max_text_chars:
        raise ApiError(413, "text_too_long", f"{where} has {len(text):,} characters; the limit is {settings.max_text_chars:,}")
    if not text.strip():
        raise ApiError(422, "empty_text", f"{where} is empty")


def review_times(values: list[str | None], where: list[str], tz: dt.tzinfo) -> list[dt.datetime | None]:
    """Each item's `time`: a bad one is the caller's error (422), not a lost trend point."""
    out = []
    for value, name in zip(values, where):
        try:
            out.append(check_review_time(parse_time(value, tz)) if value is not None else None)
        except ValueError as e:
            raise ApiError(422, "invalid_time", f"{name}: {e}")
    return out


def item_groups(values: list[dict | None], where: list[str]) -> list[dict[str, str]]:
    """Each item's `groups`, checked (names, lengths, characters): a bad one is the caller's error (422)."""
    out = []
    for value, name in zip(values, where):
        value = value or {}
        if len(value) > MAX_GROUPS:
            raise ApiError(422, "invalid_groups", f"{name}: {len(value)} groups; the limit is {MAX_GROUPS}")
        try:
            out.append({k: v for k, v in ((k, check_group(k, v)) for k, v in value.items()) if v is not None})
        except ValueError as e:
            raise ApiError(422, "invalid_groups", f"{name}: {e}")
    return out
