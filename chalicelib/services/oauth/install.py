"""What a marketplace install registers (docs/locations.md, "Marketplace install (OAuth)").

A Location grant registers its location; an agency (Company) grant is stored for the agency, and
each location where the app is installed gets its own grant from `POST /oauth/locationToken`.
A location new to the registry is registered inactive and "awaiting CallTools" (no base URL, no
rules): `PUT /locations/{id}` adds them and activates it. An install never activates a location,
and keeps what the registry has of one already known (its CallTools side, rules, active flag).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain.errors import TransientError
from chalicelib.domain.location import Location, LocationTokens, is_location_id
from chalicelib.domain.oauth import OAuthGrant, OAuthRefused
from chalicelib.domain.time import utcnow
from chalicelib.ports import GhlOAuthApi, InstalledLocation, LocationRegistry
from chalicelib.runtime.observability import count, logger
from chalicelib.services.oauth.tokens import GrantKeeper


@dataclass(frozen=True)
class Registered:
    location_id: str
    name: str
    created: bool
    active: bool
    awaiting_calltools: bool


@dataclass
class InstallOutcome:
    """What one install registered, and what it could not; shown to the installer."""

    user_type: str
    company_id: str = ""
    registered: list[Registered] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # location id -> why


class OAuthInstaller:
    def __init__(
        self,
        api: Callable[[], GhlOAuthApi],
        locations: GrantKeeper,
        companies: GrantKeeper,
        registry: Callable[[], LocationRegistry],
        *,
        builtin_id: str = "",
        clock: Callable[[], datetime] = utcnow,
        budget_seconds: float = 6.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._locations = locations
        self._companies = companies
        self._registry = registry
        self._builtin_id = builtin_id
        self._clock = clock
        # An agency's sweep must fit the API function's 10 s; the rest is left for later.
        self._budget_seconds = budget_seconds
        self._monotonic = monotonic

    def exchange(self, code: str) -> OAuthGrant:
        """The grant of an authorization code (spent by this call once it reaches GHL)."""
        return self._api().exchange_code(code)

    def install(self, grant: OAuthGrant) -> InstallOutcome:
        """A grant from the code exchange: register its location, or its agency's."""
        if grant.user_type == "Company":
            if not is_location_id(grant.company_id):
                raise OAuthRefused("the agency grant names no valid companyId")
            self._companies.update(grant.company_id, lambda _: LocationTokens(ghl_oauth=grant))
            logger.info("agency grant stored", extra={"company_id": grant.company_id})
            return self.sweep_company(grant.company_id)
        outcome = InstallOutcome("Location", grant.company_id)
        self._register_into(outcome, grant, name=None)
        return outcome

    def sweep_company(self, company_id: str, only: str | None = None) -> InstallOutcome:
        """Register each location of the agency where the app is installed (or only `only`),
        with a location grant from the agency's. Raises GhlAuthFailed without an agency grant."""
        outcome = InstallOutcome("Company", company_id)
        deadline = self._monotonic() + self._budget_seconds
        access = self._companies.access_token(company_id)
        if only is not None:
            wanted = [InstalledLocation(only, "")]
        else:
            wanted = self._api().installed_locations(access, company_id)
        for installed in wanted:
            if self._monotonic() >= deadline:
                outcome.skipped[installed.location_id] = "not reached in this request: pending"
                continue
            try:
                grant = self._api().location_token(access, company_id, installed.location_id)
            except OAuthRefused as refused:
                outcome.skipped[installed.location_id] = f"GHL refused its token: {refused}"
                continue
            except TransientError:
                outcome.skipped[installed.location_id] = "GHL did not answer: pending"
                continue
            grant = grant.model_copy(
                update={"location_id": grant.location_id or installed.location_id}
            )
            self._register_into(outcome, grant, name=installed.name or None)
        return outcome

    def _register_into(self, outcome: InstallOutcome, grant: OAuthGrant, name: str | None) -> None:
        location_id = grant.location_id
        if not is_location_id(location_id):
            outcome.skipped[location_id[:64] or "(none)"] = "no valid locationId in the grant"
        elif location_id == self._builtin_id:
            outcome.skipped[location_id] = (
                "the built-in location (configured by environment, with its own token)"
            )
        else:
            outcome.registered.append(self.register_location(grant, name))

    def register_location(self, grant: OAuthGrant, name: str | None) -> Registered:
        location_id = grant.location_id
        existing = self._registry().get(location_id)
        if existing is None and not name:
            name = self._api().location_name(grant.access_token.get_secret_value(), location_id)

        def with_grant(current: LocationTokens | None) -> LocationTokens:
            # A PIT it had is dropped: the grant authenticates it from now on.
            kept = current.calltools_api_token if current else None
            return LocationTokens(calltools_api_token=kept, ghl_oauth=grant)

        # The secret first, as PUT /locations does: a registered location always has its tokens.
        self._locations.update(location_id, with_grant)
        now = self._clock()
        location = self._location(existing, grant, name or f"GHL location {location_id}", now)
        self._registry().put(location)
        logger.info(
            "location installed" if existing is None else "location reinstalled",
            extra={"location_id": location_id, "awaiting_calltools": location.awaiting_calltools},
        )
        count("GhlOAuthInstalls")
        return Registered(
            location_id,
            location.name,
            created=existing is None,
            active=location.active,
            awaiting_calltools=location.awaiting_calltools,
        )

    def _location(
        self, existing: Location | None, grant: OAuthGrant, name: str, now: datetime
    ) -> Location:
        oauth = {
            "ghl_auth": "oauth",
            "company_id": grant.company_id or (existing.company_id if existing else None),
            "ghl_auth_failed": False,
            "updated_at": now,
        }
        if existing is not None:
            return existing.model_copy(update=oauth)
        return Location(
            location_id=grant.location_id,
            name=name[:200],
            active=False,  # awaiting CallTools: PUT /locations/{id} activates it
            created_at=now,
            **oauth,
        )

    def uninstall(self, company_id: str, location_id: str = "") -> list[str]:
        """Deactivate the location, or every OAuth location of the agency; their ids."""
        now = self._clock()
        if location_id:
            targets = [location_id]
        else:
            targets = [
                loc.location_id
                for loc in self._registry().list()
                if loc.company_id == company_id and loc.ghl_auth == "oauth" and loc.active
            ]
        stopped = [t for t in targets if self._registry().deactivate(t, now) is not None]
        for stopped_id in stopped:
            logger.info("location uninstalled", extra={"location_id": stopped_id})
            count("GhlOAuthUninstalls")
        return stopped


def mark_auth_failed(registry: LocationRegistry, location_id: str, at: datetime) -> None:
    """Show in the registry that the location's grant was refused (doctor, GET /locations).
    A read and a write: a PUT racing it may undo the mark, never the PUT's own change."""
    location = registry.get(location_id)
    if location is not None and not location.ghl_auth_failed:
        registry.put(location.model_copy(update={"ghl_auth_failed": True, "updated_at": at}))
