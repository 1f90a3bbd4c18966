"""In-memory fakes of the call-outcome ports (GHL writes, CallTools call results, the outcome
store, the reverse lookup). mypy checks each against its Protocol at the bottom of this file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.domain.errors import ConcurrentUpdate, MaybeApplied, TransientError
from chalicelib.domain.outcome_state import OutcomeState, tally_change
from chalicelib.domain.outcomes import CallRecord, Disposition
from chalicelib.ports import OutcomeTally


@dataclass
class FakeGhlWriter:
    """A GHL contact's tags, notes and DND; `calls` lists every write in order."""

    tags: dict[str, list[str]] = field(default_factory=dict)
    note_bodies: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    dnd: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    # Faults, each consumed by one call: "429" raises TransientError before the write, "lost"
    # makes the write and then loses the reply (MaybeApplied).
    faults: list[str] = field(default_factory=list)

    def _fault(self) -> str | None:
        fault = self.faults.pop(0) if self.faults else None
        if fault == "429":
            raise TransientError("GHL 429")
        return fault

    def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        self.calls.append(("add_tags", contact_id))
        fault = self._fault()
        have = self.tags.setdefault(contact_id, [])
        have.extend(t for t in tags if t.lower() not in {h.lower() for h in have})
        if fault == "lost":
            raise MaybeApplied("reply lost")

    def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        self.calls.append(("remove_tags", contact_id))
        fault = self._fault()
        gone = {t.lower() for t in tags}
        self.tags[contact_id] = [t for t in self.tags.get(contact_id, []) if t.lower() not in gone]
        if fault == "lost":
            raise MaybeApplied("reply lost")

    def add_note(self, contact_id: str, body: str) -> str:
        self.calls.append(("add_note", contact_id))
        fault = self._fault()
        notes = self.note_bodies.setdefault(contact_id, [])
        note_id = f"note-{contact_id}-{len(notes) + 1}"
        notes.append((note_id, body))
        if fault == "lost":
            raise MaybeApplied("reply lost")
        return note_id

    def notes(self, contact_id: str) -> list[tuple[str, str]]:
        self.calls.append(("notes", contact_id))
        self._fault()
        return list(self.note_bodies.get(contact_id, []))

    def set_call_dnd(self, contact_id: str, message: str) -> None:
        self.calls.append(("set_call_dnd", contact_id))
        fault = self._fault()
        self.dnd[contact_id] = message
        if fault == "lost":
            raise MaybeApplied("reply lost")

    def writes(self) -> int:
        return sum(1 for name, _ in self.calls if name != "notes")


@dataclass
class FakeCallOutcomes:
    records: dict[int, CallRecord] = field(default_factory=dict)
    dispositions: dict[int, Disposition] = field(default_factory=dict)
    # CallTools contact id → what its GHL-id custom field holds.
    ghl_ids: dict[int, str] = field(default_factory=dict)
    reads: int = 0

    def call_record(self, record_id: int) -> CallRecord | None:
        self.reads += 1
        return self.records.get(record_id)

    def disposition(self, disposition_id: int) -> Disposition | None:
        self.reads += 1
        return self.dispositions.get(disposition_id)

    def records_after(
        self, after_id: int, limit: int, since: datetime | None = None
    ) -> list[CallRecord]:
        self.reads += 1
        newer = sorted(
            (
                r
                for r in self.records.values()
                if r.id > after_id and (since is None or (r.created_at or since) >= since)
            ),
            key=lambda r: r.id,
        )
        return newer[:limit]

    def ghl_contact_id(self, calltools_contact_id: int) -> str | None:
        self.reads += 1
        return self.ghl_ids.get(calltools_contact_id)


class FakeOutcomeStore:
    def __init__(self) -> None:
        self.items: dict[int, OutcomeState] = {}
        self.mark = 0
        self.counts: dict[str, int] = {"received": 0}
        self.newest: tuple[datetime, float] | None = None

    def get(self, record_id: int) -> OutcomeState | None:
        return self.items.get(record_id)

    def acquire(
        self,
        record_id: int,
        owner: str,
        lease_until: datetime,
        now: datetime,
        *,
        seen: OutcomeState | None = None,
    ) -> OutcomeState:
        current = self.items.get(record_id)
        if seen is not None and (current.version if current else 0) != seen.version:
            raise ConcurrentUpdate("outcome moved")
        if current is None:
            self.counts["received"] += 1
            current = OutcomeState(record_id=record_id)
        elif (
            current.lease_owner not in (None, owner)
            and current.lease_until is not None
            and current.lease_until > now
        ):
            raise ConcurrentUpdate("outcome leased")
        new = current.model_copy(
            update={
                "lease_until": lease_until,
                "lease_owner": owner,
                "version": current.version + 1,
            }
        )
        self.items[record_id] = new
        return new

    def save(self, state: OutcomeState, *, keep_lease: bool = False) -> OutcomeState:
        current = self.items.get(state.record_id)
        if (current.version if current else 0) != state.version:
            raise ConcurrentUpdate("outcome moved")
        if not keep_lease:
            state = state.model_copy(update={"lease_until": None, "lease_owner": None})
        new = state.model_copy(update={"version": state.version + 1})
        change = tally_change(current, new)
        for name, n in change.items():
            self.counts[name] = self.counts.get(name, 0) + n
        if change and new.status == "applied" and new.applied_at and new.created_on:
            lag = (new.applied_at - new.created_on).total_seconds()
            self.newest = (new.applied_at, lag)
        self.items[state.record_id] = new
        return new

    def checkpoint(self) -> int:
        return self.mark

    def advance_checkpoint(self, record_id: int) -> None:
        self.mark = max(self.mark, record_id)

    def tally(self) -> OutcomeTally:
        return OutcomeTally(
            received=self.counts["received"],
            applied=self.counts.get("applied", 0),
            unmapped=self.counts.get("unmapped", 0),
            unknown=self.counts.get("unknown", 0),
            newest_applied_at=self.newest[0] if self.newest else None,
            newest_lag_seconds=self.newest[1] if self.newest else None,
            checkpoint=self.mark,
        )


@dataclass
class FakeContactDirectory:
    by_calltools_id: dict[int, str] = field(default_factory=dict)
    broken: bool = False  # the lookup cannot be made (say, the index is missing)

    def contact_for_calltools_id(self, calltools_id: int) -> str | None:
        if self.broken:
            raise RuntimeError("index missing")
        return self.by_calltools_id.get(calltools_id)


if TYPE_CHECKING:
    from chalicelib.ports import CallOutcomes, ContactDirectory, GhlContactWriter, OutcomeStore

    _writer: GhlContactWriter = FakeGhlWriter()
    _outcomes: CallOutcomes = FakeCallOutcomes()
    _store: OutcomeStore = FakeOutcomeStore()
    _directory: ContactDirectory = FakeContactDirectory()
