"""Webhook bodies → sync messages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.contact import contact_from_ghl, is_dnd_for_calls
from chalicelib.events import (
    IgnoredEvent,
    InvalidEvent,
    parse_marketplace_event,
    parse_time,
    parse_workflow_payload,
    scope_rejection,
)
from tests.helpers import CONTACT_ID, LOCATION_ID, fixture


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
