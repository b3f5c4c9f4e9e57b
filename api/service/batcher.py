"""Micro-batching: requests that arrive while the model runs are scored together, so throughput grows with
concurrency instead of collapsing."""
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor


class MicroBatcher:
    """Collects (id, text) jobs and scores them in one call on a worker thread, `concurrency` batches at a time.

    Requests that queued while the model ran go together at once. A batch with fewer than `target` requests
    waits, for at most `wait_ms`, for more: `target` shares the recent peak of requests in the server (queued or
    being scored, over the last 0.5–1 s) equally among the batches in flight. Concurrent clients come back
    together, but their next requests reach the event loop one by one over a few ms; a batch that left as soon
    as a slot was free would hold one or two requests, and small model calls cost far more per review (8 clients,
    2 in flight: batches of 4 serve ~20% more reviews/s than batches of 1–2, at a lower p99). A lone client never
    waits (its target is 1), nor does one after a quiet second.

    Two batches in flight (`Settings.batches_in_flight`): while one is scored, the clients of the other send
    their next requests and those start on the second worker instead of waiting for the first (the model's
    calls share one pool of single-thread workers, so two batches never oversubscribe the cores)."""

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
