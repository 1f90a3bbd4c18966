"""GHL OAuth in the sandbox (gohighlevel.md §2, §13): the marketplace install's code, rotating
refresh tokens, an agency's location tokens and installs, INSTALL / UNINSTALL webhooks."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from sandbox.ghl import GhlSandbox
from sandbox.ghl.location import GhlLocation
from sandbox.ghl.oauth import WRONG_AUTH_CLASS
from tests.sandbox.receiver import Receiver

B_ID = "LbQ3nV8sK2xW7mT5rZ1p"
OTHER_COMPANY = "Cz9Other0Agency00000"
VERSION = {"Version": "2021-07-28"}


@pytest.fixture
def ghl() -> Iterator[GhlSandbox]:
    with GhlSandbox(rate_limit=None) as server:
        yield server


@pytest.fixture
def b(ghl: GhlSandbox) -> GhlLocation:
    loc = ghl.add_location(B_ID, name="Client B")
    loc.upsert_contact({"id": "bContact000000000000", "firstName": "Bodhi"})
    return loc


def token_request(ghl: GhlSandbox, **form: str) -> httpx.Response:
    creds = {"client_id": ghl.client_id, "client_secret": ghl.client_secret}
    return httpx.post(f"{ghl.url}/oauth/token", data={**creds, **form}, timeout=5.0)


def exchange(ghl: GhlSandbox, code: str) -> dict[str, Any]:
    resp = token_request(ghl, grant_type="authorization_code", code=code)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def refresh(ghl: GhlSandbox, refresh_token: str) -> httpx.Response:
    return token_request(ghl, grant_type="refresh_token", refresh_token=refresh_token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **VERSION}


def get(ghl: GhlSandbox, path: str, token: str, **params: str) -> httpx.Response:
    return httpx.get(ghl.url + path, headers=bearer(token), params=params, timeout=5.0)


def test_a_code_gives_a_location_token_that_works_like_its_pit(
    ghl: GhlSandbox, b: GhlLocation
) -> None:
    code = ghl.authorize(location_id=B_ID, redirect_uri="https://app.example/oauth/callback")
    assert ghl.is_installed(B_ID) and not ghl.is_installed(ghl.location_id)
    wrong_redirect = token_request(
        ghl, grant_type="authorization_code", code=code, redirect_uri="https://evil.example/"
    )
    assert wrong_redirect.json()["error"] == "invalid_grant"
    code = ghl.authorize(location_id=B_ID)
    tokens = exchange(ghl, code)
    assert tokens["expires_in"] == 86399
    assert (tokens["userType"], tokens["locationId"]) == ("Location", B_ID)
    assert tokens["companyId"] == ghl.company_id and tokens["token_type"] == "Bearer"
    access = tokens["access_token"]
    assert get(ghl, "/contacts/bContact000000000000", access).json()["contact"]["firstName"] == (
        "Bodhi"
    )
    ghl.upsert_contact({"id": "aContact000000000000"})
    assert get(ghl, "/contacts/aContact000000000000", access).status_code == 403
    assert get(ghl, f"/locations/{B_ID}", access).status_code == 200
    reused = token_request(ghl, grant_type="authorization_code", code=code)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "refresh_token", "refresh_token": "never-issued"}, 400, "invalid_grant"),
    ],
)
def test_bad_token_requests(ghl: GhlSandbox, form: dict[str, str], status: int, error: str) -> None:
    resp = token_request(ghl, **form)
    assert (resp.status_code, resp.json()["error"]) == (status, error)


def test_the_token_endpoint_takes_a_form_not_json(ghl: GhlSandbox, b: GhlLocation) -> None:
    body = {"client_id": ghl.client_id, "client_secret": ghl.client_secret}
    body.update(grant_type="authorization_code", code=ghl.authorize(location_id=B_ID))
    resp = httpx.post(f"{ghl.url}/oauth/token", json=body, timeout=5.0)
    assert (resp.status_code, resp.json()["error"]) == (400, "invalid_request")


def test_a_refresh_rotates_the_refresh_token(ghl: GhlSandbox, b: GhlLocation) -> None:
    first = exchange(ghl, ghl.authorize(location_id=B_ID))
    second = refresh(ghl, first["refresh_token"])
    assert second.status_code == 200
    new = second.json()
    assert new["access_token"] != first["access_token"]
    assert new["refresh_token"] != first["refresh_token"]
    assert (new["userType"], new["locationId"], new["expires_in"]) == ("Location", B_ID, 86399)
    reuse = refresh(ghl, first["refresh_token"])
    assert (reuse.status_code, reuse.json()["error"]) == (400, "invalid_grant")
    assert refresh(ghl, new["refresh_token"]).status_code == 200
    assert ghl.refresh_counts(B_ID) == {"ok": 2, "refused": 1}
    assert ghl.refresh_counts(ghl.location_id) == {"ok": 0, "refused": 0}
    summary = httpx.get(f"{ghl.url}/_sandbox/oauth").json()
    assert summary["refreshes"] == {B_ID: {"ok": 2, "refused": 1}}
    assert summary["installed"] == [B_ID]


def test_of_two_refreshes_at_once_with_one_token_exactly_one_succeeds(
    ghl: GhlSandbox, b: GhlLocation
) -> None:
    tokens = exchange(ghl, ghl.authorize(location_id=B_ID))
    start = threading.Barrier(8)
    statuses: list[int] = []

    def attempt() -> None:
        start.wait()
        statuses.append(refresh(ghl, tokens["refresh_token"]).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(statuses) == [200] + [400] * 7
    assert ghl.refresh_counts(B_ID) == {"ok": 1, "refused": 7}


def test_an_expired_access_token_is_refused_until_refreshed(
    ghl: GhlSandbox, b: GhlLocation
) -> None:
    tokens = exchange(ghl, ghl.authorize(location_id=B_ID))
    expire = httpx.post(f"{ghl.url}/_sandbox/oauth/expire", json={"locationId": B_ID})
    assert expire.json() == {"expired": 1}
    stale = get(ghl, "/contacts/bContact000000000000", tokens["access_token"])
    assert (stale.status_code, stale.json()["message"]) == (401, "Invalid JWT")
    assert get(ghl, "/contacts/bContact000000000000", b.token).status_code == 200  # the PIT lives
    fresh = refresh(ghl, tokens["refresh_token"]).json()["access_token"]
    assert get(ghl, "/contacts/bContact000000000000", fresh).status_code == 200


def test_an_agency_token_gets_location_tokens_and_lists_installs(
    ghl: GhlSandbox, b: GhlLocation
) -> None:
    elsewhere = ghl.add_location(company_id=OTHER_COMPANY)
    company = exchange(ghl, ghl.authorize(company_id=ghl.company_id))
    assert (company["userType"], company["companyId"]) == ("Company", ghl.company_id)
    assert "locationId" not in company
    agency = company["access_token"]
    on_contacts = get(ghl, "/contacts/bContact000000000000", agency)
    assert (on_contacts.status_code, on_contacts.json()["message"]) == (401, WRONG_AUTH_CLASS)
    listed = get(
        ghl, "/oauth/installedLocations", agency, companyId=ghl.company_id, appId=ghl.app_id
    ).json()
    assert [(row["_id"], row["isInstalled"]) for row in listed["locations"]] == [
        (ghl.location_id, True),
        (B_ID, True),
    ]
    assert (listed["count"], listed["installToFutureLocations"]) == (2, True)
    other = get(ghl, "/oauth/installedLocations", agency, companyId=OTHER_COMPANY, appId=ghl.app_id)
    assert other.status_code == 403
    no_app = get(ghl, "/oauth/installedLocations", agency, companyId=ghl.company_id)
    assert no_app.status_code == 422

    def location_token(token: str, location_id: str) -> httpx.Response:
        form = {"companyId": ghl.company_id, "locationId": location_id}
        return httpx.post(
            f"{ghl.url}/oauth/locationToken", data=form, headers=bearer(token), timeout=5.0
        )

    minted = location_token(agency, B_ID)
    assert minted.status_code == 200
    assert (minted.json()["userType"], minted.json()["locationId"]) == ("Location", B_ID)
    b_token = minted.json()["access_token"]
    assert get(ghl, "/contacts/bContact000000000000", b_token).status_code == 200
    assert get(ghl, "/contacts/bContact000000000000", ghl.token).status_code == 403
    assert location_token(agency, elsewhere.location_id).status_code == 400
    assert location_token(b.token, B_ID).json()["message"] == WRONG_AUTH_CLASS  # a PIT cannot
    assert refresh(ghl, minted.json()["refresh_token"]).json()["locationId"] == B_ID


class Keys:
    def __init__(self) -> None:
        self.private = ed25519.Ed25519PrivateKey.generate()

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private.sign(body)).decode()


def test_install_and_uninstall_webhooks_are_sent_signed_and_uninstall_revokes(
    ghl: GhlSandbox, b: GhlLocation
) -> None:
    events = f"{ghl.url}/_sandbox/oauth/events"
    assert httpx.post(events, json={"type": "INSTALL", "locationId": B_ID}).status_code == 409
    keys = Keys()
    with Receiver() as receiver:
        ghl.send_webhooks_to(receiver.url + "/webhook/ghl", keys.sign, app_id="app-under-test")
        b_tokens = exchange(ghl, ghl.authorize(location_id=B_ID))
        agency = exchange(ghl, ghl.authorize(company_id=ghl.company_id))
        assert httpx.post(events, json={"type": "INSTALL", "locationId": B_ID}).status_code == 202
        sent = httpx.post(events, json={"type": "UNINSTALL", "companyId": ghl.company_id})
        assert sent.status_code == 202
        assert httpx.post(events, json={"type": "UPGRADE", "locationId": B_ID}).status_code == 400
        posts = receiver.wait_for_posts(2)
    install, uninstall = (json.loads(p.body) for p in posts)
    for post in posts:
        signature = base64.b64decode(post.headers["x-ghl-signature"])
        keys.private.public_key().verify(signature, post.body)  # raises if not signed so
    assert (install["type"], install["installType"]) == ("INSTALL", "Location")
    assert (install["locationId"], install["companyId"]) == (B_ID, ghl.company_id)
    assert install["appId"] == "app-under-test" and install["userId"]
    assert uninstall["type"] == "UNINSTALL" and "locationId" not in uninstall
    assert (uninstall["companyId"], uninstall["appId"]) == (ghl.company_id, "app-under-test")
    assert uninstall["webhookId"] != install["webhookId"] and uninstall["timestamp"]
    # The agency's uninstall ends every OAuth token under it; PITs are not the app's.
    assert not ghl.is_installed(B_ID)
    for access in (b_tokens["access_token"], agency["access_token"]):
        assert get(ghl, "/contacts/bContact000000000000", access).status_code == 401
    assert refresh(ghl, b_tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert ghl.refresh_counts(B_ID) == {"ok": 0, "refused": 1}
    assert get(ghl, "/contacts/bContact000000000000", b.token).status_code == 200


def test_a_location_uninstall_revokes_that_location_only(ghl: GhlSandbox, b: GhlLocation) -> None:
    a_tokens = exchange(ghl, ghl.authorize(location_id=ghl.location_id))
    b_tokens = exchange(ghl, ghl.authorize(location_id=B_ID))
    with Receiver() as receiver:
        ghl.send_webhooks_to(receiver.url, Keys().sign)
        body = ghl.send_app_event("UNINSTALL", location_id=B_ID)
        receiver.wait_for_posts(1)
    assert (body["locationId"], body["appId"]) == (B_ID, ghl.app_id)
    assert "userId" not in body
    assert get(ghl, "/contacts/x", b_tokens["access_token"]).status_code == 401
    assert get(ghl, "/contacts/x", a_tokens["access_token"]).status_code == 404  # still valid
    assert refresh(ghl, a_tokens["refresh_token"]).status_code == 200
