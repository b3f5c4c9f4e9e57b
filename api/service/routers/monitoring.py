"""What the dashboard watches besides /v1/stats: emerging-complaint alerts, flagged reviews, conversation KPIs."""
import asyncio
from dataclasses import replace
from functools import partial

from fastapi import Query

from api.service.dependencies import ServiceDep, v1_router
from api.service.errors import ApiError, errors
from api.storage.times import parse_time, parse_tz
from models.alerts import PERIODS, Options, detect

router = v1_router(tags=["monitoring"])


def _store(service):
    if service.store is None:
        raise ApiError(409, "storage_disabled", "this server does not store analyses (VOC_STORE=0)")
    return service.store


@router.get("/alerts", responses=errors(409, 422, 503))
async def alerts(service: ServiceDep,
                 period: str | None = Query(None, description="day, week or month (default: from the stored span)"),
                 to: str | None = Query(None, description="only items reviewed before this ISO date or time"),
                 tz: str | None = Query(None, description="time zone of the calendar periods (default VOC_TZ)"),
                 history: bool = Query(False, description="test every period against the ones before it, not only the latest"),
                 min_negative: int = Query(Options.min_negative, ge=1, le=100_000),
                 fdr: float = Query(Options.fdr, gt=0, lt=1),
                 notify: bool = Query(False, description="also POST new alerts to VOC_ALERT_WEBHOOK (in the background)")):
    """Emerging complaints: per aspect, topic, group value (shop=…) and aspect within a group value, the latest
    calendar period against the earlier ones (Fisher's exact test on the negative share, the conditional Poisson
    test on negatives per review; Benjamini–Hochberg over all tests). Each alert carries its size, the change, the
    p-value and three quotes."""
    store = _store(service)
    if period is not None and period not in PERIODS:
        raise ApiError(422, "invalid_request", f"period must be one of {', '.join(PERIODS)}")
    try:
        zone = parse_tz(tz) if tz is not None else service.settings.tz
        end = parse_time(to, zone) if to is not None else None
    except ValueError as e:
        raise ApiError(422, "invalid_request", str(e))
    if notify and service.notifier is None:
        raise ApiError(409, "webhook_disabled", "notify=1 needs VOC_ALERT_WEBHOOK to be set")
    options = Options(period=period, fdr=fdr, min_negative=min_negative)
    items, chosen = await service.stored(store.alert_items, zone, period, end, options.max_baseline_periods + 1)
    # seconds of counting and tests for a large store: off the event loop
    result = await asyncio.get_running_loop().run_in_executor(
        None, partial(detect, items, replace(options, period=chosen), zone, history=history))
    result["tz"] = str(zone)
    if notify:
        result["notified"] = service.notifier.notify(result)
    return result


@router.get("/flagged", responses=errors(409, 503))
async def flagged(service: ServiceDep, limit: int = Query(50, ge=1, le=500)):
    """The latest stored reviews with trust flags, and how many carry each flag."""
    return await service.stored(_store(service).flagged, limit)


@router.get("/conversations/kpis", responses=errors(409, 503))
async def conversation_kpis(service: ServiceDep):
    """Stored conversations: count, satisfaction shares, resolved and escalated shares."""
    return await service.stored(_store(service).conversation_kpis)


@router.get("/groups", responses=errors(409, 503))
async def group_names(service: ServiceDep):
    """The group columns items were stored with (`groups` of POST /v1/analyze, `voc score --store --by`)."""
    return {"groups": await service.stored(_store(service).group_names)}


@router.get("/pain_points", responses=errors(409, 422, 503))
async def pain_points(service: ServiceDep, from_: str | None = Query(None, alias="from"),
                      limit: int = Query(10, ge=1, le=50)):
    """Aspects ranked by negative mentions × negative share, each with three distinct masked quotes."""
    try:
        start = parse_time(from_, service.settings.tz) if from_ is not None else None
    except ValueError as e:
        raise ApiError(422, "invalid_request", f"from: {e}")
    return {"pain_points": await service.stored(_store(service).pain_points, start, limit)}
