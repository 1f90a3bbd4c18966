"""A registered location's tokens, read from its secret (LocationSecrets, cached there).

`PitGhlTokens` is the GhlTokens of `pit` locations; services/oauth/ghl_tokens.py adds `oauth`
locations' (ports.GhlTokens is the seam).
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain.errors import ConfigurationError
from chalicelib.domain.location import Location
from chalicelib.ports import LocationSecrets


class PitGhlTokens:
    """The Private Integration Token stored with a `pit` location."""

    def __init__(self, secrets: Callable[[], LocationSecrets]) -> None:
        self._secrets = secrets

    def token_for(self, location: Location) -> str:
        if location.ghl_auth != "pit":
            raise ConfigurationError(
                f"location {location.location_id} uses {location.ghl_auth}: no token source here"
            )
        tokens = self._secrets().get(location.location_id)
        token = tokens.ghl_api_token if tokens else None
        if token is None:
            raise ConfigurationError(f"location {location.location_id} has no GHL token stored")
        return token.get_secret_value()


def calltools_token(secrets: Callable[[], LocationSecrets], location: Location) -> str:
    """The location's CallTools API key (the same for every way of reaching GHL)."""
    tokens = secrets().get(location.location_id)
    token = tokens.calltools_api_token if tokens else None
    if token is None:
        raise ConfigurationError(f"location {location.location_id} has no CallTools token stored")
    return token.get_secret_value()
