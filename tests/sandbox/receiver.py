"""A loopback HTTP receiver for what the sandboxes send out (rest hooks, webhooks back): it keeps
every POST and answers with the status a test sets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple, Self, TypeVar

T = TypeVar("T")


class Received(NamedTuple):
    """One POST; header names lower-cased."""

    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.delay = 0.0  # seconds before answering (a slow receiver)
        self._closing = threading.Event()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Silenced."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer._lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    outer.received.append(Received(self.path, headers, body))
                outer._closing.wait(outer.delay)
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def posts(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_for_posts(self, n: int, timeout: float = 5.0) -> list[Received]:
        wait_for(lambda: len(self.posts()) >= n, timeout)
        return self.posts()


def wait_for(probe: Callable[[], T], timeout: float = 5.0) -> T:
    """Poll `probe` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing within {timeout} s")
        time.sleep(0.01)
    return value


def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was just bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/hook"
