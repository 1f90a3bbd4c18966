"""Daily reconciliation: walk every contact carrying a rule's tag, enqueue only what differs from
the stored state, then re-check the contacts we placed that the walk no longer saw.

A run is a chain of steps. Each step holds the run's lease, advances page by page (checkpointing
after each) until its time is up, then enqueues the next step: any size finishes, and a step that
dies resumes from the last checkpoint. The consumer does the CallTools work for both paths.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.contact import Contact
from chalicelib.domain.errors import ConcurrentUpdate, ConfigurationError
from chalicelib.domain.messages import ReconcileStep, SyncMessage
from chalicelib.domain.runs import Mode, Run, new_run_id
from chalicelib.domain.state import ContactState
from chalicelib.domain.sync_plan import FieldMapping, failed_alike, plan_sync
from chalicelib.domain.time import parse_time, utcnow
from chalicelib.ports import ContactQueue, GhlSearch, RunStore, StateIndex
from chalicelib.runtime.observability import logger
from chalicelib.services.reconcile.calls import CallMeter
from chalicelib.services.reconcile.census import add_to_census, empty_census
from chalicelib.services.rule_book import RuleBook

SCAN_PAGE = 1000
LEASE_MARGIN = timedelta(seconds=5)


def _touched_since(state: ContactState, moment: datetime) -> bool:
    """Synced during this run (by a webhook, or by this run's own enqueue): already current."""
    return state.updated_at is not None and state.updated_at >= moment


class Reconciler:
    def __init__(
        self,
        *,
        ghl: GhlSearch,
        states: StateIndex,
        runs: RunStore,
        queue: ContactQueue,
        rulebook: RuleBook,
        mapping: FieldMapping,
        location_id: str,
        page_limit: int = 500,
        step_seconds: float = 60.0,
        lease_seconds: float = 900.0,
        stale_after: timedelta = timedelta(hours=2),
        max_backlog: int = 1000,
        clock: Callable[[], datetime] = utcnow,
        dynamodb_calls: Callable[[], int] = lambda: 0,
    ) -> None:
        self._ghl = ghl
        self._states = states
        self._runs = runs
        self._queue = queue
        self._rulebook = rulebook
        self._mapping = mapping
        self._location_id = location_id
        self._page_limit = page_limit
        self._step_seconds = step_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._stale_after = stale_after
        self._max_backlog = max_backlog
        self._clock = clock
        self._meter = CallMeter(dynamodb_calls)
        self._owner = uuid.uuid4().hex
        self._seen_cache: tuple[str, set[str]] | None = None

    # --- starting ------------------------------------------------------------------------------
    def start(self, mode: Mode = "reconcile", trigger: str = "manual") -> Run:
        """Begin a run (raises RunActive if one is going) and queue its first step."""
        if not self._location_id:
            raise ConfigurationError("GHL_LOCATION_ID is not set: no location to reconcile")
        now = self._clock()
        run = Run(id=new_run_id(now), mode=mode, trigger=trigger, started_at=now, heartbeat_at=now)
        run = self._runs.start(run, stale_before=now - self._stale_after)
        try:
            self._queue.send(ReconcileStep(run_id=run.id))
        except Exception:
            # Without its first step the run would hold the lock for nothing: give it back.
            self._runs.finish(
                run.model_copy(update={"status": "failed", "error": "could not queue"})
            )
            raise
        logger.info("reconciliation started", extra={"run_id": run.id, "mode": mode})
        return run

    # --- stepping ------------------------------------------------------------------------------
    def step(self, run_id: str, remaining_ms: Callable[[], float], reserve_ms: float) -> Run | None:
        """Advance run `run_id` while time allows; None when this step had nothing to do."""
        run = self._runs.get(run_id)
        if run is not None and run.status != "running" and self._runs.active_run_id() == run_id:
            self._runs.finish(run)  # a step died between saving "finished" and unlocking
            return None
        if run is None or run.status != "running" or self._runs.active_run_id() != run_id:
            return None  # finished, superseded or unknown: a late duplicate step
        now = self._clock()
        if run.lease_until and run.lease_until > now and run.lease_owner != self._owner:
            # Another step holds it and will queue the continuation. The lease never outlives
            # its invocation, so SQS cannot redeliver a dead step's message into this branch.
            return None
        lease = min(self._lease, timedelta(milliseconds=remaining_ms()) + LEASE_MARGIN)
        try:
            run = self._runs.save(
                run.model_copy(update={"lease_owner": self._owner, "lease_until": now + lease})
            )
        except ConcurrentUpdate:
            return None
        started = self._clock()
        budget = timedelta(seconds=self._step_seconds)
        try:
            # At least one page per step when time allows, then as many as the budget holds.
            while run.phase != "done" and remaining_ms() >= reserve_ms:
                run = self._advance(run)
                if self._clock() - started > budget or self._backlogged():
                    break
        except Exception as exc:
            logger.exception("reconciliation step failed", extra={"run_id": run.id})
            self._release(run, error=f"{type(exc).__name__}: {exc}")
            raise
        if run.phase == "done":
            final = run.model_copy(
                update={
                    "status": "finished",
                    "finished_at": self._clock(),
                    "lease_owner": None,
                    "lease_until": None,
                }
            )
            logger.info("reconciliation finished", extra={"run": final.public()})
            return self._runs.finish(final)
        # Release first, then queue the continuation: the next step must find the lease free.
        run = self._runs.save(
            run.model_copy(
                update={"lease_owner": None, "lease_until": None, "heartbeat_at": self._clock()}
            )
        )
        self._queue.send(ReconcileStep(run_id=run.id))
        return run

    def _backlogged(self) -> bool:
        """Pause the walk while the consumer has a backlog: the next step message then waits
        minutes, not hours, behind the contacts already enqueued, and memory stays flat."""
        return self._max_backlog > 0 and self._queue.depth() > self._max_backlog

    def _release(self, run: Run, error: str) -> None:
        try:
            self._runs.save(
                run.model_copy(update={"lease_owner": None, "lease_until": None, "error": error})
            )
        except Exception:  # the lease expires by itself
            logger.warning("could not release run lease", extra={"run_id": run.id})

    def _advance(self, run: Run) -> Run:
        if run.phase == "walk":
            return self._walk_page(run)
        return self._scan_page(run)

    def _walk_page(self, run: Run) -> Run:
        rules = self._rulebook.resolved()
        if run.rule_index >= len(rules):
            return self._runs.save(run.model_copy(update={"phase": "left", "cursor": None}))
        rule = rules[run.rule_index]
        calls = self._meter.page()
        page = self._ghl.search_contacts(
            self._location_id, rule.rule.tag, run.cursor, self._page_limit
        )
        ids = [c.id for c, _ in page.contacts]
        states = self._states.get_many(ids)
        now = self._clock()
        outgoing = []
        for contact, date_updated in page.contacts:
            state = states.get(contact.id)
            event_time = parse_time(date_updated)
            snapshot: Contact | None = contact if event_time else None
            if run.mode != "backfill":
                plan = plan_sync(contact, rules, state, self._mapping)
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
                    location_id=contact.location_id or self._location_id,
                    event_time=event_time if snapshot else None,
                    # Without dateUpdated the snapshot cannot be ordered: re-read it instead.
                    snapshot=snapshot,
                    received_at=now,
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
        return self._runs.save(run.model_copy(update=update))

    def _seen(self, run: Run) -> set[str]:
        """The members the walk saw, read once per run and process: the walk is over, so the set
        no longer changes."""
        if self._seen_cache is None or self._seen_cache[0] != run.id:
            self._seen_cache = (run.id, self._states.seen_by(run.id, run.pages))
        return self._seen_cache[1]

    def _scan_page(self, run: Run) -> Run:
        """Count every contact and re-check those in our buckets that this run did not see."""
        calls = self._meter.page()
        seen = self._seen(run)
        states, next_key = self._states.scan(run.scan_key, SCAN_PAGE)
        census = add_to_census(run.census or empty_census(), states)
        now = self._clock()
        left = [
            SyncMessage(
                origin="reconciliation",
                contact_id=state.contact_id,
                location_id=self._location_id,
                received_at=now,
            )
            for state in states
            if state.maybe_in
            and state.contact_id not in seen
            and not _touched_since(state, run.started_at)
        ]
        sqs_calls = self._queue.send_many(left) if left else 0
        update: dict[str, Any] = {
            "scan_key": next_key,
            "phase": "left" if next_key else "done",
            "removed": run.removed + len(left),
            "enqueued": run.enqueued + len(left),
            "census": {**census, "as_of": now.isoformat()} if not next_key else census,
            "heartbeat_at": now,
            "api_calls": calls.added_to(run.api_calls, sqs=sqs_calls),
        }
        return self._runs.save(run.model_copy(update=update))
