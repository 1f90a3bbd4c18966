"""Sync one contact from GHL to CallTools: the use case (`contact_sync`) and its parts."""

from chalicelib.services.sync.contact_sync import (
    MAX_DEFERRALS,
    ContactSync,
    RemovalNotDone,
    Result,
    SyncOutcome,
    deferral_backoff,
)

__all__ = [
    "MAX_DEFERRALS",
    "ContactSync",
    "RemovalNotDone",
    "Result",
    "SyncOutcome",
    "deferral_backoff",
]
