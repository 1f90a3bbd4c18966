"""The GHL sandbox as an agency's many locations: each with its own token, contacts and rate-limit
budget, none reaching into another's (gohighlevel.md §5, §13)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chalicelib.runtime.settings import Settings
from sandbox.calltools import CallToolsSandbox
from sandbox.ghl import GhlSandbox
from sandbox.ghl.location import NO_ACCESS, GhlLocation
from sandbox.locations import add_location
from sandbox.stack import LocalStack
from tests.sandbox.receiver import Receiver

B_ID = "LbQ3nV8sK2xW7mT5rZ1p"
SHARED = "sh4R3dC0ntact1d00000"  # one contact id, in both locations
NOT_MINE = {"statusCode": 403, "message": NO_ACCESS}


def client_for(server: GhlSandbox, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}", "Version": "2021-07-28"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=5.0)


@pytest.fixture
def ghl() -> Iterator[GhlSandbox]:
    with GhlSandbox(rate_limit=None) as server:
        yield server


@pytest.fixture
def b(ghl: GhlSandbox) -> GhlLocation:
    return ghl.add_location(B_ID, name="Client B")


def search(client: httpx.Client, location_id: str, **body: Any) -> httpx.Response:
    return client.post(
        "/contacts/search", json={"locationId": location_id, "pageLimit": 100, **body}
    )


def test_one_contact_id_in_two_locations_is_two_contacts(ghl: GhlSandbox, b: GhlLocation) -> None:
    ghl.upsert_contact({"id": SHARED, "firstName": "Avery", "tags": ["cold lead"]})
    b.upsert_contact({"id": SHARED, "firstName": "Bodhi", "tags": ["warm"]})
    b.generate_contacts(3, tag="cold lead")
    with client_for(ghl, ghl.token) as a_client, client_for(ghl, b.token) as b_client:
        a_contact = a_client.get(f"/contacts/{SHARED}").json()["contact"]
        b_contact = b_client.get(f"/contacts/{SHARED}").json()["contact"]
        assert (a_contact["firstName"], a_contact["locationId"]) == ("Avery", ghl.location_id)
        assert (b_contact["firstName"], b_contact["locationId"]) == ("Bodhi", B_ID)
        cold = [{"field": "tags", "operator": "eq", "value": "cold lead"}]
        a_found = search(a_client, ghl.location_id, filters=cold).json()
        b_found = search(b_client, B_ID, filters=cold).json()
        assert [c["id"] for c in a_found["contacts"]] == [SHARED]
        assert (a_found["total"], b_found["total"]) == (1, 3)
        assert SHARED not in {c["id"] for c in b_found["contacts"]}
        # A write through B's token changes B's contact only.
        assert b_client.post(f"/contacts/{SHARED}/tags", json={"tags": ["b only"]}).is_success
    assert "b only" in b.contact(SHARED)["tags"]  # type: ignore[index]
    assert ghl.contact(SHARED)["tags"] == ["cold lead"]  # type: ignore[index]
    assert (ghl.count(), b.count()) == (1, 4)


def test_a_token_reaching_into_another_location_gets_403(ghl: GhlSandbox, b: GhlLocation) -> None:
    b.upsert_contact({"id": "onlyInB0000000000000", "tags": ["cold lead"]})
    with client_for(ghl, ghl.token) as a_client:
        for resp in (
            a_client.get("/contacts/onlyInB0000000000000"),
            a_client.post("/contacts/onlyInB0000000000000/tags", json={"tags": ["x"]}),
            a_client.put("/contacts/onlyInB0000000000000", json={"dnd": True}),
            a_client.post("/contacts/onlyInB0000000000000/notes", json={"body": "hi"}),
            search(a_client, B_ID),
            a_client.get(f"/locations/{B_ID}"),
        ):
            assert (resp.status_code, resp.json()) == (403, NOT_MINE), resp.request.url
        missing = a_client.get("/contacts/nowhere0000000000000")
        assert (missing.status_code, missing.json()["message"]) == (404, "Contact not found")
    assert b.contact("onlyInB0000000000000")["tags"] == ["cold lead"]  # type: ignore[index]
    assert b.notes("onlyInB0000000000000") == []
    with client_for(ghl, b.token) as b_client:
        own = b_client.get(f"/locations/{B_ID}").json()["location"]
        assert own == {"id": B_ID, "name": "Client B", "companyId": ghl.company_id}
        assert search(b_client, ghl.location_id).status_code == 403
    with client_for(ghl, "pit-not-a-token") as nobody:
        assert nobody.get("/contacts/onlyInB0000000000000").status_code == 401


def test_each_location_has_its_own_rate_limit_budget() -> None:
    with GhlSandbox(rate_limit=(3, 60.0), daily_limit=1000) as ghl:
        b = ghl.add_location(B_ID)  # inherits the server's limits
        tight = ghl.add_location(rate_limit=(1, 60.0), daily_limit=10)
        with client_for(ghl, ghl.token) as a_client, client_for(ghl, b.token) as b_client:
            assert [a_client.get("/contacts/x").status_code for _ in range(4)] == [404] * 3 + [429]
            first = b_client.get("/contacts/x")
            assert first.status_code == 404
            assert first.headers["X-RateLimit-Remaining"] == "2"
            assert first.headers["X-RateLimit-Daily-Remaining"] == "999"
            limited = a_client.get("/contacts/x")
            assert limited.status_code == 429
            assert limited.headers["X-RateLimit-Remaining"] == "0"
        with client_for(ghl, tight.token) as t_client:
            assert [t_client.get("/contacts/x").status_code for _ in range(2)] == [404, 429]
            assert t_client.get("/contacts/x").headers["X-RateLimit-Max"] == "1"


def test_webhooks_back_carry_the_location_of_the_contact(ghl: GhlSandbox, b: GhlLocation) -> None:
    b.upsert_contact({"id": SHARED, "tags": []})
    ghl.upsert_contact({"id": SHARED, "tags": []})
    with Receiver() as receiver:
        ghl.send_webhooks_to(receiver.url, lambda body: "sig")
        c = ghl.add_location()  # a location added later sends webhooks too
        c.upsert_contact({"id": SHARED, "tags": []})
        for token in (b.token, c.token):
            with client_for(ghl, token) as client:
                assert client.post(f"/contacts/{SHARED}/tags", json={"tags": ["t"]}).is_success
        posts = receiver.wait_for_posts(2)
    bodies = [json.loads(p.body) for p in posts]
    assert sorted(b["locationId"] for b in bodies) == sorted([B_ID, c.location_id])
    assert {(b["type"], b["id"]) for b in bodies} == {("ContactTagUpdate", SHARED)}


def test_control_endpoints_create_locations_and_seed_their_contacts(ghl: GhlSandbox) -> None:
    with httpx.Client(base_url=ghl.url + "/_sandbox", timeout=5.0) as admin:
        made = admin.post("/locations", json={"locationId": B_ID, "name": "Client B"})
        assert made.status_code == 201
        token = made.json()["token"]
        assert token.startswith("pit-")
        assert made.json()["companyId"] == ghl.company_id
        assert admin.post("/locations", json={"locationId": B_ID}).status_code == 409
        assert admin.post("/locations", json={"token": token}).status_code == 409
        assert admin.post("/locations", json={"rate_limit": "fast"}).status_code == 400
        listed = [loc["locationId"] for loc in admin.get("/locations").json()["locations"]]
        assert listed == [ghl.location_id, B_ID]
        put = admin.put(f"/locations/{B_ID}/contacts/{SHARED}", json={"firstName": "Bo"})
        assert put.json()["contact"]["locationId"] == B_ID
        assert admin.get(f"/locations/{B_ID}/contacts/{SHARED}").status_code == 200
        assert admin.get(f"/contacts/{SHARED}").status_code == 404  # not in the default location
        assert admin.post(f"/locations/{B_ID}/generate", json={"n": 2}).status_code == 201
        assert admin.get(f"/locations/{B_ID}").json()["contacts"] == 3
        assert admin.get("/locations/Nowhere/contacts/x").status_code == 404
        assert admin.get(f"/locations/{B_ID}/writes").json()["tag_replacements"] == 0
        with client_for(ghl, token) as b_client:
            assert b_client.get(f"/contacts/{SHARED}").json()["contact"]["firstName"] == "Bo"
        assert admin.post("/reset").status_code == 200
        # A reset clears every location's contacts; the locations and their tokens stay.
        assert admin.get(f"/locations/{B_ID}").json()["contacts"] == 0
        with client_for(ghl, token) as b_client:
            assert b_client.get(f"/contacts/{SHARED}").status_code == 404


def test_the_local_stack_adds_a_location_with_its_own_calltools_account(ghl: GhlSandbox) -> None:
    stack = LocalStack(Settings(), ghl=ghl)
    extra = add_location(stack, B_ID, name="Client B")
    body = extra.registration()
    assert body == {
        "name": "Client B",
        "ghl_api_token": ghl.location(B_ID).token,
        "calltools_api_base_url": extra.calltools.base_url,
        "calltools_api_token": extra.calltools.token,
        "rules": [{"tag": "cold lead", "bucket": "Cold Leads (Client B)"}],
    }
    assert body["calltools_api_token"] != CallToolsSandbox().token
    with httpx.Client(headers={"Authorization": f"Token {extra.calltools.token}"}) as api:
        made = api.post(extra.calltools.base_url + "contacts/", json={"first_name": "Bo"})
        assert made.json()["id"] == 49_000_000  # the default account's ids start at 48,000,000
    api_url = extra.calltools.base_url
    stack.stop()  # stops the account it started (not the GHL sandbox it was given)
    with pytest.raises(httpx.ConnectError):
        httpx.get(api_url + "buckets/")
    assert httpx.get(ghl.url + "/_sandbox/locations").status_code == 200
    with pytest.raises(RuntimeError):
        add_location(LocalStack(Settings()))
