"""A new contact's critical path (issue 13): its phone search runs beside GHL's re-read, and the
lease's acquire records the create as pending. Neither may let a contact into the dialler that
the plan made from GHL's answer keeps out, nor duplicate one."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.contact import Contact
from chalicelib.domain.errors import ConcurrentUpdate, Deferred, TransientError
from chalicelib.domain.time import utcnow
from chalicelib.inbound.ghl_events import parse_marketplace_event
from chalicelib.ports import CallToolsMatch
from chalicelib.services.sync.lookahead import beside
from tests.support.helpers import CONTACT_ID, tagged
from tests.support.worlds import World

PHONE = "+13125550147"
OTHER_PHONE = "+13125550199"
WAIT = 10.0  # seconds a barrier waits for its other side before the test fails


class Crash(BaseException):
    """The runtime dying, as the chaos test kills it."""


@pytest.fixture
def world() -> World:
    world = World()
    world.ct.create_takes_buckets = True
    return world


def meeting(world: World) -> threading.Barrier:
    """GHL's read and CallTools' phone search each wait for the other: they pass only if they
    are in flight at the same time, and a test that ran them one after the other fails."""
    barrier = threading.Barrier(2, timeout=WAIT)
    read, search = world.ghl.get_contact, world.ct.find_contacts_by_phone

    def slow_read(cid: str) -> Contact | None:
        barrier.wait()
        return read(cid)

    def slow_search(phone: str) -> list[CallToolsMatch]:
        barrier.wait()
        return search(phone)

    world.ghl.get_contact = slow_read  # type: ignore[method-assign,assignment]
    world.ct.find_contacts_by_phone = slow_search  # type: ignore[method-assign,assignment]
    return barrier


def test_the_phone_search_and_the_reread_are_in_flight_together(world: World):
    meeting(world)
    assert world.deliver(tagged("cold lead")) == "synced"  # the tag event says nothing of DND
    assert world.ghl.reads == 1 and world.in_bucket()
    # The search made beside the read is the one the create relies on: not made again.
    assert [name for name, _ in world.ct.calls] == ["find", "create"]


def test_a_new_contact_costs_two_state_writes(world: World):
    """The lease's acquire carries the pending create; the final save releases it."""
    assert world.deliver(tagged("cold lead")) == "synced"
    assert world.store.writes == 2


def test_the_create_is_on_record_as_pending_before_it_is_sent(world: World):
    on_record: list[Any] = []
    create = world.ct.create_contact

    def watched(fields: Any, buckets: frozenset[int] = frozenset()) -> Any:
        on_record.append(world.store.get(CONTACT_ID))
        return create(fields, buckets)

    world.ct.create_contact = watched  # type: ignore[method-assign]
    world.deliver(tagged("cold lead"))
    (state,) = on_record
    assert state.pending_phone == PHONE and state.pending_since is not None
    assert state.pending_buckets == {70412} and state.calltools_id is None
    assert state.lease_until is not None and state.lease_owner is not None


def test_a_dnd_in_ghls_answer_means_no_create_and_no_add_though_the_search_ran(world: World):
    meeting(world)
    world.mirror(tagged("cold lead"))
    world.set_call_dnd()
    assert world.deliver(tagged("cold lead"), mirror=False) == "unchanged"
    assert world.ct.calls == [("find", PHONE)] and not world.ct.contacts
    state = world.store.get(CONTACT_ID)
    assert state is not None and state.reason == "dnd" and not state.maybe_in


@pytest.mark.parametrize(
    "ghl_says",
    [{"tags": ["facebook lead"]}, {"locationId": "AnotherAgencysLocation1"}],
    ids=["untagged", "other location"],
)
def test_a_search_for_a_contact_ghl_keeps_out_creates_nothing(
    world: World, ghl_says: dict[str, Any]
):
    world.mirror({**tagged("cold lead"), **ghl_says})
    assert world.deliver(tagged("cold lead"), mirror=False) in {"unchanged", "ignored"}
    assert world.ct.calls == [("find", PHONE)] and not world.ct.contacts


def test_a_phone_changed_in_ghl_is_searched_again_and_the_contact_made_with_it(world: World):
    world.mirror(tagged("cold lead", phone=OTHER_PHONE))
    world.made_in_calltools()  # a CallTools contact with the event's (old) phone: not ours now
    assert world.deliver(tagged("cold lead"), mirror=False) == "synced"
    searched = [arg for name, arg in world.ct.calls if name == "find"]
    assert searched == [PHONE, OTHER_PHONE]
    state = world.store.get(CONTACT_ID)
    assert state is not None and world.in_bucket()
    assert world.ct.contacts[state.calltools_id or 0]["mobile_phone_number"] == OTHER_PHONE


def test_a_contact_found_by_the_search_beside_the_read_is_adopted(world: World):
    twin = world.made_in_calltools()
    assert world.deliver(tagged("cold lead")) == "synced"
    assert [name for name, _ in world.ct.calls] == ["create", "find", "update", "add"]
    state = world.store.get(CONTACT_ID)
    assert state is not None and state.calltools_id == twin and world.in_bucket()


def test_a_failed_search_fails_the_sync_before_anything_is_written(world: World):
    world.ct.fail_next["find"] = TransientError("CallTools answered 503")
    with pytest.raises(TransientError):
        world.deliver(tagged("cold lead"))
    assert world.store.writes == 0 and not world.ct.contacts
    assert world.deliver(tagged("cold lead")) == "synced"  # the retry
    assert len(world.ct.contacts) == 1


def test_a_failed_search_does_not_hold_up_a_contact_ghl_keeps_out(world: World):
    world.mirror(tagged("cold lead"))
    world.set_call_dnd()
    world.ct.fail_next["find"] = TransientError("CallTools answered 503")
    assert world.deliver(tagged("cold lead"), mirror=False) == "unchanged"


def test_a_create_made_by_another_worker_during_our_read_fails_our_acquire(world: World):
    """The state is read before the search; the acquire is conditional on that read. Another
    worker that creates the contact meanwhile moves the version, so our search, now out of
    date, never leads to a second create: the message is retried from a fresh read."""
    other = world.another_worker()
    read = world.ghl.get_contact
    body = tagged("cold lead")
    world.mirror(body)

    def read_while_another_syncs(cid: str) -> Contact | None:
        world.ghl.get_contact = read  # type: ignore[method-assign]
        assert other.sync(parse_marketplace_event(body)).result == "synced"
        return read(cid)

    world.ghl.get_contact = read_while_another_syncs  # type: ignore[method-assign,assignment]
    with pytest.raises(ConcurrentUpdate):
        world.sync.sync(parse_marketplace_event(body))
    assert len(world.ct.contacts) == 1 and world.ct.call_count("create") == 1
    assert world.sync.sync(parse_marketplace_event(body)).result == "unchanged"  # the retry


def test_a_crash_in_the_search_thread_is_a_crash_of_the_sync(world: World):
    def dying(phone: str) -> list[CallToolsMatch]:
        raise Crash

    world.ct.find_contacts_by_phone = dying  # type: ignore[method-assign,assignment]
    with pytest.raises(Crash):
        world.deliver(tagged("cold lead"))
    assert world.store.writes == 0


def test_a_crash_between_the_acquire_and_the_create_waits_for_the_settle_time(world: World):
    """What the combined write costs: the create is on record but never went out, so the retry
    waits out the settle time before sending it (a moment's crash window; nothing duplicated)."""
    world.now = utcnow()
    create = world.ct.create_contact

    def dead(fields: Any, buckets: frozenset[int] = frozenset()) -> Any:
        raise Crash

    world.ct.create_contact = dead  # type: ignore[method-assign]
    with pytest.raises(Crash):
        world.deliver(tagged("cold lead"))
    world.ct.create_contact = create  # type: ignore[method-assign]
    fresh = world.another_worker()
    world.now += timedelta(seconds=121)  # the dead worker's lease is over
    with pytest.raises(Deferred):
        fresh.sync(parse_marketplace_event(tagged("cold lead")))
    world.now += timedelta(seconds=300)
    assert fresh.sync(parse_marketplace_event(tagged("cold lead"))).result == "synced"
    assert len(world.ct.contacts) == 1 and world.in_bucket()


def test_beside_waits_for_the_side_call_before_raising_mains_error():
    finished = threading.Event()
    release = threading.Event()

    def side() -> int:
        release.wait(WAIT)
        finished.set()
        return 1

    def main() -> int:
        release.set()
        raise TransientError("GHL answered 503")

    with pytest.raises(TransientError):
        beside(main, side)
    assert finished.is_set()


def test_beside_keeps_the_side_calls_error_for_whoever_needs_its_value():
    def side() -> int:
        raise TransientError("CallTools answered 503")

    value, found = beside(lambda: 7, side)
    assert value == 7 and found is not None
    with pytest.raises(TransientError):
        found.get()


def test_beside_without_a_side_call_runs_main_alone():
    ran: list[str] = []

    def main() -> int:
        ran.append(threading.current_thread().name)
        return 1

    assert beside(main, None) == (1, None)
    assert ran == [threading.current_thread().name]
