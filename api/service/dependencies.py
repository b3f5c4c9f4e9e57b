"""FastAPI dependencies: the service (analyzer, store, workers) and the API-key checks.

Every dependency here is `async`: a plain `def` dependency costs each request a hop to a worker thread."""
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.service.errors import ApiError, errors
from api.service.state import Service


async def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


def _check(request: Request, keys: tuple[str, ...]) -> None:
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if not token:
        raise ApiError(401, "unauthorized", "this server requires an API key: send `Authorization: Bearer <key>`")
    if not any(hmac.compare_digest(token, k) for k in keys):
        raise ApiError(403, "forbidden", "the API key is not valid")


async def require_key(request: Request) -> None:
    """/v1: an API key when VOC_API_KEYS is set."""
    settings = request.app.state.service.settings
    if settings.api_keys:
        _check(request, settings.api_keys)


def v1_router(**kwargs) -> APIRouter:
    """A /v1 resource's router: each of its routes needs an API key (when keys are set). The check is the router's
    own dependency, so that it is in each route's `dependencies`, which errors.key_check_first runs first."""
    return APIRouter(prefix="/v1", dependencies=[Depends(require_key)], responses=errors(401, 403), **kwargs)


async def require_admin(request: Request) -> None:
    """/v1/admin: an admin key (VOC_ADMIN_KEYS, else VOC_API_KEYS); admin is refused when neither is set."""
    settings = request.app.state.service.settings
    keys = settings.admin_keys or settings.api_keys
    if not keys:
        raise ApiError(403, "admin_disabled", "admin endpoints need VOC_ADMIN_KEYS (or VOC_API_KEYS) to be set")
    _check(request, keys)
