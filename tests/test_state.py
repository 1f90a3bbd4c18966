"""What the stored state says about an event's age, and the buckets a contact may be in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.state import ContactState

T = datetime(2026, 2, 2, 18, 11, 5, 20000, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def test_an_event_at_exactly_the_stored_time_is_not_stale():
    assert not ContactState(contact_id="c", source_time=T).is_newer_than(T)


def test_an_event_a_microsecond_older_than_the_stored_time_is_stale():
    assert ContactState(contact_id="c", source_time=T).is_newer_than(T - TICK)


def test_a_newer_event_is_not_stale():
    assert not ContactState(contact_id="c", source_time=T).is_newer_than(T + TICK)


def test_without_either_time_nothing_is_stale():
    assert not ContactState(contact_id="c").is_newer_than(T)
    assert not ContactState(contact_id="c", source_time=T).is_newer_than(None)
    assert not ContactState(contact_id="c").is_newer_than(None)


def test_maybe_in_is_placed_and_pending_buckets():
    state = ContactState(contact_id="c", buckets=frozenset({1}), pending_buckets=frozenset({2}))
    assert state.maybe_in == {1, 2}


def test_a_create_is_unresolved_only_with_a_pending_phone_and_no_calltools_id():
    assert ContactState(contact_id="c", pending_phone="+13125550147").create_unresolved
    assert not ContactState(
        contact_id="c", pending_phone="+13125550147", calltools_id=5
    ).create_unresolved
    assert not ContactState(contact_id="c").create_unresolved
