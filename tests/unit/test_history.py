"""A contact's decision history: bounded, compact in storage, masked, and written by the sync."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.aws.state import from_item, to_item
from chalicelib.domain.errors import Deferred, PermanentError
from chalicelib.domain.history import (
    HISTORY_LIMIT,
    REASON_LIMIT,
    Decision,
    cause_of,
    from_records,
    remember,
    to_records,
)
from chalicelib.domain.state import ContactState
from chalicelib.domain.sync_plan import SyncPlan
from chalicelib.services.sync.decisions import Prompt
from tests.support.helpers import CONTACT_ID, ghl_event, tagged
from tests.support.worlds import World

T0 = datetime(2026, 11, 28, 14, 3, tzinfo=UTC)


def decision(i: int = 0, **changes: object) -> Decision:
    return Decision(
        at=T0 + timedelta(minutes=i), cause="ContactTagUpdate", result="synced"
    ).model_copy(update=changes)


def test_remember_appends_newest_last_and_keeps_only_the_last_twenty():
    history: tuple[Decision, ...] = ()
    for i in range(HISTORY_LIMIT + 5):
        history = remember(history, decision(i))
    assert len(history) == HISTORY_LIMIT
    assert history[0].at == T0 + timedelta(minutes=5)
    assert history[-1].at == T0 + timedelta(minutes=HISTORY_LIMIT + 4)


@pytest.mark.parametrize(
    ("origin", "event_type", "cause"),
    [
        ("marketplace", "ContactDndUpdate", "ContactDndUpdate"),
        ("workflow", None, "workflow"),
        ("reconciliation", None, "reconciliation"),
        ("outcome", "ContactDndUpdate", "outcome"),
    ],
)
def test_the_cause_is_the_event_type_or_the_origin(origin: str, event_type: str | None, cause: str):
    assert cause_of(origin, event_type) == cause


def test_records_round_trip_with_short_keys_and_no_empty_values():
    full = decision(
        reread=True,
        source_time=T0 - timedelta(seconds=5),
        added=(70412,),
        removed=(70413,),
        fields=("first_name",),
        exclusion=None,
    )
    bare = decision(1, result="failed", exclusion="dnd", reason="refused")
    records = to_records([full, bare])
    assert set(records[0]) == {"t", "c", "r", "rr", "s", "a", "d", "f"}
    assert set(records[1]) == {"t", "c", "r", "x", "e"}
    assert from_records(records) == (full, bare)


def test_unreadable_records_are_skipped_not_fatal():
    assert from_records([{"c": "no time"}, "junk", {"t": 1}]) == (
        Decision(at=datetime.fromtimestamp(1, UTC), cause="", result="synced"),
    )
    assert from_records(None) == ()


def test_a_long_reason_is_stored_shortened():
    (record,) = to_records([decision(result="failed", reason="x" * 1000)])
    assert len(record["e"]) == REASON_LIMIT


def test_the_history_rides_in_the_state_item_as_one_string_attribute():
    state = ContactState(contact_id="c1", history=tuple(decision(i) for i in range(HISTORY_LIMIT)))
    item = to_item(state, 1)
    assert isinstance(item["h"], str) and len(item["h"]) < 2_000  # twenty plain decisions
    assert from_item(item).history == state.history
    assert "h" not in to_item(ContactState(contact_id="c1"), 1)


def test_a_failure_reason_is_stored_masked():
    plan = SyncPlan("c1", frozenset(), frozenset(), frozenset(), needs_contact=False)
    (stored,) = Prompt("ContactCreate").onto(
        (), T0, "failed", plan, reason="phone +13125550147 of jane.doe@example.com is taken"
    )
    assert stored.reason is not None
    assert "3125550147" not in stored.reason and "jane.doe@example.com" not in stored.reason
    assert "***47" in stored.reason


# --- written by the sync -------------------------------------------------------------------------
def history(world: World) -> tuple[Decision, ...]:
    state = world.store.get(CONTACT_ID)
    assert state is not None
    return state.history


def test_each_sync_that_saves_records_its_decision():
    world = World()
    world.deliver(tagged("cold lead"))
    world.deliver(ghl_event("ContactDndUpdate"))
    added, out = history(world)
    assert (added.cause, added.result, added.added, added.exclusion) == (
        "ContactTagUpdate",
        "synced",
        (70412,),
        None,
    )
    assert (out.cause, out.result, out.removed, out.exclusion) == (
        "ContactDndUpdate",
        "synced",
        (70412,),
        "dnd",
    )
    # A DND delivered after the add is confirmed by GHL's re-read before the contact leaves.
    assert out.source_time is not None and out.reread


def test_an_unchanged_delivery_that_saves_nothing_records_nothing():
    world = World()
    body = tagged("cold lead")
    world.deliver(body)
    assert world.deliver(body) in {"unchanged", "stale"}
    assert len(history(world)) == 1


def test_a_permanent_failure_is_recorded_with_its_reason():
    world = World()
    world.ct.undialable.add("+13125550147")
    world.deliver(tagged("cold lead"))
    (failed,) = history(world)
    assert failed.result == "failed" and failed.reason
    assert "3125550147" not in json.dumps(to_records(history(world)))


def test_a_removal_calltools_refuses_is_recorded_as_failed_while_the_message_waits():
    world = World()
    world.deliver(tagged("cold lead"))
    world.ct.fail_next["remove"] = PermanentError("bucket locked")
    with pytest.raises(Deferred):
        world.deliver(ghl_event("ContactDndUpdate"))
    last = history(world)[-1]
    assert (last.cause, last.result, last.exclusion) == ("ContactDndUpdate", "failed", "dnd")
    assert last.reason == "removal not done yet: bucket locked"


@pytest.mark.parametrize(
    "record",
    [
        {"t": 1, "r": "exploded"},  # a result no version wrote
        {"t": 1, "a": "12"},  # buckets as a string, not a list
        {"t": 1, "a": 7},  # buckets as a number
        {"t": 1, "a": ["x"]},  # a bucket that is no number
        {"t": 1, "x": 5},  # an exclusion that is no string
        {"t": 1, "e": ["why"]},  # a reason that is no string
        {"t": 1, "f": 3},  # fields as a number
        {"t": 10**20},  # a time out of range
        {"t": float("nan")},  # json.loads reads NaN
        {"t": float("inf")},
        {"t": 1, "s": 10**20},  # a source time out of range
    ],
)
def test_a_malformed_record_is_skipped_and_the_others_kept(record: dict[str, object]):
    assert from_records([{"t": 1}, record, {"t": 2}]) == (
        Decision(at=datetime.fromtimestamp(1, UTC), cause="", result="synced"),
        Decision(at=datetime.fromtimestamp(2, UTC), cause="", result="synced"),
    )


@pytest.mark.parametrize(
    "h", ["{not json", '{"t": 1}', "[" * 100_000, json.dumps([{"t": 1, "r": "exploded"}])]
)
def test_a_corrupt_history_attribute_reads_as_no_history(h: str):
    item = to_item(ContactState(contact_id=CONTACT_ID, buckets=frozenset({5})), 3) | {"h": h}
    state = from_item(item)
    assert state.history == () and state.buckets == frozenset({5}) and state.version == 3
