"""The micro-batcher (api/service/batcher.py), without a server."""
import asyncio
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from api.service.batcher import MicroBatcher


def test_micro_batcher_shares_concurrent_clients_between_two_batches_and_answers_each_its_own_results():
    """8 clients that come back one by one after each answer: two batches run at once, each waits for its
    share of the load (4 requests) instead of leaving with the first one or two, and nothing is lost."""
    lock, running, most, sizes = threading.Lock(), [0], [0], []

    def analyze(items):
        with lock:
            running[0] += 1; most[0] = max(most[0], running[0]); sizes.append(len(items))
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return [f"{i}:{t}" for i, t in items]

    async def main():
        batcher = MicroBatcher(analyze, ThreadPoolExecutor(2), wait_ms=15, max_items=512, concurrency=2)
        batcher.start()

        async def client(c):
            answers = []
            for k in range(10):
                await asyncio.sleep(0.001 * c)  # requests reach a server spread out, not in lockstep
                answers.append(await batcher.submit([(f"{c}-{k}", "x")]))
            return answers

        answers = await asyncio.gather(*(client(c) for c in range(8)))
        batcher.task.cancel()
        return answers

    answers = asyncio.run(main())
    assert answers == [[[f"{c}-{k}:x"] for k in range(10)] for c in range(8)]
    assert most[0] == 2 and sum(sizes) == 80
    assert statistics.median(sizes) == 4, sizes  # the load shared: 8 clients, 2 batches in flight


def test_micro_batcher_never_keeps_a_lone_client_waiting(monkeypatch):
    """One client at a time is scored at once, also right after a burst of concurrent requests has passed."""
    monkeypatch.setattr(MicroBatcher, "WINDOW", 0.05)

    async def main():
        batcher = MicroBatcher(lambda items: [t for _, t in items], ThreadPoolExecutor(2), wait_ms=300,
                               max_items=512, concurrency=2)
        batcher.start()
        await asyncio.gather(*(batcher.submit([(str(c), "x")]) for c in range(8)))  # a burst
        await asyncio.sleep(0.2)  # a quiet moment: more than two windows
        t = time.perf_counter()
        for k in range(5):
            assert await batcher.submit([(str(k), f"t{k}")]) == [f"t{k}"]
        elapsed = time.perf_counter() - t
        batcher.task.cancel()
        return elapsed

    assert asyncio.run(main()) < 0.3  # five requests; one wait for a partner would take 0.3 s alone
