"""What applying a call outcome (CallTools → GHL) needs: GHL writes, CallTools records, outcome state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chalicelib.domain.outcome_state import OutcomeState
from chalicelib.domain.outcomes import CallRecord, Disposition


class GhlContactWriter(Protocol):
    """Writes to a GHL contact (gohighlevel.md §12). Never a contact PUT with `tags`: GHL would
    replace every tag."""

    def add_tags(self, contact_id: str, tags: Sequence[str]) -> None: ...

    def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None: ...

    def add_note(self, contact_id: str, body: str) -> str:
        """Returns the note's id. Not resent after a reply that may have been lost (raises
        MaybeApplied): the caller looks for the note first (`notes`)."""
        ...

    def notes(self, contact_id: str) -> list[tuple[str, str]]:
        """The contact's notes as (id, body)."""
        ...

    def set_call_dnd(self, contact_id: str, message: str) -> None:
        """dndSettings.Call active, with `message`."""
        ...


class CallOutcomes(Protocol):
    """CallTools' call results (calltools.md §8a), read back by id: a hook is only a hint."""

    def call_record(self, record_id: int) -> CallRecord | None:
        """The historical call disposition; None when CallTools does not know it (404)."""
        ...

    def disposition(self, disposition_id: int) -> Disposition | None: ...

    def records_after(
        self, after_id: int, limit: int, since: datetime | None = None
    ) -> list[CallRecord]:
        """The oldest `limit` records with an id above `after_id` (and, with `since`, recorded
        at or after it), oldest first. (CallTools pages newest first, so every page down to
        `after_id` is read; a catch-up that takes the oldest can advance its checkpoint past
        them and lose nothing.)"""
        ...

    def ghl_contact_id(self, calltools_contact_id: int) -> str | None:
        """The GHL contact id the CallTools contact carries in its configured custom field."""
        ...


@dataclass(frozen=True)
class OutcomeTally:
    """For /sync/stats: outcomes by how they ended, and how late the newest applied one was."""

    received: int = 0
    applied: int = 0
    unmapped: int = 0
    unknown: int = 0
    newest_applied_at: datetime | None = None
    newest_lag_seconds: float | None = None  # CallTools' record time → applied in GHL
    checkpoint: int = 0

    @property
    def pending(self) -> int:
        return max(0, self.received - self.applied - self.unmapped - self.unknown)


class OutcomeStore(Protocol):
    """One item per call outcome, versioned and leased like a contact's state."""

    def get(self, record_id: int) -> OutcomeState | None: ...

    def acquire(
        self,
        record_id: int,
        owner: str,
        lease_until: datetime,
        now: datetime,
        *,
        seen: OutcomeState | None = None,
    ) -> OutcomeState:
        """Take the outcome's lease, creating its item (status pending) the first time; raises
        ConcurrentUpdate while another owner holds an unexpired lease, or when the item is no
        longer `seen` (the state the caller just read, version 0 for none: saves a read)."""
        ...

    def save(self, state: OutcomeState, *, keep_lease: bool = False) -> OutcomeState:
        """Write `state` if its version is current (raises ConcurrentUpdate); the tally counts
        the outcome when its status first becomes final."""
        ...

    def checkpoint(self) -> int:
        """The newest record id the catch-up has queued (0: none yet)."""
        ...

    def advance_checkpoint(self, record_id: int) -> None:
        """Raise the checkpoint to `record_id`; never lowers it."""
        ...

    def tally(self) -> OutcomeTally: ...
