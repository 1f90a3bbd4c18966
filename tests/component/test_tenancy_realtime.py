"""The real-time path per location (docs/locations.md): the Chalice app under chalice.test, AWS
in moto, one GHL sandbox hosting the built-in location and two registered ones (each with its own
PIT), and a CallTools sandbox account per registered location. Each location's events reach only
its own account, state and dedup; an unregistered or deactivated location's reach nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.aws.state import contact_key
from chalicelib.domain.keyspace import Keyspace
from tests.support.helpers import ghl_event
from tests.support.service import Service, body_json
from tests.support.tenants import Tenant, hosted_tenants

A_ID, B_ID, STRANGER_ID = "AcmeRoofing0000000A1", "BetaPlumbing000000B2", "Stranger00000000000C"
SAME = "SameContact0000000X9"  # one contact id found in both locations


@pytest.fixture
def tenants(service: Service) -> Iterator[dict[str, Tenant]]:
    with hosted_tenants(service, (A_ID, B_ID, STRANGER_ID), registered=(A_ID, B_ID)) as made:
        yield made  # the stranger is never registered


def post(service: Service, tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    """A signed event of `tenant`'s location, GHL first brought to the event's state there."""
    body = {**body, "locationId": tenant.location_id}
    tenant.mirror(body)
    reply = service.post(body, mirror=False)
    assert reply.status_code == 200, reply.body
    return body_json(reply)


def tagged(contact_id: str, *tags: str, **changes: Any) -> dict[str, Any]:
    return ghl_event("ContactTagUpdate", id=contact_id, tags=list(tags), **changes)


def state_item(service: Service, contact_id: str, location_id: str | None) -> dict[str, Any] | None:
    table = service.container.dynamodb.Table(service.container.settings.state.table_name)
    key = contact_key(contact_id, Keyspace(location_id))
    item: dict[str, Any] | None = table.get_item(Key=key).get("Item")
    return item


def test_a_tagged_contact_of_each_location_lands_only_in_its_own_accounts_bucket(
    service: Service, tenants: dict[str, Tenant]
):
    a, b = tenants[A_ID], tenants[B_ID]
    assert post(service, a, tagged("ContactOfA0000000001", "cold lead"))["status"] == "accepted"
    assert post(service, b, tagged("ContactOfB0000000001", "cold lead"))["status"] == "accepted"
    service.drain()
    assert a.members() == {"ContactOfA0000000001"}
    assert b.members() == {"ContactOfB0000000001"}
    assert not service.calltools.contacts()  # the built-in's account saw neither
    # Each location's items carry its id and its keys; the built-in's census does not see them.
    item = state_item(service, "ContactOfA0000000001", A_ID)
    assert item is not None and item["location_id"] == A_ID
    assert state_item(service, "ContactOfA0000000001", None) is None
    assert state_item(service, "ContactOfA0000000001", B_ID) is None
    states, _ = service.container.state_store.scan(None, 100)
    assert states == []


def test_the_builtin_location_is_synced_as_before_beside_registered_ones(
    service: Service, tenants: dict[str, Tenant]
):
    reply = service.post(ghl_event("ContactTagUpdate", tags=["cold lead"]))
    assert body_json(reply)["status"] == "accepted"
    service.drain()
    assert len(service.calltools.contacts()) == 1
    assert not tenants[A_ID].calltools.contacts() and not tenants[B_ID].calltools.contacts()


def test_an_event_of_an_unregistered_location_changes_nothing_and_enqueues_nothing(
    service: Service, tenants: dict[str, Tenant]
):
    stranger = tenants[STRANGER_ID]
    reply = post(service, stranger, tagged("ContactOfC0000000001", "cold lead"))
    assert reply == {"status": "ignored", "reason": "other location"}
    assert service.queue_depth() == 0
    service.drain()
    assert state_item(service, "ContactOfC0000000001", STRANGER_ID) is None
    assert state_item(service, "ContactOfC0000000001", None) is None
    assert all(not t.calltools.contacts() for t in tenants.values())
    assert not service.calltools.contacts()


def test_the_same_contact_id_in_both_locations_is_two_independent_contacts(
    service: Service, tenants: dict[str, Tenant]
):
    a, b = tenants[A_ID], tenants[B_ID]
    post(service, a, tagged(SAME, "cold lead", phone="+13125550101"))
    post(service, b, tagged(SAME, "cold lead", phone="+13125550202"))
    service.drain()
    items = [state_item(service, SAME, location) for location in (A_ID, B_ID)]
    assert all(item is not None for item in items)
    assert items[0]["calltools_id"] != items[1]["calltools_id"]  # type: ignore[index]
    assert a.members() == {SAME} and b.members() == {SAME}
    phones = [[c["mobile_phone_number"] for c in t.calltools.contacts()] for t in (a, b)]
    assert phones == [["+13125550101"], ["+13125550202"]]


def test_the_same_webhook_id_in_two_locations_is_two_deliveries(
    service: Service, tenants: dict[str, Tenant]
):
    a, b = tenants[A_ID], tenants[B_ID]
    event = tagged(SAME, "cold lead", webhookId="4b0c3a1e-0000-4000-8000-000000000001")
    post(service, a, event)
    post(service, b, event)
    service.drain()
    assert a.members() == {SAME} and b.members() == {SAME}


def test_a_dnd_in_location_b_never_touches_location_as_contact_of_the_same_id(
    service: Service, tenants: dict[str, Tenant]
):
    a, b = tenants[A_ID], tenants[B_ID]
    post(service, a, tagged(SAME, "cold lead"))
    post(service, b, tagged(SAME, "cold lead"))
    service.drain()
    before = state_item(service, SAME, A_ID)
    post(service, b, ghl_event("ContactDndUpdate", id=SAME))
    service.drain()
    assert b.members() == set() and a.members() == {SAME}
    assert state_item(service, SAME, A_ID) == before  # not even its version moved
    after_b = state_item(service, SAME, B_ID)
    assert after_b is not None and after_b["dnd"] is True


def test_a_deactivated_locations_events_are_ignored(service: Service, tenants: dict[str, Tenant]):
    a = tenants[A_ID]
    assert service.admin("delete", f"/locations/{A_ID}").status_code == 200
    reply = post(service, a, tagged("ContactOfA0000000002", "cold lead"))
    assert reply["status"] == "ignored" and service.queue_depth() == 0
    service.drain()
    assert not a.calltools.contacts()


def test_a_message_queued_before_its_location_was_deactivated_is_not_synced(
    service: Service, tenants: dict[str, Tenant]
):
    a = tenants[A_ID]
    assert post(service, a, tagged("ContactOfA0000000003", "cold lead"))["status"] == "accepted"
    assert service.admin("delete", f"/locations/{A_ID}").status_code == 200
    service.drain()
    assert not a.calltools.contacts()
    assert state_item(service, "ContactOfA0000000003", A_ID) is None


def test_no_reply_or_log_line_holds_a_token(
    service: Service, tenants: dict[str, Tenant], logs_on_stdout: None, capsys: Any
):
    a, b = tenants[A_ID], tenants[B_ID]
    replies = [
        post(service, a, tagged("ContactOfA0000000004", "cold lead")),
        post(service, b, tagged("ContactOfB0000000004", "cold lead")),
        post(service, b, ghl_event("ContactDndUpdate", id="ContactOfB0000000004")),
    ]
    service.drain()
    replies += [body_json(service.admin("get", "/locations"))]
    assert a.members() == {"ContactOfA0000000004"}
    text = json.dumps(replies) + capsys.readouterr().out
    assert "ContactOfA0000000004" in text  # the logs were captured
    for tenant in (a, b):
        assert tenant.ghl.token not in text and tenant.calltools.token not in text


def test_each_locations_store_sees_only_its_own_contacts(service: Service):
    from chalicelib.adapters.aws.state import DynamoStateStore
    from chalicelib.domain.state import ContactState

    table = service.container.dynamodb.Table(service.container.settings.state.table_name)
    stores = {loc: DynamoStateStore(table, Keyspace(loc)) for loc in (None, A_ID, B_ID)}
    for loc, store in stores.items():
        store.save(ContactState(contact_id=SAME, calltools_id=4411, reason=str(loc)))
        store.note_bucket_names({1: f"bucket of {loc}"})
    for loc, store in stores.items():
        state = store.get(SAME)
        assert state is not None and state.reason == str(loc)
        scanned, _ = store.scan(None, 100)
        assert [s.reason for s in scanned] == [str(loc)]
        assert store.bucket_names() == {1: f"bucket of {loc}"}
        # The reverse lookup's index spans every location: each store keeps its own.
        assert store.contact_for_calltools_id(4411) == SAME
    stores[B_ID].save(ContactState(contact_id="Other", calltools_id=4411), keep_lease=False)
    assert stores[B_ID].contact_for_calltools_id(4411) is None  # two of its own: refused
    assert stores[A_ID].contact_for_calltools_id(4411) == SAME
