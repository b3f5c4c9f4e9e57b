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

    analyzer = Analyzer.load(mode=mode, aspects=aspects)
    analyzer.analyze([("w", texts[0])])
    t = time.perf_counter()
    analyzer.analyze([(str(i), x) for i, x in enumerate(texts)])
    return len(texts) / (time.perf_counter() - t)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def drive(url, texts, clients, batch, seconds, max_requests=5000):
    latencies, done = [], 0
    deadline = time.perf_counter() + seconds
    it = iter(range(10 ** 9))

    async def client(http):
        nonlocal done
        while time.perf_counter() < deadline and done < max_requests:
            k = next(it)
            body = ({"text": texts[k % len(texts)]} if batch == 1 else
                    {"items": [{"id": str(j), "text": texts[(k * batch + j) % len(texts)]} for j in range(batch)]})
            t = time.perf_counter()
            r = await http.post(url + "/v1/analyze", json=body)
            r.raise_for_status()
            latencies.append(time.perf_counter() - t)
            done += 1

    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=clients)) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return latencies, elapsed


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
