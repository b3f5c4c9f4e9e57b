"""Service settings, from the environment (12-factor) with command-line overrides."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _count(env, name: str) -> int | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name}={value!r}: use a whole number of at least 1")
    return int(value)


def _tz(value: str | None) -> dt.tzinfo:
    from api.store import parse_tz

    try:
        return parse_tz(value)
    except ValueError as e:
        raise ValueError(f"VOC_TZ: {e}") from None


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # None: the registry's serving model
    mode: str = "accurate"
    aspects: bool = True  # VOC_ASPECTS=0 / `voc serve --no-aspects`: sentiment only
    api_keys: tuple[str, ...] = ()  # VOC_API_KEYS; when set every /v1 call needs `Authorization: Bearer <key>`
    admin_keys: tuple[str, ...] = ()  # VOC_ADMIN_KEYS; admin endpoints need one (or an API key when unset)
    cors_origins: tuple[str, ...] = ()  # VOC_CORS_ORIGINS; CORS is off when empty
    max_text_chars: int = 5000
    max_items: int = 256
    max_body_bytes: int = 2 * 1024 * 1024
    batch_wait_ms: float = 15.0  # micro-batching: the longest a batch waits for its share of the load
    batch_max_items: int = 512
    # micro-batches scored at once (see api.app.MicroBatcher); VOC_BATCHES_IN_FLIGHT. Two in every mode and engine
    # since the batcher waits for each batch's share of the load (session 16). Measured with aspects, 8 clients,
    # short reviews: int8 engine 1 batch 83.9–84.4 reviews/s, 2 batches 89.2–91.3 (p99 134–147 ms); bf16 3 batches
    # 74.5–75.1 against 79.2–80.2 for 2. Before that change, int8 had been better with 1 (p99 281–294 ms
    # against 357–447), because a second batch left with whatever single request had come.
    batches_in_flight: int = 2
    debug_log_text: bool = False  # VOC_DEBUG_LOG_TEXT=1 lets review text into logs (it holds personal data)
    store: bool = True  # VOC_STORE=0: do not keep analysed items (then /v1/stats has nothing to count)
    db_url: str | None = None  # VOC_DB_URL; default sqlite:///$VOC_HOME/voc.db
    # VOC_TZ: how review times without an offset are read, and whose calendar days /v1/stats counts by
    tz: dt.tzinfo = field(default=dt.timezone.utc)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        values = dict(
            model=env.get("VOC_MODEL") or None,
            mode=env.get("VOC_MODE", "accurate"),
            aspects=env.get("VOC_ASPECTS", "1") not in ("0", "false", "no"),
            api_keys=tuple(_list(env.get("VOC_API_KEYS"))),
            admin_keys=tuple(_list(env.get("VOC_ADMIN_KEYS"))),
            cors_origins=tuple(_list(env.get("VOC_CORS_ORIGINS"))),
            debug_log_text=env.get("VOC_DEBUG_LOG_TEXT", "") in ("1", "true", "yes"),
            store=env.get("VOC_STORE", "1") not in ("0", "false", "no"),
            db_url=env.get("VOC_DB_URL") or None,
            batches_in_flight=_count(env, "VOC_BATCHES_IN_FLIGHT"),
            tz=_tz(env.get("VOC_TZ")),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{k: v for k, v in values.items() if v is not None})  # unset: the field's default
