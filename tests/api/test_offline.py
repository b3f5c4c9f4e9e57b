"""The product works without a network and reaches for none: an analysis opens no connection beyond this machine
(OpenVINO's telemetry did: a DNS query, and ~/intel written), and /docs renders in a real browser from
files the server itself serves (Swagger UI came from a CDN: offline, a blank page)."""
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.server import browser_page, off_host, start_server

VOC = str(Path(sys.executable).parent / "voc")

GUARD = '''
import ipaddress, os, socket

def _record(what):
    with open(os.environ["VOC_TEST_NET_LOG"], "a") as f:
        f.write(what + "\\n")

def _local(host):
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False

def _guarded(real, kind):
    def call(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            _record(f"{kind} {address}")
            raise OSError(f"the test blocks {kind} to {address}")
        return real(self, address, *args)
    return call

socket.socket.connect = _guarded(socket.socket.connect, "connect")
socket.socket.connect_ex = _guarded(socket.socket.connect_ex, "connect")
_getaddrinfo = socket.getaddrinfo

def getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if not _local(name):
        _record(f"resolve {name}")
        raise socket.gaierror(f"the test blocks resolving {name}")
    return _getaddrinfo(host, *args, **kwargs)

socket.getaddrinfo = getaddrinfo
'''


def test_an_analysis_reaches_for_no_host_but_this_one(tmp_path):
    """`voc analyze` on the OpenVINO engine (bf16 runs on any CPU, natively or not), with every connection and name
    lookup beyond loopback blocked and written down, in this process and any it forks or spawns."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    net_log, home = tmp_path / "net.log", tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}  # telemetry skips CI runs
    env.update(PYTHONPATH=os.pathsep.join([str(guard), *filter(None, [env.get("PYTHONPATH")])]), HOME=str(home),
               VOC_TEST_NET_LOG=str(net_log), VOC_ENGINE="bf16")
    r = subprocess.run([VOC, "analyze", "物流很快，但是衣服有色差", "The battery died after two days."],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 2
    assert not net_log.exists(), net_log.read_text()
    assert not (home / "intel").exists()  # OpenVINO's telemetry id and usage counter


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("docs")
    proc, base, _ = start_server({"VOC_HOME": str(tmp / "home"), "VOC_MODE": "fast", "VOC_ASPECTS": "0"}, tmp)
    yield base
    proc.terminate()
    proc.wait(10)


def test_the_docs_render_in_a_browser_from_this_server_alone(server):
    with browser_page() as (page, requested):
        page.goto(server + "/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=60_000)  # the operations are listed
        text = page.inner_text("body")
    for path in ("/v1/analyze", "/v1/stats", "/v1/topics", "/v1/admin/train/{job_id}"):
        assert path in text, path
    elsewhere = off_host(requested, urlparse(server).netloc)
    assert not elsewhere, elsewhere
    assert any(u.endswith("/openapi.json") for u in requested)
