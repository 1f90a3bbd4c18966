"""The `/_sandbox/...` control endpoints every sandbox server has: the call log, reset, faults and
latency. They are the HTTP face of SandboxServer's Python API, for a stack in another process
(`make run`, the bench). The server never logs, delays or faults them, and runs them under its
lock; each API adds its own under the same prefix.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from sandbox.http.messages import HttpError, Request, Response

if TYPE_CHECKING:
    from sandbox.http.server import SandboxServer

ADMIN_PREFIX = "/_sandbox/"


def add_control_routes(server: SandboxServer) -> None:
    server.route("GET", "/_sandbox/calls", partial(_calls, server))
    server.route("POST", "/_sandbox/reset", partial(_reset, server))
    server.route("GET|POST", "/_sandbox/faults", partial(_faults, server))
    server.route("POST", "/_sandbox/latency", partial(_latency, server))


def _calls(server: SandboxServer, req: Request) -> Response:
    calls = server.calls(req.arg("method"), req.arg("path_prefix"))
    return 200, {"count": len(calls), "calls": [c._asdict() for c in calls]}, {}


def _reset(server: SandboxServer, req: Request) -> Response:
    server.reset()
    return 200, {"reset": True}, {}


def _faults(server: SandboxServer, req: Request) -> Response:
    if req.method == "POST":  # replaces the whole fault configuration
        data = req.json_object()
        try:
            seed = data.get("seed")
            server.clear_faults()
            server.script_faults(str(k) for k in data.get("script") or [])
            kinds = [str(k) for k in data.get("kinds") or []]
            rate = float(data.get("rate") or 0.0)
            server.set_fault_rate(rate, kinds, int(seed) if seed is not None else None)
            server.retry_after = int(data.get("retry_after", server.retry_after))
            server.timeout_seconds = float(data.get("timeout_seconds", server.timeout_seconds))
        except (TypeError, ValueError) as exc:
            raise HttpError(400, str(exc)) from exc
    return 200, server.fault_config(), {}


def _latency(server: SandboxServer, req: Request) -> Response:
    try:
        server.latency_ms = max(0.0, float(req.json_object().get("ms", 0)))
    except (TypeError, ValueError) as exc:
        raise HttpError(400, str(exc)) from exc
    return 200, {"ms": server.latency_ms}, {}
