"""Delivery of emerging-complaint alerts to VOC_ALERT_WEBHOOK: a JSON POST, retried with exponential backoff.

`voc score` delivers after writing alerts.json (and says on stderr whether it got through); the server delivers on
`GET /v1/alerts?notify=1` on a thread of its own, so the request never waits for the receiver, and sends each alert
(by its id) once per process. docs/design.md says when and why.
"""
from __future__ import annotations

import logging
import threading
import time

import httpx

log = logging.getLogger("voc.webhook")
ATTEMPTS = 4
BACKOFF_S = 0.5  # waits 0.5, 1, 2 s between the attempts


def post_alerts(url: str, payload: dict, attempts: int = ATTEMPTS, backoff_s: float = BACKOFF_S,
                timeout_s: float = 10.0) -> bool:
    """POST `payload` as JSON to `url`; a connection error, a timeout, 429 or a 5xx answer is tried again, up to
    `attempts` times. True once the receiver answered 2xx; False (logged, never raised) when it never did."""
    for attempt in range(1, attempts + 1):
        try:
            r = httpx.post(url, json=payload, timeout=timeout_s, headers={"User-Agent": "voc-analyzer-alerts"})
            if 200 <= r.status_code < 300:
                return True
            if r.status_code != 429 and r.status_code < 500:
                log.error("alert webhook refused the alerts: HTTP %s", r.status_code)
                return False  # a 4xx other than 429 will not change by retrying
            why = f"HTTP {r.status_code}"
        except httpx.HTTPError as e:
            why = type(e).__name__
        log.warning("alert webhook attempt %d/%d failed: %s", attempt, attempts, why)
        if attempt < attempts:
            time.sleep(backoff_s * 2 ** (attempt - 1))
    return False


class Notifier:
    """The server's deliveries: in the background, each alert id once per process."""

    def __init__(self, url: str):
        self.url = url
        self.sent: set[str] = set()
        self.lock = threading.Lock()

    def notify(self, result: dict) -> int:
        """Start delivering `result`'s alerts not sent before; returns how many will be sent."""
        with self.lock:
            new = [a for a in result["alerts"] if a["id"] not in self.sent]
            self.sent.update(a["id"] for a in new)
        if new:
            payload = {**result, "alerts": new}
            threading.Thread(target=self._deliver, args=(payload, [a["id"] for a in new]), daemon=True,
                             name="voc-webhook").start()
        return len(new)

    def _deliver(self, payload: dict, ids: list[str]) -> None:
        if not post_alerts(self.url, payload):
            with self.lock:  # undelivered: the next notify tries them again
                self.sent.difference_update(ids)
