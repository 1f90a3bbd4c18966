"""The stepped run: start, step, hand over to the next invocation.

A run is a chain of steps. Each step holds the run's lease, advances page by page (checkpointing
after each) until its time is up, then enqueues the next step: any size finishes, and a step that
dies resumes from the last checkpoint. The consumer does the CallTools work for both paths.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.messages import ReconcileStep
from chalicelib.domain.runs import Mode, Run, new_run_id
from chalicelib.domain.time import utcnow
from chalicelib.ports import ContactQueue, RunStore
from chalicelib.runtime.observability import logger
from chalicelib.services.reconcile.feed import Feed, FeedPace
from chalicelib.services.reconcile.leftovers import Leftovers
from chalicelib.services.reconcile.tag_walk import TagWalk

LEASE_MARGIN = timedelta(seconds=5)


@dataclass(frozen=True)
class RunTimings:
    step_seconds: float = 60.0  # a step walks pages until this much time has gone
    lease_seconds: float = 900.0  # the longest a step holds the run (less when Lambda ends sooner)
    stale_after: timedelta = timedelta(hours=2)  # without a heartbeat this long, a run is replaced
    # How fast the walk feeds the queue (feed.py): just in time for its hits to be fresh.
    pace: FeedPace = field(default_factory=FeedPace)


class Reconciler:
    """Runs the phases in steps: the tag walk, then the leftovers scan, then done."""

    def __init__(
        self,
        *,
        runs: RunStore,
        queue: ContactQueue,
        walk: TagWalk,
        leftovers: Leftovers,
        timings: RunTimings = RunTimings(),
        clock: Callable[[], datetime] = utcnow,
        location_id: str | None = None,
    ) -> None:
        self._runs = runs
        self.runs = runs  # for the stats of the same location
        # A registered location's run (its steps name it); None: the built-in location's.
        self.location_id = location_id
        self._queue = queue
        self.walk = walk
        self._leftovers = leftovers
        self.timings = timings
        self._clock = clock
        self._feed = Feed(queue, timings.pace, clock)

    # --- starting ------------------------------------------------------------------------------
    def start(self, mode: Mode = "reconcile", trigger: str = "manual") -> Run:
        """Begin a run (raises RunActive if one is going) and queue its first step."""
        self.walk.scope.check()
        now = self._clock()
        run = Run(id=new_run_id(now), mode=mode, trigger=trigger, started_at=now, heartbeat_at=now)
        run = self._runs.start(run, stale_before=now - self.timings.stale_after)
        try:
            self._queue.send(ReconcileStep(run_id=run.id, location_id=self.location_id))
        except Exception:
            # Without its first step the run would hold the lock for nothing: give it back.
            self._runs.finish(
                run.model_copy(update={"status": "failed", "error": "could not queue"})
            )
            raise
        logger.info(
            "reconciliation started",
            extra={"run_id": run.id, "mode": mode, "location_id": self.walk.scope.location_id},
        )
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
        # An owner per step: two copies of one step message, side by side in one batch
        # (services/record_pool.py), must not both take the run.
        owner = uuid.uuid4().hex
        if run.lease_until and run.lease_until > now:
            # Another step holds it and will queue the continuation. The lease never outlives
            # its invocation, so SQS cannot redeliver a dead step's message into this branch.
            return None
        longest = timedelta(seconds=self.timings.lease_seconds)
        lease = min(longest, timedelta(milliseconds=remaining_ms()) + LEASE_MARGIN)
        try:
            run = self._runs.save(
                run.model_copy(update={"lease_owner": owner, "lease_until": now + lease})
            )
        except ConcurrentUpdate:
            return None
        started = self._clock()
        budget = timedelta(seconds=self.timings.step_seconds)
        wait = 0
        try:
            # At least one page per step when time allows, then as many as the budget holds.
            while run.phase != "done" and remaining_ms() >= reserve_ms:
                if run.phase == "walk":
                    feeding = self._feed.next_page(run, self.walk.limits.page_limit)
                    run = feeding.run
                    if feeding.page_limit is None:
                        wait = feeding.wait_seconds  # the queue holds all it can drain fresh
                        break
                    run = self._runs.save(self.walk.page(run, feeding.page_limit))
                else:
                    run = self._runs.save(self._leftovers.page(run))
                if self._clock() - started > budget:
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
        # Release first, then queue the continuation: the next step must find the lease free. A
        # paused walk's continuation waits, in SQS, until the consumers have room for a page.
        run = self._runs.save(
            run.model_copy(
                update={"lease_owner": None, "lease_until": None, "heartbeat_at": self._clock()}
            )
        )
        if wait:
            logger.info(
                "walk paused for the consumers",
                extra={"run_id": run.id, "seconds": wait, "depth": run.depth},
            )
        step = ReconcileStep(run_id=run.id, location_id=self.location_id)
        self._queue.send(step, delay_seconds=wait)
        return run

    def _release(self, run: Run, error: str) -> None:
        try:
            self._runs.save(
                run.model_copy(update={"lease_owner": None, "lease_until": None, "error": error})
            )
        except Exception:  # the lease expires by itself
            logger.warning("could not release run lease", extra={"run_id": run.id})
