"""A stored OAuth grant, handed out while good and refreshed by one worker at a time.

GHL rotates refresh tokens: a refresh spends the token it used, so two workers refreshing at once
would leave one of them, and then everyone, with a spent token. Whoever refreshes holds a lease
(TokenLease) and stores the new grant before letting it go; the others wait for the lease (polling,
up to a deadline) and re-read the secret, uncached, to find the new grant. Every change to the
secret of a grant (an install, the CallTools token of `PUT /locations`) is made under the same
lease, so none of them writes back a refresh token that another just spent.

A refresh GHL refuses is final until the app is installed again: the grant is marked refused (so
no worker asks GHL again), and `on_refused` marks the location.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from chalicelib.domain.errors import TransientError
from chalicelib.domain.location import LocationTokens
from chalicelib.domain.oauth import GhlAuthFailed, OAuthGrant, OAuthRefused
from chalicelib.domain.time import utcnow
from chalicelib.ports import GhlOAuthApi, LocationSecrets, TokenLease
from chalicelib.runtime.observability import count, logger

Change = Callable[[LocationTokens | None], LocationTokens]
T = TypeVar("T")


class GrantKeeper:
    """The grants of one kind of holder (locations, or agencies), each in its own secret."""

    def __init__(
        self,
        secrets: Callable[[], LocationSecrets],
        api: Callable[[], GhlOAuthApi],
        lease: Callable[[], TokenLease],
        *,
        kind: str = "location",
        on_refused: Callable[[str, str], None] = lambda key, reason: None,
        clock: Callable[[], datetime] = utcnow,
        lease_seconds: float = 30.0,
        wait_seconds: float = 8.0,
        poll_seconds: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secrets = secrets
        self._api = api
        self._lease = lease
        self._kind = kind
        self._on_refused = on_refused
        self._clock = clock
        # Longer than one OAuth call's timeout: a holder's lease must not lapse mid-refresh.
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds
        self._sleep = sleep
        self._monotonic = monotonic

    def _lock(self, key: str) -> str:
        return key if self._kind == "location" else f"{self._kind}-{key}"

    def stored(self, key: str, *, fresh: bool = False) -> LocationTokens | None:
        return self._secrets().get(key, fresh=fresh)

    def access_token(self, key: str) -> str:
        """An access token good for REFRESH_MARGIN more at least; refreshed when needed.
        GhlAuthFailed when there is no grant or GHL refused it; TransientError when GHL did not
        answer or another worker's refresh outlasted the wait."""
        grant = self._grant(self.stored(key), key)
        if grant.good_until(self._clock()):
            return grant.access_token.get_secret_value()
        return self._under_lease(key, self._refresh_holding, self._good_now)

    def update(self, key: str, change: Change) -> LocationTokens:
        """Replace the secret with `change(current)`, read uncached under the lease."""

        def write(_: str) -> LocationTokens:
            tokens = change(self.stored(key, fresh=True))
            self._secrets().put(key, tokens)
            return tokens

        return self._under_lease(key, write)

    def _grant(self, tokens: LocationTokens | None, key: str) -> OAuthGrant:
        grant = tokens.ghl_oauth if tokens else None
        if grant is None:
            raise GhlAuthFailed(f"no OAuth grant is stored for {self._kind} {key}")
        if grant.refused_at is not None:
            raise GhlAuthFailed(f"GHL refused the OAuth grant of {self._kind} {key}: reinstall")
        return grant

    def _good_now(self, key: str) -> str | None:
        """The stored access token, read uncached, if another worker's refresh made it good."""
        grant = self._grant(self.stored(key, fresh=True), key)
        return grant.access_token.get_secret_value() if grant.good_until(self._clock()) else None

    def _under_lease(
        self, key: str, work: Callable[[str], T], done: Callable[[str], T | None] | None = None
    ) -> T:
        """Run `work` holding the key's lease (one owner per call: threads of one container
        are rivals too). While another holds it, wait; `done` may end the wait early."""
        deadline = self._monotonic() + self._wait_seconds
        lock = self._lock(key)
        while True:
            owner = uuid.uuid4().hex
            if self._lease().take(lock, owner, self._lease_seconds):
                try:
                    return work(key)
                finally:
                    self._lease().release(lock, owner)
            if done is not None and (result := done(key)) is not None:
                return result
            if self._monotonic() >= deadline:
                count("GhlOAuthLeaseWaitsExpired")
                raise TransientError(f"another worker holds the OAuth lease of {key}")
            self._sleep(self._poll_seconds)

    def _refresh_holding(self, key: str) -> str:
        # Read again under the lease: the last holder may have just stored a new grant.
        tokens = self.stored(key, fresh=True)
        grant = self._grant(tokens, key)
        assert tokens is not None
        if grant.good_until(self._clock()):
            return grant.access_token.get_secret_value()
        if grant.refresh_token is None:
            raise GhlAuthFailed(f"the OAuth grant of {self._kind} {key} has no refresh token")
        try:
            new = self._api().refresh(grant.refresh_token.get_secret_value())
        except OAuthRefused as refused:
            self._refused(key, tokens, grant, refused)
            raise GhlAuthFailed(f"GHL refused the OAuth refresh of {self._kind} {key}") from None
        new = new.model_copy(
            update={
                "company_id": new.company_id or grant.company_id,
                "location_id": new.location_id or grant.location_id,
            }
        )
        # Stored before the lease goes: the refresh token just spent is now worthless.
        self._put_refreshed(key, tokens.model_copy(update={"ghl_oauth": new}))
        count("GhlOAuthRefreshes")
        logger.info("OAuth grant refreshed", extra={self._kind + "_id": key})
        return new.access_token.get_secret_value()

    def _put_refreshed(self, key: str, tokens: LocationTokens) -> None:
        for attempt in (1, 2):
            try:
                self._secrets().put(key, tokens)
                return
            except Exception:
                if attempt == 2:
                    # The spent refresh token is all that is stored: the grant is lost.
                    logger.exception(
                        "refreshed OAuth grant could not be stored", extra={"key": key}
                    )
                    count("GhlOAuthGrantsLost")
                    raise

    def _refused(
        self, key: str, tokens: LocationTokens, grant: OAuthGrant, refused: OAuthRefused
    ) -> None:
        marked = grant.model_copy(update={"refused_at": self._clock()})
        self._secrets().put(key, tokens.model_copy(update={"ghl_oauth": marked}))
        logger.error(
            "GHL refused the OAuth refresh: reinstall the app",
            extra={self._kind + "_id": key, "reason": refused.reason},
        )
        count("GhlOAuthRefreshRefused")
        self._on_refused(key, refused.reason)
