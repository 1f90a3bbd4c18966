"""What the sync remembers about one GHL contact (stored in DynamoDB by the state store adapter)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.history import Decision

Status = Literal["new", "synced", "excluded", "failed"]


class ContactState(BaseModel):
    model_config = ConfigDict(frozen=True)

    contact_id: str
    calltools_id: int | None = None
    # Buckets *we* placed the contact in: only these are ever removed.
    buckets: frozenset[int] = frozenset()
    # Buckets a write may have put the contact in without our hearing back (recorded before the
    # write): removed like `buckets` when unwanted, added again (verified) when wanted.
    pending_buckets: frozenset[int] = frozenset()
    # Recorded before a create: the phone it was made with, so that a retry finds what a lost
    # reply made (`calltools_id` is then still unknown). Cleared once the outcome is known.
    pending_phone: str | None = None
    # When that create was sent: a search that finds nothing proves nothing until it has settled.
    pending_since: datetime | None = None
    field_hashes: dict[str, str] = Field(default_factory=dict)
    # GHL changes up to this time are reflected (an event's timestamp, or for a re-read a time
    # safely before GHL served it): an event older than this is stale.
    source_time: datetime | None = None
    # After a re-read: changes up to this time (after the reply, plus clock skew) may or may not
    # be in what GHL served, so an event between `source_time` and this is confirmed by GHL.
    read_until: datetime | None = None
    version: int = 0
    status: Status = "new"
    # Why the contact is in no bucket (dnd, no_phone, ...) or why the last sync failed.
    reason: str | None = None
    dnd: bool = False
    updated_at: datetime | None = None
    # A worker applying changes holds the contact until then (see StateStore.acquire).
    lease_until: datetime | None = None
    lease_owner: str | None = None
    # With status "failed": the fingerprint of the plan that failed (see sync_plan.fingerprint).
    failed_fingerprint: str | None = None
    # The last decisions about this contact, oldest first (domain/history.py), written with the
    # saves the sync makes anyway: no request of its own.
    history: tuple[Decision, ...] = ()

    @property
    def maybe_in(self) -> frozenset[int]:
        """Every bucket the contact may be in because of us."""
        return self.buckets | self.pending_buckets

    @property
    def create_unresolved(self) -> bool:
        """A create was sent and its outcome never reached us."""
        return self.pending_phone is not None and self.calltools_id is None

    def may_reflect(self, event_time: datetime) -> bool:
        """True when a re-read may or may not have included a change made at `event_time`."""
        return (
            self.read_until is not None
            and event_time <= self.read_until
            and not self.is_newer_than(event_time)
        )

    def is_newer_than(self, event_time: datetime | None) -> bool:
        """True when the stored state reflects later GHL data than `event_time` (a stale event)."""
        return (
            event_time is not None
            and self.source_time is not None
            and event_time < self.source_time
        )
