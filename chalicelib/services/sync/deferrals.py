"""Waits that may last: a bucket removal CallTools does not take, rules it cannot resolve. The
message comes back after a growing delay instead of walking towards the DLQ."""

from __future__ import annotations

from chalicelib.domain.errors import SyncError


class RemovalNotDone(SyncError):
    """A bucket removal did not happen (refused, or CallTools unavailable)."""


# The delay grows from 30 s to SQS's longest (15 min); 100 deferrals span about a day, after
# which a removal is dead-lettered for a person to look at.
MAX_DEFERRALS = 100


def deferral_backoff(deferrals: int) -> float:
    return float(min(900, 30 * 2 ** min(deferrals, 5)))
