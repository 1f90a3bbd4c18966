"""Syncing one contact: ordering, dedup by state, DND, failures — all with in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.contact import Contact, contact_from_ghl
from chalicelib.domain.errors import ConfigurationError, Deferred, PermanentError, TransientError
from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.rules import Rule
from chalicelib.domain.state import ContactState
from chalicelib.domain.time import utcnow
from chalicelib.inbound.ghl_events import parse_marketplace_event, parse_workflow_payload
from tests.support.helpers import CONTACT_ID, LOCATION_ID, ago, fixture, ghl_event, tagged
from tests.support.worlds import World


@pytest.fixture
def world() -> World:
    return World()


def test_tagged_contact_lands_in_bucket(world: World):
    assert world.deliver(tagged("cold lead")) == "synced"
    assert world.in_bucket()
    assert world.ct.call_count("create") == 1 and world.ct.call_count("add") == 1


def test_same_event_five_times_one_contact_one_add(world: World):
    body = tagged("cold lead")
    results = [world.deliver(body) for _ in range(5)]
    assert results[0] == "synced" and set(results[1:]) <= {"unchanged", "stale"}
    assert len(world.ct.contacts) == 1 and world.ct.call_count("add") == 1


def test_unchanged_contact_costs_zero_calltools_calls(world: World):
    world.deliver(tagged("cold lead"))
    before = len(world.ct.calls)
    assert world.deliver(tagged("cold lead")) == "unchanged"
    assert len(world.ct.calls) == before


def test_reordered_add_after_remove_ends_in_bucket(world: World):
    removed_t1, added_t2 = tagged("other", at=ago(120)), tagged("cold lead", at=ago(60))
    world.deliver(added_t2)  # delivered first
    # An older event that would take the contact out is never dropped unseen: GHL (which has
    # the newer data) is asked, and keeps it in.
    assert world.deliver(removed_t1, mirror=False) == "unchanged"
    assert world.ghl.reads == 2 and world.in_bucket()


def test_reordered_remove_after_add_ends_out(world: World):
    added_t1, removed_t2 = tagged("cold lead", at=ago(120)), tagged("other", at=ago(60))
    world.deliver(removed_t2)  # delivered first
    assert world.deliver(added_t1) == "stale"
    assert not world.ct.contacts and not world.in_bucket()


def test_an_event_with_exactly_the_stored_source_time_is_applied_not_dropped(world: World):
    """Two events with the same timestamp: the second is not older, so it is not stale."""
    at, calls_allowed = ago(30), {"Call": {"status": "inactive"}}
    assert world.deliver(tagged("cold lead", at=at, dndSettings=calls_allowed)) == "synced"
    assert world.in_bucket() and world.ghl.reads == 0  # the snapshot itself was trusted
    stored = world.store.get(CONTACT_ID)
    assert stored is not None and stored.source_time == at
    assert world.deliver(tagged("other", at=at, dndSettings=calls_allowed)) == "synced"
    assert not world.in_bucket() and world.ct.call_count("remove") == 1


def test_tag_removed_takes_contact_out(world: World):
    world.deliver(tagged("cold lead"))
    world.deliver(tagged("facebook lead"))
    assert not world.in_bucket() and world.ct.call_count("remove") == 1


def test_dnd_contact_with_tag_never_added(world: World):
    dnd = fixture("ghl/ContactDndUpdate.json")
    assert world.deliver(dnd) == "unchanged"
    assert world.ct.call_count() == 0
    assert world.store.get(CONTACT_ID).reason == "dnd"  # type: ignore[union-attr]


def test_top_level_dnd_flag_alone_keeps_a_tagged_contact_out(world: World):
    """`dnd: true` with no dndSettings (as ContactTagUpdate/ContactUpdate bodies carry it)."""
    body = tagged("cold lead", dnd=True)
    assert "dndSettings" not in body
    assert world.deliver(body) == "unchanged"
    assert world.ct.call_count() == 0 and not world.in_bucket()
    state = world.store.get(CONTACT_ID)
    assert state is not None and state.reason == "dnd" and state.dnd


def test_top_level_dnd_flag_alone_takes_a_contact_out(world: World):
    world.deliver(tagged("cold lead"))
    assert world.in_bucket()
    body = tagged("cold lead", dnd=True)
    assert "dndSettings" not in body
    assert world.deliver(body) == "synced"
    assert not world.in_bucket() and world.ct.call_count("remove") == 1
    assert world.store.get(CONTACT_ID).reason == "dnd"  # type: ignore[union-attr]


def test_dnd_turned_on_removes(world: World):
    world.deliver(tagged("cold lead"))
    world.deliver(ghl_event("ContactDndUpdate"))
    assert not world.in_bucket()


def test_delete_removes(world: World):
    world.deliver(tagged("cold lead"))
    world.deliver(ghl_event("ContactDelete"))
    assert not world.in_bucket()
    assert world.store.get(CONTACT_ID).status == "excluded"  # type: ignore[union-attr]


def test_replay_of_old_genuine_event_never_overwrites_newer_state(world: World):
    old = tagged("cold lead", at=ago(600))
    world.deliver(old)
    world.deliver(ghl_event("ContactDndUpdate"))
    assert world.deliver(old) == "stale"
    assert not world.in_bucket()


def test_changed_field_is_patched_alone(world: World):
    world.deliver(tagged("cold lead"))
    world.deliver(tagged("cold lead", companyName="New Name"))
    updates = [arg for name, arg in world.ct.calls if name == "update"]
    assert updates == [(48000000, {"company_name": "New Name"})]


def test_existing_calltools_contact_with_same_phone_is_adopted(world: World):
    world.ct.contacts[5] = {"mobile_phone_number": "+13125550147"}
    world.deliver(tagged("cold lead"))
    assert world.ct.call_count("create") == 0 and 5 in world.ct.bucket_of()


def test_phone_shared_by_two_calltools_contacts_is_a_permanent_failure(world: World):
    world.ct.contacts[5] = {"mobile_phone_number": "+13125550147"}
    world.ct.contacts[6] = {"mobile_phone_number": "+13125550147"}
    assert world.deliver(tagged("cold lead")) == "failed"
    state = world.store.get(CONTACT_ID)
    assert state is not None and state.status == "failed" and "several" in (state.reason or "")
    assert state.lease_until is None


def test_undialable_number_is_recorded_as_failed(world: World):
    world.ct.undialable.add("+13125550147")
    assert world.deliver(tagged("cold lead")) == "failed"
    assert world.store.get(CONTACT_ID).status == "failed"  # type: ignore[union-attr]


def test_transient_error_releases_lease_and_retry_succeeds(world: World):
    world.ct.fail_next["add"] = TransientError("502")
    body = tagged("cold lead")
    with pytest.raises(TransientError):
        world.deliver(body)
    state = world.store.get(CONTACT_ID)
    assert state is not None and state.lease_until is None and state.calltools_id == 48000000
    assert world.deliver(body) == "synced"
    assert len(world.ct.contacts) == 1 and world.in_bucket()


def test_contact_held_by_another_worker_is_retried_later(world: World):
    body = tagged("cold lead")
    state = world.store.get(CONTACT_ID)
    assert state is None
    from chalicelib.domain.state import ContactState

    now = utcnow()
    world.store.acquire(
        ContactState(contact_id=CONTACT_ID), "other", now + timedelta(minutes=1), now
    )
    with pytest.raises(Deferred) as wait:  # comes back when the lease ends, not as a failure
        world.deliver(body)
    assert 55 <= wait.value.seconds <= 60
    world.now = now + timedelta(minutes=2)  # the other worker died; its lease ran out
    assert world.deliver(body) == "synced"


def test_workflow_payload_rereads_contact_from_ghl(world: World):
    world.ghl.contacts[CONTACT_ID] = Contact(
        id=CONTACT_ID, location_id=LOCATION_ID, phone="+13125550147", tags=("cold lead",)
    )
    outcome = world.sync.sync(parse_workflow_payload(fixture("ghl/workflow-webhook.json")))
    assert outcome.result == "synced" and world.ghl.reads == 1 and world.in_bucket()
    # A delayed event from around the re-read may or may not be in what GHL served: GHL is
    # asked again rather than the event applied over the newer data.
    assert world.deliver(tagged("other", at=ago(1)), mirror=False) == "unchanged"
    assert world.ghl.reads == 2 and world.in_bucket()


def test_refetch_of_deleted_contact_removes(world: World):
    world.deliver(tagged("cold lead"))
    world.ghl.contacts.clear()
    msg = SyncMessage(
        origin="workflow", contact_id=CONTACT_ID, location_id=LOCATION_ID, received_at=utcnow()
    )
    assert world.sync.sync(msg).result == "synced"
    assert not world.in_bucket()


def test_other_location_is_ignored(world: World):
    assert world.deliver({**tagged("cold lead"), "locationId": "x"}) == "ignored"
    assert world.ct.call_count() == 0


def test_unknown_bucket_is_a_configuration_error_and_the_message_waits():
    world = World([Rule(tag="cold lead", bucket="No Such Bucket")])
    with pytest.raises(Deferred) as wait:  # logged loud; the message comes back, not to the DLQ
        world.deliver(tagged("cold lead"))
    assert isinstance(wait.value.__cause__, ConfigurationError)
    message = parse_marketplace_event(tagged("cold lead")).model_copy(update={"deferrals": 100})
    with pytest.raises(ConfigurationError):  # after a day of waiting it fails, and alarms
        world.sync.sync(message)


def test_contact_deleted_by_hand_in_calltools_is_recreated(world: World):
    world.deliver(tagged("cold lead"))
    world.ct.contacts.clear()
    world.ct.members.clear()
    world.deliver(tagged("cold lead", companyName="Changed"))
    assert len(world.ct.contacts) == 1 and world.in_bucket()


def test_permanent_error_type_is_not_retried(world: World):
    world.ct.fail_next["create"] = PermanentError("400 bad")
    assert world.deliver(tagged("cold lead")) == "failed"


# --- creates that carry their buckets (PATCH add_buckets works on the account) -----------------


@pytest.fixture
def carrying() -> World:
    world = World()
    world.ct.create_takes_buckets = True
    return world


def test_a_create_that_carries_the_bucket_needs_no_separate_add(carrying: World):
    assert carrying.deliver(tagged("cold lead")) == "synced"
    assert carrying.in_bucket()
    assert [name for name, _ in carrying.ct.calls] == ["find", "create"]
    state = carrying.store.get(CONTACT_ID)
    assert state is not None and state.buckets == {70412}
    assert state.pending_buckets == frozenset() and state.pending_phone is None


def test_a_create_whose_reply_is_lost_leaves_a_pending_record_naming_its_phone(carrying: World):
    carrying.ct.lose_next.add("create_reply")
    with pytest.raises(TransientError):
        carrying.deliver(tagged("cold lead"))
    state = carrying.store.get(CONTACT_ID)
    assert state is not None and state.calltools_id is None and state.lease_until is None
    assert state.pending_phone == "+13125550147" and state.pending_buckets == {70412}


def test_a_lost_create_is_adopted_by_the_retry_not_repeated(carrying: World):
    carrying.ct.lose_next.add("create_reply")
    body = tagged("cold lead")
    with pytest.raises(TransientError):
        carrying.deliver(body)
    assert carrying.deliver(body) == "synced"
    assert len(carrying.ct.contacts) == 1 and carrying.in_bucket()
    state = carrying.store.get(CONTACT_ID)
    assert state is not None and state.pending_phone is None and state.buckets == {70412}


@pytest.mark.parametrize(
    "make_event",
    [
        lambda: ghl_event("ContactDndUpdate", dnd=True),
        lambda: tagged("other"),
        lambda: ghl_event("ContactDelete"),
    ],
    ids=["dnd", "untagged", "deleted"],
)
def test_a_lost_create_is_undone_when_the_next_event_says_leave(
    carrying: World, make_event: Callable[[], dict[str, Any]]
):
    """The contact the lost reply made is in the bucket: our state must find it and take it out,
    though the event alone plans nothing to remove. (The event is made now, after the add: made
    at collection it could be older than the add, and GHL would rightly keep the contact in.)"""
    event = make_event()
    carrying.ct.lose_next.add("create_reply")
    with pytest.raises(TransientError):
        carrying.deliver(tagged("cold lead", at=ago(5)))
    assert carrying.ct.bucket_of()  # what the lost reply made is in the dialler
    if event["type"] == "ContactDndUpdate":
        carrying.set_call_dnd()
    assert carrying.deliver(event) == "synced"
    assert not carrying.ct.bucket_of()
    assert len(carrying.ct.contacts) == 1 and carrying.ct.call_count("create") == 1
    state = carrying.store.get(CONTACT_ID)
    assert state is not None and state.calltools_id in carrying.ct.contacts
    assert state.buckets == frozenset() and state.pending_buckets == frozenset()


def test_a_create_not_found_waits_until_it_has_settled_then_is_sent_again(carrying: World):
    """A timed-out create may still be applied later: an empty search defers the message until
    the settle time is over; only then is the create sent again."""
    carrying.now = utcnow()
    carrying.ct.fail_next["create"] = TransientError("read timeout")  # and nothing made yet
    body = tagged("cold lead")
    with pytest.raises(TransientError):
        carrying.deliver(body)
    with pytest.raises(Deferred) as wait:
        carrying.deliver(body)
    assert 0 < wait.value.seconds <= 300 and not carrying.ct.contacts
    state = carrying.store.get(CONTACT_ID)
    assert state is not None and state.pending_phone and state.lease_until is None
    carrying.now += timedelta(seconds=301)
    assert carrying.deliver(body) == "synced"
    assert len(carrying.ct.contacts) == 1 and carrying.in_bucket()


def test_a_create_applied_late_is_found_not_duplicated(carrying: World):
    """The search during the wait finds nothing; CallTools then applies the create. The next
    attempt adopts it, so the DND that follows takes it out of the dialler."""
    carrying.now = utcnow()
    carrying.ct.fail_next["create"] = TransientError("read timeout")
    with pytest.raises(TransientError):
        carrying.deliver(tagged("cold lead", at=ago(5)))
    carrying.set_call_dnd()
    dnd = ghl_event("ContactDndUpdate", dnd=True)
    with pytest.raises(Deferred):
        carrying.deliver(dnd)
    late = carrying.made_in_calltools(70412)  # the lost request, applied by CallTools only now
    assert carrying.ct.bucket_of() == {late}
    carrying.now += timedelta(seconds=30)
    assert carrying.deliver(dnd) == "synced"
    assert not carrying.ct.bucket_of() and len(carrying.ct.contacts) == 1


def test_two_candidates_after_a_lost_create_both_leave_when_the_contact_must(carrying: World):
    carrying.ct.lose_next.add("create_reply")
    with pytest.raises(TransientError):
        carrying.deliver(tagged("cold lead", at=ago(5)))
    twin = carrying.made_in_calltools(70412)
    assert len(carrying.ct.bucket_of()) == 2
    assert carrying.deliver(tagged("other")) == "synced"
    assert not carrying.ct.bucket_of()
    assert twin in carrying.ct.contacts  # taken out of the bucket, not deleted


def test_a_refused_create_leaves_nothing_pending(carrying: World):
    carrying.ct.undialable.add("+13125550147")
    assert carrying.deliver(tagged("cold lead")) == "failed"
    state = carrying.store.get(CONTACT_ID)
    assert state is not None and state.pending_phone is None and not state.pending_buckets


def test_a_pending_create_without_a_send_time_counts_as_settled(carrying: World):
    """A record with no `pending_since` must not wait for ever (each deferral would restart)."""
    carrying.store.items[CONTACT_ID] = ContactState(
        contact_id=CONTACT_ID, pending_phone="+13125550147", pending_buckets=frozenset({70412})
    )
    assert carrying.deliver(tagged("cold lead")) == "synced"
    assert len(carrying.ct.contacts) == 1 and carrying.in_bucket()


def test_a_conflict_after_a_lost_create_still_takes_both_out_of_unwanted_buckets():
    world = World([Rule(tag="cold lead", bucket="Cold Leads"), Rule(tag="hot", bucket="Hot")])
    world.ct.buckets[70500] = "Hot"
    world.ct.create_takes_buckets = True
    world.ct.lose_next.add("create_reply")
    with pytest.raises(TransientError):
        world.deliver(tagged("cold lead", "hot", at=ago(5)))
    world.made_in_calltools(70412, 70500)
    assert world.deliver(tagged("cold lead")) == "failed"  # which one is ours is unknowable
    assert not world.ct.bucket_of(70500)  # but neither stays where it must not be
    assert len(world.ct.bucket_of(70412)) == 2


# --- a snapshot may add to a bucket only while it is fresh (SNAPSHOT_TRUST_SECONDS, 60 s) -------

CALLS_ALLOWED = {"Call": {"status": "inactive"}}  # states call DND, so only its age can fail it


def frozen_world(**kwargs: Any) -> World:
    """A world whose clock stands still, with GHL already saying calls are DND now."""
    world = World(**kwargs)
    world.now = utcnow()
    dnd_now = tagged("cold lead", dndSettings={"Call": {"status": "active"}})
    world.ghl.contacts[CONTACT_ID] = contact_from_ghl(dnd_now)
    return world


def adding_snapshot(world: World, age: timedelta) -> dict[str, Any]:
    """A webhook that would add the contact, stating calls are allowed, `age` old."""
    assert world.now is not None
    return tagged("cold lead", at=world.now - age, dndSettings=CALLS_ALLOWED)


@pytest.mark.parametrize("age", [timedelta(seconds=60, microseconds=1), timedelta(minutes=10)])
def test_an_old_adding_snapshot_rereads_ghl_and_a_dnd_there_keeps_the_contact_out(age: timedelta):
    world = frozen_world()
    assert world.deliver(adding_snapshot(world, age), mirror=False) == "unchanged"
    assert world.ghl.reads == 1  # GHL was asked, and said DND
    # Only the phone search that ran beside the re-read (lookahead): nothing written.
    assert world.ct.calls == [("find", "+13125550147")] and not world.in_bucket()
    state = world.store.get(CONTACT_ID)
    assert state is not None and state.reason == "dnd" and state.dnd


@pytest.mark.parametrize("age", [timedelta(0), timedelta(seconds=5), timedelta(seconds=60)])
def test_a_fresh_adding_snapshot_is_trusted_without_rereading_ghl(age: timedelta):
    world = frozen_world()
    assert world.deliver(adding_snapshot(world, age), mirror=False) == "synced"
    assert world.ghl.reads == 0 and world.in_bucket()


def test_an_old_adding_snapshot_rereads_and_adds_when_ghl_agrees():
    world = frozen_world()
    body = adding_snapshot(world, timedelta(minutes=2))
    world.ghl.contacts[CONTACT_ID] = contact_from_ghl(body)  # GHL: calls allowed, still tagged
    assert world.deliver(body, mirror=False) == "synced"
    assert world.ghl.reads == 1 and world.in_bucket()


def test_an_old_snapshot_that_only_removes_is_applied_without_a_reread():
    """Taking a contact out needs no fresh data: an old snapshot may always do that."""
    world = frozen_world()
    assert world.now is not None
    start = world.now
    assert world.deliver(adding_snapshot(world, timedelta(seconds=5)), mirror=False) == "synced"
    assert world.in_bucket() and world.ghl.reads == 0
    world.now = start + timedelta(minutes=5)
    old_untag = tagged("other", at=start, dndSettings=CALLS_ALLOWED)
    assert world.deliver(old_untag, mirror=False) == "synced"
    assert world.ghl.reads == 0 and not world.in_bucket()


def test_the_trust_window_is_the_configured_one():
    world = frozen_world(snapshot_trust_seconds=10)
    assert world.deliver(adding_snapshot(world, timedelta(seconds=11)), mirror=False) == "unchanged"
    assert world.ghl.reads == 1 and not world.in_bucket()


def reconciliation_hit(world: World, *, searched_ago: timedelta, updated_ago: timedelta) -> Any:
    """A search hit (calls allowed) found `searched_ago`, last updated in GHL `updated_ago`."""
    assert world.now is not None
    contact = contact_from_ghl(tagged("cold lead", dndSettings=CALLS_ALLOWED))
    return SyncMessage(
        origin="reconciliation",
        contact_id=CONTACT_ID,
        location_id=LOCATION_ID,
        event_time=world.now - updated_ago,
        snapshot=contact,
        received_at=world.now - searched_ago,
    )


def test_a_search_hit_is_as_fresh_as_the_search_not_as_its_last_update():
    world = frozen_world()
    hit = reconciliation_hit(
        world, searched_ago=timedelta(seconds=5), updated_ago=timedelta(days=3)
    )
    assert world.sync.sync(hit).result == "synced"
    assert world.ghl.reads == 0 and world.in_bucket()


def test_a_search_hit_older_than_the_window_rereads_ghl():
    world = frozen_world()
    hit = reconciliation_hit(world, searched_ago=timedelta(minutes=2), updated_ago=timedelta(0))
    assert world.sync.sync(hit).result == "unchanged"
    assert world.ghl.reads == 1 and not world.in_bucket()


def test_an_adding_snapshot_without_a_time_rereads_ghl():
    """Its age is unknown, so it is not fresh (parsing never makes one; a message could)."""
    world = frozen_world()
    assert world.now is not None
    contact = contact_from_ghl(tagged("cold lead", dndSettings=CALLS_ALLOWED))
    message = SyncMessage(
        origin="marketplace",
        contact_id=CONTACT_ID,
        location_id=LOCATION_ID,
        snapshot=contact,
        received_at=world.now,
    )
    assert world.sync.sync(message).result == "unchanged"
    assert world.ghl.reads == 1 and not world.in_bucket()
