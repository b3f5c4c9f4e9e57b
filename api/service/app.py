"""The app factory: assembles the HTTP API from its parts. Endpoints and error shapes follow docs/contract.md.

- state.Service: the analyzer (loaded in the background after start-up; /readyz says when it is ready), the store,
  the micro-batcher (batcher.py: requests arriving while the model runs are scored together) and worker threads;
- routers/: one per resource; dependencies.py: the service and the API-key checks;
- schemas.py, errors.py, middleware.py (request id, body limit, access log), docs.py (/docs served offline).

Every response carries X-Request-ID; logs hold ids, sizes and timings, never review text (unless VOC_DEBUG_LOG_TEXT=1).
"""
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.service import errors
from api.service.docs import serve_docs
from api.service.middleware import RequestContext
from api.service.routers import admin, analyze, dashboard, models, monitoring, ops, stats, topics
from api.service.state import Service
from api.settings import Settings
from models.analyzer import Analyzer
from models.runtime.hardware import blas_on_one_thread


def create_app(settings: Settings | None = None, analyzer: Analyzer | None = None) -> FastAPI:
    """The API for `settings` (default: Settings.from_env()). `analyzer` may be passed in (tests, embedding);
    otherwise it is loaded from `settings` after start-up."""
    settings = settings or Settings.from_env()
    blas_on_one_thread()  # the server's process: numpy beside the model calls (models.runtime.hardware)
    service = Service(settings, analyzer)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        yield
        service.stop()

    app = FastAPI(title="VoC Analyzer API", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Sentiment, aspects and complaint topics for Chinese and English customer feedback.")
    app.state.service = service
    serve_docs(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"])
    errors.install(app)
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)
    # each router carries its own key check (dependencies.v1_router, require_admin): see errors.key_check_first
    for router in (ops.router, admin.router, analyze.router, stats.router, monitoring.router, topics.router,
                   models.router, dashboard.router):
        app.include_router(router)
    return app
