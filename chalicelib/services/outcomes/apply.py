"""Applying one call outcome: a CallTools historical call disposition → writes to its GHL contact.

Trust nothing a hook said: the record and its disposition are read back from CallTools by id, and
a record CallTools does not know writes nothing. The contact is named by our own state (the
reverse lookup), else by the GHL id CallTools holds for it, which is then checked against GHL
(ours, in our location); a contact we cannot name is recorded as unmapped, never guessed by phone.

Exactly once in effect: adding and removing tags and setting DND change nothing when repeated, so
they are simply done again on a retry. A note is not: the intent is recorded before it is sent,
and a retry that finds the intent looks for the note (by its marker) before sending another.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.errors import Deferred, NotFound, TransientError
from chalicelib.domain.messages import OutcomeMessage
from chalicelib.domain.outcome_state import OutcomeState
from chalicelib.domain.outcomes import CallRecord, OutcomeEffect, OutcomeRules, note_marker
from chalicelib.domain.time import utcnow
from chalicelib.ports import (
    CallOutcomes,
    ContactDirectory,
    GhlApi,
    GhlContactWriter,
    OutcomeStore,
)
from chalicelib.runtime.observability import count, logger

# A contact that must leave the dialler and does not yet show GHL's DND is tried again soon.
DND_RECHECK_SECONDS = 15
# About ten minutes of such waits.
MAX_DEFERRALS = 40
# A GHL contact id as it may go into a URL path (GHL's are 20 letters and digits): a CallTools
# field holding a path ("x/../y", "x?") is not an id.
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class OutcomePlace:
    """Where outcomes are written: our GHL location, and the zone notes tell the time in."""

    location_id: str
    zone: str = "UTC"


@dataclass(frozen=True)
class OutcomeAccounts:
    """The outside world an outcome touches."""

    calltools: CallOutcomes
    writer: GhlContactWriter
    reader: GhlApi
    directory: ContactDirectory


# Syncs the GHL contact now (it re-reads GHL); True once it is in no bucket of ours.
TakeOut = Callable[[str], bool]


class OutcomeSync:
    def __init__(
        self,
        accounts: OutcomeAccounts,
        store: OutcomeStore,
        rules: OutcomeRules,
        place: OutcomePlace,
        take_out: TakeOut,
        *,
        lease_seconds: float = 120.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._ct = accounts.calltools
        self._ghl = accounts.writer
        self._reader = accounts.reader
        self._directory = accounts.directory
        self._store = store
        self._rules = rules
        self._place = place
        self._take_out = take_out
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._owner_base = uuid.uuid4().hex

    def apply(self, message: OutcomeMessage) -> dict[str, Any]:
        record_id = message.record_id
        known = self._store.get(record_id)
        if known is not None and known.finished:
            count("OutcomesAlreadyDone")
            return _result(known, duplicate=True)
        record = self._ct.call_record(record_id)
        state = self._acquire(known or OutcomeState(record_id=record_id))
        if record is None:
            logger.warning("CallTools does not know this call record", extra={"record": record_id})
            return self._finish(state, "unknown", "CallTools does not know this record")
        disposition = self._ct.disposition(record.disposition) if record.disposition else None
        if disposition is None:
            logger.warning("call record without a known disposition", extra={"record": record_id})
            return self._finish(state, "unknown", "the record names no known disposition")
        state = state.model_copy(
            update={
                "calltools_contact_id": record.contact,
                "disposition": disposition.name,
                "created_on": record.created_at,
            }
        )
        contact_id = state.ghl_contact_id or self._contact_for(record)
        if contact_id is None:
            return self._finish(state, "unmapped", f"no GHL contact for CallTools {record.contact}")
        state = state.model_copy(update={"ghl_contact_id": contact_id})
        effect = self._rules.effect(record, disposition, self._place.zone)
        progress = _Progress(state)
        try:
            self._write(progress, contact_id, effect, record_id)
        except NotFound:
            return self._finish(progress.state, "unmapped", "the GHL contact no longer exists")
        except Deferred as wait:
            self._release(progress.state)
            if message.deferrals >= MAX_DEFERRALS:
                # SQS's own retries now, and the DLQ (and its alarm) if it never happens.
                raise TransientError(f"{wait} ({message.deferrals} waits)") from wait
            raise
        except BaseException:
            # What is done stays done, and the lease goes: the retry need not wait it out.
            self._release(progress.state)
            raise
        return self._finish(progress.state, "applied", None)

    # --- who is it in GHL ------------------------------------------------------------------------
    def _contact_for(self, record: CallRecord) -> str | None:
        if record.contact is None:
            return None
        try:
            ours = self._directory.contact_for_calltools_id(record.contact)
        except Exception:
            logger.exception("reverse lookup failed; asking CallTools for the GHL id")
            count("OutcomeLookupFailed")
            ours = None
        if ours is not None:
            return ours  # we only keep state for contacts of our location
        claimed = self._ct.ghl_contact_id(record.contact)
        if not claimed or not _PLAIN_ID.fullmatch(claimed):
            return None
        # CallTools' field could name anything: the contact must exist in our location. The
        # writes go to the contact GHL answered for, the one checked, whatever the claim said.
        contact = self._reader.get_contact(claimed)
        if contact is None or contact.location_id != self._place.location_id:
            logger.warning(
                "CallTools names a GHL contact outside our location",
                extra={"record": record.id, "found": contact is not None},
            )
            return None
        return contact.id if _PLAIN_ID.fullmatch(contact.id) else None

    # --- the writes ------------------------------------------------------------------------------
    def _write(self, progress: _Progress, cid: str, effect: OutcomeEffect, record_id: int) -> None:
        if effect.add_tags and not progress.state.did("tags"):
            self._ghl.add_tags(cid, effect.add_tags)
            progress.state = progress.state.with_done("tags")
        if effect.remove_tags and not progress.state.did("untags"):
            self._ghl.remove_tags(cid, effect.remove_tags)
            progress.state = progress.state.with_done("untags")
        if effect.note is not None and not progress.state.did("note"):
            self._note(progress, cid, effect.note, record_id)
        if effect.dnd_message is not None:
            if not progress.state.did("dnd"):
                self._ghl.set_call_dnd(cid, effect.dnd_message)
                progress.state = progress.state.with_done("dnd")
            if not self._take_out(cid):
                raise Deferred("the contact does not show GHL's DND yet", DND_RECHECK_SECONDS)
            progress.state = progress.state.with_done("buckets")

    def _note(self, progress: _Progress, cid: str, body: str, record_id: int) -> None:
        state = progress.state
        if state.note_sent_at is not None:
            marker = note_marker(record_id)
            found = next((nid for nid, text in self._ghl.notes(cid) if marker in text), None)
            if found is not None:
                count("OutcomeNotesFoundOnRetry")
                progress.state = state.model_copy(update={"note_id": found}).with_done("note")
                return
        # On record before sending: a reply lost now leaves a trace the retry looks for.
        progress.state = self._store.save(
            state.model_copy(update={"note_sent_at": self._clock()}), keep_lease=True
        )
        note_id = self._ghl.add_note(cid, body)
        progress.state = progress.state.model_copy(update={"note_id": note_id}).with_done("note")

    # --- state -----------------------------------------------------------------------------------
    @property
    def _owner(self) -> str:
        return f"{self._owner_base}.{threading.get_ident()}"

    def _acquire(self, seen: OutcomeState) -> OutcomeState:
        """Raises ConcurrentUpdate while another worker applies the same record (a hook sent
        twice at once), or when it changed since `seen` was read: the consumer defers it, and
        the copy then finds it done."""
        now = self._clock()
        return self._store.acquire(seen.record_id, self._owner, now + self._lease, now, seen=seen)

    def _release(self, state: OutcomeState) -> None:
        try:
            self._store.save(state)
        except Exception:  # the lease then simply expires
            logger.exception("could not release a call outcome's lease")

    def _finish(self, state: OutcomeState, status: str, reason: str | None) -> dict[str, Any]:
        now = self._clock()
        final = state.model_copy(
            update={
                "status": status,
                "reason": reason,
                "applied_at": now if status == "applied" else None,
            }
        )
        saved = self._store.save(final)
        count(f"Outcomes{status.capitalize()}")  # OutcomesApplied, OutcomesUnmapped, ...
        logger.info(
            "call outcome finished",
            extra={"record": state.record_id, "status": status, "reason": reason},
        )
        return _result(saved)


class _Progress:
    """The outcome's state as far as its writes got (saved or not)."""

    def __init__(self, state: OutcomeState) -> None:
        self.state = state


def _result(state: OutcomeState, *, duplicate: bool = False) -> dict[str, Any]:
    return {
        "result": "outcome",
        "status": state.status,
        "record_id": state.record_id,
        "contact_id": state.ghl_contact_id,
        "reason": state.reason,
        "duplicate": duplicate,
    }
