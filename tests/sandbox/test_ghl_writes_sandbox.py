"""The GHL sandbox's writes to a contact (gohighlevel.md §12) and the webhooks it sends back."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from chalicelib.runtime.settings import Settings
from sandbox.calltools import CallToolsSandbox
from sandbox.ghl import GhlSandbox
from sandbox.stack import LocalStack, public_pem
from tests.sandbox.receiver import Receiver, closed_port_url, wait_for

CID = "p4Rk2VtQ8mZs1LwY7nHc"
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def ghl() -> Iterator[GhlSandbox]:
    with GhlSandbox(rate_limit=None) as server:
        server.upsert_contact(
            {"id": CID, "firstName": "Avery", "tags": ["facebook lead", "Cold Lead"]}
        )
        yield server


@pytest.fixture
def client(ghl: GhlSandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ghl.token}", "Version": "2021-07-28"}
    with httpx.Client(base_url=ghl.url, headers=headers, timeout=5.0) as c:
        yield c


def updated(ghl: GhlSandbox) -> str:
    contact = ghl.contact(CID)
    assert contact is not None
    return str(contact["dateUpdated"])


def delete_tags(client: httpx.Client, tags: Any, cid: str = CID) -> httpx.Response:
    return client.request("DELETE", f"/contacts/{cid}/tags", json={"tags": tags})


def test_adding_tags_lower_cases_and_skips_ones_it_has(
    ghl: GhlSandbox, client: httpx.Client
) -> None:
    before = updated(ghl)
    resp = client.post(f"/contacts/{CID}/tags", json={"tags": [" CallTools: Not Interested"]})
    assert resp.status_code == 200
    assert resp.json() == {"tags": ["facebook lead", "Cold Lead", "calltools: not interested"]}
    assert updated(ghl) > before
    again = client.post(f"/contacts/{CID}/tags", json={"tags": ["cold lead", "FACEBOOK LEAD"]})
    assert again.json()["tags"] == resp.json()["tags"]  # nothing doubled, in any case
    assert client.get(f"/contacts/{CID}").json()["contact"]["tags"] == resp.json()["tags"]


def test_removing_tags_matches_any_case(ghl: GhlSandbox, client: httpx.Client) -> None:
    before = updated(ghl)
    resp = delete_tags(client, ["cold lead", "never had it"])
    assert (resp.status_code, resp.json()) == (200, {"tags": ["facebook lead"]})
    assert updated(ghl) > before
    assert ghl.tag_replacements == 0


@pytest.mark.parametrize("tags", [None, "cold lead", [""], [], [3]])
def test_bad_tag_bodies_are_422(ghl: GhlSandbox, client: httpx.Client, tags: Any) -> None:
    for resp in (
        client.post(f"/contacts/{CID}/tags", json={"tags": tags}),
        delete_tags(client, tags),
    ):
        assert resp.status_code == 422
        assert resp.json()["statusCode"] == 422
    assert ghl.contact(CID)["tags"] == ["facebook lead", "Cold Lead"]  # type: ignore[index]


def test_writes_to_unknown_or_foreign_contacts_are_404(
    ghl: GhlSandbox, client: httpx.Client
) -> None:
    ghl.upsert_contact({"id": "foreign0000000000000", "locationId": "OtherLocation0000000"})
    for cid in ("doesNotExist00000000", "foreign0000000000000"):
        for resp in (
            client.post(f"/contacts/{cid}/tags", json={"tags": ["x"]}),
            delete_tags(client, ["x"], cid),
            client.post(f"/contacts/{cid}/notes", json={"body": "x"}),
            client.get(f"/contacts/{cid}/notes"),
            client.put(f"/contacts/{cid}", json={"dnd": True}),
        ):
            assert (resp.status_code, resp.json()) == (
                404,
                {"statusCode": 404, "message": "Contact not found"},
            )


def test_notes_are_created_and_listed_newest_first(ghl: GhlSandbox, client: httpx.Client) -> None:
    before = updated(ghl)
    first = client.post(f"/contacts/{CID}/notes", json={"body": "First call"})
    assert first.status_code == 201
    note = first.json()["note"]
    assert list(note) == ["id", "body", "userId", "dateAdded", "contactId"]
    assert (note["body"], note["userId"], note["contactId"]) == ("First call", None, CID)
    assert re.fullmatch(r"[A-Za-z0-9]{20}", note["id"])
    assert ISO_MS.fullmatch(note["dateAdded"])
    second = client.post(f"/contacts/{CID}/notes", json={"body": "Second", "userId": "u1"})
    listed = client.get(f"/contacts/{CID}/notes").json()
    assert listed == {"notes": [second.json()["note"], note]}
    assert ghl.notes(CID) == listed["notes"]
    assert updated(ghl) == before  # a note is not a change to the contact
    assert client.post(f"/contacts/{CID}/notes", json={"body": " "}).status_code == 422
    ghl.reset()
    assert ghl.notes(CID) == []


def test_put_merges_dnd_settings_per_channel(ghl: GhlSandbox, client: httpx.Client) -> None:
    before = updated(ghl)
    dnd = {"Call": {"status": "active", "message": "CallTools: Do Not Call"}}
    resp = client.put(f"/contacts/{CID}", json={"dndSettings": dnd})
    assert resp.status_code == 200
    body = resp.json()
    assert body["succeded"] is True
    settings = body["contact"]["dndSettings"]
    assert settings["Call"] == {"status": "active", "message": "CallTools: Do Not Call", "code": ""}
    assert settings["SMS"]["status"] == "inactive"  # other channels kept
    assert body["contact"]["dnd"] is False  # per-channel DND leaves the all-channel flag alone
    assert body["contact"]["tags"] == ["facebook lead", "Cold Lead"]
    assert body["contact"]["dateUpdated"] > before
    sms = client.put(f"/contacts/{CID}", json={"dndSettings": {"SMS": {"status": "active"}}})
    merged = sms.json()["contact"]["dndSettings"]
    assert (merged["Call"]["status"], merged["SMS"]["status"]) == ("active", "active")
    assert client.get(f"/contacts/{CID}").json()["contact"]["dndSettings"] == merged
    assert ghl.tag_replacements == 0


@pytest.mark.parametrize(
    "body",
    [
        {"locationId": "elsewhere"},
        {"dndSettings": {"Pigeon": {"status": "active"}}},
        {"dndSettings": {"Call": {"status": "maybe"}}},
        {"dnd": "yes"},
    ],
)
def test_bad_puts_are_422(ghl: GhlSandbox, client: httpx.Client, body: dict[str, Any]) -> None:
    before = ghl.contact(CID)
    resp = client.put(f"/contacts/{CID}", json=body)
    assert (resp.status_code, resp.json()["statusCode"]) == (422, 422)
    assert ghl.contact(CID) == before


def test_put_with_tags_replaces_them_all_and_is_counted(
    ghl: GhlSandbox, client: httpx.Client
) -> None:
    resp = client.put(f"/contacts/{CID}", json={"tags": ["calltools: sale"], "companyName": "L"})
    contact = resp.json()["contact"]
    assert (contact["tags"], contact["companyName"]) == (["calltools: sale"], "L")
    assert ghl.tag_replacements == 1
    client.put(f"/contacts/{CID}", json={"firstName": "Ava"})
    assert ghl.tag_replacements == 1  # only a PUT carrying tags counts
    assert ghl.contact(CID)["name"] == "Ava"  # type: ignore[index]
    with httpx.Client(base_url=ghl.url) as admin:
        assert admin.get("/_sandbox/writes").json()["tag_replacements"] == 1
    ghl.reset()
    assert ghl.tag_replacements == 0


def test_faults_and_rate_limits_apply_to_writes(ghl: GhlSandbox, client: httpx.Client) -> None:
    ghl.script_faults(["429"])
    limited = client.post(f"/contacts/{CID}/tags", json={"tags": ["x"]})
    assert limited.status_code == 429
    assert "X-RateLimit-Remaining" in limited.headers
    assert ghl.contact(CID)["tags"] == ["facebook lead", "Cold Lead"]  # type: ignore[index]
    ghl.timeout_seconds = 0.5
    ghl.script_faults(["lost_reply"])
    with pytest.raises(httpx.ReadTimeout):
        client.post(f"/contacts/{CID}/notes", json={"body": "lost"}, timeout=0.1)
    assert [n["body"] for n in ghl.notes(CID)] == ["lost"]  # done, though the reply was lost
    assert ghl.fault_counts == {"429": 1, "lost_reply": 1}
    assert httpx.post(ghl.url + f"/contacts/{CID}/tags", json={"tags": ["x"]}).status_code == 401
    with GhlSandbox(rate_limit=(1, 60.0)) as tight:
        tight.upsert_contact({"id": CID})
        headers = {"Authorization": f"Bearer {tight.token}", "Version": "2021-07-28"}
        with httpx.Client(base_url=tight.url, headers=headers) as c:
            assert c.post(f"/contacts/{CID}/notes", json={"body": "a"}).status_code == 201
            assert c.put(f"/contacts/{CID}", json={"dnd": True}).status_code == 429


class Keys:
    def __init__(self) -> None:
        self.private = ed25519.Ed25519PrivateKey.generate()

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private.sign(body)).decode()

    def verifies(self, body: bytes, signature: str) -> bool:
        try:
            self.private.public_key().verify(base64.b64decode(signature), body)
        except InvalidSignature:
            return False
        return True


def test_tag_and_dnd_changes_send_signed_webhooks_back(
    ghl: GhlSandbox, client: httpx.Client
) -> None:
    keys = Keys()
    with Receiver() as receiver:
        ghl.send_webhooks_to(receiver.url + "/webhook/ghl", keys.sign, app_id="app1")
        client.post(f"/contacts/{CID}/tags", json={"tags": ["calltools: not interested"]})
        client.post(f"/contacts/{CID}/tags", json={"tags": ["COLD LEAD"]})  # no change: no event
        client.post(f"/contacts/{CID}/notes", json={"body": "no event"})
        dnd = {"dndSettings": {"Call": {"status": "active", "message": "m"}}}
        client.put(f"/contacts/{CID}", json=dnd)
        receiver.wait_for_posts(2)
        wait_for(lambda: len(ghl.webhooks.sent) == 2 if ghl.webhooks else False)
        posts = receiver.posts()
    assert len(posts) == 2
    events = {json.loads(p.body)["type"]: p for p in posts}
    assert set(events) == {"ContactTagUpdate", "ContactDndUpdate"}
    for post in posts:
        assert post.path == "/webhook/ghl"
        assert keys.verifies(post.body, post.headers["x-ghl-signature"])
        assert not keys.verifies(post.body + b" ", post.headers["x-ghl-signature"])
    tag = json.loads(events["ContactTagUpdate"].body)
    assert list(tag)[:4] == ["type", "locationId", "appId", "id"]
    assert (tag["locationId"], tag["id"], tag["appId"]) == (ghl.location_id, CID, "app1")
    assert tag["tags"] == ["facebook lead", "Cold Lead", "calltools: not interested"]
    assert "dndSettings" not in tag
    assert ISO_MS.fullmatch(tag["timestamp"])
    dnd_event = json.loads(events["ContactDndUpdate"].body)
    assert dnd_event["dndSettings"]["Call"]["status"] == "active"
    assert re.fullmatch(r"[0-9a-f-]{36}", dnd_event["webhookId"])
    assert dnd_event["webhookId"] != tag["webhookId"]
    assert [s.status for s in ghl.webhooks.sent] == [200, 200]  # type: ignore[union-attr]


def test_a_put_with_tags_sends_a_tag_event_too(ghl: GhlSandbox, client: httpx.Client) -> None:
    keys = Keys()
    with Receiver() as receiver:
        ghl.send_webhooks_to(receiver.url, keys.sign)
        client.put(f"/contacts/{CID}", json={"tags": ["only"], "dnd": True})
        posts = receiver.wait_for_posts(2)
    types = sorted(json.loads(p.body)["type"] for p in posts)
    assert types == ["ContactDndUpdate", "ContactTagUpdate"]
    assert "appId" not in json.loads(posts[0].body)


def test_webhooks_are_off_by_default_and_an_absent_receiver_never_blocks_a_reply(
    ghl: GhlSandbox, client: httpx.Client
) -> None:
    assert ghl.webhooks is None
    assert client.post(f"/contacts/{CID}/tags", json={"tags": ["a"]}).status_code == 200
    ghl.send_webhooks_to(closed_port_url(), Keys().sign)
    with httpx.Client(base_url=ghl.url, headers=client.headers, timeout=0.5) as quick:
        assert quick.post(f"/contacts/{CID}/tags", json={"tags": ["b"]}).status_code == 200
    (sent,) = wait_for(lambda: ghl.webhooks.sent if ghl.webhooks else [])
    assert (sent.type, sent.status) == ("ContactTagUpdate", None)
    assert sent.error  # given up after its retries


def test_the_local_stack_closes_the_outcome_loop(ghl: GhlSandbox, client: httpx.Client) -> None:
    with Receiver() as app, CallToolsSandbox() as ct:
        stack = LocalStack(Settings(), ghl=ghl, calltools=ct)
        stack.connect_outcomes(app.url, "s3cret/+=")
        (sub,) = ct.subscriptions()
        assert sub["resthook_model"] == "Historical Call Disposition"
        assert sub["url"] == f"{app.url}/webhook/calltools?token=s3cret%2F%2B%3D"
        client.post(f"/contacts/{CID}/tags", json={"tags": ["calltools: sale"]})
        cid = ct.seed_contact({"mobile_phone_number": "+13125550147"})["id"]
        ct.record_call(cid, "Sale")
        posts = {p.path.split("?")[0]: p for p in app.wait_for_posts(2)}
    assert set(posts) == {"/webhook/ghl", "/webhook/calltools"}
    ghl_post = posts["/webhook/ghl"]
    key = load_pem_public_key(public_pem(stack.signing_key).encode())
    assert isinstance(key, ed25519.Ed25519PublicKey)
    key.verify(base64.b64decode(ghl_post.headers["x-ghl-signature"]), ghl_post.body)  # no raise
    assert json.loads(posts["/webhook/calltools"].body)["contact"] == cid
