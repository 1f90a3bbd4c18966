"""Where an event stands in time against what we stored, and GHL's re-read when that is unsure.

A snapshot older than the stored state is dropped. Events without a trustworthy snapshot re-read
the contact from GHL; that read is as fresh as the moment it was made."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from chalicelib.domain.contact import Contact
from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.state import ContactState
from chalicelib.domain.sync_plan import SyncPlan
from chalicelib.ports import GhlApi

# Event timestamps are GHL's clock: one this far ahead of ours is clamped.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# How far GHL's clock and ours may disagree when a re-read is placed among events.
READ_SKEW = timedelta(seconds=30)


class EventOrder:
    """Whether a snapshot may be applied as delivered; if not, GHL's current data instead."""

    def __init__(
        self,
        ghl: GhlApi,
        *,
        location_id: str,
        snapshot_trust: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._ghl = ghl
        self._location_id = location_id
        self._trust = snapshot_trust
        self._clock = clock

    def trusted(
        self,
        message: SyncMessage,
        contact: Contact,
        plan: SyncPlan,
        state: ContactState,
        event_time: datetime,
        now: datetime,
    ) -> bool:
        """Whether a snapshot may be applied as delivered, without asking GHL first."""
        if state.is_newer_than(event_time):
            return False  # older, and it would take the contact out: confirm with GHL
        if state.may_reflect(event_time) and not plan.is_noop:
            return False  # a re-read may hold newer data than this event: GHL settles it
        adds = bool(plan.add_buckets or plan.needs_contact)
        return not adds or self._fit_to_add(message, contact, now)

    def _fit_to_add(self, message: SyncMessage, contact: Contact, now: datetime) -> bool:
        """A snapshot may add to a bucket only if it states call DND and is recent: a delayed or
        reordered event could predate a DND that GHL already has. Search hits are as fresh as
        the search, webhook bodies as their timestamp."""
        read_at = message.received_at if message.origin == "reconciliation" else message.event_time
        return contact.dnd_known and read_at is not None and now - read_at <= self._trust

    def reread(
        self, cid: str, state: ContactState, event_time: datetime | None, strict: bool = False
    ) -> tuple[Contact | None, datetime, datetime]:
        """GHL's current data, with the span of time it may reflect: every change before the
        request was sent (less clock skew) is in it, and none after the reply (plus skew) is. The
        first is its `source_time`, never later than the data, so a change GHL makes while the
        read is in flight is not dropped as stale; events in the span are confirmed by GHL."""
        sent = self._clock()
        fetched = self._ghl.get_contact(cid)
        answered = self._clock()
        if fetched and (fetched.location_id or strict) and fetched.location_id != self._location_id:
            return None, sent, answered
        contact = (fetched or Contact.gone(cid)).model_copy(update={"dnd_known": True})
        stamp = max(filter(None, (sent - READ_SKEW, event_time, state.source_time)))
        read_until = max(filter(None, (answered + READ_SKEW, state.read_until)))
        return contact, stamp, read_until
