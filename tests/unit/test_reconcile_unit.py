"""The reconciliation's walk with in-memory fakes: cursor guard, step chaining, run lock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.contact import Contact
from chalicelib.domain.messages import ReconcileStep, SyncMessage
from chalicelib.domain.rules import Rule
from chalicelib.domain.runs import RunActive
from chalicelib.ports import SearchPage
from chalicelib.services.reconcile import Leftovers, Reconciler, TagWalk, WalkLimits, WalkScope
from chalicelib.services.rule_book import RuleBook
from tests.support.fakes import FakeCallTools, FakeQueue, FakeRunStore, FakeSearch, FakeStateIndex
from tests.support.helpers import LOCATION_ID


def contacts(n: int) -> list[Contact]:
    return [
        Contact(id=f"c{i:04d}", phone=f"+1312555{i:04d}", tags=("cold lead",), dnd_known=True)
        for i in range(n)
    ]


def reconciler(
    search: FakeSearch, queue: FakeQueue, runs: FakeRunStore | None = None
) -> Reconciler:
    ct = FakeCallTools()
    states = FakeStateIndex()
    scope = WalkScope(LOCATION_ID, RuleBook([Rule(tag="cold lead", bucket="Cold Leads")], ct))
    return Reconciler(
        runs=runs or FakeRunStore(),
        queue=queue,
        walk=TagWalk(search, states, queue, scope, WalkLimits(page_limit=10)),
        leftovers=Leftovers(states, queue, LOCATION_ID),
    )


def ample() -> float:
    return 60_000.0


def test_walk_pages_with_the_cursor_and_enqueues_each_contact_once():
    queue = FakeQueue()
    rec = reconciler(FakeSearch(contacts(35)), queue)
    run = rec.start(mode="backfill")
    done = rec.step(run.id, ample, 0)
    assert done is not None and done.status == "finished" and done.pages == 4
    sent = [m.contact_id for m in queue.sent if isinstance(m, SyncMessage)]
    assert sorted(sent) == [f"c{i:04d}" for i in range(35)]


def test_a_repeated_cursor_ends_the_walk_instead_of_looping():
    queue = FakeQueue()
    search = FakeSearch(contacts(100), stuck_after=20)
    rec = reconciler(search, queue)
    run = rec.start(mode="backfill")
    done = rec.step(run.id, ample, 0)
    assert done is not None and done.status == "finished"
    assert search.calls <= 5  # pages 1-2, the first stuck page, and the one that repeated


def test_out_of_time_step_queues_its_continuation():
    queue = FakeQueue()
    rec = reconciler(FakeSearch(contacts(35)), queue)
    run = rec.start()
    budget = iter([60_000.0, 60_000.0, 0.0])  # lease, first page, then out of time
    partial = rec.step(run.id, lambda: next(budget, 0.0), 1_000)
    assert partial is not None and partial.status == "running" and partial.pages == 1
    assert partial.lease_until is None
    steps = [m for m in queue.sent if isinstance(m, ReconcileStep)]
    assert len(steps) == 2  # the first, from start(), and the continuation


def test_a_second_run_cannot_start_while_one_is_active():
    runs = FakeRunStore()
    rec = reconciler(FakeSearch(contacts(5)), FakeQueue(), runs)
    first = rec.start()
    with pytest.raises(RunActive) as active:
        rec.start()
    assert active.value.run_id == first.id


def test_a_step_for_a_superseded_run_does_nothing():
    runs = FakeRunStore()
    rec = reconciler(FakeSearch(contacts(5)), FakeQueue(), runs)
    first = rec.start()
    runs.active = "someone-else"
    assert rec.step(first.id, ample, 0) is None


def test_the_step_lease_ends_with_its_invocation():
    """A killed step's message comes back after the visibility timeout; the lease must be gone."""
    runs = FakeRunStore()
    rec = reconciler(FakeSearch(contacts(5)), FakeQueue(), runs)
    run = rec.start()

    class Boom(BaseException):
        pass

    def dies() -> float:
        if runs.runs[run.id].lease_until is not None:
            raise Boom()  # killed right after taking the lease
        return 30_000.0

    with pytest.raises(Boom):
        rec.step(run.id, dies, 0)
    held = runs.runs[run.id]
    assert held.lease_until is not None
    assert held.lease_until - held.started_at < timedelta(seconds=40)


def test_a_failed_first_step_gives_the_lock_back():
    queue, runs = FakeQueue(), FakeRunStore()
    rec = reconciler(FakeSearch(contacts(5)), queue, runs)
    queue.fail_send = True
    with pytest.raises(RuntimeError):
        rec.start()
    assert runs.active is None
    queue.fail_send = False
    assert rec.start().status == "running"


def test_the_walk_pauses_while_the_consumer_has_a_backlog():
    queue = FakeQueue()
    rec = reconciler(FakeSearch(contacts(100)), queue)
    run = rec.start(mode="backfill")
    queue.backlog = 5_000
    paused = rec.step(run.id, ample, 0)
    assert paused is not None and paused.status == "running" and paused.pages == 0
    assert queue.delays[-1] > 0  # the continuation waits in SQS, not in a Lambda
    queue.backlog = 0
    done = rec.step(run.id, ample, 0)
    assert done is not None and done.status == "finished"


def test_contacts_untagged_mid_walk_do_not_hide_the_last_ones():
    """GHL's total shrinks when tags are removed during the walk: walk on to the short page."""
    people = contacts(25)
    search = TotalSearch(people)
    queue = FakeQueue()
    rec = reconciler(search, queue)
    run = rec.start(mode="backfill")
    search.untag_after_first_page = people[:5]
    done = rec.step(run.id, ample, 0)
    assert done is not None and done.status == "finished"
    sent = {m.contact_id for m in queue.sent if isinstance(m, SyncMessage)}
    assert {c.id for c in people[20:]} <= sent


class TotalSearch(FakeSearch):
    """Like GHL: a cursor names the last contact's sort position, `total` counts tagged contacts
    now, and contacts can lose the tag after the first page."""

    untag_after_first_page: list[Contact] | None = None

    def search_contacts(self, location_id, tag, search_after, page_limit=500):
        self.calls += 1
        after = int(search_after[0]) if search_after else -1
        tagged = [(i, c) for i, c in enumerate(self.contacts) if tag in c.tags]
        rows = [(i, c) for i, c in tagged if i > after][:page_limit]
        total = len(tagged)
        if search_after is None and self.untag_after_first_page:
            gone = {c.id for c in self.untag_after_first_page}
            self.contacts = [
                c.model_copy(update={"tags": ()}) if c.id in gone else c for c in self.contacts
            ]
        cursor = [rows[-1][0], rows[-1][1].id] if len(rows) == page_limit else None
        return SearchPage(contacts=[(c, None) for _, c in rows], next_cursor=cursor, total=total)
