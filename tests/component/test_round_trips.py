"""DynamoDB requests per contact (issue 13): what each kind of contact costs in state writes and
reads, counted on the boto3 clients under moto. docs/performance.md lists the same figures."""

from __future__ import annotations

import collections
from datetime import timedelta
from typing import Any

from chalicelib.domain.contact import contact_from_ghl
from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.time import utcnow
from chalicelib.inbound.ghl_events import parse_marketplace_event
from chalicelib.services.sync.ordering import READ_SKEW
from tests.support.helpers import CONTACT_ID, LOCATION_ID, ago, ghl_event, sqs_record, tagged
from tests.support.service import Service

Calls = collections.Counter[str]


def counted(service: Service) -> Calls:
    """Every DynamoDB request from here on, by operation and item kind (the key's prefix)."""
    calls: Calls = collections.Counter()

    def note(model: Any, params: dict[str, Any], **_: Any) -> None:
        key = params.get("Key") or params.get("Item") or {}
        pk = key.get("pk")
        pk = pk.get("S") if isinstance(pk, dict) else pk
        pk = str(pk)
        kind = (
            "contact" if pk.startswith("contact#") else pk if pk.startswith("stats#") else "dedup"
        )
        calls[f"{model.name} {kind}"] += 1

    clients = (service.container.dynamodb_client, service.container.dynamodb.meta.client)
    for client in {id(c): c for c in clients}.values():
        client.meta.events.register("before-parameter-build.dynamodb", note)
    return calls


def deliver(service: Service, message: SyncMessage) -> dict[str, Any]:
    consumer = service.container.batch_consumer
    consumer.handle([sqs_record(message.model_dump_json())], lambda: 60_000.0)
    (outcome,) = consumer.outcomes
    return outcome


def webhook(service: Service, body: dict[str, Any]) -> SyncMessage:
    service.mirror(body)  # GHL holds what the event says
    return parse_marketplace_event(body)


def search_hit(service: Service, body: dict[str, Any]) -> SyncMessage:
    """What a reconciliation run enqueues for a contact its tag search found (fresh, with DND)."""
    service.mirror(body)
    fields = {k: v for k, v in body.items() if k not in ("type", "timestamp", "webhookId")}
    snapshot = contact_from_ghl(fields).model_copy(update={"dnd_known": True})
    return SyncMessage(
        origin="reconciliation",
        contact_id=snapshot.id,
        location_id=LOCATION_ID,
        event_time=ago(5),
        snapshot=snapshot,
        received_at=utcnow(),
    )


# Per kind: the requests one contact costs once the container is warm (its rules resolved, its
# webhook clock written this minute). The contact's item: one consistent read, the lease's
# acquire (carrying a new contact's pending create) and the final save; an unchanged contact
# only moves its stored time. A webhook adds its dedup record (written, then completed).
NEW_BY_WEBHOOK = {
    "PutItem dedup": 1,
    "GetItem contact": 1,
    "PutItem contact": 2,
    "UpdateItem dedup": 1,
}
NEW_BY_RECONCILIATION = {"GetItem contact": 1, "PutItem contact": 2}
CHANGED_BY_WEBHOOK = NEW_BY_WEBHOOK
CHANGED_BY_RECONCILIATION = NEW_BY_RECONCILIATION
UNCHANGED_BY_WEBHOOK = {
    "PutItem dedup": 1,
    "GetItem contact": 1,
    "PutItem contact": 1,
    "UpdateItem dedup": 1,
}


def test_dynamodb_requests_per_contact(service: Service):
    calls = counted(service)
    # The first contact also resolves the rules and finds which bucket method the account takes.
    warm = tagged("cold lead", id="Warm00000000000000001", phone="+13125550100")
    assert deliver(service, webhook(service, warm))["result"] == "synced"
    assert calls["UpdateItem stats#webhooks"] == 1  # the minute's one write of the clock

    calls.clear()
    assert deliver(service, webhook(service, tagged("cold lead", at=ago(1))))["added"]
    assert dict(calls) == NEW_BY_WEBHOOK

    calls.clear()
    found = tagged("cold lead", id="Found0000000000000001", phone="+13125550148")
    assert deliver(service, search_hit(service, found))["added"]
    assert dict(calls) == NEW_BY_RECONCILIATION

    # A change made after the re-read's window: inside it, GHL is asked to confirm first.
    later = utcnow() + READ_SKEW + timedelta(seconds=1)
    changed = ghl_event("ContactUpdate", at=later, tags=["cold lead"], firstName="Avril")
    calls.clear()
    outcome = deliver(service, webhook(service, changed))
    assert outcome["result"] == "synced" and not outcome["added"]
    assert dict(calls) == CHANGED_BY_WEBHOOK

    calls.clear()
    outcome = deliver(service, search_hit(service, {**found, "firstName": "Avril"}))
    assert outcome["result"] == "synced" and not outcome["added"]
    assert dict(calls) == CHANGED_BY_RECONCILIATION

    again = {
        **changed,
        "webhookId": "another",
        "timestamp": ghl_event(at=later + timedelta(seconds=1))["timestamp"],
    }
    calls.clear()
    assert deliver(service, webhook(service, again))["result"] == "unchanged"
    assert dict(calls) == UNCHANGED_BY_WEBHOOK
    assert service.in_bucket(CONTACT_ID) and service.in_bucket(found["id"])
