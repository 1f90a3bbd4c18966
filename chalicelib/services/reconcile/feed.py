"""Just-in-time feeding: the walk enqueues a page only when the consumers can take its hits while
they are still fresh.

A search hit may add a contact to a bucket without a GHL re-read only while it is younger than
SNAPSHOT_TRUST_SECONDS (a contact whose calls became DND after the search must not be added). A
walk that enqueues faster than the consumers drain leaves hits to age in the queue, and each
stale one costs a re-read. So the backlog is bounded in seconds of work, not in messages: the
queue's depth over the rate the consumers drain it, measured between two sightings of the queue
(before the first measurement, the configured pace is assumed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.runs import Run
from chalicelib.ports import ContactQueue

# A measurement over less time than this says more about SQS's approximate counts than the rate.
MIN_SPAN_SECONDS = 2.0
# How many contacts the walk must have seen before their enqueued share predicts the next page's.
SHARE_AFTER = 50
# The longest SQS delays a message (its DelaySeconds maximum), and the shortest wait worth a step.
MAX_WAIT_SECONDS = 900
MIN_WAIT_SECONDS = 2


@dataclass(frozen=True)
class FeedPace:
    """How much work the walk may keep queued, and the drain rate assumed until one is measured."""

    backlog_seconds: float = 30.0  # well inside SNAPSHOT_TRUST_SECONDS: a hit waits at most this
    assumed_rate: float = 2.5  # contacts per second; wiring derives it from CallTools' pace
    max_backlog: int = 0  # a cap in messages as well (0: none)
    min_page: int = 50  # fewer than this per search page wastes GHL's budget: wait instead


@dataclass(frozen=True)
class Feeding:
    """What the walk may do now: a page of at most `page_limit` contacts, or wait `wait_seconds`."""

    run: Run  # with the queue's sighting recorded (unsaved)
    page_limit: int | None
    wait_seconds: int = 0


class Feed:
    def __init__(self, queue: ContactQueue, pace: FeedPace, clock: Callable[[], datetime]) -> None:
        self._queue = queue
        self.pace = pace
        self._clock = clock

    def next_page(self, run: Run, full_page: int) -> Feeding:
        """Look at the queue, update the measured drain rate, and size the next page to what the
        consumers take within the backlog bound (never above `full_page`)."""
        depth = self._queue.depth()
        run = self._sighted(run, depth)
        rate = run.drain_rate or self.pace.assumed_rate
        room = rate * self.pace.backlog_seconds - depth
        if self.pace.max_backlog:
            room = min(room, self.pace.max_backlog - depth)
        # The share of a page that differs from the stored state and is enqueued: all of it on a
        # first import, almost none on a daily run. Unknown until some contacts were seen.
        share = run.enqueued / run.seen if run.seen >= SHARE_AFTER else 1.0
        fits = room / max(share, 1 / full_page)
        least = min(full_page, self.pace.min_page, self.pace.max_backlog or full_page)
        if fits >= least:
            return Feeding(run, min(full_page, math.floor(fits)))
        # Wait until half the bound is left: the step message then queues behind work that keeps
        # the consumers busy while the next page is read.
        drain_to = rate * self.pace.backlog_seconds / 2
        if self.pace.max_backlog:
            drain_to = min(drain_to, self.pace.max_backlog / 2)
        if depth <= drain_to:
            # As drained as waiting would make it, and still no room for a useful page (slow
            # consumers, or a small cap): walk the least page rather than wait for ever.
            return Feeding(run, least)
        wait = (depth - drain_to) / rate
        return Feeding(run, None, max(MIN_WAIT_SECONDS, min(MAX_WAIT_SECONDS, math.ceil(wait))))

    def _sighted(self, run: Run, depth: int) -> Run:
        now = self._clock()
        update: dict[str, object] = {
            "depth": depth,
            "depth_at": now,
            "enqueued_at_depth": run.enqueued,
        }
        if run.depth is not None and run.depth_at is not None:
            span = (now - run.depth_at).total_seconds()
            if span < MIN_SPAN_SECONDS:
                return run  # keep the older sighting: the next one measures over more time
            drained = run.depth + (run.enqueued - run.enqueued_at_depth) - depth
            measured = drained / span
            if depth == 0:
                # The queue ran dry: the consumers idled for part of the span, so this is only a
                # lower bound of what they can take.
                measured = max(measured, run.drain_rate or 0.0)
            if measured > 0:
                previous = run.drain_rate
                update["drain_rate"] = measured if previous is None else (previous + measured) / 2
        return run.model_copy(update=update)
