"""Request context as plain ASGI middleware: every response carries X-Request-ID, bodies over the limit are refused
before they are read, each request is logged with its id, size and timing (never review text), and a bug answers
500 with the request id while the trace goes to the log."""
import logging
import time
import uuid

from fastapi.responses import JSONResponse

from api.service.errors import error_body

log = logging.getLogger("voc.api")


class RequestContext:
    """Request id, body-size limit and access log, as plain ASGI middleware.

    Not Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`): that runs the app in a task group with
    memory streams for every request, the largest single cost of a request on the event loop (py-spy, 8 clients,
    sentiment only)."""

    def __init__(self, app, max_body_bytes: int):
        self.app, self.max_body = app, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:100] or uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        t, status, started = time.perf_counter(), 500, False

        async def send_with_id(message):
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                await self._too_large(f"request body is {int(length):,} bytes; the limit is {self.max_body:,} bytes",
                                      scope, receive, send_with_id)
            elif scope["method"] == "POST" and length is None:  # chunked upload: measure it first
                body = bytearray()
                while True:
                    message = await receive()
                    body += message.get("body", b"")
                    if len(body) > self.max_body:
                        return await self._too_large(f"request body exceeds the limit of {self.max_body:,} bytes",
                                                     scope, receive, send_with_id)
                    if message["type"] != "http.request" or not message.get("more_body"):
                        break
                replayed = False

                async def replay():
                    nonlocal replayed
                    if replayed:
                        return await receive()
                    replayed = True
                    return {"type": "http.request", "body": bytes(body), "more_body": False}

                await self.app(scope, replay, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:  # a bug, not bad input: a 500 with the request id, and the trace in the log only
            log.exception("request %s failed", rid)
            if not started:
                await JSONResponse(error_body("internal_error", "the server failed; the request id names it in the logs"),
                                   status_code=500)(scope, receive, send_with_id)
        finally:
            log.info("%s %s %s %d %.1fms", rid, scope["method"], scope["path"], status, (time.perf_counter() - t) * 1000)

    @staticmethod
    async def _too_large(message: str, scope, receive, send):
        await JSONResponse(error_body("body_too_large", message), status_code=413)(scope, receive, send)
