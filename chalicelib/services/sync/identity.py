"""Which CallTools contact is the GHL contact's: the one found by its phone, or one we create.

A create whose reply was lost may still have made a contact, perhaps in the buckets asked for:
until that is settled, finding nothing by phone proves nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.contact import Contact
from chalicelib.domain.errors import Deferred, NotFound, PermanentError, TransientError
from chalicelib.domain.phone import to_e164
from chalicelib.domain.state import ContactState
from chalicelib.domain.sync_plan import SyncPlan
from chalicelib.ports import CallToolsApi, CallToolsMatch
from chalicelib.runtime.observability import logger
from chalicelib.services.sync.deferrals import RemovalNotDone
from chalicelib.services.sync.lease import CREATE_RESOLVED, NOTHING_PENDING, Held
from chalicelib.services.sync.lookahead import PhoneLookup


class CallToolsIdentity:
    """Finds, adopts or creates the contact's CallTools contact; what it learns goes into `held`."""

    def __init__(
        self,
        calltools: CallToolsApi,
        *,
        region: str,
        create_settle: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._calltools = calltools
        self._region = region  # of phones written without a country code
        self._settle = create_settle
        self._clock = clock

    def phone_of(self, contact: Contact) -> str | None:
        """The E.164 phone a CallTools contact for `contact` is found by and created with."""
        return to_e164(contact.phone, self._region)

    def lookup(self, phone: str, contact_id: str) -> PhoneLookup:
        """Search CallTools by phone now (see `lookahead` for when that may precede the lease)."""
        return PhoneLookup(phone, self._candidates(phone, contact_id))

    def search_ahead(self, contact: Contact | None, plan: SyncPlan | None) -> str | None:
        """The phone to search beside GHL's re-read: the event's, when its plan creates a contact
        (GHL's answer most likely agrees; if not, `lookahead.usable` drops the search)."""
        if contact is None or plan is None or not plan.needs_contact or plan.recover_create:
            return None
        return self.phone_of(contact)

    def before_lease(
        self, contact: Contact, plan: SyncPlan, state: ContactState, lookup: PhoneLookup | None
    ) -> tuple[PhoneLookup | None, dict[str, Any]]:
        """For a plan that creates the contact: its search by phone (made now unless `lookup`
        holds one), and, when it found nothing to adopt, the pending create (see `ensure`) for
        the lease's acquire to write: one write fewer before the POST. Why a search made before
        the lease is sound: `lookahead`."""
        if not plan.needs_contact or plan.recover_create or state.maybe_in:
            return lookup, {}
        if lookup is None:
            phone = self.phone_of(contact)
            assert phone is not None  # a plan with buckets has a dialable phone
            lookup = self.lookup(phone, contact.id)
        if not lookup.creates():
            return lookup, {}
        pending = {
            "pending_phone": lookup.phone,
            "pending_since": self._clock(),
            "pending_buckets": state.pending_buckets | plan.desired_buckets,
            "field_hashes": dict(plan.field_hashes),
        }
        return replace(lookup, recorded=True), pending

    def ensure(
        self, contact: Contact, plan: SyncPlan, held: Held, lookup: PhoneLookup | None = None
    ) -> tuple[int, frozenset[int]]:
        """Adopt the CallTools contact with exactly this phone, or create one, in the plan's
        buckets where the account allows. Returns its id and the buckets the create confirmed.
        `lookup` is a search made for this phone before the lease was taken."""
        phone = self.phone_of(contact)
        assert phone is not None  # a plan with buckets has a dialable phone
        if lookup is None or lookup.phone != phone:
            lookup = self.lookup(phone, contact.id)
        matches = lookup.matches
        if len(matches) > 1:
            raise _conflict(matches)
        if matches:
            self._calltools.update_contact(matches[0].id, plan.fields)
            held.remember(calltools_id=matches[0].id)
            return matches[0].id, frozenset()
        if not lookup.recorded:
            # Before the POST: a reply lost now leaves a contact, perhaps in these buckets, that
            # the retry finds by this phone (`recover_create`), whatever GHL says by then. The
            # lease is renewed with it, so it outlasts the call.
            held.write_now(
                lease_until=held.lease_end(),
                pending_phone=phone,
                pending_since=self._clock(),
                pending_buckets=held.state.pending_buckets | plan.desired_buckets,
                field_hashes=dict(plan.field_hashes),
            )
        try:
            created = self._calltools.create_contact(plan.fields, plan.desired_buckets)
        except PermanentError:
            # Refused (4xx): nothing was made.
            held.remember(**NOTHING_PENDING)
            raise
        placed = created.buckets & plan.desired_buckets
        held.remember(
            calltools_id=created.id,
            buckets=held.state.buckets | placed,
            pending_buckets=held.state.pending_buckets - placed,
            **CREATE_RESOLVED,
        )
        return created.id, placed

    def recover_create(self, contact: Contact, held: Held, desired: frozenset[int]) -> None:
        """A create went out and its answer never came back: adopt what it made, if anything.
        Its buckets stay pending, so the plan made next removes or re-adds them (verified).

        An empty search proves nothing while the create could still be applied (a timed-out
        request may finish on the server later): until it has settled, the message waits."""
        state = held.state
        assert state.pending_phone is not None
        matches = self._candidates(state.pending_phone, contact.id)
        if len(matches) > 1:
            # Which one the create made is unknown: take every candidate out of each bucket the
            # contact must not be in, rather than guess. Only then is the conflict reported.
            for match in matches:
                for bucket_id in sorted(state.pending_buckets - desired):
                    with contextlib.suppress(NotFound):  # deleted by hand: in no bucket
                        try:
                            self._calltools.set_bucket_membership(match.id, bucket_id, False)
                        except (TransientError, PermanentError) as exc:
                            raise RemovalNotDone(str(exc)) from exc
            if desired:
                held.write_now(pending_buckets=state.pending_buckets & desired)
                raise _conflict(matches)
            held.write_now(**NOTHING_PENDING)
            return
        if matches:
            logger.info(
                "adopting the contact an unanswered create made",
                extra={"contact_id": contact.id, "calltools_id": matches[0].id},
            )
            held.write_now(calltools_id=matches[0].id, **CREATE_RESOLVED)
            return
        if state.pending_since is not None:
            wait = (state.pending_since + self._settle - self._clock()).total_seconds()
            if wait > 0:
                raise Deferred("an unanswered create has not shown up in CallTools yet", wait)
        held.write_now(**NOTHING_PENDING)

    def _candidates(self, phone: str, contact_id: str) -> list[CallToolsMatch]:
        """The CallTools contacts with this phone that are, or may be, this GHL contact: those
        carrying our GHL id win over those carrying none."""
        found = self._calltools.find_contacts_by_phone(phone)
        return [m for m in found if m.ghl_contact_id == contact_id] or [
            m for m in found if not m.ghl_contact_id
        ]


def _conflict(matches: Sequence[CallToolsMatch]) -> PermanentError:
    ids = ", ".join(str(m.id) for m in matches)
    return PermanentError(f"several CallTools contacts share this phone ({ids}); not guessing")
