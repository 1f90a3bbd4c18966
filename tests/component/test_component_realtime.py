"""The real-time path end to end in one process: Chalice routes and SQS trigger (chalice.test.Client),
AWS in moto, GHL and CallTools as sandbox servers on loopback. The issue's acceptance points."""

from __future__ import annotations

import json
import uuid

import pytest

from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.time import utcnow
from tests.support.helpers import CONTACT_ID, LOCATION_ID, ago, fixture, ghl_event, tagged
from tests.support.service import WORKFLOW_SECRET, Service, body_json


def test_signed_event_lands_contact_in_bucket(service: Service):
    response = service.post(tagged("cold lead"))
    assert response.status_code == 200 and body_json(response)["status"] == "accepted"
    service.drain()
    assert service.in_bucket(CONTACT_ID)
    contact = service.calltools.contact(service.calltools_id(CONTACT_ID) or 0)
    assert contact is not None and contact["mobile_phone_number"] == "+13125550147"
    assert contact["ghl_contact_id"] == CONTACT_ID


def test_same_signed_event_five_times_one_contact_one_bucket_add(service: Service):
    body = tagged("cold lead")
    assert [service.post(body).status_code for _ in range(5)] == [200] * 5
    service.drain()
    assert len(service.calltools.contacts()) == 1
    assert service.calltools.bucket_add_count(70412) == 1


def test_reordered_add_delivered_before_older_remove_ends_in_bucket(service: Service):
    removed_t1, added_t2 = tagged("facebook lead", at=ago(120)), tagged("cold lead", at=ago(60))
    service.post(added_t2)
    service.drain()
    service.post(removed_t1)
    service.drain()
    assert service.in_bucket(CONTACT_ID)


def test_reordered_remove_delivered_before_older_add_ends_out(service: Service):
    added_t1, removed_t2 = tagged("cold lead", at=ago(120)), tagged("facebook lead", at=ago(60))
    service.post(removed_t2)
    service.drain()
    service.post(added_t1)
    service.drain()
    assert not service.calltools.contacts() and not service.in_bucket(CONTACT_ID)


def test_dnd_contact_with_tag_is_never_added(service: Service):
    service.post(fixture("ghl/ContactDndUpdate.json"))
    service.drain()
    assert not service.calltools.membership_events


def test_turning_dnd_on_removes(service: Service):
    service.post(tagged("cold lead"))
    service.drain()
    ct_id = service.calltools_id(CONTACT_ID)
    service.post(ghl_event("ContactDndUpdate"))
    service.drain()
    assert ct_id is not None and ct_id not in service.calltools.bucket_members(70412)


def test_contact_delete_removes(service: Service):
    service.post(tagged("cold lead"))
    service.drain()
    service.post(ghl_event("ContactDelete"))
    service.drain()
    assert not service.in_bucket(CONTACT_ID)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda raw, sig: (raw.replace(b"cold lead", b"cold leaf"), sig),  # body changed
        lambda raw, sig: (raw, sig[:-4] + "AAA="),  # signature changed
        lambda raw, sig: (raw, "N/A"),  # no signature at all
    ],
)
def test_forged_or_tampered_signature_is_401_and_enqueues_nothing(service: Service, tamper):
    raw = json.dumps(tagged("cold lead")).encode()
    raw, sig = tamper(raw, service.signer.ed25519(raw))
    response = service.post(raw, {"X-GHL-Signature": sig}, sign=False)
    assert response.status_code == 401
    assert service.queue_depth() == 0


def test_signature_by_another_key_is_401(service: Service):
    from tests.support.helpers import Signer

    raw = json.dumps(tagged("cold lead")).encode()
    response = service.post(raw, {"X-GHL-Signature": Signer().ed25519(raw)}, sign=False)
    assert response.status_code == 401 and service.queue_depth() == 0


def test_legacy_rsa_signature_is_accepted(service: Service):
    raw = json.dumps(tagged("cold lead")).encode()
    response = service.post(raw, {"X-WH-Signature": service.signer.rsa_sig(raw)}, sign=False)
    assert response.status_code == 200


def test_workflow_payload_without_secret_is_401(service: Service):
    response = service.post(fixture("ghl/workflow-webhook.json"), sign=False)
    assert response.status_code == 401 and service.queue_depth() == 0
    response = service.post(
        fixture("ghl/workflow-webhook.json"), {"X-Webhook-Secret": "guess"}, sign=False
    )
    assert response.status_code == 401 and service.queue_depth() == 0


def test_workflow_payload_with_secret_rereads_contact_from_ghl(service: Service):
    service.ghl.upsert_contact(fixture("ghl/get-contact.json")["contact"])
    response = service.post(
        fixture("ghl/workflow-webhook.json"),
        {"Authorization": f"Bearer {WORKFLOW_SECRET}"},
        sign=False,
    )
    assert response.status_code == 200
    service.drain()
    assert service.in_bucket(CONTACT_ID)
    assert service.ghl.call_count("GET", "/contacts/") == 1
    contact = service.calltools.contact(service.calltools_id(CONTACT_ID) or 0)
    assert contact is not None and contact["company_name"] == "Lindqvist Landscaping LLC"


def test_event_without_timestamp_rereads_contact(service: Service):
    service.ghl.upsert_contact({**fixture("ghl/get-contact.json")["contact"], "tags": []})
    body = tagged("cold lead")
    del body["timestamp"]
    service.post(body, mirror=False)
    service.drain()
    # GHL's current state (no tag) wins over the untimed snapshot.
    assert not service.calltools.contacts()
    assert service.ghl.call_count("GET", "/contacts/") == 1


def test_replay_of_old_genuine_event_never_overwrites_newer_state(service: Service):
    old = tagged("cold lead", at=ago(600))
    service.post(old)
    service.drain()
    service.post(tagged("facebook lead"))
    service.drain()
    assert service.post(old).status_code == 200  # GHL's signature is still valid
    replay = {**old, "webhookId": str(uuid.uuid4())}  # even under a new webhookId
    service.post(replay)
    service.drain()
    assert not service.in_bucket(CONTACT_ID)


def test_unchanged_contact_costs_zero_calltools_calls(service: Service):
    service.post(tagged("cold lead"))
    service.drain()
    service.calltools.reset_calls()
    service.post(tagged("cold lead"))
    service.drain()
    assert service.calltools.call_count() == 0


def test_changed_field_is_patched_alone(service: Service):
    service.post(tagged("cold lead"))
    service.drain()
    service.calltools.reset_calls()
    service.post(tagged("cold lead", companyName="Lindqvist Landscaping LLC"))
    service.drain()
    patches = service.calltools.calls("PATCH")
    assert len(patches) == 1 and service.calltools.call_count() == 1


def test_other_location_is_acknowledged_and_ignored(service: Service):
    response = service.post({**tagged("cold lead"), "locationId": "SomeOtherLocation"})
    assert response.status_code == 200 and body_json(response)["status"] == "ignored"
    assert service.queue_depth() == 0


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "text/plain"])
def test_content_type_variants_are_accepted(service: Service, content_type: str):
    assert service.post(tagged("cold lead"), {"Content-Type": content_type}).status_code == 200


def test_oversized_body_is_413(service: Service):
    raw = b'{"pad": "' + b"x" * (256 * 1024) + b'"}'
    assert service.post(raw).status_code == 413 and service.queue_depth() == 0


def test_not_json_is_400_and_other_events_200(service: Service):
    assert service.post(b"{not json").status_code == 400
    response = service.post({"type": "OpportunityCreate", "locationId": LOCATION_ID, "id": "x"})
    assert response.status_code == 200 and body_json(response)["status"] == "ignored"
    assert service.queue_depth() == 0


def test_generated_sqs_events_with_rewritten_ids_are_each_processed(service: Service):
    """chalice.test's generate_sqs_event gives every record the same id; rewrite them."""
    bodies = [
        SyncMessage(
            origin="workflow", contact_id=f"c{i}", location_id=LOCATION_ID, received_at=utcnow()
        ).model_dump_json()
        for i in range(3)
    ]
    for i in range(3):
        service.ghl.upsert_contact(
            {"id": f"c{i}", "phone": f"+1312555{i:04d}", "tags": ["cold lead"], "dnd": False}
        )
    event = service.client.events.generate_sqs_event(bodies, queue_name="ghl-calltools-contacts")
    for i, record in enumerate(event["Records"]):
        record["messageId"] = f"message-{i}"
        record["receiptHandle"] = f"receipt-{i}"
    service.invoke(event)
    assert len(service.calltools.bucket_members(70412)) == 3
