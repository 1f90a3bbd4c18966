"""Faults on some routes only: a sandbox's FaultPlan that fails only the requests a route filter
picks (e.g. GHL's writes to a contact), so the reads around them stay clean and every fault lands
where the run means it to.

The sandbox server asks its plan for a fault right after logging the request, under its lock
(sandbox/http/server.py `_serve`): the request being decided is the last one logged.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from sandbox.http.faults import FaultPlan, check_kinds
from sandbox.http.server import SandboxServer

# (method, path pattern) pairs; a route's name is "METHOD pattern".
Routes = Sequence[tuple[str, str]]


class RouteFaults(FaultPlan):
    """Faults only for `routes`: first each route's own script (FIFO), then the seeded rate."""

    def __init__(self, server: SandboxServer, routes: Routes) -> None:
        super().__init__()
        self._server = server
        self._routes = [(method, re.compile(pattern), pattern) for method, pattern in routes]
        self.route_scripts: dict[str, list[str]] = {}
        self.by_route: Counter[tuple[str, str]] = Counter()  # (route, kind) -> faults handed out

    def script_route(self, method: str, pattern: str, kinds: Iterable[str]) -> None:
        kinds = list(kinds)
        check_kinds(kinds)
        self.route_scripts.setdefault(f"{method} {pattern}", []).extend(kinds)

    def clear(self) -> None:
        super().clear()
        self.route_scripts.clear()

    def _route(self) -> str | None:
        call = self._server._calls[-1]  # the request being decided (see the module docstring)
        for method, pattern, name in self._routes:
            if call.method == method and pattern.fullmatch(call.path):
                return f"{method} {name}"
        return None

    def next(self) -> str | None:
        route = self._route()
        if route is None:
            return None
        script = self.route_scripts.get(route)
        kind: str | None
        if script:
            kind = scripted = script.pop(0)
            self.counts[scripted] = self.counts.get(scripted, 0) + 1
        else:
            kind = super().next()
        if kind is not None:
            self.by_route[(route, kind)] += 1
        return kind


def install(server: SandboxServer, routes: Routes) -> RouteFaults:
    """Give `server` a route-filtered plan; set its rate with `server.set_fault_rate`."""
    plan = RouteFaults(server, routes)
    with server._lock:
        server._faults = plan
    return plan
