"""What the stored state says about an event's age, and the buckets a contact may be in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain.state import ContactState

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


# --- may_reflect: an event a re-read may or may not have seen is confirmed with GHL ----------------
def read(
    source_time: datetime = T, read_until: datetime = T + timedelta(seconds=5)
) -> ContactState:
    return ContactState(contact_id="c", source_time=source_time, read_until=read_until)


def test_an_event_at_exactly_the_end_of_the_read_window_may_be_reflected():
    state = read()
    assert state.read_until is not None
    assert state.may_reflect(state.read_until)
    assert not state.may_reflect(state.read_until + TICK)


def test_an_event_inside_the_read_window_may_be_reflected_from_its_start():
    assert read().may_reflect(T)
    assert read().may_reflect(T + timedelta(seconds=2))


def test_an_event_older_than_the_stored_time_is_stale_not_uncertain():
    assert not read().may_reflect(T - TICK)


def test_without_a_read_window_nothing_is_uncertain():
    assert not ContactState(contact_id="c", source_time=T).may_reflect(T)
