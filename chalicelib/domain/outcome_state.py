"""What we remember of one call outcome (one CallTools historical call disposition): how far its
writes to GHL got, so that a hook delivered again, or a retry after a lost reply, writes nothing
twice. Stored by the outcome store adapter, guarded by a version number like a contact's state."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

# pending: not finished (or being retried); applied: every write done; unmapped: no GHL contact
# we can name for it; unknown: CallTools does not know the record (a forged or mistyped hook).
OutcomeStatus = Literal["pending", "applied", "unmapped", "unknown"]
FINAL: frozenset[str] = frozenset({"applied", "unmapped", "unknown"})
# Final and never looked at again. Not "unknown": CallTools may yet make a record with that id
# (a hook forged ahead of it, or read before CallTools showed it), so an unknown id that comes
# back is read again rather than answered as done.
SETTLED: frozenset[str] = frozenset({"applied", "unmapped"})

# The steps of an outcome, in the order they are applied; each is recorded once done.
Step = Literal["tags", "untags", "note", "dnd", "buckets"]


class OutcomeState(BaseModel):
    model_config = ConfigDict(frozen=True)

    record_id: int
    status: OutcomeStatus = "pending"
    ghl_contact_id: str | None = None
    calltools_contact_id: int | None = None
    disposition: str | None = None
    created_on: datetime | None = None  # when the agent recorded it (CallTools' time)
    done: frozenset[str] = frozenset()
    # Recorded before the note is sent: a retry that finds it set looks for the note first.
    note_sent_at: datetime | None = None
    note_id: str | None = None
    reason: str | None = None
    applied_at: datetime | None = None
    version: int = 0
    lease_until: datetime | None = None
    lease_owner: str | None = None

    @property
    def finished(self) -> bool:
        """Nothing more to do for this record (an unknown one is read again if it comes back)."""
        return self.status in SETTLED

    def did(self, step: Step) -> bool:
        return step in self.done

    def with_done(self, step: Step) -> OutcomeState:
        return self.model_copy(update={"done": self.done | {step}})


def tally_change(previous: OutcomeState | None, stored: OutcomeState) -> dict[str, int]:
    """What one save adds to the tally: a record counts once, under its latest final status. An
    unknown one that CallTools later knows moves out of `unknown`; nothing else is counted again."""
    before = previous.status if previous is not None else "pending"
    if stored.status not in FINAL or before == stored.status or before in SETTLED:
        return {}
    if before == "unknown":
        return {"unknown": -1, stored.status: 1}
    return {stored.status: 1}
