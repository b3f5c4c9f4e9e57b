"""GET /v1/stats: counts and sentiment shares of stored items, for a dashboard."""
from fastapi import Query

from api.service.dependencies import ServiceDep, v1_router
from api.service.errors import ApiError, errors
from api.service.schemas import StatsResponse
from api.storage.store import groupings
from api.storage.times import parse_time, parse_tz

router = v1_router(tags=["analysis"])


@router.get("/stats", response_model=StatsResponse, responses=errors(409, 422, 503))
async def stats(service: ServiceDep, by: str = "day", from_: str | None = Query(None, alias="from"),
                to: str | None = None,
                tz: str | None = Query(None, description="time zone of the days and of from/to without an offset: "
                                                         "+08:00 or Asia/Shanghai (default VOC_TZ, else UTC)")):
    """Counts and sentiment shares over stored items, by day, aspect, topic, label or lang, or by two of them
    (`by=day,aspect`: each touchpoint's trend). Items count at their review time (`time` when they were sent,
    else when they were analysed); from/to are ISO dates or times."""
    if service.store is None:
        raise ApiError(409, "storage_disabled", "this server does not store analyses (VOC_STORE=0)")
    try:
        groupings(by)
    except ValueError as e:
        raise ApiError(422, "invalid_request", str(e))
    try:
        zone = parse_tz(tz) if tz is not None else service.settings.tz
    except ValueError as e:
        raise ApiError(422, "invalid_request", f"tz: {e}")

    def parse(value, name):
        try:
            return parse_time(value, zone) if value is not None else None
        except ValueError as e:
            raise ApiError(422, "invalid_request", f"{name}: {e}")
    start, end = parse(from_, "from"), parse(to, "to")
    return await service.stored(service.store.stats, start, end, by, zone)
