"""POST /v1/topics: complaint topics (BERTopic) of the texts sent."""
import asyncio


from api.service.dependencies import ServiceDep, v1_router
from api.service.errors import ApiError, errors
from api.service.limits import check_text
from api.service.schemas import TopicsRequest
from models.runtime.embedder import shared_embedder
from models.schema import ItemError
from models.topics import TopicError, discover

MAX_TEXTS = 5000
router = v1_router(tags=["analysis"])


@router.post("/topics", responses=errors(400, 413, 422, 503))
async def topics(req: TopicsRequest, service: ServiceDep):
    """Fit BERTopic on the texts: topics with label, keywords, size, negative share, aspect, examples."""
    if len(req.texts) > MAX_TEXTS:
        raise ApiError(413, "too_many_items", f"{len(req.texts)} texts; the limit is {MAX_TEXTS}")
    for i, t in enumerate(req.texts):
        check_text(t, f"texts[{i}]", service.settings)
    for name, values in (("ids", req.ids), ("timestamps", req.timestamps)):
        if values is not None and len(values) != len(req.texts):
            raise ApiError(422, "invalid_request", f"{name} must have one entry per text")
    analyzer = service.ready_analyzer()
    ids = req.ids or [str(i) for i in range(len(req.texts))]

    def run():
        results = analyzer.analyze(list(zip(ids, req.texts)))
        bad = [(i, r) for i, r in enumerate(results) if isinstance(r, ItemError)]
        if bad:  # e.g. a text that is only control characters: named, as /v1/analyze names its items
            listed = "; ".join(f"texts[{i}]: {r.error.message}" for i, r in bad[:5])
            raise ApiError(422, bad[0][1].error.code, listed + (f"; and {len(bad) - 5} more" if len(bad) > 5 else ""))
        labels = [r.sentiment.label for r in results]
        result, _ = discover(req.texts, ids, labels, seed=req.seed, negative_only=req.negative_only,
                             timestamps=req.timestamps, embedder=shared_embedder(service.settings.engine))
        return result.to_json(ids)

    try:
        return await asyncio.get_running_loop().run_in_executor(service.topic_worker, run)
    except TopicError as e:
        raise ApiError(422, e.code, str(e))
