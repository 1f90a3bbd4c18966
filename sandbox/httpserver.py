"""Shared machinery for the in-process HTTP sandboxes that stand in for GoHighLevel and CallTools.

Standard library only, loopback only. A sandbox owns a ThreadingHTTPServer, a tiny regex router,
a call log, simulated latency and fault injection. Handlers run under one lock: simple and
consistent, and fast enough for a test double.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qs, urlsplit

# "lost_reply" does the work, then stalls like "timeout": the client cannot tell it happened.
# "late_apply" stalls like "timeout" and does the work only then, after the client gave up.
FAULT_KINDS = ("429", "500_json", "502_html", "503_html", "timeout", "lost_reply", "late_apply")
ADMIN_PREFIX = "/_sandbox/"


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


class Call(NamedTuple):
    """One API request as received; `body` is the parsed JSON (raw text if it was not JSON)."""

    method: str
    path: str
    query: str
    body: Any = None


@dataclass(frozen=True)
class Raw:
    """A non-JSON response body, e.g. the HTML error page a proxy would serve."""

    text: str
    content_type: str = "text/html; charset=utf-8"


Response = tuple[int, Any, dict[str, str]]


class HttpError(Exception):
    """Raised by handlers to reply with an error; `body` defaults to the server's error shape."""

    def __init__(self, status: int, message: str = "", body: Any = None) -> None:
        super().__init__(status, message)
        self.status, self.message, self.body = status, message, body


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: Message
    body: Any = None
    body_error: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, list[str]] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        """Last value of a query parameter, like Django's QueryDict.get."""
        values = self.query.get(name)
        return values[-1] if values else None

    def json_object(self) -> dict[str, Any]:
        if self.body is None:
            return {}  # an empty body reads as {}, as in DRF
        if isinstance(self.body, dict):
            return self.body
        raise HttpError(400, "Expected a JSON object.")


Handler = Callable[[Request], Response]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a request parked in a "timeout" fault
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, port: int, sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        super().__init__(("127.0.0.1", port), _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn), which can stall offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.socket.getsockname()[1])


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients reuse connections as in production
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the default writes one stderr line per request."""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without NODELAY, Nagle + delayed ACK add 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.sandbox._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.sandbox._track(self.connection, add=False)
        with contextlib.suppress(OSError):  # the client may already have gone
            super().finish()

    def _handle(self) -> None:
        self.server.sandbox._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle  # noqa: N815

    def read_body(self) -> bytes | None:
        """The request body, or None for a chunked one (unsupported: clients send a length)."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # the unread body would corrupt the next request
            return None
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if data and self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            self.close_connection = True  # client gave up (e.g. it timed out on a "timeout" fault)


def _encode(resp: Response) -> tuple[int, bytes, dict[str, str]]:
    """Serialise under the lock, so a reply never reads state another request is changing."""
    status, body, extra = resp
    headers: dict[str, str] = {}
    if isinstance(body, Raw):
        data, headers["Content-Type"] = body.text.encode(), body.content_type
    elif status == 204 or body is None:
        data = b""
    else:
        data, headers["Content-Type"] = json.dumps(body, default=str).encode(), "application/json"
    if status != 204:
        headers["Content-Length"] = str(len(data))
    return status, data, {**headers, **extra}


def _parse_json(raw: bytes) -> tuple[Any, str | None]:
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except ValueError as exc:
        return None, f"JSON parse error - {exc}"


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
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._calls: list[Call] = []
        self._script: list[str] = []
        self._fault_rate, self._fault_kinds = 0.0, list[str]()
        self._fault_rng = random.Random()
        self._fault_counts: dict[str, int] = {}
        self.route("GET", "/_sandbox/calls", self._admin_calls)
        self.route("POST", "/_sandbox/reset", self._admin_reset)
        self.route("GET|POST", "/_sandbox/faults", self._admin_faults)
        self.route("POST", "/_sandbox/latency", self._admin_latency)

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self._port, self)
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

    # Faults

    def script_faults(self, kinds: Iterable[str]) -> None:
        """Queue faults, consumed one per API request (FIFO), before any random fault."""
        kinds = list(kinds)
        _check_kinds(kinds)
        with self._lock:
            self._script.extend(kinds)

    def set_fault_rate(
        self,
        rate: float,
        kinds: Sequence[str] = ("429", "500_json", "502_html", "503_html"),
        seed: int | None = None,
    ) -> None:
        _check_kinds(kinds)
        if not 0.0 <= rate <= 1.0 or (rate > 0 and not kinds):
            raise ValueError("rate must be in [0, 1] and kinds non-empty")
        with self._lock:
            self._fault_rate, self._fault_kinds = rate, list(kinds)
            self._fault_rng = random.Random(seed)

    def clear_faults(self) -> None:
        """Drop scripted faults and the random rate (counts stay)."""
        with self._lock:
            self._script.clear()
            self._fault_rate, self._fault_kinds = 0.0, []

    @property
    def fault_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._fault_counts)

    @property
    def pending_faults(self) -> list[str]:
        with self._lock:
            return list(self._script)

    def _next_fault(self) -> str | None:
        kind: str | None = None
        if self._script:
            kind = self._script.pop(0)
        elif self._fault_rate > 0 and self._fault_rng.random() < self._fault_rate:
            kind = self._fault_rng.choice(self._fault_kinds)
        if kind is not None:
            self._fault_counts[kind] = self._fault_counts.get(kind, 0) + 1
        return kind

    def _fault_response(self, kind: str) -> Response:
        if kind == "429":
            body = self._error_json(429, "Too many requests")
            return 429, body, {"Retry-After": str(self.retry_after)}
        if kind == "500_json":
            return 500, self._error_json(500, "Internal server error"), {}
        if kind == "timeout":
            self._stopping.wait(self.timeout_seconds)  # the client should have given up by now
            return 504, Raw(_HTML_PAGES[504]), {}
        status = 502 if kind == "502_html" else 503
        return status, Raw(_HTML_PAGES[status]), {}

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
            self._fault_counts.clear()

    # Serving

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _serve(self, h: _RequestHandler) -> None:
        split = urlsplit(h.path)
        if (raw := h.read_body()) is None:
            h.send(*_encode((411, {"detail": "Send a Content-Length."}, {})))
            return
        body, body_error = _parse_json(raw)
        req = Request(h.command, split.path, split.query, h.headers, body, body_error)
        req.query = parse_qs(split.query, keep_blank_values=True)
        if split.path.startswith(ADMIN_PREFIX):
            with self._lock:
                encoded = _encode(self._dispatch(req, api=False))
            h.send(*encoded)
            return
        with self._lock:
            logged = body if body_error is None else raw.decode("utf-8", "replace")
            self._calls.append(Call(req.method, req.path, req.query_string, logged))
            fault = self._next_fault()
            latency = self.latency_ms
        if latency > 0:
            self._stopping.wait(latency / 1000.0)  # outside the lock, so requests overlap
        if fault == "lost_reply":
            with self._lock:
                self._dispatch(req, api=True)
            fault = "timeout"
        if fault == "late_apply":
            resp = self._fault_response("timeout")
            with self._lock:
                self._dispatch(req, api=True)
                encoded = _encode(self._after_request(req, resp))
            h.send(*encoded)
            return
        if fault is not None:
            resp = self._fault_response(fault)  # outside the lock: a "timeout" stalls here
            with self._lock:  # a fault reply carries the server's usual headers (rate limits)
                encoded = _encode(self._after_request(req, resp))
            h.send(*encoded)
            return
        with self._lock:
            encoded = _encode(self._dispatch(req, api=True))
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

    # Admin endpoints (never logged, delayed or faulted)

    def _admin_calls(self, req: Request) -> Response:
        calls = self.calls(req.arg("method"), req.arg("path_prefix"))
        return 200, {"count": len(calls), "calls": [c._asdict() for c in calls]}, {}

    def _admin_reset(self, req: Request) -> Response:
        self.reset()
        return 200, {"reset": True}, {}

    def _admin_faults(self, req: Request) -> Response:
        if req.method == "POST":  # replaces the whole fault configuration
            data = req.json_object()
            try:
                seed = data.get("seed")
                self.clear_faults()
                self.script_faults(str(k) for k in data.get("script") or [])
                kinds = [str(k) for k in data.get("kinds") or []]
                rate = float(data.get("rate") or 0.0)
                self.set_fault_rate(rate, kinds, int(seed) if seed is not None else None)
                self.retry_after = int(data.get("retry_after", self.retry_after))
                self.timeout_seconds = float(data.get("timeout_seconds", self.timeout_seconds))
            except (TypeError, ValueError) as exc:
                raise HttpError(400, str(exc)) from exc
        status = {
            "script": self._script,
            "rate": self._fault_rate,
            "kinds": self._fault_kinds,
            "retry_after": self.retry_after,
            "timeout_seconds": self.timeout_seconds,
            "counts": self._fault_counts,
        }
        return 200, status, {}

    def _admin_latency(self, req: Request) -> Response:
        try:
            self.latency_ms = max(0.0, float(req.json_object().get("ms", 0)))
        except (TypeError, ValueError) as exc:
            raise HttpError(400, str(exc)) from exc
        return 200, {"ms": self.latency_ms}, {}


def _check_kinds(kinds: Iterable[str]) -> None:
    if unknown := sorted(set(kinds) - set(FAULT_KINDS)):
        raise ValueError(f"unknown fault kinds {unknown}; expected some of {FAULT_KINDS}")
