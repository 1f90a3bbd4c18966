"""Applying one call outcome over fakes: what it writes to GHL, exactly once, and what it refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.contact import Contact
from chalicelib.domain.errors import ConcurrentUpdate, Deferred, MaybeApplied, TransientError
from chalicelib.domain.messages import OutcomeMessage
from chalicelib.domain.outcomes import CallRecord, Disposition, OutcomeRules, note_marker
from chalicelib.services.outcomes.apply import OutcomeAccounts, OutcomePlace, OutcomeSync
from tests.support.fake_outcomes import (
    FakeCallOutcomes,
    FakeContactDirectory,
    FakeGhlWriter,
    FakeOutcomeStore,
)
from tests.support.fakes import FakeGhl
from tests.support.helpers import FIXTURES

LOCATION = "loc-1"
NOW = datetime(2026, 11, 28, 18, 43, tzinfo=UTC)
RECORD = CallRecord.model_validate(
    json.loads((FIXTURES / "calltools" / "historical-call-disposition.json").read_text())
)
DNC = Disposition.model_validate(
    json.loads((FIXTURES / "calltools" / "call-disposition.json").read_text())
)
NOT_INTERESTED = Disposition(id=61003, name="Not Interested")
CT_CONTACT, GHL_CONTACT = RECORD.contact or 0, "p4Rk2VtQ8mZs1LwY7nHc"


class World:
    def __init__(self, rules: OutcomeRules | None = None) -> None:
        self.ct = FakeCallOutcomes(
            records={RECORD.id: RECORD},
            dispositions={NOT_INTERESTED.id: NOT_INTERESTED, DNC.id: DNC},
        )
        self.writer = FakeGhlWriter()
        self.reader = FakeGhl()
        self.directory = FakeContactDirectory({CT_CONTACT: GHL_CONTACT})
        self.store = FakeOutcomeStore()
        self.taken_out: list[str] = []
        self.out = True  # what take_out answers
        self.clock = NOW
        self.sync = OutcomeSync(
            OutcomeAccounts(self.ct, self.writer, self.reader, self.directory),
            self.store,
            rules or OutcomeRules(),
            OutcomePlace(LOCATION, "America/Chicago"),
            self._take_out,
            clock=lambda: self.clock,
        )

    def _take_out(self, contact_id: str) -> bool:
        self.taken_out.append(contact_id)
        return self.out

    def apply(self, record_id: int = RECORD.id, deferrals: int = 0) -> dict[str, object]:
        message = OutcomeMessage(
            origin="hook", record_id=record_id, received_at=self.clock, deferrals=deferrals
        )
        return self.sync.apply(message)

    def notes(self) -> list[str]:
        return [body for _, body in self.writer.note_bodies.get(GHL_CONTACT, [])]


def test_a_disposition_becomes_a_tag_and_a_note_in_the_locations_time():
    world = World()
    result = world.apply()
    assert result["status"] == "applied" and result["contact_id"] == GHL_CONTACT
    assert world.writer.tags[GHL_CONTACT] == ["calltools: not interested"]
    (note,) = world.notes()
    # 18:42 UTC is 12:42 in Chicago in November.
    assert note.startswith("CallTools call on 2026-11-28 12:42 (America/Chicago): Not Interested.")
    assert "Campaign 7704, agent 55012, dialled +13125550147" in note
    assert note.endswith(note_marker(RECORD.id))
    assert world.writer.writes() == 2  # the goal: tag + note, nothing else
    assert world.writer.dnd == {} and world.taken_out == []


def test_the_same_hook_three_times_writes_one_note():
    world = World()
    for _ in range(3):
        world.apply()
    assert len(world.notes()) == 1
    assert world.writer.writes() == 2
    assert world.store.tally().applied == 1 and world.store.tally().received == 1


def test_a_record_calltools_does_not_know_writes_nothing():
    world = World()
    result = world.apply(record_id=424242)
    assert result["status"] == "unknown"
    assert world.writer.calls == []
    assert world.store.tally().unknown == 1


def test_a_note_whose_reply_was_lost_is_found_not_sent_again():
    world = World()
    world.writer.faults = ["", "lost"]  # the tag goes through; the note is made, its reply lost
    with pytest.raises(MaybeApplied):
        world.apply()
    assert len(world.notes()) == 1
    world.apply()
    assert len(world.notes()) == 1
    state = world.store.get(RECORD.id)
    assert state is not None and state.status == "applied" and state.note_id is not None


def test_a_note_never_sent_is_sent_on_the_retry():
    world = World()
    world.writer.faults = ["", "429"]  # the note's call is refused before anything is written
    with pytest.raises(TransientError):
        world.apply()
    assert world.notes() == []
    world.apply()
    assert len(world.notes()) == 1


def test_a_failure_part_way_releases_the_lease_so_the_retry_does_not_wait():
    world = World()
    world.writer.faults = ["429"]
    with pytest.raises(TransientError):
        world.apply()
    state = world.store.get(RECORD.id)
    assert state is not None and state.lease_owner is None and state.status == "pending"


def test_a_second_worker_on_the_same_record_is_told_to_wait():
    world = World()
    world.store.acquire(RECORD.id, "other", NOW + timedelta(minutes=2), NOW)
    with pytest.raises(ConcurrentUpdate):
        world.apply()
    assert world.writer.calls == []


def test_a_do_not_call_disposition_sets_dnd_and_takes_the_contact_out():
    world = World()
    world.ct.records[RECORD.id] = RECORD.model_copy(update={"disposition": DNC.id})
    result = world.apply()
    assert result["status"] == "applied"
    assert world.writer.dnd[GHL_CONTACT] == "CallTools: Do Not Call"
    assert world.taken_out == [GHL_CONTACT]
    assert "calltools: do not call" in world.writer.tags[GHL_CONTACT]


def test_dnd_not_yet_visible_is_rechecked_without_setting_it_again():
    world = World()
    world.ct.records[RECORD.id] = RECORD.model_copy(update={"disposition": DNC.id})
    world.out = False
    with pytest.raises(Deferred):
        world.apply()
    world.out = True
    world.apply()
    assert [c for c in world.writer.calls if c[0] == "set_call_dnd"] == [
        ("set_call_dnd", GHL_CONTACT)
    ]
    assert world.taken_out == [GHL_CONTACT, GHL_CONTACT]
    assert len(world.notes()) == 1


def test_dnd_that_never_shows_ends_in_sqs_retries_not_endless_waits():
    world = World()
    world.ct.records[RECORD.id] = RECORD.model_copy(update={"disposition": DNC.id})
    world.out = False
    with pytest.raises(TransientError) as raised:
        world.apply(deferrals=40)
    assert not isinstance(raised.value, Deferred)


def test_a_rule_can_add_and_remove_tags_and_skip_the_note_but_not_undo_dnd():
    rules = OutcomeRules.model_validate(
        {
            "dispositions": {
                "NOT INTERESTED": {"remove_tags": ["cold lead"], "note": False},
                "do not call": {"dnd": False, "add_tags": ["never"]},
            }
        }
    )
    world = World(rules)
    world.writer.tags[GHL_CONTACT] = ["cold lead", "facebook lead"]
    world.apply()
    assert world.writer.tags[GHL_CONTACT] == ["facebook lead", "calltools: not interested"]
    assert world.notes() == []
    world.ct.records[RECORD.id + 1] = RECORD.model_copy(
        update={"id": RECORD.id + 1, "disposition": DNC.id}
    )
    world.apply(RECORD.id + 1)
    assert GHL_CONTACT in world.writer.dnd and "never" in world.writer.tags[GHL_CONTACT]


def test_a_contact_not_in_our_state_is_named_by_calltools_and_checked_in_ghl():
    world = World()
    world.directory.by_calltools_id.clear()
    world.ct.ghl_ids[CT_CONTACT] = GHL_CONTACT
    world.reader.contacts[GHL_CONTACT] = Contact(id=GHL_CONTACT, location_id=LOCATION)
    assert world.apply()["status"] == "applied"
    assert world.reader.reads == 1


def test_a_ghl_id_in_another_location_is_unmapped_and_nothing_is_written():
    world = World()
    world.directory.by_calltools_id.clear()
    world.ct.ghl_ids[CT_CONTACT] = "foreign"
    world.reader.contacts["foreign"] = Contact(id="foreign", location_id="someone-else")
    result = world.apply()
    assert result["status"] == "unmapped" and world.writer.calls == []


def test_a_contact_nobody_can_name_is_unmapped_with_its_reason():
    world = World()
    world.directory.by_calltools_id.clear()
    result = world.apply()
    assert result["status"] == "unmapped"
    assert str(CT_CONTACT) in str(result["reason"])
    assert world.writer.calls == [] and world.store.tally().unmapped == 1


def test_a_broken_reverse_lookup_falls_back_to_calltools():
    world = World()
    world.directory.broken = True
    world.ct.ghl_ids[CT_CONTACT] = GHL_CONTACT
    world.reader.contacts[GHL_CONTACT] = Contact(id=GHL_CONTACT, location_id=LOCATION)
    assert world.apply()["status"] == "applied"


def test_the_tally_reports_the_newest_lag():
    world = World()
    world.apply()
    tally = world.store.tally()
    assert tally.newest_lag_seconds == pytest.approx(53.0)  # 18:42:07 → 18:43:00
    assert tally.pending == 0


# --- review (issue 14): an "unknown" record is not settled ---------------------------------------


def test_an_id_forged_ahead_of_calltools_does_not_block_the_real_record():
    """A leaked hook URL (or a hook read before CallTools shows the record) must not mark a
    future record id as done: when the real record with that id comes, it is applied."""
    world = World()
    future = RECORD.id + 1000
    assert world.apply(record_id=future)["status"] == "unknown"
    world.ct.records[future] = RECORD.model_copy(update={"id": future})
    result = world.apply(record_id=future)
    assert result["status"] == "applied" and not result["duplicate"]
    assert len(world.notes()) == 1
    tally = world.store.tally()
    assert (tally.received, tally.applied, tally.unknown, tally.pending) == (1, 1, 0, 0)


def test_an_unknown_id_sent_again_stays_unknown_and_is_counted_once():
    world = World()
    world.apply(record_id=424242)
    assert world.apply(record_id=424242)["status"] == "unknown"
    assert world.writer.calls == [] and world.store.tally().unknown == 1


# --- review (issue 14): the GHL id CallTools holds is only a claim -------------------------------


def test_writes_go_to_the_contact_ghl_answered_for_not_to_the_id_calltools_claimed():
    """GHL answered the check with another contact (the claimed id was merged away, or GHL
    resolved the path to another one): the write goes to the contact verified to be ours."""
    world = World()
    world.directory.by_calltools_id.clear()
    world.ct.ghl_ids[CT_CONTACT] = "merged-away-id"
    world.reader.contacts["merged-away-id"] = Contact(id=GHL_CONTACT, location_id=LOCATION)
    result = world.apply()
    assert result["status"] == "applied" and result["contact_id"] == GHL_CONTACT
    assert {cid for _, cid in world.writer.calls} == {GHL_CONTACT}


@pytest.mark.parametrize(
    "claimed", [f"{GHL_CONTACT}/../{GHL_CONTACT}", f"{GHL_CONTACT}?x=", "a b", f"{GHL_CONTACT}#"]
)
def test_a_claimed_id_that_is_not_a_plain_id_is_unmapped_without_asking_ghl(claimed: str):
    """A CallTools field anyone there can edit must not put a path into GHL's URLs."""
    world = World()
    world.directory.by_calltools_id.clear()
    world.ct.ghl_ids[CT_CONTACT] = claimed
    world.reader.contacts[claimed] = Contact(id=GHL_CONTACT, location_id=LOCATION)
    result = world.apply()
    assert result["status"] == "unmapped" and world.writer.calls == []
    assert world.reader.reads == 0
