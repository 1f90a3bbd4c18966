"""The GHL token of a registered location, however it authenticates: its Private Integration
Token, or its OAuth grant's access token (refreshed when needed, tokens.py).

This is the seam the per-location sync takes its GHL token from (`token_for(location)`), so a
location installed from the marketplace syncs like one registered with a PIT.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain.errors import ConfigurationError
from chalicelib.domain.location import Location
from chalicelib.ports import LocationSecrets
from chalicelib.services.oauth.tokens import GrantKeeper


class LocationGhlTokens:
    def __init__(
        self, secrets: Callable[[], LocationSecrets], grants: Callable[[], GrantKeeper] | None
    ) -> None:
        self._secrets = secrets
        self._grants = grants  # None: OAuth is not configured

    def token_for(self, location: Location) -> str:
        """ConfigurationError (retried later, logged loud) when no usable token is stored;
        GhlAuthFailed (one) when GHL refused the location's grant."""
        if location.ghl_auth == "oauth":
            if self._grants is None:
                raise ConfigurationError(
                    f"location {location.location_id} uses OAuth, which is not configured"
                )
            return self._grants().access_token(location.location_id)
        tokens = self._secrets().get(location.location_id)
        if tokens is None or tokens.ghl_api_token is None:
            raise ConfigurationError(f"no GHL token is stored for {location.location_id}")
        return tokens.ghl_api_token.get_secret_value()
