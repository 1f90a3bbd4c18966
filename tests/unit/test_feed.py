"""Just-in-time feeding (services/reconcile/feed.py): the walk's pages are sized and paced to what
the consumers drain while the hits are fresh, measured between sightings of the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.contact import Contact
from chalicelib.domain.messages import ReconcileStep, SyncMessage
from chalicelib.domain.rules import Rule
from chalicelib.domain.runs import Run
from chalicelib.services.reconcile import Leftovers, Reconciler, TagWalk, WalkLimits, WalkScope
from chalicelib.services.reconcile.feed import Feed, FeedPace
from chalicelib.services.reconcile.runner import RunTimings
from chalicelib.services.rule_book import RuleBook
from tests.support.fakes import FakeCallTools, FakeQueue, FakeRunStore, FakeSearch, FakeStateIndex
from tests.support.helpers import LOCATION_ID

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def contacts(n: int) -> list[Contact]:
    return [Contact(id=f"c{i:04d}", tags=("cold lead",), dnd_known=True) for i in range(n)]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def feed(queue: FakeQueue, clock: Clock, **pace: float) -> Feed:
    return Feed(queue, FeedPace(**pace), clock)  # type: ignore[arg-type]


def run(**fields: object) -> Run:
    return Run(id="run_x", started_at=T0, **fields)


def test_a_first_import_page_holds_what_the_consumers_drain_within_the_bound():
    queue, clock = FakeQueue(), Clock()
    # 50 contacts/s (CallTools at 100/s, two calls a new contact) for 30 s: 1,500 contacts.
    feeding = feed(queue, clock, assumed_rate=50.0).next_page(run(), 500)
    assert feeding.page_limit == 500
    queue.backlog = 1_200  # three pages wait: a fourth would outlast the bound
    feeding = feed(queue, clock, assumed_rate=50.0).next_page(run(), 500)
    assert feeding.page_limit == 300
    slow = feed(FakeQueue(), clock, assumed_rate=2.5).next_page(run(), 500)
    assert slow.page_limit == 75  # at CallTools' default pace, pages shrink instead


def test_the_walk_waits_in_sqs_until_half_the_bound_is_left():
    queue, clock = FakeQueue(), Clock()
    queue.backlog = 1_490
    feeding = feed(queue, clock, assumed_rate=50.0).next_page(run(), 500)
    assert feeding.page_limit is None
    assert feeding.wait_seconds == 15  # (1,490 - 750) / 50, rounded up
    queue.backlog = 10**6
    assert feed(queue, clock, assumed_rate=1.0).next_page(run(), 500).wait_seconds == 900


def test_the_share_enqueued_so_far_sizes_a_daily_runs_pages():
    """A daily run enqueues few of the contacts it sees: its pages stay full."""
    queue, clock = FakeQueue(), Clock()
    queue.backlog = 60
    first = feed(queue, clock).next_page(run(), 500)
    assert first.page_limit is None or first.page_limit < 500  # unknown share: all of a page
    daily = feed(queue, clock).next_page(run(seen=1_000, enqueued=10), 500)
    assert daily.page_limit == 500


def test_the_drain_rate_is_measured_between_sightings_of_the_queue():
    queue, clock = FakeQueue(), Clock()
    f = feed(queue, clock, assumed_rate=2.5)
    queue.backlog = 1_000
    seen = f.next_page(run(enqueued=1_000, seen=1_000), 500).run
    assert seen.drain_rate is None and seen.depth == 1_000
    clock.advance(10)
    queue.backlog = 600  # 400 taken in 10 s, nothing enqueued since
    measured = f.next_page(seen, 500).run
    assert measured.drain_rate == 40.0
    clock.advance(10)
    queue.backlog = 0  # ran dry: 600 in 10 s is a lower bound, and it raises the estimate
    again = f.next_page(measured.model_copy(update={"enqueued": 1_000}), 500).run
    assert again.drain_rate == 50.0
    clock.advance(1)  # too short to measure: the older sighting is kept for the next one
    assert f.next_page(again, 500).run.depth_at == again.depth_at


def test_a_dry_queue_never_lowers_the_measured_rate():
    queue, clock = FakeQueue(), Clock()
    f = feed(queue, clock)
    seen = f.next_page(run(drain_rate=40.0, depth=100, depth_at=T0), 500).run
    clock.advance(60)  # the consumers idled most of that minute
    queue.backlog = 0
    assert f.next_page(seen.model_copy(update={"depth_at": T0}), 500).run.drain_rate == 40.0


class GrowingQueue(FakeQueue):
    """Its depth grows with every contact sent: no consumer takes any until `backlog` is reset."""

    def depth(self) -> int:
        return self.backlog + sum(isinstance(m, SyncMessage) for m in self.sent)


def reconciler(search: FakeSearch, queue: FakeQueue, clock: Clock, pace: FeedPace) -> Reconciler:
    ct, states = FakeCallTools(), FakeStateIndex()
    scope = WalkScope(LOCATION_ID, RuleBook([Rule(tag="cold lead", bucket="Cold Leads")], ct))
    return Reconciler(
        runs=FakeRunStore(),
        queue=queue,
        walk=TagWalk(search, states, queue, scope, WalkLimits(page_limit=500)),
        leftovers=Leftovers(states, queue, LOCATION_ID),
        timings=RunTimings(pace=pace),
        clock=clock,
    )


def test_a_first_import_is_fed_in_pages_the_consumers_take_fresh():
    queue, clock = GrowingQueue(), Clock()
    rec = reconciler(FakeSearch(contacts(400)), queue, clock, FeedPace(assumed_rate=5.0))
    started = rec.start(mode="backfill")
    paused = rec.step(started.id, lambda: 60_000.0, 0)
    assert paused is not None and paused.status == "running"
    hits = [m for m in queue.sent if isinstance(m, SyncMessage)]
    assert len(hits) == 150  # 5 contacts/s for 30 s, in one page
    assert {m.page.size for m in hits if m.page} == {150}
    assert all(m.page and m.page.tag == "cold lead" and m.page.after is None for m in hits)
    steps = [
        d for m, d in zip(queue.sent, queue.delays, strict=True) if isinstance(m, ReconcileStep)
    ]
    assert steps[-1] >= 1  # the continuation waits for the consumers


def test_the_next_page_names_the_cursor_it_started_after():
    queue, clock = GrowingQueue(), Clock()
    rec = reconciler(FakeSearch(contacts(120)), queue, clock, FeedPace(min_page=10))
    started = rec.start(mode="backfill")
    rec.step(started.id, lambda: 60_000.0, 0)
    clock.advance(60)
    queue.backlog = -75  # the consumers took the first page
    rec.step(started.id, lambda: 60_000.0, 0)
    pages = {
        (m.page.size, str(m.page.after))
        for m in queue.sent
        if isinstance(m, SyncMessage) and m.page
    }
    assert (75, "None") in pages and any(after.startswith("[75") for _, after in pages)


@pytest.mark.parametrize(
    ("pace", "depth"),
    [
        ({"assumed_rate": 1.2}, 0),  # slow consumers: 36 contacts in the bound, under a page
        ({"assumed_rate": 2.5}, 30),  # at the bound's half, with no room for 50 more
        ({"assumed_rate": 50.0, "max_backlog": 20}, 0),  # a cap under the least page
    ],
)
def test_a_drained_queue_always_gets_a_page(pace: dict[str, float], depth: int):
    """Waiting cannot make more room than a drained queue has: the walk must go on, or the run
    would hold its lock for ever and no nightly run could start."""
    queue, clock = FakeQueue(), Clock()
    queue.backlog = depth
    feeding = feed(queue, clock, **pace).next_page(run(), 500)
    assert feeding.page_limit is not None and feeding.page_limit >= 1
