"""Load test of the HTTP API from a second process, on loopback only.

    python benchmarks/api_load.py [--mode accurate|fast] [--no-aspects] [--seconds 15] [--url http://127.0.0.1:PORT]

Without --url it starts `voc serve` on a free loopback port (VOC_STORE=0, so the
database is not part of the measurement). First it measures the scorer's offline
rows/s on the same texts, then drives the server with 1, 8 and 32 concurrent
clients sending single reviews, and with 32-item batches; it prints p50/p95/p99
latency, requests/s and reviews/s. Every loop is bounded in requests and time.
"""
import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._data import SHARED, SETS  # noqa: E402


def short_reviews(n=2000):
    path = SHARED / SETS["zh"]
    if path.exists():
        rows = [json.loads(x)["text"] for x in path.open(encoding="utf-8")]
        rows = [t for t in rows if 10 <= len(t) <= 80]
    else:
        print("(shared dev set absent: using the bundled sample reviews)")
        import csv

        rows = [r["text"] for r in csv.DictReader((ROOT / "data/samples/reviews.csv").open(encoding="utf-8"))]
    random.Random(0).shuffle(rows)
    return (rows * (n // len(rows) + 1))[:n]


def offline_rate(texts, mode, aspects):
    from models.analyzer import Analyzer
    from models.runtime.hardware import blas_on_one_thread

    blas_on_one_thread()  # as the server's process does (api.service.app)
    analyzer = Analyzer.load(mode=mode, aspects=aspects)
    analyzer.analyze([(str(i), x) for i, x in enumerate(texts)])  # steady state, as the server is measured: the
    t = time.perf_counter()  # first pass pays page faults of the embedding table's rows (measured ~10–25% slower)
    analyzer.analyze([(str(i), x) for i, x in enumerate(texts)])
    return len(texts) / (time.perf_counter() - t)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


class Connection:
    """A minimal HTTP/1.1 keep-alive client (asyncio streams). The load generator shares this machine's 2 cores
    with the server; httpx's client cost ~2 ms of CPU per request (0.23 cores at 110 requests/s), which the
    server then lacked. This one costs a fraction of that; it still checks every status and result count."""

    def __init__(self, url: str):
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.reader = self.writer = None

    async def post_json(self, path: str, body: dict) -> tuple[int, dict]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        data = json.dumps(body, ensure_ascii=False).encode()
        self.writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                          % (path.encode(), self.host.encode(), len(data), data))
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, json.loads(await self.reader.readexactly(length))

    def close(self):
        if self.writer is not None:
            self.writer.close()


async def drive(url, texts, clients, batch, seconds, max_requests=5000):
    latencies, done = [], 0
    deadline = time.perf_counter() + seconds
    it = iter(range(10 ** 9))

    async def client():
        nonlocal done
        conn = Connection(url)
        try:
            while time.perf_counter() < deadline and done < max_requests:
                k = next(it)
                body = ({"text": texts[k % len(texts)]} if batch == 1 else
                        {"items": [{"id": str(j), "text": texts[(k * batch + j) % len(texts)]} for j in range(batch)]})
                t = time.perf_counter()
                status, answer = await conn.post_json("/v1/analyze", body)
                if status != 200 or len(answer["results"]) != batch:
                    raise RuntimeError(f"HTTP {status}: {str(answer)[:300]}")
                latencies.append(time.perf_counter() - t)
                done += 1
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - start


def start_server(mode, aspects):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "VOC_STORE": "0", "VOC_MODE": mode, "VOC_ASPECTS": "1" if aspects else "0"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "voc"), "serve", "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    sys.exit("server did not become ready")


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) of this process, or of `pid` (read from /proc; 0 where unavailable)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="accurate")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--url")
    ap.add_argument("--no-aspects", action="store_true", help="sentiment only, offline and in the server")
    args = ap.parse_args()
    aspects = not args.no_aspects
    texts = short_reviews()
    offline = offline_rate(texts[:600], args.mode, aspects)
    print(f"offline scorer ({args.mode}, aspects {'on' if aspects else 'off'}): {offline:.0f} rows/s, "
          f"median {statistics.median(map(len, texts)):.0f} chars")
    proc, url = (None, args.url) if args.url else start_server(args.mode, aspects)
    try:
        asyncio.run(drive(url, texts, 4, 1, 3))  # warm-up
        for clients, batch in ((1, 1), (8, 1), (32, 1), (1, 32), (8, 32)):
            cpu = cpu_seconds(None), cpu_seconds(proc.pid if proc else None)
            lat, elapsed = asyncio.run(drive(url, texts, clients, batch, args.seconds))
            client_cores = (cpu_seconds(None) - cpu[0]) / elapsed
            server_cores = (cpu_seconds(proc.pid) - cpu[1]) / elapsed if proc else float("nan")
            rps = len(lat) / elapsed
            # the load generator shares the machine's cores with the server: its CPU use is printed too
            print(f"{clients:3d} client(s) × {batch:2d} item(s): p50 {pct(lat, .5):7.1f} ms  p95 {pct(lat, .95):7.1f} ms  "
                  f"p99 {pct(lat, .99):7.1f} ms  {rps:7.1f} req/s  {rps * batch:7.1f} reviews/s "
                  f"({rps * batch / offline:.0%} of offline); CPU cores busy: server {server_cores:.2f}, "
                  f"load generator {client_cores:.2f}", flush=True)
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
