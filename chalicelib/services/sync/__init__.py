"""Sync one contact from GHL to CallTools: the use case (`contact_sync`) and its parts."""

from chalicelib.services.sync.contact_sync import ContactSync, SyncTimings
from chalicelib.services.sync.deferrals import MAX_DEFERRALS, RemovalNotDone, deferral_backoff
from chalicelib.services.sync.outcome import Result, SyncOutcome

__all__ = [
    "MAX_DEFERRALS",
    "ContactSync",
    "RemovalNotDone",
    "Result",
    "SyncOutcome",
    "SyncTimings",
    "deferral_backoff",
]
