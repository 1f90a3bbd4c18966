"""Black box, two locations: `python -m sandbox` (what `make run` starts) with two more GHL
locations hosted by its GHL sandbox (each its own PIT) and two CallTools accounts of their own
(sandbox instances started here, on loopback), registered through the app's `PUT /locations`.
Driven over HTTP only: each location's contact lands only in its own account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from sandbox.calltools import CallToolsSandbox
from tests.blackbox.stack import Stack, wait_for
from tests.support.helpers import EVENT_KEYS, Signer, dumps, tagged

A_ID, B_ID, STRANGER_ID = "BlackboxAcme00000001", "BlackboxBeta00000002", "BlackboxNobody000003"
SAME = "BlackboxSameContact1"


@dataclass
class Client:
    """One of the agency's clients: a GHL location and its CallTools account."""

    location_id: str
    ghl_token: str
    calltools: CallToolsSandbox
    bucket_id: int

    def members(self) -> dict[str, str]:
        """GHL id → phone of the contacts in this account's bucket."""
        contacts = self.calltools.contacts()
        inside = self.calltools.bucket_members(self.bucket_id)
        return {
            str(c["ghl_contact_id"]): c["mobile_phone_number"]
            for c in contacts
            if c["id"] in inside
        }


@pytest.fixture(scope="module")
def clients(stack: Stack) -> Iterator[dict[str, Client]]:
    made: dict[str, Client] = {}
    try:
        for n, location_id in enumerate((A_ID, B_ID, STRANGER_ID), start=1):
            hosted = httpx.post(
                f"{stack.info['ghl_url']}/_sandbox/locations",
                json={"locationId": location_id, "name": f"Blackbox client {n}"},
                timeout=5,
            )
            assert hosted.status_code == 201, hosted.text
            bucket_id = 90000 + n
            calltools = CallToolsSandbox(
                token=f"blackbox-calltools-{n}",
                buckets=[{"id": bucket_id, "name": "Cold Leads"}],
                id_offset=1_000_000 * n,
            ).start()
            made[location_id] = Client(location_id, hosted.json()["token"], calltools, bucket_id)
        for client in (made[A_ID], made[B_ID]):  # the stranger stays unregistered
            reply = httpx.put(
                f"{stack.info['url']}/locations/{client.location_id}",
                json={
                    "name": f"Client {client.location_id}",
                    "ghl_api_token": client.ghl_token,
                    "calltools_api_base_url": client.calltools.base_url,
                    "calltools_api_token": client.calltools.token,
                    "rules": [{"tag": "cold lead", "bucket": "Cold Leads"}],
                },
                headers=stack.admin_headers(),
                timeout=15,
            )
            assert reply.status_code == 201, reply.text
            assert client.ghl_token not in reply.text and client.calltools.token not in reply.text
        yield made
    finally:
        for client in made.values():
            client.calltools.stop()


def post(stack: Stack, signer: Signer, location_id: str, body: dict[str, Any]) -> httpx.Response:
    """GHL first holds the contact as the event says (in that location), then the signed event."""
    body = {**body, "locationId": location_id}
    contact = {k: v for k, v in body.items() if k not in EVENT_KEYS}
    httpx.put(
        f"{stack.info['ghl_url']}/_sandbox/locations/{location_id}/contacts/{body['id']}",
        json=contact,
        timeout=5,
    ).raise_for_status()
    raw = dumps(body)
    return httpx.post(
        stack.info["url"] + "/webhook/ghl", content=raw, headers=signer.headers(raw), timeout=10
    )


def test_two_locations_end_to_end(stack: Stack, signer: Signer, clients: dict[str, Client]):
    a, b, stranger = clients[A_ID], clients[B_ID], clients[STRANGER_ID]
    builtin_before = len(stack.calltools_state()["contacts"])

    # A tagged contact of each location lands only in its own account's bucket.
    for client, cid, phone in (
        (a, "BlackboxOfA000000001", "+13125550111"),
        (b, "BlackboxOfB000000001", "+13125550122"),
    ):
        reply = post(stack, signer, client.location_id, tagged("cold lead", id=cid, phone=phone))
        assert reply.json()["status"] == "accepted", reply.text
    wait_for(lambda: "BlackboxOfA000000001" in a.members(), 30, "A's contact in A's bucket")
    wait_for(lambda: "BlackboxOfB000000001" in b.members(), 30, "B's contact in B's bucket")
    assert "BlackboxOfB000000001" not in a.members() and "BlackboxOfA000000001" not in b.members()

    # The same contact id in both locations: two independent contacts.
    post(stack, signer, A_ID, tagged("cold lead", id=SAME, phone="+13125550133"))
    post(stack, signer, B_ID, tagged("cold lead", id=SAME, phone="+13125550144"))
    wait_for(lambda: SAME in a.members() and SAME in b.members(), 30, "both contacts synced")
    assert (a.members()[SAME], b.members()[SAME]) == ("+13125550133", "+13125550144")

    # A DND in B takes B's contact out and leaves A's in.
    post(stack, signer, B_ID, tagged("cold lead", id=SAME, phone="+13125550144", dnd=True))
    wait_for(lambda: SAME not in b.members(), 30, "B's contact out after its DND")
    wait_for(stack.queue_empty, 30, "the queue to drain")
    assert SAME in a.members()

    # An unregistered location's event changes nothing, and nothing is enqueued.
    reply = post(stack, signer, STRANGER_ID, tagged("cold lead", id="BlackboxOfC000000001"))
    assert reply.json() == {"status": "ignored", "reason": "other location"}
    assert stack.queue_empty() and not stranger.calltools.contacts()
    assert len(stack.calltools_state()["contacts"]) == builtin_before  # the built-in's account

    # No reply or log line of the stack holds a token of either location.
    listed = httpx.get(f"{stack.info['url']}/locations", headers=stack.admin_headers(), timeout=10)
    text = listed.text + stack.output()
    assert A_ID in listed.text and "BlackboxOfA000000001" in stack.output()  # logs were read
    for client in (a, b):
        assert client.ghl_token not in text and client.calltools.token not in text


def test_a_trigger_for_one_location_walks_only_that_location(
    stack: Stack, signer: Signer, clients: dict[str, Client]
):
    a, b = clients[A_ID], clients[B_ID]
    generated = httpx.post(
        f"{stack.info['ghl_url']}/_sandbox/locations/{B_ID}/generate",
        json={"n": 12, "tag": "cold lead", "seed": 7},
        timeout=10,
    )
    assert generated.status_code == 201, generated.text
    ids = set(generated.json()["ids"])
    a_before = a.members()
    url, headers = stack.info["url"], stack.admin_headers()
    reply = httpx.post(f"{url}/sync/trigger", json={"location_id": B_ID}, headers=headers)
    assert reply.status_code == 202, reply.text
    run_id = reply.json()["run_id"]

    def finished() -> Any:
        stats = httpx.get(f"{url}/sync/stats", params={"location_id": B_ID}, headers=headers)
        last = stats.json()["last_run"]
        return last if last and last["id"] == run_id else None

    wait_for(finished, 60, "B's run to finish")
    assert ids <= set(b.members()) and a.members() == a_before
    assert httpx.get(f"{url}/sync/stats", headers=headers).json()["last_run"] is None


def test_a_deactivated_location_is_ignored(
    stack: Stack, signer: Signer, clients: dict[str, Client]
):
    a = clients[A_ID]
    reply = httpx.delete(
        f"{stack.info['url']}/locations/{A_ID}", headers=stack.admin_headers(), timeout=10
    )
    assert reply.status_code == 200, reply.text
    reply = post(stack, signer, A_ID, tagged("cold lead", id="BlackboxOfA000000009"))
    assert reply.json()["status"] == "ignored"
    assert stack.queue_empty() and "BlackboxOfA000000009" not in a.members()
