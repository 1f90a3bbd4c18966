"""What GHL's OAuth (marketplace installs, docs/locations.md) needs from the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chalicelib.domain.oauth import OAuthGrant


@dataclass(frozen=True)
class InstalledLocation:
    location_id: str
    name: str


class GhlOAuthApi(Protocol):
    """GHL's OAuth endpoints (gohighlevel.md §2, §13). Each raises OAuthRefused when GHL refuses
    (4xx) and TransientError when it does not answer. Never retried blindly: a refresh whose
    reply was lost may have spent the refresh token."""

    def exchange_code(self, code: str) -> OAuthGrant: ...

    def refresh(self, refresh_token: str) -> OAuthGrant: ...

    def location_token(
        self, company_access_token: str, company_id: str, location_id: str
    ) -> OAuthGrant: ...

    def installed_locations(
        self, company_access_token: str, company_id: str
    ) -> list[InstalledLocation]:
        """Where the app is installed in this agency (every page)."""
        ...

    def location_name(self, access_token: str, location_id: str) -> str | None:
        """The location's name, or None when it cannot be read (the name is only shown)."""
        ...


class TokenLease(Protocol):
    """One holder at a time per key, for a few seconds: whoever refreshes a grant holds it, so
    two refreshes never spend one refresh token."""

    def take(self, key: str, owner: str, seconds: float) -> bool:
        """True if `owner` now holds `key` (free, expired, or already its own)."""
        ...

    def release(self, key: str, owner: str) -> None:
        """Let `key` go if `owner` still holds it."""
        ...
