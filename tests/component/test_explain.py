"""`GET /sync/contacts/{contactId}` through the Chalice app: a contact synced in then made DND,
one never seen, the id and token checks, and no raw phone or email in what is stored or shown."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chalicelib.adapters.aws.state import contact_key
from tests.support.helpers import CONTACT_ID, ghl_event, tagged
from tests.support.service import Service, body_json

PHONE, EMAIL = "+14155550132", "marcus.oduya@example.com"


def explain(service: Service, contact_id: str) -> dict[str, Any]:
    reply = service.admin("get", f"/sync/contacts/{contact_id}")
    assert reply.status_code == 200
    return body_json(reply)


def test_a_contact_synced_in_then_made_dnd_is_explained(service: Service):
    service.post(tagged("cold lead"))
    service.drain()
    body = explain(service, CONTACT_ID)
    assert str(body["explanation"]).startswith("In Cold Leads since ")
    assert str(body["explanation"]).endswith(" (ContactTagUpdate).")
    assert body["calltools_id"] == service.calltools_id(CONTACT_ID)
    assert body["buckets"] == [{"id": 70412, "name": "Cold Leads"}]

    service.post(ghl_event("ContactDndUpdate"))
    service.drain()
    body = explain(service, CONTACT_ID)
    assert str(body["explanation"]).startswith("Out of every bucket: DND for calls since ")
    assert str(body["explanation"]).endswith(" (ContactDndUpdate).")
    assert body["status"] == "excluded" and body["dnd"] is True and body["buckets"] == []
    assert body["pending"] == {"buckets": [], "create": False, "create_sent_at": None}
    newest, first = body["history"]
    assert (newest["cause"], newest["exclusion"], newest["removed"]) == (
        "ContactDndUpdate",
        "dnd",
        [{"id": 70412, "name": "Cold Leads"}],
    )
    assert first["added"] == [{"id": 70412, "name": "Cold Leads"}]


def test_a_contact_never_seen_is_200_with_the_never_seen_sentence(service: Service):
    body = explain(service, "never_seen_0001")
    assert body["known"] is False and str(body["explanation"]).startswith("Never seen:")


def test_a_contact_id_that_is_not_a_plain_id_is_400(service: Service):
    reply = service.admin("get", f"/sync/contacts/{EMAIL}")
    assert reply.status_code == 400


def test_the_route_needs_the_token_and_is_off_without_one(
    service: Service, monkeypatch: pytest.MonkeyPatch
):
    assert service.admin("get", f"/sync/contacts/{CONTACT_ID}", token=None).status_code == 401
    assert service.admin("get", f"/sync/contacts/{CONTACT_ID}", token="wrong").status_code == 401
    from chalicelib.runtime import wiring

    monkeypatch.setenv("ADMIN_API_TOKEN", "")
    wiring.reset()
    assert service.admin("get", f"/sync/contacts/{CONTACT_ID}", token="x").status_code == 503


def test_history_and_explanation_hold_no_raw_phone_or_email(service: Service):
    service.calltools.undialable_prefixes = ("+1415555",)
    service.post(tagged("cold lead", id="other", phone=PHONE, email=EMAIL))
    service.drain()
    table = service.container.dynamodb.Table(service.container.settings.state.table_name)
    item = table.get_item(Key=contact_key("other"))["Item"]
    shown = service.admin("get", "/sync/contacts/other").body.decode()
    assert (
        json.loads(shown)["status"] == "failed" and json.loads(str(item["h"]))[-1]["r"] == "failed"
    )
    for text in (str(item["h"]), shown):
        assert PHONE not in text and PHONE[2:] not in text and EMAIL not in text


@pytest.mark.parametrize("h", ['[{"t": 1, "r": "exploded"}]', '[{"t": 1e300}]', "{not json"])
def test_a_corrupt_history_breaks_neither_the_route_nor_the_sync(service: Service, h: str):
    service.post(tagged("cold lead"))
    service.drain()
    table = service.container.dynamodb.Table(service.container.settings.state.table_name)
    table.update_item(
        Key=contact_key(CONTACT_ID),
        UpdateExpression="SET h = :h",
        ExpressionAttributeValues={":h": h},
    )
    assert explain(service, CONTACT_ID)["history"] == []

    service.post(ghl_event("ContactDndUpdate"))
    service.drain()
    body = explain(service, CONTACT_ID)
    assert body["status"] == "excluded" and body["buckets"] == []
    assert [d["cause"] for d in body["history"]] == ["ContactDndUpdate"]


def test_the_sentence_keeps_its_times_while_a_reason_in_it_is_masked(service: Service):
    service.post(tagged("cold lead"))
    service.drain()
    sentence = str(explain(service, CONTACT_ID)["explanation"])
    assert re.fullmatch(
        r"In Cold Leads since \d{4}-\d\d-\d\d \d\d:\d\d UTC \(ContactTagUpdate\)\.", sentence
    )

    service.calltools.undialable_prefixes = ("+1415555",)
    service.post(tagged("cold lead", id="other", phone=PHONE, email=EMAIL))
    service.drain()
    sentence = str(explain(service, "other")["explanation"])
    assert re.match(r"The last sync failed since \d{4}-\d\d-\d\d \d\d:\d\d UTC ", sentence)
    assert PHONE not in sentence and PHONE[2:] not in sentence and EMAIL not in sentence
