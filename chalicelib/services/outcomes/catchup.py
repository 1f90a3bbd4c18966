"""The catch-up: outcomes recorded since the last run are queued, so a hook CallTools never
delivered is applied by the next daily run (or `/sync/trigger`).

CallTools lists call records newest first; the checkpoint is the newest id already queued. The
first run looks back one day: the history from before the install is not written into GHL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.messages import OutcomeMessage
from chalicelib.domain.time import utcnow
from chalicelib.ports import CallOutcomes, ContactQueue, OutcomeStore
from chalicelib.runtime.observability import count, logger

FIRST_LOOK_BACK = timedelta(days=1)


@dataclass(frozen=True)
class CatchUpResult:
    checked: int
    queued: int
    checkpoint: int
    more: bool  # the limit was reached: older records remain for the next run


class OutcomeCatchUp:
    def __init__(
        self,
        calltools: CallOutcomes,
        store: OutcomeStore,
        queue: ContactQueue,
        *,
        limit: int = 5000,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._ct = calltools
        self._store = store
        self._queue = queue
        self._limit = limit
        self._clock = clock

    def run(self) -> CatchUpResult:
        mark = self._store.checkpoint()
        now = self._clock()
        # The first run looks back one day, not through the account's whole history.
        since = now - FIRST_LOOK_BACK if mark == 0 else None
        records = self._ct.records_after(mark, self._limit, since)
        waiting = [
            OutcomeMessage(origin="catchup", record_id=r.id, received_at=now)
            for r in records
            if not _finished(self._store, r.id)
        ]
        if waiting:
            self._queue.send_many(waiting)
        # Only after the queue holds them: a failure above leaves the checkpoint where it was.
        top = max((r.id for r in records), default=mark)
        self._store.advance_checkpoint(top)
        more = len(records) >= self._limit
        count("OutcomesCaughtUp", len(waiting))
        if more:
            logger.warning("outcome catch-up hit its limit", extra={"checkpoint": top})
        logger.info(
            "outcome catch-up",
            extra={"checked": len(records), "queued": len(waiting), "checkpoint": top},
        )
        return CatchUpResult(len(records), len(waiting), top, more)


def _finished(store: OutcomeStore, record_id: int) -> bool:
    state = store.get(record_id)
    return state is not None and state.finished
