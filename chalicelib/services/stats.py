"""`GET /sync/stats`: contact counts, runs and DLQ depth.

Counts come from a live scan of the state table when it finishes within a short budget (any
team-sized table); beyond that, from the census the last reconciliation run took.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.state import ContactState
from chalicelib.ports import ContactQueue, OutcomeTally, RunStore, StateIndex
from chalicelib.runtime.observability import logger, redact
from chalicelib.services.reconcile.census import add_to_census, empty_census


class StatsService:
    def __init__(
        self,
        *,
        states: StateIndex,
        runs: RunStore,
        queue: ContactQueue,
        bucket_names: Callable[[], dict[int, str]],
        scan_budget_seconds: float = 4.0,
        outcomes: Callable[[], OutcomeTally] | None = None,
    ) -> None:
        self._states = states
        self._runs = runs
        self._queue = queue
        self._bucket_names = bucket_names
        self._budget = scan_budget_seconds
        self._outcomes = outcomes

    def _live_census(self) -> tuple[dict[str, Any], list[ContactState]] | None:
        """The census and the newest failures, from one scan within the budget; None beyond it."""
        deadline = time.monotonic() + self._budget
        census, key = empty_census(), None
        failures: list[ContactState] = []
        while True:
            states, key = self._states.scan(key, 1000)
            census = add_to_census(census, states)
            failures = _newest_failures([*failures, *states])
            if key is None:
                return census, failures
            if time.monotonic() > deadline:
                return None

    def snapshot(self) -> dict[str, Any]:
        last_id, active_id = self._runs.last_run_id(), self._runs.active_run_id()
        last = self._runs.get(last_id) if last_id else None
        current = self._runs.get(active_id) if active_id else None
        live = self._live_census()
        source = "live"
        census, failures = live if live else (empty_census(), None)
        if live is None:
            census, source = dict((last.census if last else None) or empty_census()), "last_run"
        try:
            names = self._bucket_names()
        except Exception:  # stats stay available while CallTools is not
            logger.warning("bucket names unavailable for stats")
            names = {}
        in_bucket = {names.get(int(b), b): n for b, n in census.get("in_bucket", {}).items()}
        for name in names.values():
            in_bucket.setdefault(name, 0)
        webhook_at = self._states.last_webhook_at()
        return {
            "contacts": {
                "total": census["total"],
                "in_bucket": in_bucket,
                "failed": census["failed"],
                "dnd_excluded": census["dnd_excluded"],
                "last_webhook_at": webhook_at.isoformat() if webhook_at else None,
                "source": source,
            },
            "last_run": last.public() if last else None,
            "current_run": current.public() if current else None,
            "queue_depth": self._queue.depth(),
            "dlq_depth": self._queue.dlq_depth(),
            # The newest failed contacts with their masked reasons; None past a live scan's budget.
            "failures": None if failures is None else [_failure(s) for s in failures],
            "outcomes": self._outcome_counts(),
        }

    def _outcome_counts(self) -> dict[str, Any] | None:
        if self._outcomes is None:
            return None
        try:
            tally = self._outcomes()
        except Exception:  # the contacts' figures stay available
            logger.warning("outcome tally unavailable for stats")
            return None
        at = tally.newest_applied_at
        return {
            "applied": tally.applied,
            "pending": tally.pending,
            "unmapped": tally.unmapped,
            "unknown": tally.unknown,
            "newest_applied_at": at.isoformat() if at else None,
            "newest_lag_seconds": tally.newest_lag_seconds,
            "checkpoint": tally.checkpoint,
        }


_OLDEST = datetime.min.replace(tzinfo=UTC)
FAILURES_SHOWN = 20


def _newest_failures(states: Iterable[ContactState]) -> list[ContactState]:
    failed = (s for s in states if s.status == "failed")
    return heapq.nlargest(FAILURES_SHOWN, failed, key=lambda s: s.updated_at or _OLDEST)


def _failure(state: ContactState) -> dict[str, Any]:
    return {
        "contact_id": state.contact_id,
        # CallTools' refusal may quote the contact's phone or email.
        "reason": redact(state.reason) if state.reason else None,
        "at": state.updated_at.isoformat() if state.updated_at else None,
    }
