"""The HTTP API (FastAPI). Endpoints and error shapes follow shared/docs/contract.md.

- The analyzer loads once, in the background after start-up; /readyz says when it is ready.
- CPU work runs in one worker thread, off the event loop. Requests arriving within
  a few milliseconds of each other are scored together (micro-batching), so
  throughput grows with concurrency instead of collapsing.
- Every response carries X-Request-ID; logs hold ids, sizes and timings, never
  review text (unless VOC_DEBUG_LOG_TEXT=1).
"""
import asyncio
import datetime as dt
import hmac
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Union

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.settings import Settings
from models.registry import NAME_PATTERN
from models.schema import Analysis, ErrorInfo, ItemError

log = logging.getLogger("voc.api")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


class ErrorResponse(BaseModel):
    """Every error: a stable machine-readable `code` and a message for people."""
    error: ErrorInfo


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


# ---------------------------------------------------------------- schemas
class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=200)
    text: str
    time: str | None = Field(None, description="when the customer wrote it, ISO 8601 (2026-11-01, 2026-11-01T09:30:00+08:00; "
                                                    "no offset: VOC_TZ); /v1/stats counts by it (default: now)")


class ChatTurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(description="customer, agent or system (also 顾客/买家/客服, user/assistant)")
    text: str
    time: str | None = None


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "物流很快，但是衣服有色差，客服也不回消息"},
        {"items": [{"id": "a", "text": "Great value, arrived two days early.", "time": "2026-11-01"},
                   {"id": "b", "text": "質量太差了，用了兩天就壞了", "time": "2026-11-02T21:15:00+08:00"}]},
        {"chat": [{"role": "customer", "text": "我的快递三天了还没到"},
                  {"role": "agent", "text": "亲，帮您催一下"},
                  {"role": "customer", "text": "好的，谢谢，已经收到了"}]},
    ]})
    text: str | None = Field(None, description="one review")
    id: str | None = Field(None, max_length=200, description="caller's id for `text`")
    time: str | None = Field(None, description="when `text` or `chat` was written, as for items")
    items: list[Item] | None = Field(None, description="a batch of reviews (at most 256)")
    chat: Union[str, list[ChatTurnIn], None] = Field(None, description="a chat log: transcript text or a list of turns")


class TopicsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"texts": ["快递太慢了，等了一周", "颜色和图片不一样", "客服态度很差"], "negative_only": False, "seed": 42}]})
    texts: list[str] = Field(description="at least 20 distinct texts, at most 5,000")
    ids: list[str] | None = None
    timestamps: list[str] | None = Field(None, description="one per text: topic frequencies over time are returned")
    negative_only: bool = False
    seed: int = Field(42, ge=0, le=2**32 - 1, description="seed of every random step (0 to 2**32 - 1)")


class LabeledItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    label: Union[str, int] = Field(description="positive/neutral/negative, 1–5 stars, or 0/1")


_GOOD = ["外卖送得很快", "味道不错", "包装很用心", "分量很足", "骑手很有礼貌", "Fresh and hot.", "Great value.",
         "Arrived early.", "Tasty, will order again.", "Friendly rider."]
_BAD = ["汤洒了一半", "送了两个小时", "菜是凉的", "少送了一份", "太咸了", "The soup was cold.", "Rude rider.",
        "Missing items.", "Way too salty.", "Arrived an hour late."]


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"items": [{"text": t, "label": "positive"} for t in _GOOD] + [{"text": t, "label": "negative"} for t in _BAD],
         "epochs": 2}]})
    items: list[LabeledItem] = Field(description="labeled reviews: at least 20, of two classes or more (the 2 MB body "
                                                 "limit applies; use `voc train` for more)")
    name: str | None = Field(None, pattern=NAME_PATTERN, description="the new model's name (default voc-custom@DATE.TIME)")
    epochs: float = Field(2.0, gt=0, le=10)
    promote: bool = Field(False, description="serve the new model if its macro-F1 is not worse than the serving one's, "
                                             "measured on 15% of the items: at least 50, so about 330 items or more")
    force: bool = Field(False, description="with promote: serve it even if it is worse")


class AnalyzeResponse(BaseModel):
    results: list[Analysis]


class StatsGroup(BaseModel):
    key: Union[str, int, list[Union[str, int, None]], None] = Field(
        description="the group: a day (2026-11-01), aspect, topic id, label or lang; a [first, second] pair for two groupings")
    count: int
    mean_score: float = Field(description="mean sentiment score (by aspect: +1 per positive mention, −1 per negative)")
    share: dict[str, float] = Field(description="positive / neutral / negative shares of the group")


class StatsResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    by: str
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    tz: str = Field(description="the time zone of the days")
    items: int = Field(description="stored reviews in the window (placeholders not included)")
    placeholders: int = Field(description="platform stand-ins for missing reviews (系统默认好评) in the window, counted apart")
    groups: list[StatsGroup]


class ModelsResponse(BaseModel):
    serving: str
    mode: str
    engine: str = Field(description="what runs the model: bf16 (the default on CPUs with AMX or AMD's AVX-512 BF16: OpenVINO, "
                                    "bf16 matrix products), ov-int8 (the default on other Intel CPUs with AVX-512 VNNI: OpenVINO, "
                                    "int8 weights and per-token activations), int8 (the default elsewhere: per-token int8 on ONNX "
                                    "Runtime), fp32 (VOC_ENGINE=fp32, exact) "
                                    "or fast (fast mode's static vectors); scores differ by ~0.003 (int8 from fp32) and ~0.007 (bf16 from int8) on average")
    models: list[dict]


# ------------------------------------------------------------ batching
class MicroBatcher:
    """Collects (id, text) jobs and scores them in one call on a worker thread, `concurrency` batches at a time.

    Requests that queued while the model ran go together at once. A batch with fewer than `target` requests
    waits, for at most `wait_ms`, for more: `target` shares the recent peak of requests in the server (queued or
    being scored, over the last 0.5–1 s) equally among the batches in flight. Concurrent clients come back
    together, but their next requests reach the event loop one by one over a few ms; without the wait a batch
    left as soon as a slot was free. Measured with 8 clients, 2 in flight (session 16): batches were mostly of 1
    or 2 requests (mean 2.3) and served 60–70 reviews/s; waiting for 4 gives batches of 4 and 78–81 reviews/s,
    p99 182–222 → 158–181 ms. A lone client never waits (its target is 1), nor does one after a quiet second.

    Two batches in flight (`Settings.batches_in_flight`): while one is scored, the clients of the other send
    their next requests and those start on the second worker instead of waiting for the first (the model's
    calls share one pool of single-thread workers, so two batches never oversubscribe the cores). Measured with 8
    clients on short reviews, sentiment only: 110 → 127 reviews/s, p99 136 → 102 ms."""

    WINDOW = 0.5  # seconds: the load (`target`) is the peak over the current and the previous window

    def __init__(self, analyze, executor: ThreadPoolExecutor, wait_ms: float, max_items: int, concurrency: int = 1):
        self.analyze, self.executor = analyze, executor
        self.wait, self.max_items = wait_ms / 1000, max_items
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.concurrency = concurrency
        self.running: set[asyncio.Task] = set()
        self.in_server = self.peak = self.peak_before = 0  # requests queued or being scored (see _count)
        self.window_start = 0.0

    def _count(self, delta: int) -> None:
        """Requests in the server, and their peak in this window and the one before."""
        now = time.monotonic()
        self.in_server += delta
        if now - self.window_start > self.WINDOW:  # a new window; one that ended long ago says nothing of now
            self.peak_before = self.peak if now - self.window_start <= 2 * self.WINDOW else 0
            self.peak, self.window_start = self.in_server, now
        self.peak = max(self.peak, self.in_server)

    @property
    def target(self) -> int:
        """Requests a batch waits for: an equal share of the recent peak for each batch in flight."""
        return -(-max(self.peak, self.peak_before) // self.concurrency)

    def start(self):
        self.free = asyncio.Semaphore(self.concurrency)
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, items: list[tuple[str, str]]) -> list:
        fut = asyncio.get_running_loop().create_future()
        self._count(1)
        try:
            await self.queue.put((items, fut))
            return await fut
        finally:
            self._count(-1)

    async def _run(self):
        loop = asyncio.get_running_loop()
        while True:
            await self.free.acquire()
            jobs = [await self.queue.get()]
            n = len(jobs[0][0])
            while n < self.max_items and not self.queue.empty():  # everything that queued while the model ran
                job = self.queue.get_nowait()
                jobs.append(job); n += len(job[0])
            deadline = loop.time() + self.wait
            while n < self.max_items and len(jobs) < self.target:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
                jobs.append(job); n += len(job[0])
            task = loop.create_task(self._serve(jobs))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    async def _serve(self, jobs):
        try:
            flat = [it for items, _ in jobs for it in items]
            try:
                results = await asyncio.get_running_loop().run_in_executor(self.executor, self.analyze, flat)
            except Exception as e:  # a model failure fails these requests, not the batcher
                for _, fut in jobs:
                    if not fut.done():
                        fut.set_exception(e)
                return
            k = 0
            for items, fut in jobs:
                if not fut.done():
                    fut.set_result(results[k:k + len(items)])
                k += len(items)
        finally:
            self.free.release()


# ---------------------------------------------------------- middleware
class RequestContext:
    """Request id, body-size limit and access log, as plain ASGI middleware.

    Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`) runs the app in a task group with
    memory streams for every request; on the event loop it was the largest single cost of a request
    (py-spy, 8 clients, sentiment only)."""

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


# ------------------------------------------------------------- the docs
DOCS_ASSETS = "/docs-assets"


def serve_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) with its JavaScript, CSS and icon served from here (FastAPI's "self-hosting JavaScript and
    CSS for docs"): by default they come from a CDN, and offline the page is blank. The files are fastapi-offline's
    copy of Swagger UI 5 (swagger-ui-bundle has Swagger UI 4, which cannot read the OpenAPI 3.1 document FastAPI
    writes). There is no /redoc: ReDoc fetches its logo from its maker's CDN whatever it is given."""
    from importlib.resources import files

    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request):
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=root + app.openapi_url, title=app.title + " - docs",
                                   swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png")


# ------------------------------------------------------------- the app
def create_app(settings: Settings | None = None, analyzer=None) -> FastAPI:
    """`analyzer` may be passed in (tests, embedding); otherwise it is loaded from `settings` after start-up."""
    settings = settings or Settings.from_env()
    executor = ThreadPoolExecutor(max_workers=settings.batches_in_flight, thread_name_prefix="voc-model")
    db_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voc-db")  # storing never delays scoring
    topic_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voc-topics")
    state = {"analyzer": analyzer, "error": None, "batcher": None, "store": None, "jobs": None}

    def load():
        try:
            from models.analyzer import Analyzer

            t = time.time()
            analyzer = Analyzer.load(settings.model, mode=settings.mode, aspects=settings.aspects)
            analyzer.warm_up()  # /readyz turns true only once the first request will be fast too
            state["analyzer"] = analyzer
            log.info("model %s loaded in %.1fs", state["analyzer"].model_name, time.time() - t)
        except Exception as e:  # reported by /readyz
            log.exception("model failed to load")
            state["error"] = f"{type(e).__name__}: {e}"

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.store:
            from api.store import Store

            state["store"] = Store(settings.db_url)  # runs migrations; a bad VOC_DB_URL stops start-up here
        if state["analyzer"] is None:
            threading.Thread(target=load, daemon=True, name="voc-load").start()
        batcher = MicroBatcher(lambda items: state["analyzer"].analyze(items), executor,
                               settings.batch_wait_ms, settings.batch_max_items,
                               settings.batches_in_flight)
        batcher.start()
        state["batcher"] = batcher
        yield
        batcher.task.cancel()
        executor.shutdown(wait=False, cancel_futures=True)
        db_writer.shutdown(wait=True)

    app = FastAPI(title="VoC Analyzer API", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Sentiment, aspects and complaint topics for Chinese and English customer feedback.")
    serve_docs(app)
    app.state.settings = settings
    app.state.voc = state
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"])

    # --- errors: always {"error": {"code", "message"}}, never a 500 for bad input
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)

    async def key_check_first(request: Request) -> Response | None:
        """The route's key check, for errors found before it ran: FastAPI reads and parses the body before the
        route's dependencies, and a caller without a valid key is told that (401/403), not what is wrong with
        the body."""
        try:
            for dep in getattr(request.scope.get("route"), "dependencies", ()):
                await dep.dependency(request)
        except ApiError as e:
            return await _api_error(request, e)
        return None

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        if (denied := await key_check_first(request)) is not None:
            return denied
        errs = exc.errors()
        first = errs[0] if errs else {}
        where = ".".join(str(p) for p in first.get("loc", []) if p != "body")
        code = "invalid_json" if first.get("type") == "json_invalid" else "invalid_request"
        return JSONResponse(error_body(code, f"{where or 'body'}: {first.get('msg', 'invalid request')}"), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400 and (denied := await key_check_first(request)) is not None:  # an unreadable body
            return denied
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)

    # --- dependencies
    def _check(request: Request, keys: tuple[str, ...]):
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token:
            raise ApiError(401, "unauthorized", "this server requires an API key: send `Authorization: Bearer <key>`")
        if not any(hmac.compare_digest(token, k) for k in keys):
            raise ApiError(403, "forbidden", "the API key is not valid")

    # async, like every dependency here: a plain `def` dependency costs each request a hop to a worker thread
    async def require_key(request: Request):
        if settings.api_keys:
            _check(request, settings.api_keys)

    async def require_admin(request: Request):
        keys = settings.admin_keys or settings.api_keys
        if not keys:
            raise ApiError(403, "admin_disabled", "admin endpoints need VOC_ADMIN_KEYS (or VOC_API_KEYS) to be set")
        _check(request, keys)

    def ready_analyzer():  # called, not a dependency
        if state["analyzer"] is None:
            raise ApiError(503, "not_ready", state["error"] or "the model is still loading; retry shortly (see /readyz)")
        return state["analyzer"]

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_key)], responses=errors(401, 403))
    admin = {"tags": ["admin"], "dependencies": [Depends(require_admin)]}

    # --- routes
    @app.get("/healthz", tags=["ops"])
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "the model is loading, or failed to load"}})
    async def readyz():
        a = state["analyzer"]
        body = {"ready": a is not None, "model": a.model_name if a else None}
        if state["error"]:
            body["error"] = state["error"]
        return JSONResponse(body, status_code=200 if a is not None else 503)

    async def stored(fn, *args):
        """`fn(*args)` on the database thread. A database failure is the request's failure (503), so an analysis the
        client was told succeeded is never missing from /v1/stats; its log line never holds review text."""
        try:
            return await asyncio.get_running_loop().run_in_executor(db_writer, fn, *args)
        except Exception as e:  # noqa: BLE001 — any driver's error: locked, gone, full, unreachable
            first = str(e).splitlines()[0] if str(e) else ""  # the statement and its parameters come on later lines
            log.error("database call %s failed: %s: %s", getattr(fn, "__name__", fn), type(e).__name__, first[:300])
            raise ApiError(503, "storage_unavailable", "the database is unavailable; nothing was stored, retry shortly")

    async def remember(results: list, reviewed: list | None = None):
        if state["store"] is not None and results:
            await stored(state["store"].save, results, None, reviewed)

    def json_results(results: list[Analysis]) -> Response:
        """The response, serialised once by pydantic's JSON encoder: returning the objects would have FastAPI
        validate them again against `response_model` (which stays for the OpenAPI document)."""
        return Response(AnalyzeResponse(results=results).model_dump_json(exclude_none=True), media_type="application/json")

    def _check_text(text: str, where: str):
        if len(text) > settings.max_text_chars:
            raise ApiError(413, "text_too_long", f"{where} has {len(text):,} characters; the limit is {settings.max_text_chars:,}")
        if not text.strip():
            raise ApiError(422, "empty_text", f"{where} is empty")

    def review_times(values: list[str | None], where: list[str]) -> list[dt.datetime | None]:
        """Each item's `time`, checked before any scoring: a bad one is the caller's error, not a lost trend point."""
        from api.store import check_review_time, parse_time

        out = []
        for value, name in zip(values, where):
            try:
                out.append(check_review_time(parse_time(value, settings.tz)) if value is not None else None)
            except ValueError as e:
                raise ApiError(422, "invalid_time", f"{name}: {e}")
        return out

    @v1.post("/analyze", response_model=AnalyzeResponse, response_model_exclude_none=True, tags=["analysis"],
             responses=errors(400, 413, 422, 503))
    async def analyze(req: AnalyzeRequest):
        given = [k for k in ("text", "items", "chat") if getattr(req, k) is not None]
        if len(given) != 1:
            raise ApiError(422, "invalid_request", "send exactly one of `text`, `items` or `chat`")
        if req.items is not None and req.time is not None:
            raise ApiError(422, "invalid_request", "`time` goes on each item of `items`")
        analyzer = ready_analyzer()
        if req.chat is not None:
            from nlp.document import TextError

            reviewed = review_times([req.time], ["time"])
            log_in = req.chat if isinstance(req.chat, str) else [t.model_dump() for t in req.chat]
            total = len(log_in) if isinstance(log_in, str) else sum(len(t["text"]) for t in log_in)
            if total > settings.max_text_chars * 4:
                raise ApiError(413, "text_too_long", f"chat log has {total:,} characters; the limit is {settings.max_text_chars * 4:,}")
            loop = asyncio.get_running_loop()
            try:
                res = await loop.run_in_executor(executor, analyzer.analyze_chat, log_in, req.id or "0")
            except TextError as e:
                raise ApiError(422, e.code, str(e))
            await remember([res], reviewed)
            return json_results([res])
        if req.text is not None:
            pairs = [(req.id or "0", req.text)]
            _check_text(req.text, "text")
            reviewed = review_times([req.time], ["time"])
        else:
            if len(req.items) > settings.max_items:
                raise ApiError(413, "too_many_items", f"{len(req.items)} items; the limit is {settings.max_items} per request")
            if not req.items:
                raise ApiError(422, "empty_batch", "items is empty")
            pairs = [(it.id if it.id is not None else str(i), it.text) for i, it in enumerate(req.items)]
            for i, (_, text) in enumerate(pairs):
                _check_text(text, f"items[{i}].text")
            reviewed = review_times([it.time for it in req.items], [f"items[{i}].time" for i in range(len(req.items))])
        if settings.debug_log_text:  # opt-in only: reviews carry personal data
            log.info("analyze texts: %s", [t[:200] for _, t in pairs])
        results = await state["batcher"].submit(pairs)
        bad = [r for r in results if isinstance(r, ItemError)]
        if bad:
            raise ApiError(422, bad[0].error.code, f"item {bad[0].id!r}: {bad[0].error.message}")
        await remember(results, reviewed)
        return json_results(results)

    @v1.get("/stats", tags=["analysis"], response_model=StatsResponse, responses=errors(409, 422, 503))
    async def stats(by: str = "day", from_: str | None = Query(None, alias="from"), to: str | None = None,
                    tz: str | None = Query(None, description="time zone of the days and of from/to without an offset: "
                                                             "+08:00 or Asia/Shanghai (default VOC_TZ, else UTC)")):
        """Counts and sentiment shares over stored items, by day, aspect, topic, label or lang, or by two of them
        (`by=day,aspect`: each touchpoint's trend). Items count at their review time (`time` when they were sent,
        else when they were analysed); from/to are ISO dates or times."""
        from api.store import groupings, parse_time, parse_tz

        if state["store"] is None:
            raise ApiError(409, "storage_disabled", "this server does not store analyses (VOC_STORE=0)")
        try:
            groupings(by)
        except ValueError as e:
            raise ApiError(422, "invalid_request", str(e))
        try:
            zone = parse_tz(tz) if tz is not None else settings.tz
        except ValueError as e:
            raise ApiError(422, "invalid_request", f"tz: {e}")
        def parse(value, name):
            try:
                return parse_time(value, zone) if value is not None else None
            except ValueError as e:
                raise ApiError(422, "invalid_request", f"{name}: {e}")
        start, end = parse(from_, "from"), parse(to, "to")
        return await stored(state["store"].stats, start, end, by, zone)

    @v1.post("/topics", tags=["analysis"], responses=errors(400, 413, 422, 503))
    async def topics(req: TopicsRequest):
        """Fit BERTopic on the texts: topics with label, keywords, size, negative share, aspect, examples."""
        from models.topics import TopicError, discover

        max_texts = 5000
        if len(req.texts) > max_texts:
            raise ApiError(413, "too_many_items", f"{len(req.texts)} texts; the limit is {max_texts}")
        for i, t in enumerate(req.texts):
            _check_text(t, f"texts[{i}]")
        for name, values in (("ids", req.ids), ("timestamps", req.timestamps)):
            if values is not None and len(values) != len(req.texts):
                raise ApiError(422, "invalid_request", f"{name} must have one entry per text")
        analyzer = ready_analyzer()
        ids = req.ids or [str(i) for i in range(len(req.texts))]

        def run():
            results = analyzer.analyze(list(zip(ids, req.texts)))
            bad = [(i, r) for i, r in enumerate(results) if isinstance(r, ItemError)]
            if bad:  # e.g. a text that is only control characters: named, as /v1/analyze names its items
                listed = "; ".join(f"texts[{i}]: {r.error.message}" for i, r in bad[:5])
                raise ApiError(422, bad[0][1].error.code, listed + (f"; and {len(bad) - 5} more" if len(bad) > 5 else ""))
            labels = [r.sentiment.label for r in results]
            result, _ = discover(req.texts, ids, labels, seed=req.seed, negative_only=req.negative_only,
                                 timestamps=req.timestamps)
            return result.to_json(ids)

        try:  # a topic fit takes seconds to minutes: its own thread, so scoring requests keep flowing
            return await asyncio.get_running_loop().run_in_executor(topic_worker, run)
        except TopicError as e:
            raise ApiError(422, e.code, str(e))

    @v1.get("/models", response_model=ModelsResponse, tags=["models"])
    async def models():
        from models import registry

        from models.onnx_engine import default_engine

        a = state["analyzer"]
        engine = a.scorer.engine if a else (default_engine() if settings.mode == "accurate" else "fast")
        return {"serving": a.model_name if a else (settings.model or registry.serving_name()), "mode": settings.mode,
                "engine": engine, "models": registry.list_models()}

    def load_serving():
        from models.analyzer import Analyzer

        new = Analyzer.load(None, mode=settings.mode, aspects=settings.aspects)
        state["analyzer"] = new  # one assignment: requests see the old or the new model, never half of one
        log.info("now serving %s", new.model_name)
        return new

    @app.post("/v1/admin/reload", **admin, responses=errors(401, 403))
    async def reload():
        """Load the registry's serving model and swap it in; requests keep being served by the old one meanwhile."""
        new = await asyncio.get_running_loop().run_in_executor(None, load_serving)
        return {"serving": new.model_name}

    def training_jobs():
        if state["jobs"] is None:
            from api.jobs import TrainingJobs
            from models.paths import voc_home

            state["jobs"] = TrainingJobs(voc_home() / "jobs", on_promoted=load_serving)
        return state["jobs"]

    def job_call(fn, *args):
        from api.jobs import JobError

        try:
            return fn(*args)
        except JobError as e:
            raise ApiError(e.status, e.code, str(e))

    @app.post("/v1/admin/train", **admin, status_code=202, responses=errors(400, 401, 403, 409, 413, 422))
    async def start_training(req: TrainRequest):
        """Fine-tune the serving model on labeled reviews in a background process (`voc train`).

        Labels are validated first (422 listing unknown labels). Poll `GET /v1/admin/train/{id}`;
        with `promote`, a better model is served as soon as the job succeeds.
        """
        pairs = [(it.text, str(it.label)) for it in req.items]
        return job_call(training_jobs().start, pairs, req.name, req.epochs, req.promote, req.force)

    @app.get("/v1/admin/train", **admin, responses=errors(401, 403))
    async def list_training():
        return {"jobs": job_call(training_jobs().list)}

    @app.get("/v1/admin/train/{job_id}", **admin, responses=errors(401, 403, 404, 422))
    async def training_status(job_id: str):
        return job_call(training_jobs().get, job_id)

    @app.delete("/v1/admin/train/{job_id}", **admin, responses=errors(401, 403, 404, 409, 422))
    async def cancel_training(job_id: str):
        """Stop a running job; the serving model is untouched."""
        return job_call(training_jobs().cancel, job_id)

    app.include_router(v1)
    return app
