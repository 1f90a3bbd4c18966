"""Webhook bodies → sync messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.contact import contact_from_ghl, is_dnd_for_calls
from chalicelib.domain.time import parse_time
from chalicelib.inbound.ghl_events import (
    IgnoredEvent,
    InvalidEvent,
    parse_marketplace_event,
    parse_workflow_payload,
    scope_rejection,
)
from tests.support.helpers import CONTACT_ID, LOCATION_ID, fixture


@pytest.mark.parametrize(
    "kind", ["ContactCreate", "ContactUpdate", "ContactTagUpdate", "ContactDndUpdate"]
)
def test_fixture_events_carry_a_trusted_snapshot(kind):
    msg = parse_marketplace_event(fixture(f"ghl/{kind}.json"))
    assert msg.contact_id == CONTACT_ID and msg.location_id == LOCATION_ID
    assert msg.snapshot is not None and msg.event_time is not None
    assert msg.dedup_key == f"webhook:{fixture(f'ghl/{kind}.json')['webhookId']}"


def test_tag_update_keeps_full_tag_array():
    msg = parse_marketplace_event(fixture("ghl/ContactTagUpdate.json"))
    assert msg.snapshot is not None
    assert msg.snapshot.tags == ("facebook lead", "cold lead")


def test_dnd_update_is_dnd_for_calls():
    msg = parse_marketplace_event(fixture("ghl/ContactDndUpdate.json"))
    assert msg.snapshot is not None and msg.snapshot.dnd_calls


def test_dnd_settings_call_alone_decides_when_dnd_flag_false():
    assert is_dnd_for_calls({"dnd": False, "dndSettings": {"Call": {"status": "active"}}})
    assert is_dnd_for_calls({"dndSettings": {"Call": {"status": "permanent"}}})
    assert not is_dnd_for_calls({"dnd": False, "dndSettings": {"SMS": {"status": "active"}}})


def test_top_level_dnd_flag_alone_is_dnd_for_calls():
    """`dnd: true` blocks every channel, calls included, with no dndSettings at all."""
    assert is_dnd_for_calls({"dnd": True})
    assert is_dnd_for_calls({"dnd": True, "dndSettings": {"Call": {"status": "inactive"}}})
    contact = contact_from_ghl({"id": CONTACT_ID, "phone": "+13125550147", "dnd": True})
    assert contact.dnd_calls and contact.dnd_known


def test_tag_update_with_only_the_dnd_flag_carries_a_dnd_snapshot():
    body = {**fixture("ghl/ContactTagUpdate.json"), "dnd": True}
    assert "dndSettings" not in body
    msg = parse_marketplace_event(body)
    assert msg.snapshot is not None and msg.snapshot.dnd_calls and msg.snapshot.dnd_known


def test_dnd_flag_false_without_settings_is_not_dnd_and_not_known():
    contact = contact_from_ghl({"id": CONTACT_ID, "dnd": False})
    assert not contact.dnd_calls and not contact.dnd_known


@pytest.mark.parametrize("status", ["inactive", "", None, 1])
def test_call_status_other_than_active_or_permanent_is_not_dnd(status: object):
    assert not is_dnd_for_calls({"dnd": False, "dndSettings": {"Call": {"status": status}}})
    assert not is_dnd_for_calls({"dndSettings": {"Call": "active"}})
    assert not is_dnd_for_calls({"dnd": "true"})  # only the JSON boolean counts


def test_call_status_is_compared_trimmed_and_case_insensitive():
    assert is_dnd_for_calls({"dndSettings": {"Call": {"status": " Active "}}})
    assert is_dnd_for_calls({"dndSettings": {"Call": {"status": "PERMANENT"}}})


def test_delete_event_is_a_gone_contact():
    msg = parse_marketplace_event(fixture("ghl/ContactDelete.json"))
    assert msg.snapshot is not None and msg.snapshot.deleted


def test_data_wrapper_and_unknown_fields_are_tolerated():
    inner = fixture("ghl/ContactTagUpdate.json")
    msg = parse_marketplace_event({"data": inner, "somethingNew": 1})
    assert msg.contact_id == CONTACT_ID and msg.snapshot is not None


def test_missing_timestamp_means_refetch():
    body = fixture("ghl/ContactTagUpdate.json")
    del body["timestamp"]
    msg = parse_marketplace_event(body)
    assert msg.snapshot is None and msg.event_time is None


def test_missing_tags_means_refetch():
    body = fixture("ghl/ContactUpdate.json")
    del body["tags"]
    assert parse_marketplace_event(body).snapshot is None


@pytest.mark.parametrize("tags", [None, "cold lead", "not,a,list", [1, 2], ["cold lead", None]])
def test_signed_event_with_unusable_tags_rereads_the_contact(tags):
    """GHL does not resend a 4xx: tags it sent in a shape we cannot use mean "unknown", so the
    consumer re-reads the contact (never treats it as tagless, never refuses the event)."""
    body = {**fixture("ghl/ContactDndUpdate.json"), "tags": tags, "dnd": False}
    body["dndSettings"]["Call"]["status"] = "inactive"
    msg = parse_marketplace_event(body)
    assert msg.snapshot is None and msg.event_time is None
    assert msg.contact_id == CONTACT_ID


@pytest.mark.parametrize("tags", [None, "cold lead", [1, 2]])
def test_a_dnd_event_with_unusable_tags_still_takes_the_contact_out(tags):
    """DND for calls keeps a contact out whatever its tags: the event needs no re-read to say so,
    so a GHL outage cannot keep the contact in the dialler."""
    msg = parse_marketplace_event({**fixture("ghl/ContactDndUpdate.json"), "tags": tags})
    assert msg.snapshot is not None and msg.snapshot.dnd_calls and msg.snapshot.tags == ()
    assert msg.event_time is not None


def test_an_event_older_than_the_dedup_window_is_a_replay():
    body = fixture("ghl/ContactUpdate.json")
    sent = parse_time(body["timestamp"])
    assert sent is not None
    window = timedelta(days=14)
    with pytest.raises(IgnoredEvent, match="replay"):
        parse_marketplace_event(body, sent + window + timedelta(seconds=1), max_age=window)
    fresh = parse_marketplace_event(body, sent + window - timedelta(seconds=1), max_age=window)
    assert fresh.snapshot is not None


def test_other_event_types_are_ignored():
    with pytest.raises(IgnoredEvent):
        parse_marketplace_event({"type": "OpportunityCreate", "id": "x"})


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {},
        {"type": "ContactCreate"},
        {"type": "ContactCreate", "id": 5},
        {"type": 7, "id": "x"},
    ],
)
def test_malformed_events_are_invalid(body):
    with pytest.raises(InvalidEvent):
        parse_marketplace_event(body)


def test_workflow_payload_needs_refetch_and_reads_location():
    msg = parse_workflow_payload(fixture("ghl/workflow-webhook.json"))
    assert msg.origin == "workflow" and msg.contact_id == CONTACT_ID
    assert msg.location_id == LOCATION_ID and msg.snapshot is None and msg.dedup_key is None


def test_workflow_payload_without_contact_id_is_invalid():
    with pytest.raises(InvalidEvent):
        parse_workflow_payload({"tags": "cold lead"})


def test_scope():
    msg = parse_marketplace_event(fixture("ghl/ContactCreate.json"))
    assert scope_rejection(msg, LOCATION_ID, "") is None
    assert scope_rejection(msg, "other", "") == "other location"
    assert scope_rejection(msg, LOCATION_ID, "another-app") == "other app"
    assert scope_rejection(msg, LOCATION_ID, msg.app_id or "") is None


def test_an_event_naming_no_location_is_never_ours():
    body = fixture("ghl/ContactTagUpdate.json")
    del body["locationId"]
    msg = parse_marketplace_event(body)
    assert scope_rejection(msg, LOCATION_ID, "") == "no location in the event"
    workflow = fixture("ghl/workflow-webhook.json")
    del workflow["location"]
    assert scope_rejection(parse_workflow_payload(workflow), LOCATION_ID, "") is not None


def test_an_app_id_is_compared_only_when_the_event_carries_one():
    body = fixture("ghl/ContactTagUpdate.json")
    body.pop("appId", None)
    assert scope_rejection(parse_marketplace_event(body), LOCATION_ID, "our-app") is None
    body["appId"] = "their-app"
    assert scope_rejection(parse_marketplace_event(body), LOCATION_ID, "our-app") == "other app"


def test_without_a_configured_location_nothing_is_in_scope():
    msg = parse_marketplace_event(fixture("ghl/ContactTagUpdate.json"))
    assert scope_rejection(msg, "", "") is not None


# --- what each part of the parse decides (found by mutation testing, docs/mutation.md) ------------
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "body must be a JSON object"),
        ({"id": "x"}, "not a contact event: no type"),
        ({"type": "ContactCreate"}, "contact event without a contact id"),
        ({"type": "ContactCreate", "id": 5}, "id must be a string"),
        ({"type": "ContactCreate", "id": "x", "locationId": 7}, "locationId must be a string"),
    ],
)
def test_a_malformed_event_says_what_is_wrong(body: object, reason: str):
    """The reason is what the 400 answer carries: it names the part of the body at fault."""
    with pytest.raises(InvalidEvent) as refused:
        parse_marketplace_event(body)
    assert str(refused.value) == reason


def test_an_ignored_event_type_is_named_in_the_reason():
    with pytest.raises(IgnoredEvent) as ignored:
        parse_marketplace_event({"type": "OpportunityCreate", "id": "x"})
    assert ignored.value.reason == "event type OpportunityCreate is not synced"


def test_the_contact_id_is_read_from_contactid_when_id_is_absent():
    body = fixture("ghl/ContactUpdate.json")
    body["contactId"] = body.pop("id")
    msg = parse_marketplace_event(body)
    assert msg.contact_id == CONTACT_ID
    assert msg.snapshot is not None and msg.snapshot.id == CONTACT_ID


def test_the_message_names_the_event_type():
    for kind in ("ContactUpdate", "ContactDelete"):
        assert parse_marketplace_event(fixture(f"ghl/{kind}.json")).event_type == kind


def test_an_event_exactly_as_old_as_the_dedup_window_is_still_synced():
    """Only an event older than the window is a replay; the boundary itself is not."""
    body = fixture("ghl/ContactUpdate.json")
    sent = parse_time(body["timestamp"])
    assert sent is not None
    window = timedelta(days=14)
    at_boundary = parse_marketplace_event(body, sent + window, max_age=window)
    assert at_boundary.snapshot is not None and at_boundary.event_time == sent
    with pytest.raises(IgnoredEvent) as replay:
        parse_marketplace_event(body, sent + window + timedelta(microseconds=1), max_age=window)
    assert replay.value.reason == "replay: the event is older than the dedup window"


def test_a_delete_event_needs_no_tags_or_dnd_and_keeps_its_contact_and_location():
    """A delete is trusted as delivered whatever else it carries: only its id, location and
    time matter, and the gone contact keeps both (tenancy is checked on the location)."""
    full = fixture("ghl/ContactDelete.json")
    bare = {k: full[k] for k in ("type", "id", "locationId", "timestamp", "webhookId")}
    msg = parse_marketplace_event(bare)
    assert msg.event_time == parse_time(full["timestamp"])
    assert msg.snapshot is not None and msg.snapshot.deleted
    assert msg.snapshot.id == CONTACT_ID and msg.snapshot.location_id == LOCATION_ID


def test_fields_outside_the_data_wrapper_are_kept():
    """In the `{"data": {...}}` form, what sits beside `data` (type, timestamp, webhookId) counts."""
    inner = fixture("ghl/ContactTagUpdate.json")
    outer = {k: inner.pop(k) for k in ("type", "timestamp", "webhookId", "locationId")}
    msg = parse_marketplace_event({**outer, "data": inner})
    assert msg.event_type == "ContactTagUpdate" and msg.location_id == LOCATION_ID
    assert msg.webhook_id == outer["webhookId"] and msg.event_time == parse_time(outer["timestamp"])
    assert msg.snapshot is not None and msg.snapshot.tags == ("facebook lead", "cold lead")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-02-02T18:11:05.020Z", datetime(2026, 2, 2, 18, 11, 5, 20000, tzinfo=UTC)),
        (" 2026-02-02T18:11:05Z ", datetime(2026, 2, 2, 18, 11, 5, tzinfo=UTC)),
        # naive: taken as UTC, never as local time
        ("2026-02-02T18:11:05", datetime(2026, 2, 2, 18, 11, 5, tzinfo=UTC)),
        # another offset keeps its instant
        ("2026-02-02T20:11:05+02:00", datetime(2026, 2, 2, 18, 11, 5, tzinfo=UTC)),
    ],
)
def test_parse_time_reads_iso_8601_as_an_aware_instant(text: str, expected: datetime):
    parsed = parse_time(text)
    assert parsed == expected and parsed is not None and parsed.utcoffset() is not None


@pytest.mark.parametrize(
    "value", [None, "", "   ", "yesterday", 1767225600, "2026-13-01T00:00:00Z"]
)
def test_parse_time_gives_none_for_anything_else(value: object):
    assert parse_time(value) is None


# --- the workflow payload ---------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["contact_id", "contactId", "id"])
def test_a_workflow_payload_names_its_contact_under_any_of_its_keys(key: str):
    msg = parse_workflow_payload({key: CONTACT_ID, "locationId": LOCATION_ID})
    assert msg.contact_id == CONTACT_ID and msg.event_type == "Workflow"


@pytest.mark.parametrize(
    "body",
    [
        {"location": {"id": LOCATION_ID}},
        {"locationId": LOCATION_ID},
        {"location_id": LOCATION_ID},
    ],
    ids=["location.id", "locationId", "location_id"],
)
def test_a_workflow_payloads_location_is_read_under_each_of_its_keys(body: dict[str, object]):
    """Tenancy: the location decides whether the contact is ours, wherever the payload puts it."""
    msg = parse_workflow_payload({"contact_id": CONTACT_ID, **body})
    assert msg.location_id == LOCATION_ID
    assert scope_rejection(msg, LOCATION_ID, "") is None
    assert scope_rejection(msg, "another-location", "") == "other location"


def test_a_workflow_payload_with_no_location_is_rejected():
    msg = parse_workflow_payload({"contact_id": CONTACT_ID, "location": {"name": "x"}})
    assert msg.location_id is None
    assert scope_rejection(msg, LOCATION_ID, "") == "no location in the event"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("text", "body must be a JSON object"),
        ({"tags": "cold lead"}, "workflow payload without contact_id"),
        ({"contact_id": 5}, "contact_id must be a string"),
    ],
)
def test_a_malformed_workflow_payload_says_what_is_wrong(body: object, reason: str):
    with pytest.raises(InvalidEvent) as refused:
        parse_workflow_payload(body)
    assert str(refused.value) == reason


def test_without_a_configured_location_the_reason_says_so():
    msg = parse_marketplace_event(fixture("ghl/ContactTagUpdate.json"))
    assert scope_rejection(msg, "", "") == "no location configured"
