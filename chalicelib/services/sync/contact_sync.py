"""Sync one contact: decide (pure plan), then apply the difference to CallTools under a lease.

Which data the plan is made from (the event's snapshot, or GHL's re-read) is `ordering`'s to say;
which CallTools contact is the contact's, `identity`'s (a new one's phone search runs beside the
re-read: `lookahead`); the lease and its writes, `lease`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from chalicelib.domain.contact import Contact
from chalicelib.domain.errors import (
    ConfigurationError,
    NotFound,
    PermanentError,
    TransientError,
)
from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.scope import Scope
from chalicelib.domain.state import ContactState
from chalicelib.domain.sync_plan import (
    FieldMapping,
    SyncPlan,
    fingerprint,
    plan_sync,
    removals_only,
)
from chalicelib.domain.time import utcnow
from chalicelib.inbound.ghl_events import scope_rejection
from chalicelib.ports import CallToolsApi, GhlApi, GhlSearch, StateStore
from chalicelib.runtime.observability import logger
from chalicelib.services.rule_book import RuleBook
from chalicelib.services.sync.decisions import UNPROMPTED, Prompt
from chalicelib.services.sync.deferrals import (
    RemovalNotDone,
    removal_not_done,
    resolved_or_wait,
)
from chalicelib.services.sync.identity import CallToolsIdentity
from chalicelib.services.sync.lease import NOTHING_PENDING, Held, Lease
from chalicelib.services.sync.lookahead import PhoneLookup, beside, usable
from chalicelib.services.sync.ordering import MAX_CLOCK_SKEW, EventOrder
from chalicelib.services.sync.outcome import SyncOutcome
from chalicelib.services.sync.refresh import HitRefresh


@dataclass(frozen=True)
class SyncTimings:
    """The sync's durations; the defaults are the settings' (runtime/settings_groups.py)."""

    lease_seconds: int = 120  # outlasts one CallTools call with its retries
    snapshot_trust_seconds: float = 60.0  # an older snapshot is re-read before it may add
    create_settle_seconds: float = 300.0  # a create whose reply was lost may still land


class ContactSync:
    """Syncs one contact per message; one instance per worker (each of its threads a lease owner)."""

    def __init__(
        self,
        *,
        ghl: GhlApi,
        calltools: CallToolsApi,
        store: StateStore,
        rulebook: RuleBook,
        mapping: FieldMapping,
        scope: Scope,
        timings: SyncTimings = SyncTimings(),
        clock: Callable[[], datetime] = utcnow,
        search: GhlSearch | None = None,
    ) -> None:
        self._calltools = calltools
        self._store = store
        self._rulebook = rulebook
        self._mapping = mapping
        self._scope = scope
        self._lease = Lease(store, timings.lease_seconds, clock)
        self._order = EventOrder(
            ghl,
            location_id=scope.location_id,
            snapshot_trust=timedelta(seconds=timings.snapshot_trust_seconds),
            clock=clock,
        )
        self._identity = CallToolsIdentity(
            calltools,
            region=mapping.default_region,
            create_settle=timedelta(seconds=timings.create_settle_seconds),
            clock=clock,
        )
        trust = timedelta(seconds=timings.snapshot_trust_seconds)
        # Without GHL's search (tests), a stale hit is re-read on its own.
        self._refresh = (
            HitRefresh(search, scope.location_id, mapping, snapshot_trust=trust, clock=clock)
            if search is not None
            else None
        )
        self._clock = clock

    def sync(self, message: SyncMessage) -> SyncOutcome:
        cid, scope = message.contact_id, self._scope
        if not scope.location_id:
            raise ConfigurationError("GHL_LOCATION_ID is not set; no contact is synced")
        # A message naming no location was queued before every event had to name ours: GHL,
        # asked with our location's token, decides whether the contact is ours.
        strict = message.location_id is None
        out_of_scope = None if strict else scope_rejection(message, scope.location_id, scope.app_id)
        if out_of_scope:
            return SyncOutcome("ignored", cid, reason=out_of_scope)

        state = self._store.get(cid) or ContactState(contact_id=cid)
        now = self._clock()
        # Even a no-op write would bump the version under the worker applying changes.
        self._lease.check_free(state, now)
        rules = resolved_or_wait(self._rulebook, message)
        if self._refresh is not None:
            message = self._refresh.fresh(message, rules, state, now)
        contact, source_time = (None, None) if strict else (message.snapshot, message.event_time)
        plan = snapshot_plan = lookup = None
        reread = False
        if contact is not None and source_time is not None:
            # A signed timestamp far in the future must not freeze the contact.
            source_time = min(source_time, now + MAX_CLOCK_SKEW)
            snapshot_plan = plan_sync(contact, rules, state, self._mapping)
            if state.is_newer_than(source_time) and not snapshot_plan.remove_buckets:
                logger.info("stale event dropped", extra={"contact_id": cid})
                return SyncOutcome(
                    "stale", cid, state.calltools_id, reason="older than stored state"
                )
            if self._order.trusted(message, contact, snapshot_plan, state, source_time, now):
                plan = snapshot_plan
        if contact is None or plan is None:
            # No snapshot, or one whose place in time against what we stored is unsure, or one
            # that would put the contact in the dialler without saying whether calls are DND
            # right now: ask GHL. A removal is never dropped for looking old; it is confirmed.
            searched = self._identity.search_ahead(contact, snapshot_plan)
            try:
                (contact, source_time, read_until), found = beside(
                    partial(self._order.reread, cid, state, source_time, strict),
                    partial(self._identity.lookup, searched, cid) if searched else None,
                )
            except (TransientError, PermanentError) as exc:
                if contact is not None and snapshot_plan is not None:
                    # The signed event says the contact must leave: that never waits for GHL.
                    self._remove_only(contact, snapshot_plan, state, message)
                if isinstance(exc, TransientError):
                    raise
                # GHL refused the read (a 4xx other than 404/429): retrying will not help.
                logger.warning("GHL refused the re-read", extra={"contact_id": cid})
                return SyncOutcome("failed", cid, state.calltools_id, reason=str(exc))
            if contact is None:
                usable(found, searched, None, None)  # counted as wasted
                return SyncOutcome("ignored", cid, reason="other location")
            state, reread = state.model_copy(update={"read_until": read_until}), True
            plan = plan_sync(contact, rules, state, self._mapping)
            lookup = usable(found, searched, plan, self._identity.phone_of(contact))

        newest = max(filter(None, (source_time, state.source_time)), default=None)
        base = state.model_copy(update={"source_time": newest, "dnd": contact.dnd_calls})
        prompt = Prompt.of(message, reread, source_time)
        if plan.is_noop:
            return self._record_unchanged(state, base, plan, prompt)
        return self._apply(contact, plan, state, base, message.removal_deferrals, lookup, prompt)

    def _remove_only(
        self, contact: Contact, plan: SyncPlan, state: ContactState, message: SyncMessage
    ) -> None:
        """Take the contact out of the buckets the snapshot's plan removes, nothing else: no add,
        no field, and the stored time unmoved, so GHL's answer still counts when it comes."""
        if not plan.remove_buckets or plan.desired_buckets or state.calltools_id is None:
            # Only a contact that must leave every bucket (DND, deleted, untagged) leaves on the
            # event alone; nothing we placed is reachable before a pending create is resolved.
            return
        logger.warning(
            "GHL unavailable; removing on the event alone", extra={"contact_id": contact.id}
        )
        prompt = Prompt.of(message, False, message.event_time)
        plan = removals_only(plan, state)
        self._apply(contact, plan, state, state, message.removal_deferrals, prompt=prompt)

    def _record_unchanged(
        self, state: ContactState, base: ContactState, plan: SyncPlan, prompt: Prompt
    ) -> SyncOutcome:
        """Saved only when something changed (a newer source time, a status): the decision
        goes on the history with that save, never with a write of its own."""
        status = "excluded" if plan.exclusion else "synced"
        new = base.model_copy(update={"status": status, "reason": plan.exclusion})
        if new.model_dump(exclude={"updated_at"}) != state.model_dump(exclude={"updated_at"}):
            now = self._clock()
            history = prompt.onto(new.history, now, "unchanged", plan)
            self._store.save(new.model_copy(update={"updated_at": now, "history": history}))
        return SyncOutcome("unchanged", state.contact_id, state.calltools_id, reason=plan.exclusion)

    def _apply(
        self,
        contact: Contact,
        plan: SyncPlan,
        state: ContactState,
        base: ContactState,
        deferrals: int = 0,
        lookup: PhoneLookup | None = None,
        prompt: Prompt = UNPROMPTED,
    ) -> SyncOutcome:
        """Apply under a lease. Only the final save advances `source_time`: a retry after a
        failure part-way must not be dropped as stale.

        A new contact is searched by phone before the lease is taken (`lookahead` says why
        that is safe); if nothing is found, the acquire records the create as pending too."""
        lookup, pending = self._identity.before_lease(contact, plan, state, lookup)
        held = self._lease.acquire(state, **pending)
        try:
            try:
                return self._apply_held(contact, plan, held, base, lookup, prompt)
            except NotFound:
                # Deleted by hand in CallTools: forget it and start over from GHL's data.
                logger.warning(
                    "CallTools contact vanished; recreating", extra={"contact_id": contact.id}
                )
                held.write_now(
                    calltools_id=None, buckets=frozenset(), field_hashes={}, **NOTHING_PENDING
                )
                fresh = plan_sync(contact, self._rulebook.resolved(), None, self._mapping)
                return self._apply_held(contact, fresh, held, base, prompt=prompt)
        except RemovalNotDone as exc:
            return removal_not_done(held, exc, deferrals, self._clock(), prompt, plan)
        except PermanentError as exc:
            now = self._clock()
            history = prompt.onto(held.state.history, now, "failed", plan, reason=str(exc))
            held.finish(
                status="failed",
                reason=str(exc),
                failed_fingerprint=fingerprint(plan),
                updated_at=now,
                history=history,
            )
            logger.warning(
                "contact sync failed permanently",
                extra={"contact_id": contact.id, "reason": str(exc)},
            )
            return SyncOutcome("failed", contact.id, held.state.calltools_id, reason=str(exc))
        except Exception:
            held.release()
            raise

    def _apply_held(
        self,
        contact: Contact,
        plan: SyncPlan,
        held: Held,
        base: ContactState,
        lookup: PhoneLookup | None = None,
        prompt: Prompt = UNPROMPTED,
    ) -> SyncOutcome:
        """Apply `plan`. Every write that could put the contact in a bucket is recorded as pending
        before it is sent, so that a lost reply or a crash cannot leave it in the dialler
        unknown to us; a removal is recorded once CallTools confirmed it."""
        ct = self._calltools
        if plan.recover_create:
            self._identity.recover_create(contact, held, plan.desired_buckets)
            plan = plan_sync(contact, self._rulebook.resolved(), held.state, self._mapping)
        ct_id = held.state.calltools_id
        removed: list[int] = []
        # Removals first: a contact that must not be dialled leaves before anything else happens.
        for bucket_id in sorted(plan.remove_buckets & held.state.maybe_in):
            if ct_id is not None:
                try:
                    ct.set_bucket_membership(ct_id, bucket_id, member=False)
                except (TransientError, PermanentError) as exc:
                    # The contact must leave whatever CallTools says: never a final failure.
                    raise RemovalNotDone(str(exc)) from exc
            held.write_now(
                buckets=held.state.buckets - {bucket_id},
                pending_buckets=held.state.pending_buckets - {bucket_id},
            )
            removed.append(bucket_id)
        if ct_id is not None and plan.changed_fields:
            ct.update_contact(ct_id, plan.changed_fields)
            # Not written on its own: a crash before the next write only repeats this PATCH.
            held.remember(field_hashes=dict(plan.field_hashes))

        placed: frozenset[int] = frozenset()
        if ct_id is None and plan.desired_buckets:
            ct_id, placed = self._identity.ensure(contact, plan, held, lookup)
        to_add = plan.desired_buckets - held.state.buckets
        for bucket_id in sorted(to_add):
            assert ct_id is not None
            held.write_now(
                pending_buckets=held.state.pending_buckets | {bucket_id},
                lease_until=held.lease_end(),
            )
            ct.set_bucket_membership(ct_id, bucket_id, member=True)
            held.remember(
                buckets=held.state.buckets | {bucket_id},
                pending_buckets=held.state.pending_buckets - {bucket_id},
            )
        added = sorted(placed | to_add)
        now = self._clock()
        history = prompt.onto(held.state.history, now, "synced", plan, added=added, removed=removed)
        held.finish(
            # Every bucket once pending is now confirmed in, or removed.
            **NOTHING_PENDING,
            source_time=base.source_time,
            dnd=base.dnd,
            field_hashes=dict(plan.field_hashes),
            status="excluded" if plan.exclusion else "synced",
            reason=plan.exclusion,
            updated_at=now,
            history=history,
        )
        logger.info(
            "contact synced",
            extra={
                "contact_id": contact.id,
                "calltools_id": ct_id,
                "added": added,
                "removed": removed,
                "fields_changed": sorted(plan.changed_fields),
                "exclusion": plan.exclusion,
            },
        )
        return SyncOutcome(
            "synced", contact.id, ct_id, tuple(added), tuple(removed), plan.exclusion
        )
