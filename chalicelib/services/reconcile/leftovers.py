"""The "left" phase: scan the state table for contacts we placed in a bucket that the walk no
longer saw (their tag is gone, or the contact is), re-check each through the consumer, and take
the census on the way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.runs import Run
from chalicelib.domain.state import ContactState
from chalicelib.domain.time import utcnow
from chalicelib.ports import ContactQueue, StateIndex
from chalicelib.services.reconcile.calls import UNCOUNTED, CallMeter
from chalicelib.services.reconcile.census import add_to_census, empty_census

SCAN_PAGE = 1000


def _touched_since(state: ContactState, moment: datetime) -> bool:
    """Synced during this run (by a webhook, or by this run's own enqueue): already current."""
    return state.updated_at is not None and state.updated_at >= moment


class Leftovers:
    def __init__(
        self,
        states: StateIndex,
        queue: ContactQueue,
        location_id: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        meter: CallMeter = UNCOUNTED,
    ) -> None:
        self._states = states
        self._queue = queue
        self._location_id = location_id
        self._clock = clock
        self._meter = meter
        self._seen_cache: tuple[str, set[str]] | None = None

    def _seen(self, run: Run) -> set[str]:
        """The members the walk saw, read once per run and process: the walk is over, so the set
        no longer changes."""
        if self._seen_cache is None or self._seen_cache[0] != run.id:
            self._seen_cache = (run.id, self._states.seen_by(run.id, run.pages))
        return self._seen_cache[1]

    def page(self, run: Run) -> Run:
        """Count every contact and re-check those in our buckets that this run did not see: one
        scan page done, the run's next checkpoint (unsaved); "done" after the last page."""
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
        return run.model_copy(update=update)
