"""In-memory fakes of the OAuth ports (chalicelib/ports_oauth.py), checked against them by mypy."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import SecretStr

from chalicelib.domain.oauth import OAuthGrant, OAuthRefused
from chalicelib.ports import InstalledLocation

_serial = itertools.count(1)


def grant(
    location_id: str = "Loc1",
    *,
    expires_at: datetime,
    user_type: str = "Location",
    company_id: str = "Co1",
    refresh: str | None = None,
) -> OAuthGrant:
    n = next(_serial)
    return OAuthGrant(
        access_token=SecretStr(f"access-{n}"),
        refresh_token=SecretStr(refresh or f"refresh-{n}"),
        expires_at=expires_at,
        user_type=user_type,
        company_id=company_id,
        location_id=location_id if user_type == "Location" else "",
    )


class FakeOAuthApi:
    """GHL's OAuth with rotating refresh tokens: each refresh token works once."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self.live_refresh: set[str] = set()
        self.refreshes: list[str] = []
        self.refused: list[str] = []
        self.on_refresh: Callable[[], None] = lambda: None  # runs inside the call
        self.installed: dict[str, list[InstalledLocation]] = {}

    def issue(self, location_id: str = "Loc1", user_type: str = "Location") -> OAuthGrant:
        new = grant(
            location_id, expires_at=self._now() + timedelta(seconds=86399), user_type=user_type
        )
        assert new.refresh_token is not None
        self.live_refresh.add(new.refresh_token.get_secret_value())
        return new

    def exchange_code(self, code: str) -> OAuthGrant:
        if code != "good-code-0001":
            raise OAuthRefused("invalid_grant: code is invalid")
        return self.issue()

    def refresh(self, refresh_token: str) -> OAuthGrant:
        self.on_refresh()
        if refresh_token not in self.live_refresh:
            self.refused.append(refresh_token)
            raise OAuthRefused("invalid_grant: refresh token is invalid")
        self.live_refresh.discard(refresh_token)
        self.refreshes.append(refresh_token)
        return self.issue()

    def location_token(
        self, company_access_token: str, company_id: str, location_id: str
    ) -> OAuthGrant:
        return self.issue(location_id)

    def installed_locations(
        self, company_access_token: str, company_id: str
    ) -> list[InstalledLocation]:
        return self.installed.get(company_id, [])

    def location_name(self, access_token: str, location_id: str) -> str | None:
        return None


class FakeLease:
    """One owner per key until its lease runs out, on a clock the test turns."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.held: dict[str, tuple[str, float]] = {}
        self.taken: list[str] = []
        self.refused: list[str] = []
        self.on_release: Callable[[str], None] = lambda key: None

    def take(self, key: str, owner: str, seconds: float) -> bool:
        holder = self.held.get(key)
        if holder is not None and holder[0] != owner and holder[1] > self._clock():
            self.refused.append(key)
            return False
        self.held[key] = (owner, self._clock() + seconds)
        self.taken.append(key)
        return True

    def release(self, key: str, owner: str) -> None:
        self.on_release(key)
        if self.held.get(key, ("", 0.0))[0] == owner:
            del self.held[key]


if TYPE_CHECKING:
    from chalicelib.ports import GhlOAuthApi, TokenLease

    _api: GhlOAuthApi = FakeOAuthApi(datetime.now)
    _lease: TokenLease = FakeLease(lambda: 0.0)
