"""Fault injection for the sandbox servers: the fault kinds, the plan that picks a fault per API
request (a FIFO script, then a seeded random rate), and the replies a fault sends.

Two kinds do the request's work as well as failing it, so a client cannot tell from the reply
whether the change happened: "lost_reply" does the work, then stalls like "timeout";
"late_apply" stalls like "timeout" and does the work only then, after the client gave up.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sandbox.http.messages import Raw, Response

FAULT_KINDS = ("429", "500_json", "502_html", "503_html", "timeout", "lost_reply", "late_apply")
RANDOM_KINDS = ("429", "500_json", "502_html", "503_html")  # set_fault_rate's default kinds
APPLY_BEFORE_STALL = frozenset({"lost_reply"})  # the work is done, then the reply is lost
APPLY_AFTER_STALL = frozenset({"late_apply"})  # the work is done after the client gave up
_STALLS = frozenset({"timeout"}) | APPLY_BEFORE_STALL | APPLY_AFTER_STALL


def _nginx_page(title: str) -> str:
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1>"
        "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


_HTML_PAGES = {
    502: _nginx_page("502 Bad Gateway"),
    503: (  # what Cloudflare serves when the origin is down
        '<!DOCTYPE html>\n<html lang="en-US"><head><title>503 Service Temporarily Unavailable'
        '</title></head>\n<body><div id="cf-error-details"><h1>Error 503</h1><p>The server is '
        "temporarily unable to service your request. Please try again later.</p>"
        "<p>Cloudflare Ray ID: 8f1c2d3e4a5b6c7d</p></div></body></html>\n"
    ),
    504: _nginx_page("504 Gateway Time-out"),
}


def check_kinds(kinds: Iterable[str]) -> None:
    if unknown := sorted(set(kinds) - set(FAULT_KINDS)):
        raise ValueError(f"unknown fault kinds {unknown}; expected some of {FAULT_KINDS}")


class FaultPlan:
    """Which API requests fail, and how; counts the faults it hands out.

    Not thread-safe: the server reads and changes it under its lock.
    """

    def __init__(self) -> None:
        self.script: list[str] = []
        self.rate, self.kinds = 0.0, list[str]()
        self.counts: dict[str, int] = {}
        self._rng = random.Random()

    def add_script(self, kinds: Iterable[str]) -> None:
        """Queue faults, consumed one per API request (FIFO), before any random fault."""
        kinds = list(kinds)
        check_kinds(kinds)
        self.script.extend(kinds)

    def set_rate(self, rate: float, kinds: Sequence[str], seed: int | None) -> None:
        check_kinds(kinds)
        if not 0.0 <= rate <= 1.0 or (rate > 0 and not kinds):
            raise ValueError("rate must be in [0, 1] and kinds non-empty")
        self.rate, self.kinds = rate, list(kinds)
        self._rng = random.Random(seed)

    def clear(self) -> None:
        """Drop scripted faults and the random rate (counts stay)."""
        self.script.clear()
        self.rate, self.kinds = 0.0, []

    def next(self) -> str | None:
        """The fault for the next API request, if any."""
        kind: str | None = None
        if self.script:
            kind = self.script.pop(0)
        elif self.rate > 0 and self._rng.random() < self.rate:
            kind = self._rng.choice(self.kinds)
        if kind is not None:
            self.counts[kind] = self.counts.get(kind, 0) + 1
        return kind


def fault_response(
    kind: str,
    error_json: Callable[[int, str], Any],
    *,
    retry_after: int,
    timeout_seconds: float,
    stopping: threading.Event,
) -> Response:
    """The reply a fault sends; the stalling kinds wait `timeout_seconds` (or until `stopping`)."""
    if kind == "429":
        return 429, error_json(429, "Too many requests"), {"Retry-After": str(retry_after)}
    if kind == "500_json":
        return 500, error_json(500, "Internal server error"), {}
    if kind in _STALLS:
        stopping.wait(timeout_seconds)  # the client should have given up by now
        return 504, Raw(_HTML_PAGES[504]), {}
    status = 502 if kind == "502_html" else 503
    return status, Raw(_HTML_PAGES[status]), {}
