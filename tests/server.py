"""The real server for tests: `voc serve` on a free loopback port, in a child process."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env_extra: dict, tmp: Path):
    port = free_port()
    env = {**os.environ, **env_extra}
    voc = Path(sys.executable).parent / "voc"
    log = open(tmp / f"server-{port}.log", "w")
    proc = subprocess.Popen([str(voc), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((tmp / f"server-{port}.log").read_text())
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return proc, base, tmp / f"server-{port}.log"
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not become ready")
