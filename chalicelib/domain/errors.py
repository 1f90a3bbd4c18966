"""Failure kinds the sync distinguishes: retry later, or record and stop."""

from __future__ import annotations


class SyncError(Exception):
    """Base for failures the sync understands."""


class TransientError(SyncError):
    """Worth retrying later: the message goes back to SQS (and to the DLQ only by redrive)."""


class ConcurrentUpdate(TransientError):
    """Another worker changed or holds the contact's state; retry after it finishes."""


class MaybeApplied(TransientError):
    """A write that may have been applied got no answer (5xx, read timeout). It is never resent
    blindly; the retry first finds out what it did, so it waits briefly, not for SQS."""


class ConfigurationError(TransientError):
    """Settings do not match the accounts (unknown bucket, rejected token). Retried, and logged loud."""


class PermanentError(SyncError):
    """Retrying cannot help (undialable number, invalid payload): record it and dead-letter it."""


class NotFound(SyncError):
    """The remote object does not exist (e.g. a CallTools contact deleted by hand)."""


class Deferred(SyncError):
    """Not failed, not ready: run this message again in `seconds`, without counting it as a failed
    delivery (the consumer sends a delayed copy and deletes the original)."""

    def __init__(self, reason: str, seconds: float, counter: str | None = None) -> None:
        super().__init__(reason)
        self.seconds = seconds
        # The message's own count this wait adds to, beside its total of deferrals.
        self.counter = counter
