"""The GHL token of a registered location, however it authenticates: its Private Integration
Token (services/ghl_tokens.py), or its OAuth grant's access token, refreshed when needed
(tokens.py). This is ports.GhlTokens, the seam the per-location sync takes its GHL token
from, so a location installed from the marketplace syncs like one registered with a PIT.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain.errors import ConfigurationError
from chalicelib.domain.location import Location
from chalicelib.ports import GhlTokens
from chalicelib.services.oauth.tokens import GrantKeeper


class LocationGhlTokens:
    def __init__(self, pit: GhlTokens, grants: Callable[[], GrantKeeper] | None) -> None:
        self._pit = pit
        self._grants = grants  # None: OAuth is not configured

    def token_for(self, location: Location) -> str:
        """ConfigurationError (retried later, logged loud) when no usable token is stored;
        GhlAuthFailed (one) when GHL refused the location's grant."""
        if location.ghl_auth != "oauth":
            return self._pit.token_for(location)
        if self._grants is None:
            raise ConfigurationError(
                f"location {location.location_id} uses OAuth, which is not configured"
            )
        return self._grants().access_token(location.location_id)
