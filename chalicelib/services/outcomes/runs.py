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
    (the catch-up has its own checkpoint), and its failure does not stop the run.

    Only where outcomes are switched on (`enabled`: a CallTools hook secret is configured): a
    deployment that never asked for call outcomes gets no writes to GHL from a nightly run."""

    def __init__(
        self,
        runs: Callable[[], RunStarter],
        queue: ContactQueue,
        clock: Callable[[], datetime] = utcnow,
        *,
        enabled: bool = True,
    ) -> None:
        self._runs = runs
        self._queue = queue
        self._clock = clock
        self._enabled = enabled

    def start(self, mode: Mode = "reconcile", trigger: str = "manual") -> Run:
        if self._enabled:
            self._queue_catch_up()
        return self._runs().start(mode=mode, trigger=trigger)

    def _queue_catch_up(self) -> None:
        try:
            self._queue.send(CatchUpStep(requested_at=self._clock()))
        except Exception:
            logger.exception("could not queue the outcome catch-up; the next run will")
