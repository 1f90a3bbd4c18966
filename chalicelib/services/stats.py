"""`GET /sync/stats`: contact counts, runs and DLQ depth.

Counts come from a live scan of the state table when it finishes within a short budget (any
team-sized table); beyond that, from the census the last reconciliation run took.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.ports import ContactQueue, OutcomeTally, RunStore, StateIndex
from chalicelib.runtime.observability import logger
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

    def _live_census(self) -> dict[str, Any] | None:
        deadline = time.monotonic() + self._budget
        census, key = empty_census(), None
        while True:
            states, key = self._states.scan(key, 1000)
            census = add_to_census(census, states)
            if key is None:
                return census
            if time.monotonic() > deadline:
                return None

    def snapshot(self) -> dict[str, Any]:
        last_id, active_id = self._runs.last_run_id(), self._runs.active_run_id()
        last = self._runs.get(last_id) if last_id else None
        current = self._runs.get(active_id) if active_id else None
        census = self._live_census()
        source = "live"
        if census is None:
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
            "dlq_depth": self._queue.dlq_depth(),
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
