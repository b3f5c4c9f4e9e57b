"""What the running service holds: its settings, the analyzer (loaded in the background after start-up), the store,
the micro-batcher, the training jobs, and the worker threads that keep model and database work off the event loop.
One `Service` per app (app.state.service); handlers reach it through dependencies.get_service."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from api.service.batcher import MicroBatcher
from api.service.errors import ApiError
from api.settings import Settings
from api.storage.store import Store
from api.training_jobs import TrainingJobs
from api.webhook import Notifier
from models.analyzer import Analyzer
from models.paths import voc_home

log = logging.getLogger("voc.api")


class Service:
    def __init__(self, settings: Settings, analyzer: Analyzer | None = None):
        """`analyzer` may be passed in (tests, embedding); otherwise it is loaded from `settings` after start-up."""
        self.settings = settings
        self.analyzer = analyzer  # replaced by one assignment: requests see the old or the new model, never half of one
        self.error: str | None = None  # why the analyzer failed to load (reported by /readyz)
        self.store: Store | None = None
        self.batcher: MicroBatcher | None = None
        self._jobs: TrainingJobs | None = None
        self.notifier = Notifier(settings.alert_webhook) if settings.alert_webhook else None  # GET /v1/alerts?notify=1
        self.executor = ThreadPoolExecutor(max_workers=settings.batches_in_flight, thread_name_prefix="voc-model")
        self.db_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voc-db")  # storing never delays scoring
        # a topic fit takes seconds to minutes: its own thread, so scoring requests keep flowing
        self.topic_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voc-topics")

    # --- lifespan
    def start(self) -> None:
        """Open the store (its migrations run here: a bad VOC_DB_URL stops start-up), start loading the analyzer in
        the background and start the micro-batcher. Runs on the event loop."""
        s = self.settings
        if s.store:
            self.store = Store(s.db_url, store_text=s.store_text)
        if self.analyzer is None:
            threading.Thread(target=self._load, daemon=True, name="voc-load").start()
        self.batcher = MicroBatcher(lambda items: self.analyzer.analyze(items), self.executor,
                                    s.batch_wait_ms, s.batch_max_items, s.batches_in_flight)
        self.batcher.start()

    def stop(self) -> None:
        self.batcher.task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.db_writer.shutdown(wait=True)

    def _load(self) -> None:
        try:
            t = time.time()
            analyzer = self.load_analyzer(self.settings.model)
            analyzer.warm_up()  # /readyz turns true only once the first request will be fast too
            self.analyzer = analyzer
            log.info("model %s loaded in %.1fs", analyzer.model_name, time.time() - t)
        except Exception as e:  # reported by /readyz
            log.exception("model failed to load")
            self.error = f"{type(e).__name__}: {e}"

    def load_analyzer(self, model: str | None) -> Analyzer:
        s = self.settings
        return Analyzer.load(model, mode=s.mode, aspects=s.aspects, taxonomy=s.taxonomy, engine=s.engine)

    def reload(self) -> Analyzer:
        """Load the registry's serving model and swap it in (admin reload, a promoted training job)."""
        new = self.load_analyzer(None)
        self.analyzer = new
        log.info("now serving %s", new.model_name)
        return new

    # --- what handlers use
    def ready_analyzer(self) -> Analyzer:
        if self.analyzer is None:
            raise ApiError(503, "not_ready", self.error or "the model is still loading; retry shortly (see /readyz)")
        return self.analyzer

    async def stored(self, fn, *args):
        """`fn(*args)` on the database thread. A database failure is the request's failure (503), so an analysis the
        client was told succeeded is never missing from /v1/stats; its log line never holds review text."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self.db_writer, fn, *args)
        except Exception as e:  # noqa: BLE001 — any driver's error: locked, gone, full, unreachable
            first = str(e).splitlines()[0] if str(e) else ""  # the statement and its parameters come on later lines
            log.error("database call %s failed: %s: %s", getattr(fn, "__name__", fn), type(e).__name__, first[:300])
            raise ApiError(503, "storage_unavailable", "the database is unavailable; nothing was stored, retry shortly")

    async def remember(self, results: list, reviewed: list | None = None, groups: list | None = None) -> None:
        """Store analyses for /v1/stats (when storing is on), with their review times and group values."""
        if self.store is not None and results:
            await self.stored(self.store.save, results, None, reviewed, groups)

    @property
    def jobs(self) -> TrainingJobs:
        """The training jobs, set up on first use (a server that never trains keeps no jobs folder)."""
        if self._jobs is None:
            self._jobs = TrainingJobs(voc_home() / "jobs", on_promoted=self.reload)
        return self._jobs
