"""Liveness and readiness: no key needed."""
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.service.dependencies import ServiceDep

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz():
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "the model is loading, or failed to load"}})
async def readyz(service: ServiceDep):
    a = service.analyzer
    body = {"ready": a is not None, "model": a.model_name if a else None}
    if service.error:
        body["error"] = service.error
    return JSONResponse(body, status_code=200 if a is not None else 503)
