"""The reconciliation's walk with in-memory fakes: cursor guard, step chaining, run lock."""

from __future__ import annotations

import pytest

from chalicelib.contact import Contact
from chalicelib.events import ReconcileStep, SyncMessage
from chalicelib.reconcile import Reconciler
from chalicelib.rules import Rule
from chalicelib.runs import RunActive
from chalicelib.sync_plan import FieldMapping
from chalicelib.sync_service import RuleBook
from tests.fakes import FakeCallTools, FakeQueue, FakeRunStore, FakeSearch, FakeStateIndex
from tests.helpers import LOCATION_ID


def contacts(n: int) -> list[Contact]:
    return [
        Contact(id=f"c{i:04d}", phone=f"+1312555{i:04d}", tags=("cold lead",), dnd_known=True)
        for i in range(n)
    ]


def reconciler(
    search: FakeSearch, queue: FakeQueue, runs: FakeRunStore | None = None
) -> Reconciler:
    ct = FakeCallTools()
    return Reconciler(
        ghl=search,
        states=FakeStateIndex(),
        runs=runs or FakeRunStore(),
        queue=queue,
        rulebook=RuleBook([Rule(tag="cold lead", bucket="Cold Leads")], ct),
        mapping=FieldMapping(),
        location_id=LOCATION_ID,
        page_limit=10,
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
    budget = iter([60_000.0, 0.0])
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
