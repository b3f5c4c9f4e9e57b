"""The real server for tests: `voc serve` on a free loopback port, in a child process."""
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

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


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@contextmanager
def browser_page():
    """A tab of Debian's chromium driven by Playwright (its own browser download is not used), and the list of
    every URL the tab requests."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: scripts/bootstrap.sh test installs it"
    requested = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])  # CI runs as root
        try:
            page = browser.new_page()
            page.on("request", lambda req: requested.append(req.url))
            yield page, requested
        finally:
            browser.close()


def off_host(requested: list[str], host: str) -> list[str]:
    """The requested URLs that left `host` (data: and blob: URLs stay in the page)."""
    return [u for u in requested if urlparse(u).scheme not in ("data", "blob") and urlparse(u).netloc != host]
