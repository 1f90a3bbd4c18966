"""A run (daily or `/sync/trigger`) starts with the outcome catch-up queued beside it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.domain.messages import CatchUpStep
from chalicelib.domain.runs import Mode, Run
from chalicelib.domain.time import utcnow
from chalicelib.ports import ContactQueue, RunStarter
from chalicelib.runtime.observability import logger


class RunsWithCatchUp:
    """A RunStarter that first queues the catch-up: it goes even when a run is already active
    (the catch-up has its own checkpoint), and its failure does not stop the run."""

    def __init__(
        self,
        runs: Callable[[], RunStarter],
        queue: ContactQueue,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._runs = runs
        self._queue = queue
        self._clock = clock

    def start(self, mode: Mode = "reconcile", trigger: str = "manual") -> Run:
        try:
            self._queue.send(CatchUpStep(requested_at=self._clock()))
        except Exception:
            logger.exception("could not queue the outcome catch-up; the next run will")
        return self._runs().start(mode=mode, trigger=trigger)
