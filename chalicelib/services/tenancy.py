"""Which location a message belongs to, and that location's own sync (docs/locations.md).

The built-in location (GHL_LOCATION_ID) is served by the deployment's own container, exactly as
before any location was registered. A registered, active location is served by a `Tenant` of its
own: its clients, pacers, rules, field mapping and keys, built once and kept while the location
is unchanged. Anything else is not ours: ignored, never synced with another location's parts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.location import Location
from chalicelib.domain.runs import RunActive
from chalicelib.ports import Dedup, LocationDirectory, LocationRegistry
from chalicelib.runtime.observability import logger
from chalicelib.services.reconcile import Reconciler
from chalicelib.services.stats import StatsService
from chalicelib.services.sync import ContactSync

# How long a container trusts what it read of the registry: a location registered, changed or
# deactivated takes effect everywhere within this, at one GetItem per location a minute.
DIRECTORY_SECONDS = 60.0
# How long a location's parts live at most, even unchanged (a token rotated in its secret is read
# again by the secrets cache on its own schedule).
TENANT_SECONDS = 900.0


class CachedDirectory:
    """LocationDirectory over the registry, each answer (found or not) kept `seconds` per
    container. A registry failure is raised, never cached: the caller fails closed."""

    def __init__(
        self,
        registry: Callable[[], LocationRegistry],
        *,
        seconds: float = DIRECTORY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, Location | None]] = {}

    def active(self, location_id: str) -> Location | None:
        now = self._clock()
        with self._lock:
            cached = self._seen.get(location_id)
        if cached is None or now - cached[0] >= self._seconds:
            location = self._registry().get(location_id)
            cached = (now, location)
            with self._lock:
                self._seen[location_id] = cached
        location = cached[1]
        return location if location is not None and location.active else None

    def forget(self, location_id: str) -> None:
        """This container changed the location: read it again next time."""
        with self._lock:
            self._seen.pop(location_id, None)


class ForgetfulRegistry:
    """The registry as the admin API writes it: each change makes this container's directory
    read the location again, so a deactivation here stops its webhooks at once."""

    def __init__(
        self, registry: Callable[[], LocationRegistry], forget: Callable[[str], None]
    ) -> None:
        self._registry = registry
        self._forget = forget

    def get(self, location_id: str) -> Location | None:
        return self._registry().get(location_id)

    def list(self) -> Sequence[Location]:
        return self._registry().list()

    def put(self, location: Location) -> None:
        try:
            self._registry().put(location)
        finally:
            self._forget(location.location_id)

    def deactivate(self, location_id: str, at: datetime) -> Location | None:
        try:
            return self._registry().deactivate(location_id, at)
        finally:
            self._forget(location_id)


@dataclass(frozen=True)
class Tenant:
    """A registered location's own sync: nothing in it is shared with another location."""

    location: Location
    sync: ContactSync
    dedup: Dedup
    reconciler: Reconciler  # its runs: own lock, checkpoints and pacing
    stats: StatsService  # its contacts and runs (the queue is the deployment's)


class Tenants:
    """The registered locations' Tenants, built by `build` on first use and again when the
    registry shows the location changed (or after `seconds`)."""

    def __init__(
        self,
        builtin_id: str,
        directory: LocationDirectory,
        build: Callable[[Location], Tenant],
        *,
        seconds: float = TENANT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.builtin_id = builtin_id
        self._directory = directory
        self._build = build
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._built: dict[str, tuple[float, Tenant]] = {}

    def is_builtin(self, location_id: str | None) -> bool:
        """Messages naming no location were queued before events had to name one: the
        built-in's, as they always were."""
        return location_id is None or location_id == self.builtin_id

    def tenant(self, location_id: str) -> Tenant | None:
        """The location's Tenant, or None when it is not registered or not active. Raises when
        the registry cannot be read."""
        location = self._directory.active(location_id)
        if location is None:
            return None
        now = self._clock()
        with self._lock:
            built = self._built.get(location_id)
            if built is None or built[1].location != location or now - built[0] >= self._seconds:
                built = (now, self._build(location))
                self._built[location_id] = built
            return built[1]


def start_every_location(
    locations: Callable[[], Sequence[Location]], tenants: Tenants, trigger: str
) -> dict[str, str]:
    """One run per registered, active location (the daily schedule), each with its own lock:
    a location whose run is still going, or that fails to start, does not keep the others from
    theirs. Returns each location's run id, or why it has none."""
    started: dict[str, str] = {}
    for location in locations():
        location_id = location.location_id
        if not location.active or tenants.is_builtin(location_id):
            continue
        try:
            tenant = tenants.tenant(location_id)
            if tenant is None:
                continue  # deactivated since the list was read
            started[location_id] = tenant.reconciler.start(trigger=trigger).id
        except RunActive as active:
            started[location_id] = f"active: {active.run_id}"
            logger.info(
                "location's run skipped: a run is active",
                extra={"location_id": location_id, "run_id": active.run_id},
            )
        except Exception as exc:
            started[location_id] = f"failed: {type(exc).__name__}"
            logger.exception("location's run did not start", extra={"location_id": location_id})
    return started
