"""The in-process HTTP server the GoHighLevel and CallTools sandboxes share.

Standard library only, loopback only. A sandbox owns a ThreadingHTTPServer (transport.py), a tiny
regex router, a call log, simulated latency, fault injection (faults.py) and the `/_sandbox/...`
control endpoints (control.py). Handlers run under one lock: simple and consistent, and fast enough
for a test double.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from sandbox.http.control import ADMIN_PREFIX, add_control_routes
from sandbox.http.faults import (
    APPLY_AFTER_STALL,
    APPLY_BEFORE_STALL,
    RANDOM_KINDS,
    FaultPlan,
    fault_response,
)
from sandbox.http.messages import Call, Handler, HttpError, Request, Response, encode, parse_body
from sandbox.http.transport import LoopbackHTTPServer, RequestHandler


class SandboxServer:
    """Base class: start()/stop() (or `with`), `url`, a router, call log, latency and faults."""

    def __init__(self, *, port: int = 0, latency_ms: float = 0.0) -> None:
        self.latency_ms = latency_ms
        self.retry_after = 1  # seconds, for "429" faults
        self.timeout_seconds = 3.0  # how long a "timeout" fault stalls before its 504
        self.errors: list[str] = []  # handler crashes, so tests can spot sandbox bugs
        self._port = port
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._calls: list[Call] = []
        self._faults = FaultPlan()
        add_control_routes(self)

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = LoopbackHTTPServer(self._port, self._serve, self._track)
        self._port = self._httpd.server_port  # a restart rebinds the same port, so `url` holds
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown() waits up to one poll interval
            name=f"{type(self).__name__}:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping for latency or a "timeout" fault
        httpd.shutdown()
        httpd.server_close()
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:  # end idle keep-alive connections, whose threads block on a read
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("sandbox not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, methods: str, pattern: str, handler: Handler) -> None:
        """Register a handler for "GET" or "GET|POST"; `pattern` must match the whole path."""
        for method in methods.split("|"):
            self._routes.append((method, re.compile(pattern), handler))

    # Subclass hooks. The two request hooks run under the lock, for API paths only.

    def _before_request(self, req: Request) -> Response | None:
        """Auth and rate limits: return a response to refuse the request."""
        return None

    def _after_request(self, req: Request, resp: Response) -> Response:
        """Sees every non-fault API response (e.g. to add headers)."""
        return resp

    def _error_json(self, status: int, message: str) -> Any:
        """The API's error body; used for faults, bad JSON and HttpError."""
        return {"detail": message}

    def _reset_data(self) -> None:
        """Clear stored data."""

    # Faults (sandbox/http/faults.py)

    def script_faults(self, kinds: Iterable[str]) -> None:
        """Queue faults, consumed one per API request (FIFO), before any random fault."""
        with self._lock:
            self._faults.add_script(kinds)

    def set_fault_rate(
        self, rate: float, kinds: Sequence[str] = RANDOM_KINDS, seed: int | None = None
    ) -> None:
        with self._lock:
            self._faults.set_rate(rate, kinds, seed)

    def clear_faults(self) -> None:
        """Drop scripted faults and the random rate (counts stay)."""
        with self._lock:
            self._faults.clear()

    @property
    def fault_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._faults.counts)

    @property
    def pending_faults(self) -> list[str]:
        with self._lock:
            return list(self._faults.script)

    def fault_config(self) -> dict[str, Any]:
        """The fault configuration and counts, as GET /_sandbox/faults shows them."""
        with self._lock:
            faults = self._faults
            return {
                "script": list(faults.script),
                "rate": faults.rate,
                "kinds": list(faults.kinds),
                "retry_after": self.retry_after,
                "timeout_seconds": self.timeout_seconds,
                "counts": dict(faults.counts),
            }

    def _fault_response(self, kind: str) -> Response:
        return fault_response(
            kind,
            self._error_json,
            retry_after=self.retry_after,
            timeout_seconds=self.timeout_seconds,
            stopping=self._stopping,
        )

    # Call log

    def calls(self, method: str | None = None, path_prefix: str | None = None) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self._calls
                if (method is None or c.method == method.upper())
                and (path_prefix is None or c.path.startswith(path_prefix))
            ]

    def call_count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        return len(self.calls(method, path_prefix))

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def reset(self) -> None:
        """Clear data, the call log and faults (latency and configuration stay)."""
        with self._lock:
            self._reset_data()
            self._calls.clear()
            self.clear_faults()
            self._faults.counts.clear()

    # Serving

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _serve(self, h: RequestHandler) -> None:
        split = urlsplit(h.path)
        if (raw := h.read_body()) is None:
            h.send(*encode((411, {"detail": "Send a Content-Length."}, {})))
            return
        body, body_error = parse_body(raw, h.headers.get("Content-Type"))
        req = Request(h.command, split.path, split.query, h.headers, body, body_error)
        req.query = parse_qs(split.query, keep_blank_values=True)
        if split.path.startswith(ADMIN_PREFIX):
            with self._lock:
                encoded = encode(self._dispatch(req, api=False))
            h.send(*encoded)
            return
        with self._lock:
            logged = body if body_error is None else raw.decode("utf-8", "replace")
            self._calls.append(Call(req.method, req.path, req.query_string, logged))
            fault = self._faults.next()
            latency = self.latency_ms
        if latency > 0:
            self._stopping.wait(latency / 1000.0)  # outside the lock, so requests overlap
        if fault is None:
            with self._lock:
                encoded = encode(self._dispatch(req, api=True))
            h.send(*encoded)
            return
        if fault in APPLY_BEFORE_STALL:
            with self._lock:
                self._dispatch(req, api=True)
        resp = self._fault_response(fault)  # outside the lock: a "timeout" stalls here
        with self._lock:  # a fault reply carries the server's usual headers (rate limits)
            if fault in APPLY_AFTER_STALL:
                self._dispatch(req, api=True)
            encoded = encode(self._after_request(req, resp))
        h.send(*encoded)

    def _dispatch(self, req: Request, *, api: bool) -> Response:
        handler: Handler | None = None
        path_known = False
        for method, pattern, candidate in self._routes:
            if (match := pattern.fullmatch(req.path)) is None:
                continue
            path_known = True
            if method == req.method or (method == "GET" and req.method == "HEAD"):
                handler, req.params = candidate, match.groupdict()
                break
        resp: Response | None
        if handler is None:
            resp = 404, {"detail": "Not found."}, {}
            if path_known:
                resp = 405, {"detail": f'Method "{req.method}" not allowed.'}, {}
        elif (resp := self._before_request(req) if api else None) is None:
            try:
                if req.body_error is not None:
                    raise HttpError(400, req.body_error)
                resp = handler(req)
            except HttpError as exc:
                error = self._error_json(exc.status, exc.message)
                resp = exc.status, error if exc.body is None else exc.body, {}
            except Exception as exc:  # a sandbox bug: answer 500 and remember it
                self.errors.append(f"{req.method} {req.path}: {exc!r}")
                resp = 500, self._error_json(500, f"sandbox error: {exc!r}"), {}
        return self._after_request(req, resp) if api else resp
