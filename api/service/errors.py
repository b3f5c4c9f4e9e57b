"""Errors: always `{"error": {"code", "message"}}` with a fitting status, never a 500 for bad input.

`ApiError` is what handlers and dependencies raise; `errors(...)` documents statuses in OpenAPI; `install` adds the
exception handlers that turn FastAPI's and Starlette's own errors into the same body.
"""
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.service.schemas import ErrorResponse


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


ERRORS = {
    400: "the body could not be read (e.g. it is not UTF-8)",
    401: "no API key: this server requires `Authorization: Bearer <key>`",
    403: "the API key is not valid (admin endpoints: or admin is disabled, without VOC_ADMIN_KEYS or VOC_API_KEYS)",
    404: "no such training job",
    409: "the server is not in a state to do it (storage disabled, a job already running, a job not running)",
    413: "a text, the batch or the body is over its limit",
    422: "invalid input: the message names the field",
    503: "not ready (the model is loading) or the database is unavailable: retry shortly",
}


def errors(*statuses: int) -> dict:
    """OpenAPI `responses` for these error statuses, all with the error body."""
    return {s: {"model": ErrorResponse, "description": ERRORS[s]} for s in statuses}


async def api_error(request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)


async def key_check_first(request: Request) -> Response | None:
    """The route's key check, for errors found before it ran: FastAPI reads and parses the body before the
    route's dependencies, and a caller without a valid key is told that (401/403), not what is wrong with
    the body."""
    try:
        for dep in getattr(request.scope.get("route"), "dependencies", ()):
            await dep.dependency(request)
    except ApiError as e:
        return await api_error(request, e)
    return None


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    if (denied := await key_check_first(request)) is not None:
        return denied
    errs = exc.errors()
    first = errs[0] if errs else {}
    where = ".".join(str(p) for p in first.get("loc", []) if p != "body")
    code = "invalid_json" if first.get("type") == "json_invalid" else "invalid_request"
    return JSONResponse(error_body(code, f"{where or 'body'}: {first.get('msg', 'invalid request')}"), status_code=422)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 400 and (denied := await key_check_first(request)) is not None:  # an unreadable body
        return denied
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)


def install(app: FastAPI) -> None:
    """The exception handlers that give every error the error body."""
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
