"""What a sandbox sends out on its own: a JSON POST to a subscriber (CallTools' rest hooks, GHL's
webhooks), in a background thread, so the API reply that caused it never waits for the receiver."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import NamedTuple

import httpx


class Delivery(NamedTuple):
    """The outcome of one POST: `status` None when no reply came (refused, timed out)."""

    url: str
    status: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Delivery:
    if not url.startswith(("http://", "https://")):
        return Delivery(url, None, "ValueError: only http(s) subscribers are delivered to")
    try:
        resp = httpx.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=timeout,
        )
    except (httpx.HTTPError, OSError, ValueError) as exc:  # refused, reset, timed out
        return Delivery(url, None, f"{type(exc).__name__}: {exc}")
    if resp.status_code >= 400:
        return Delivery(url, resp.status_code, f"HTTP {resp.status_code} {resp.reason_phrase}")
    return Delivery(url, resp.status_code, "")


def send_in_background(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    done: Callable[[Delivery], None],
    retries: int = 0,
    backoff: float = 0.2,
    stopping: threading.Event | None = None,
) -> threading.Thread:
    """POST once (plus `retries` more times while no reply comes), then call `done` with the last
    outcome. A reply, even a 5xx, is final: only the connection failing is retried."""
    pause = stopping or threading.Event()

    def run() -> None:
        outcome = post_json(url, body, headers, timeout)
        for attempt in range(retries):
            if outcome.status is not None or pause.wait(backoff * 2**attempt):
                break
            outcome = post_json(url, body, headers, timeout)
        done(outcome)

    thread = threading.Thread(target=run, name="sandbox-outbound", daemon=True)
    thread.start()
    return thread
