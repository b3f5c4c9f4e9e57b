"""POST /v1/analyze: one text, a batch of items, or a chat log."""
import asyncio
import logging

from fastapi.responses import Response

from api.service.dependencies import ServiceDep, v1_router
from api.service.errors import ApiError, errors
from api.service.limits import check_text, item_groups, review_times
from api.service.schemas import AnalyzeRequest, AnalyzeResponse
from models.flags import DuplicateFinder, rating_mismatch, with_flags
from models.schema import Analysis, ItemError
from nlp.document import TextError

log = logging.getLogger("voc.api")
router = v1_router(tags=["analysis"])


def json_results(results: list[Analysis]) -> Response:
    """The response, serialised once by pydantic's JSON encoder: returning the objects would have FastAPI
    validate them again against `response_model` (which stays for the OpenAPI document)."""
    return Response(AnalyzeResponse(results=results).model_dump_json(exclude_none=True), media_type="application/json")


@router.post("/analyze", response_model=AnalyzeResponse, response_model_exclude_none=True,
             responses=errors(400, 413, 422, 503))
async def analyze(req: AnalyzeRequest, service: ServiceDep):
    settings = service.settings
    given = [k for k in ("text", "items", "chat") if getattr(req, k) is not None]
    if len(given) != 1:
        raise ApiError(422, "invalid_request", "send exactly one of `text`, `items` or `chat`")
    if req.roles is not None and req.chat is None:
        raise ApiError(422, "invalid_request", "`roles` goes with `chat`")
    if req.items is not None and (req.time is not None or req.groups is not None):
        raise ApiError(422, "invalid_request", "`time` and `groups` go on each item of `items`")
    analyzer = service.ready_analyzer()
    if req.chat is not None:
        reviewed = review_times([req.time], ["time"], settings.tz)
        groups = item_groups([req.groups], ["groups"])
        log_in = req.chat if isinstance(req.chat, str) else [t.model_dump() for t in req.chat]
        total = len(log_in) if isinstance(log_in, str) else sum(len(t["text"]) for t in log_in)
        if total > settings.max_text_chars * 4:
            raise ApiError(413, "text_too_long", f"chat log has {total:,} characters; the limit is {settings.max_text_chars * 4:,}")
        loop = asyncio.get_running_loop()
        try:
            res = await loop.run_in_executor(service.executor, analyzer.analyze_chat, log_in, req.id or "0", req.roles)
        except TextError as e:
            raise ApiError(422, e.code, str(e))
        await service.remember([res], reviewed, groups)
        return json_results([res])
    if req.text is not None:
        pairs = [(req.id or "0", req.text)]
        check_text(req.text, "text", settings)
        reviewed = review_times([req.time], ["time"], settings.tz)
        groups = item_groups([req.groups], ["groups"])
    else:
        if len(req.items) > settings.max_items:
            raise ApiError(413, "too_many_items", f"{len(req.items)} items; the limit is {settings.max_items} per request")
        if not req.items:
            raise ApiError(422, "empty_batch", "items is empty")
        pairs = [(it.id if it.id is not None else str(i), it.text) for i, it in enumerate(req.items)]
        for i, (_, text) in enumerate(pairs):
            check_text(text, f"items[{i}].text", settings)
        reviewed = review_times([it.time for it in req.items], [f"items[{i}].time" for i in range(len(req.items))],
                                settings.tz)
        groups = item_groups([it.groups for it in req.items], [f"items[{i}].groups" for i in range(len(req.items))])
    if settings.debug_log_text:  # opt-in only: reviews carry personal data
        log.info("analyze texts: %s", [t[:200] for _, t in pairs])
    results = await service.batcher.submit(pairs)
    bad = [r for r in results if isinstance(r, ItemError)]
    if bad:
        raise ApiError(422, bad[0].error.code, f"item {bad[0].id!r}: {bad[0].error.message}")
    if req.items is not None:
        results = batch_flags(results, [it.rating for it in req.items])
    await service.remember(results, reviewed, groups)
    return json_results(results)


def batch_flags(results: list[Analysis], ratings: list[float | None]) -> list[Analysis]:
    """The flags that need more than one text: an item's rating, and copy-paste repeats among the request's items.
    A scale is 0–10 when any rating of the request is above 5."""
    scale = 10 if any(r is not None and r > 5 for r in ratings) else 5
    dupes = DuplicateFinder()
    return [with_flags(res, [None if res.placeholder else dupes.check(res.id, res.text),
                             rating_mismatch(res, rating, scale)]) for res, rating in zip(results, ratings)]
