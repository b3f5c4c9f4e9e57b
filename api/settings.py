"""Settings: every VOC_* variable, read once by the entry point (`voc`, the server) and passed down.

`Settings.from_env(**overrides)` reads the environment (12-factor); command-line options override it. Nothing below
the entry points reads the environment, except models/paths.py for VOC_HOME and VOC_BASE_CACHE (its docstring says
why). README.md has the table of variables.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from api.storage.times import parse_tz
from models.runtime.hardware import ENGINES


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
    try:
        return parse_tz(value)
    except ValueError as e:
        raise ValueError(f"VOC_TZ: {e}") from None


def _webhook(value: str | None) -> str | None:
    value = (value or "").strip()
    if value and not value.lower().startswith(("http://", "https://")):
        raise ValueError(f"VOC_ALERT_WEBHOOK={value[:100]!r}: use an http:// or https:// URL")
    return value or None


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # VOC_MODEL / --model; None: the registry's serving model
    mode: str = "accurate"  # VOC_MODE (for `voc serve`) / --mode: accurate or fast
    aspects: bool = True  # VOC_ASPECTS=0 / --no-aspects: sentiment only
    engine: str = "auto"  # VOC_ENGINE: what runs the accurate model (models.runtime.hardware.ENGINES)
    taxonomy: Path | None = None  # VOC_TAXONOMY / --taxonomy: a user's taxonomy JSON file; None: the shipped one
    api_keys: tuple[str, ...] = ()  # VOC_API_KEYS; when set every /v1 call needs `Authorization: Bearer <key>`
    admin_keys: tuple[str, ...] = ()  # VOC_ADMIN_KEYS; admin endpoints need one (or an API key when unset)
    cors_origins: tuple[str, ...] = ()  # VOC_CORS_ORIGINS; CORS is off when empty
    max_text_chars: int = 5000
    max_items: int = 256
    max_body_bytes: int = 2 * 1024 * 1024
    batch_wait_ms: float = 15.0  # micro-batching: the longest a batch waits for its share of the load
    batch_max_items: int = 512
    # micro-batches scored at once (api.service.batcher.MicroBatcher); VOC_BATCHES_IN_FLIGHT. Two on every engine:
    # while one is scored, the clients of the other send their next requests (8 clients with aspects: ~7% more
    # reviews/s than one on the int8 engine); a third only oversubscribes the cores.
    batches_in_flight: int = 2
    debug_log_text: bool = False  # VOC_DEBUG_LOG_TEXT=1 lets review text into logs (it holds personal data)
    store: bool = True  # VOC_STORE=0: do not keep analysed items (then /v1/stats has nothing to count)
    store_text: bool = True  # VOC_STORE_TEXT=0: keep analysed items without their (masked) text
    db_url: str | None = None  # VOC_DB_URL; None: sqlite:///$VOC_HOME/voc.db
    # VOC_TZ: how review times without an offset are read, and whose calendar days /v1/stats counts by
    tz: dt.tzinfo = field(default=dt.timezone.utc)
    # VOC_ALERT_WEBHOOK: an http(s) URL that emerging-complaint alerts are POSTed to (api/webhook.py); None: none
    alert_webhook: str | None = None

    @classmethod
    def from_env(cls, env=None, **overrides) -> "Settings":
        """The settings of `env` (default: os.environ), with `overrides` (command-line options; None: not given).
        A bad value raises ValueError naming its variable."""
        env = os.environ if env is None else env
        engine = env.get("VOC_ENGINE", "").strip() or None
        if engine is not None and engine not in ENGINES:
            raise ValueError(f"VOC_ENGINE={engine!r}: use {', '.join(ENGINES)}")
        values = dict(
            model=env.get("VOC_MODEL") or None,
            mode=env.get("VOC_MODE") or None,
            aspects=env.get("VOC_ASPECTS", "1") not in ("0", "false", "no"),
            engine=engine,
            taxonomy=env.get("VOC_TAXONOMY") or None,
            api_keys=tuple(_list(env.get("VOC_API_KEYS"))),
            admin_keys=tuple(_list(env.get("VOC_ADMIN_KEYS"))),
            cors_origins=tuple(_list(env.get("VOC_CORS_ORIGINS"))),
            debug_log_text=env.get("VOC_DEBUG_LOG_TEXT", "") in ("1", "true", "yes"),
            store=env.get("VOC_STORE", "1") not in ("0", "false", "no"),
            store_text=env.get("VOC_STORE_TEXT", "1") != "0",
            db_url=env.get("VOC_DB_URL") or None,
            batches_in_flight=_count(env, "VOC_BATCHES_IN_FLIGHT"),
            tz=_tz(env.get("VOC_TZ")),
            alert_webhook=_webhook(env.get("VOC_ALERT_WEBHOOK")),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["taxonomy"] is not None:
            values["taxonomy"] = Path(values["taxonomy"]).expanduser()
            if not values["taxonomy"].is_file():
                raise ValueError(f"taxonomy {values['taxonomy']}: no such file (VOC_TAXONOMY or --taxonomy)")
        return cls(**{k: v for k, v in values.items() if v is not None})  # unset: the field's default
