"""The walk phase: page through GHL's search for each rule's tag and enqueue the contacts that
differ from the stored state (all of them in a backfill)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.contact import Contact
from chalicelib.domain.errors import ConfigurationError
from chalicelib.domain.messages import HitPage, SyncMessage
from chalicelib.domain.runs import Run
from chalicelib.domain.sync_plan import FieldMapping, failed_alike, plan_sync
from chalicelib.domain.time import parse_time, utcnow
from chalicelib.ports import ContactQueue, GhlSearch, StateIndex
from chalicelib.runtime.observability import logger
from chalicelib.services.reconcile.calls import UNCOUNTED, CallMeter
from chalicelib.services.rule_book import RuleBook


@dataclass(frozen=True)
class WalkScope:
    """What a run reconciles: the contacts of one GHL location, under these rules and mapping."""

    location_id: str
    rulebook: RuleBook
    mapping: FieldMapping = field(default_factory=FieldMapping)

    def check(self) -> None:
        """Refuse a run before it starts, rather than walk a location that is not set."""
        if not self.location_id:
            raise ConfigurationError("GHL_LOCATION_ID is not set: no location to reconcile")


@dataclass(frozen=True)
class WalkLimits:
    page_limit: int = 500  # contacts per GHL search page (GHL's maximum)


class TagWalk:
    def __init__(
        self,
        ghl: GhlSearch,
        states: StateIndex,
        queue: ContactQueue,
        scope: WalkScope,
        limits: WalkLimits = WalkLimits(),
        *,
        clock: Callable[[], datetime] = utcnow,
        meter: CallMeter = UNCOUNTED,
    ) -> None:
        self._ghl = ghl
        self._states = states
        self._queue = queue
        self.scope = scope
        self.limits = limits
        self._clock = clock
        self._meter = meter

    def page(self, run: Run, limit: int | None = None) -> Run:
        """One search page (of at most `limit` contacts, the page limit by default) of the current
        rule's tag walked: the run's next checkpoint (unsaved). Past the last rule, the run moves
        on to the "left" phase."""
        rules = self.scope.rulebook.resolved()
        if run.rule_index >= len(rules):
            return run.model_copy(update={"phase": "left", "cursor": None})
        rule = rules[run.rule_index]
        calls = self._meter.page()
        size = min(limit or self.limits.page_limit, self.limits.page_limit)
        page = self._ghl.search_contacts(self.scope.location_id, rule.rule.tag, run.cursor, size)
        # Where the hits were found: a consumer that finds one gone stale reads the page again.
        found_in = HitPage(tag=rule.rule.tag, after=run.cursor, size=size)
        ids = [c.id for c, _ in page.contacts]
        states = self._states.get_many(ids)
        now = self._clock()
        outgoing = []
        for contact, date_updated in page.contacts:
            state = states.get(contact.id)
            event_time = parse_time(date_updated)
            snapshot: Contact | None = contact if event_time else None
            if run.mode != "backfill":
                plan = plan_sync(contact, rules, state, self.scope.mapping)
                if plan.is_noop:
                    continue  # in sync: costs nothing downstream
                if state is not None and failed_alike(state, plan):
                    continue  # failed with exactly this data already: not again every night
                if state is not None and state.is_newer_than(event_time):
                    # Our state's clock and dateUpdated can disagree: let GHL settle it.
                    snapshot = None
            outgoing.append(
                SyncMessage(
                    origin="reconciliation",
                    contact_id=contact.id,
                    location_id=contact.location_id or self.scope.location_id,
                    event_time=event_time if snapshot else None,
                    # Without dateUpdated the snapshot cannot be ordered: re-read it instead.
                    snapshot=snapshot,
                    received_at=now,
                    page=found_in,
                )
            )
        sqs_calls = self._queue.send_many(outgoing) if outgoing else 0
        members = [i for i in ids if states.get(i) and states[i].maybe_in]
        self._states.note_seen(run.id, run.pages, members)

        cursor = page.next_cursor
        rule_seen = run.rule_seen + len(ids)
        if cursor is not None and cursor == run.cursor:
            logger.error(
                "GHL search repeated its cursor; ending this tag's walk", extra={"run_id": run.id}
            )
            cursor = None
        first_total = run.rule_total if run.cursor is not None else page.total
        if page.total is not None and page.total == first_total and rule_seen >= page.total:
            # Every contact GHL counted is seen and the count has not moved since the walk began
            # (nothing untagged mid-walk shifted a contact past us): skip the empty last page.
            cursor = None
        expected = run.expected
        if run.cursor is None and page.total is not None:  # first page of this rule's walk
            expected = (expected or 0) + page.total
        update: dict[str, Any] = {
            "expected": expected,
            "pages": run.pages + 1,
            "seen": run.seen + len(ids),
            "enqueued": run.enqueued + len(outgoing),
            "cursor": cursor,
            "rule_seen": rule_seen if cursor is not None else 0,
            "rule_total": first_total if cursor is not None else None,
            "rule_index": run.rule_index + (1 if cursor is None else 0),
            "heartbeat_at": now,
            "api_calls": calls.added_to(run.api_calls, ghl=1, sqs=sqs_calls),
        }
        return run.model_copy(update=update)
