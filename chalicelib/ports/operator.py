"""What the status page needs beyond the sync: the dead letters and the login throttle."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class DeadLetters(Protocol):
    """The DLQ as an operator sees it: look without taking, and send back."""

    def peek_dead(self, limit: int = 50) -> list[dict[str, str]]: ...

    def redrive(self, limit: int = 1000, within_seconds: float | None = None) -> int:
        """Move up to `limit` dead letters back to the queue, starting no batch past
        `within_seconds`; returns how many moved."""
        ...


class LoginThrottle(Protocol):
    """Counts sign-in attempts per source, so guessing the admin token from one address is slow."""

    def attempt(self, source: str, now: datetime) -> bool:
        """Count one attempt before its token is compared; False once the source has used its
        attempts (nothing counted). Raises when it cannot count: the attempt is refused."""
        ...

    def succeeded(self, source: str, now: datetime) -> None:
        """Give back the attempt counted at `now`: the token was right."""
        ...
