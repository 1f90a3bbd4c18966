"""The HTTP/1.1 layer under a sandbox server: a loopback ThreadingHTTPServer whose handler keeps
connections alive, as production clients expect, and hands each request to the sandbox."""

from __future__ import annotations

import contextlib
import socket
import socketserver
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackHTTPServer(ThreadingHTTPServer):
    """Binds 127.0.0.1:`port` (0 picks one); `serve` answers each request, `track` sees each
    connection open (True) and close (False)."""

    daemon_threads = True
    block_on_close = False  # stop() must not wait for a request parked in a "timeout" fault
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(
        self,
        port: int,
        serve: Callable[[RequestHandler], None],
        track: Callable[[socket.socket, bool], None],
    ) -> None:
        self.serve, self.track = serve, track
        super().__init__(("127.0.0.1", port), RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn), which can stall offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.socket.getsockname()[1])


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients reuse connections as in production
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the default writes one stderr line per request."""

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without NODELAY, Nagle + delayed ACK add 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):  # the client may already have gone
            super().finish()

    def _handle(self) -> None:
        self.server.serve(self)

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
