"""GET /v1/models: the registered models, which one serves, in which mode and on which engine."""

from api.service.dependencies import ServiceDep, v1_router
from api.service.schemas import ModelsResponse
from models import registry
from models.runtime.hardware import choose_engine

router = v1_router(tags=["models"])


@router.get("/models", response_model=ModelsResponse)
async def models(service: ServiceDep):
    settings, a = service.settings, service.analyzer
    engine = a.scorer.engine if a else (choose_engine(settings.engine) if settings.mode == "accurate" else "fast")
    return {"serving": a.model_name if a else (settings.model or registry.serving_name()), "mode": settings.mode,
            "engine": engine, "models": registry.list_models()}
