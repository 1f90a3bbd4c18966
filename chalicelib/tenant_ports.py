"""Ports of the per-location (tenant) path, apart from ports.py (near its size limit) until the
ports are split: these belong with them, and import only the domain, as they do."""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.location import Location


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
