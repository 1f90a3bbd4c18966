"""In-memory fakes of the location ports (chalicelib/ports.py), checked against them by mypy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.domain.location import Location, LocationTokens
from chalicelib.domain.rules import Rule
from chalicelib.ports import TokenCheck

OTHER = "Ot7hErL0cAt10nIdX9q2"


def location(location_id: str = OTHER, **changes: Any) -> Location:
    fields: dict[str, Any] = {
        "location_id": location_id,
        "name": "Acme Roofing",
        "calltools_api_base_url": "https://west-2.calltools.io/api/",
        "rules": (Rule(tag="cold lead", bucket="Cold Leads"),),
    }
    return Location(**(fields | changes))


class FakeLocationRegistry:
    def __init__(self) -> None:
        self.items: dict[str, Location] = {}

    def get(self, location_id: str) -> Location | None:
        return self.items.get(location_id)

    def put(self, location: Location) -> None:
        self.items[location.location_id] = location

    def list(self) -> Sequence[Location]:
        return [self.items[k] for k in sorted(self.items)]

    def deactivate(self, location_id: str, at: datetime) -> Location | None:
        current = self.items.get(location_id)
        if current is None:
            return None
        stopped = current.model_copy(update={"active": False, "updated_at": at})
        self.items[location_id] = stopped
        return stopped


class FakeLocationSecrets:
    def __init__(self) -> None:
        self.values: dict[str, LocationTokens] = {}
        self.reads: list[tuple[str, bool]] = []  # (location id, fresh)
        self.fail_put = False

    def put(self, location_id: str, tokens: LocationTokens) -> None:
        if self.fail_put:
            raise RuntimeError("Secrets Manager is down")
        self.values[location_id] = tokens

    def get(self, location_id: str, *, fresh: bool = False) -> LocationTokens | None:
        self.reads.append((location_id, fresh))
        return self.values.get(location_id)


class ScriptedTokenChecks:
    """Accepts exactly the tokens it is told are good; says "unreachable" for an API marked down."""

    def __init__(self, ghl: dict[str, str], calltools: dict[str, str]) -> None:
        self.ghl = ghl  # token → the location id it may read
        self.calltools = calltools  # token → the base URL it belongs to
        self.down: set[str] = set()  # "ghl", "calltools"
        self.calls: list[tuple[str, str, str]] = []  # (api, location or URL, token)

    def check_ghl(self, location_id: str, token: str) -> TokenCheck:
        self.calls.append(("ghl", location_id, token))
        if "ghl" in self.down:
            return TokenCheck("unreachable", "ghl unreachable: ConnectTimeout")
        if self.ghl.get(token) != location_id:
            # A reply that echoes the token: the service must not pass it on.
            return TokenCheck("rejected", f"GHL rejected the API token (401) {token}")
        return TokenCheck("ok")

    def check_calltools(self, base_url: str, token: str) -> TokenCheck:
        self.calls.append(("calltools", base_url, token))
        if "calltools" in self.down:
            return TokenCheck("unreachable", "calltools answered 503")
        if self.calltools.get(token) != base_url:
            return TokenCheck("rejected", "CallTools rejected the API key (401)")
        return TokenCheck("ok")


class StaticDirectory:
    def __init__(self, *active: str, broken: bool = False) -> None:
        self._active, self._broken = set(active), broken

    def active(self, location_id: str) -> Location | None:
        if self._broken:
            raise RuntimeError("registry down")
        return location(location_id) if location_id in self._active else None


if TYPE_CHECKING:
    from chalicelib.ports import LocationRegistry, LocationSecrets, TokenChecks

    _registry: LocationRegistry = FakeLocationRegistry()
    _secrets: LocationSecrets = FakeLocationSecrets()
    _checks: TokenChecks = ScriptedTokenChecks({}, {})
