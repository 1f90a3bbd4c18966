"""Many locations: the registry, their tokens, the check of a token, and the per-location path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from chalicelib.domain.location import Location, LocationTokens


class LocationRegistry(Protocol):
    """The registered locations (never their tokens)."""

    def get(self, location_id: str) -> Location | None: ...

    def put(self, location: Location) -> None: ...

    def list(self) -> Sequence[Location]:
        """Every registered location, active or not, by id."""
        ...

    def deactivate(self, location_id: str, at: datetime) -> Location | None:
        """Mark it inactive (its state is kept); None when it is not registered."""
        ...


class LocationSecrets(Protocol):
    """Each location's tokens, one secret per location."""

    def put(self, location_id: str, tokens: LocationTokens) -> None: ...

    def get(self, location_id: str, *, fresh: bool = False) -> LocationTokens | None:
        """The stored tokens (cached unless `fresh`); None when the location has no secret."""
        ...


TokenVerdict = Literal["ok", "rejected", "unreachable"]


@dataclass(frozen=True)
class TokenCheck:
    verdict: TokenVerdict
    detail: str = ""  # why, for the operator; never the token


class TokenChecks(Protocol):
    """One cheap read with a token, to tell a working token from a rejected one before saving."""

    def check_ghl(self, location_id: str, token: str) -> TokenCheck: ...

    def check_calltools(self, base_url: str, token: str) -> TokenCheck: ...


class GhlTokens(Protocol):
    """THE seam for a registered location's GHL access token: `pit` locations read their Private
    Integration Token from the location's secret (services/ghl_tokens.py); `oauth` locations
    (marketplace installs) their grant's access token (services/oauth/ghl_tokens.py)."""

    def token_for(self, location: Location) -> str:
        """The token to send now; raises ConfigurationError when the location has none."""
        ...


class LocationDirectory(Protocol):
    """Which registered locations are synced: read often (every webhook), so cached briefly."""

    def active(self, location_id: str) -> Location | None:
        """The location if registered and active, else None; raises when the registry cannot
        be read (the caller fails closed: retry later, never accept anyway)."""
        ...
