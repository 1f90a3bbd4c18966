"""Marketplace installs end to end: the Chalice app with AWS in moto, GHL's OAuth in the sandbox.
The callback registers a location (or an agency's), PUT /locations completes it, a refresh two
workers attempt at once reaches GHL once, a refused refresh marks the location, UNINSTALL
deactivates; no token is ever in a reply, a table item or a log line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import httpx
import pytest

from chalicelib.domain.location import LocationTokens
from chalicelib.domain.oauth import GhlAuthFailed
from chalicelib.domain.time import utcnow
from chalicelib.runtime import wiring
from chalicelib.runtime.settings import Settings
from sandbox.ghl.webhooks_back import app_event_body
from tests.support.helpers import LOCATION_ID
from tests.support.service import Service, body_json

B_ID = "LbQ3nV8sK2xW7mT5rZ1p"
C_ID = "LcR4oW9tL3yX8nU6sA2q"
PREFIX = "ghl-calltools/local/locations/"


@pytest.fixture
def oauth(service: Service, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    """`service` with the marketplace app configured (the sandbox's client and app id), and
    two more locations of the sandbox's agency."""
    ghl = service.ghl
    ghl.add_location(B_ID, name="Client B").upsert_contact({"id": "bContact000000000000"})
    ghl.add_location(C_ID, name="Client C")
    monkeypatch.setenv("GHL_OAUTH_CLIENT_ID", ghl.client_id)
    monkeypatch.setenv("GHL_OAUTH_CLIENT_SECRET", ghl.client_secret)
    monkeypatch.setenv("GHL_APP_ID", ghl.app_id)
    service.container = wiring.reset()
    yield service


def callback(service: Service, query: str) -> Any:
    return service.client.http.get(f"/oauth/callback{query}")


def secret(name: str) -> dict[str, Any]:
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    value: dict[str, Any] = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    return value


def table_text(service: Service) -> str:
    table = service.container.dynamodb.Table(service.container.settings.state.table_name)
    return json.dumps(table.scan()["Items"], default=str)


def all_tokens(*names: str) -> list[str]:
    """Every token value in these secrets (access and refresh)."""
    found = []
    for name in names:
        data = secret(name)
        oauth = data.get("ghl_oauth") or {}
        found += [oauth.get("access_token"), oauth.get("refresh_token")]
        found += [data.get("calltools_api_token"), data.get("ghl_api_token")]
    return [t for t in found if t]


def complete(service: Service, **changes: Any) -> dict[str, Any]:
    return {
        "name": "Client B (dialler)",
        "calltools_api_base_url": service.calltools.base_url,
        "calltools_api_token": service.calltools.token,
        "rules": [{"tag": "cold lead", "bucket": "Cold Leads"}],
    } | changes


def expire_stored(service: Service, location_id: str) -> None:
    """As if a day had passed: the stored grant's access token is past its expiry."""

    def aged(current: LocationTokens | None) -> LocationTokens:
        assert current is not None and current.ghl_oauth is not None
        old = current.ghl_oauth.model_copy(update={"expires_at": utcnow() - timedelta(hours=1)})
        return current.model_copy(update={"ghl_oauth": old})

    service.container.oauth.location_grants.update(location_id, aged)


def reads_contact(service: Service, token: str) -> bool:
    resp = httpx.get(
        f"{service.ghl.url}/contacts/bContact000000000000",
        headers={"Authorization": f"Bearer {token}", "Version": "2021-07-28"},
        timeout=5.0,
    )
    return resp.status_code == 200


def install_b(service: Service) -> Any:
    reply = callback(service, f"?code={service.ghl.authorize(location_id=B_ID)}")
    assert reply.status_code == 200, reply.body
    return reply


def test_a_location_install_registers_it_awaiting_calltools_and_put_completes_it(oauth: Service):
    code = oauth.ghl.authorize(location_id=B_ID)
    reply = callback(oauth, f"?code={code}")
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/html")
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    page = reply.body.decode()
    assert B_ID in page and "Client B" in page and "awaiting CallTools" in page

    shown = body_json(oauth.admin("get", f"/locations/{B_ID}"))
    assert (shown["ghl_auth"], shown["active"], shown["awaiting_calltools"]) == (
        "oauth",
        False,
        True,
    )
    assert shown["company_id"] == oauth.ghl.company_id and shown["rules"] == []
    stored = secret(PREFIX + B_ID)
    assert set(stored) == {"ghl_oauth"}
    assert stored["ghl_oauth"]["user_type"] == "Location"
    assert reads_contact(oauth, stored["ghl_oauth"]["access_token"])

    again = callback(oauth, f"?code={code}")  # a code is good once
    assert again.status_code == 400 and b"refused the authorization code" in again.body

    # The CallTools side: no GHL token (the install's is kept), checked with the grant's.
    assert (
        oauth.admin("put", f"/locations/{B_ID}", complete(oauth, ghl_api_token="pit-x")).status_code
        == 400
    )
    done = oauth.admin("put", f"/locations/{B_ID}", complete(oauth))
    assert done.status_code == 200, done.body
    location = body_json(done)["location"]
    assert (location["active"], location["ghl_auth"], location["awaiting_calltools"]) == (
        True,
        "oauth",
        False,
    )
    after = secret(PREFIX + B_ID)
    assert after["ghl_oauth"] == stored["ghl_oauth"]
    assert after["calltools_api_token"] == oauth.calltools.token

    # Installing again replaces the grant and keeps the CallTools side and the active flag.
    install_b(oauth)
    again_shown = body_json(oauth.admin("get", f"/locations/{B_ID}"))
    assert again_shown["active"] is True and again_shown["name"] == "Client B (dialler)"
    final = secret(PREFIX + B_ID)
    assert final["calltools_api_token"] == oauth.calltools.token
    assert final["ghl_oauth"]["refresh_token"] != stored["ghl_oauth"]["refresh_token"]

    text = table_text(oauth)
    for token in [*all_tokens(PREFIX + B_ID), stored["ghl_oauth"]["access_token"]]:
        for body in (reply.body, done.body, again.body):
            assert token.encode() not in body
        assert token not in text


def test_an_agency_install_registers_each_installed_location(
    oauth: Service, capsys: pytest.CaptureFixture[str], logs_on_stdout: None
):
    code = oauth.ghl.authorize(company_id=oauth.ghl.company_id)
    reply = callback(oauth, f"?code={code}")
    assert reply.status_code == 200, reply.body
    page = reply.body.decode()
    assert "agency" in page and B_ID in page and C_ID in page
    # The environment's location belongs to the agency too: it keeps its own token.
    assert f"{LOCATION_ID}: not registered, the built-in location" in page

    listed = body_json(oauth.admin("get", "/locations"))["locations"]
    oauth_ids = sorted(loc["location_id"] for loc in listed if loc["ghl_auth"] == "oauth")
    assert oauth_ids == sorted([B_ID, C_ID])
    names = {loc["location_id"]: loc["name"] for loc in listed}
    assert (names[B_ID], names[C_ID]) == ("Client B", "Client C")
    company = secret(f"{PREFIX}companies/{oauth.ghl.company_id}")
    assert company["ghl_oauth"]["user_type"] == "Company"
    for location_id in (B_ID, C_ID):
        assert secret(PREFIX + location_id)["ghl_oauth"]["location_id"] == location_id
    assert reads_contact(oauth, oauth.container.oauth.location_grants.access_token(B_ID))

    text = table_text(oauth)
    tokens = all_tokens(PREFIX + B_ID, PREFIX + C_ID, f"{PREFIX}companies/{oauth.ghl.company_id}")
    assert len(tokens) == 6
    assert not any(t in text or t.encode() in reply.body for t in tokens)

    # INSTALL of a location the agency adds later (the agency's install covers it): its token
    # comes from the agency's grant.
    d_id = "LdS5pX0uM4zY9oV7tB3r"
    oauth.ghl.add_location(d_id, name="Client D")
    event = app_event_body(
        "INSTALL", app_id=oauth.ghl.app_id, company_id=oauth.ghl.company_id, location_id=d_id
    )
    answered = oauth.container.oauth.app_events.handle_install_event(event)
    assert (answered.status, answered.body["locations"]) == (200, [d_id])
    assert body_json(oauth.admin("get", f"/locations/{d_id}"))["name"] == "Client D"
    assert not any(t in json.dumps(answered.body) for t in all_tokens(PREFIX + d_id))

    out = capsys.readouterr().out
    assert "agency grant stored" in out and "location installed" in out
    for token in [*tokens, *all_tokens(PREFIX + d_id)]:
        assert token not in out


def test_two_workers_refreshing_at_once_reach_ghl_once_and_both_get_a_working_token(
    oauth: Service,
):
    install_b(oauth)
    expire_stored(oauth, B_ID)
    oauth.ghl.latency_ms = 300  # the winner's refresh is slow: the other one must wait for it
    settings = Settings()
    barrier = threading.Barrier(2)
    got: list[str] = []
    errors: list[BaseException] = []
    refused_takes: list[str] = []

    def worker() -> None:
        container = wiring.Container(settings)  # its own clients and secrets cache
        lease = container.oauth.lease
        take = lease.take

        def counted(key: str, owner: str, seconds: float) -> bool:
            taken = take(key, owner, seconds)
            if not taken:
                refused_takes.append(key)
            return taken

        lease.take = counted  # type: ignore[method-assign]
        grants = container.oauth.location_grants
        grants.stored(B_ID)  # warm its cache with the expired grant
        barrier.wait()
        try:
            got.append(grants.access_token(B_ID))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    oauth.ghl.latency_ms = 0
    assert not errors and len(got) == 2
    assert refused_takes and set(refused_takes) == {B_ID}  # the loser really waited
    assert oauth.ghl.refresh_counts(B_ID) == {"ok": 1, "refused": 0}
    assert got[0] == got[1] and reads_contact(oauth, got[0])
    assert secret(PREFIX + B_ID)["ghl_oauth"]["access_token"] == got[0]
    # A good token is handed out again without asking GHL.
    assert oauth.container.oauth.location_grants.access_token(B_ID) == got[0]
    assert oauth.ghl.refresh_counts(B_ID)["ok"] == 1


def test_a_refused_refresh_marks_the_location(
    oauth: Service, capsys: pytest.CaptureFixture[str], logs_on_stdout: None
):
    install_b(oauth)
    assert oauth.admin("put", f"/locations/{B_ID}", complete(oauth)).status_code == 200
    stolen = secret(PREFIX + B_ID)["ghl_oauth"]["refresh_token"]
    # Someone else spends our refresh token (the race this lease prevents, lost elsewhere).
    spent = httpx.post(
        f"{oauth.ghl.url}/oauth/token",
        data={
            "client_id": oauth.ghl.client_id,
            "client_secret": oauth.ghl.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": stolen,
        },
        timeout=5.0,
    )
    assert spent.status_code == 200
    expire_stored(oauth, B_ID)
    grants = oauth.container.oauth.location_grants
    with pytest.raises(GhlAuthFailed):
        grants.access_token(B_ID)
    with pytest.raises(GhlAuthFailed):
        grants.access_token(B_ID)  # marked: GHL is not asked again
    assert oauth.ghl.refresh_counts(B_ID) == {"ok": 1, "refused": 1}
    shown = body_json(oauth.admin("get", "/locations"))["locations"]
    assert [loc["ghl_auth_failed"] for loc in shown if loc["location_id"] == B_ID] == [True]
    # A PUT cannot check GHL with a refused grant; a new install clears the mark.
    assert oauth.admin("put", f"/locations/{B_ID}", complete(oauth)).status_code == 422
    install_b(oauth)
    assert body_json(oauth.admin("get", f"/locations/{B_ID}"))["ghl_auth_failed"] is False
    assert reads_contact(oauth, grants.access_token(B_ID))

    out = capsys.readouterr().out
    assert "GHL refused the OAuth refresh" in out and "GhlOAuthRefreshRefused" in out
    for token in [stolen, spent.json()["access_token"], *all_tokens(PREFIX + B_ID)]:
        assert token not in out


def test_uninstall_deactivates_the_location_or_the_agencys(oauth: Service):
    callback(oauth, f"?code={oauth.ghl.authorize(company_id=oauth.ghl.company_id)}")
    for location_id in (B_ID, C_ID):
        put = oauth.admin("put", f"/locations/{location_id}", complete(oauth))
        assert put.status_code == 200, put.body
    events = oauth.container.oauth.app_events
    company = oauth.ghl.company_id
    other_app = app_event_body("UNINSTALL", app_id="someone-else", company_id=company)
    assert events.handle_install_event(other_app).body["status"] == "ignored"

    def contact_event() -> str:
        from tests.support.helpers import ghl_event

        event = ghl_event("ContactTagUpdate", id="bContact000000000000", tags=["cold lead"])
        event |= {"locationId": B_ID, "appId": oauth.ghl.app_id}
        return str(body_json(oauth.post(event, mirror=False))["status"])

    assert contact_event() == "accepted"  # this container's directory holds B as active
    one = app_event_body("UNINSTALL", app_id=oauth.ghl.app_id, company_id=company, location_id=B_ID)
    assert events.handle_install_event(one).body == {"status": "deactivated", "locations": [B_ID]}
    assert contact_event() == "ignored"  # at once, not when the cache's minute is out
    active = {
        loc["location_id"]: loc["active"]
        for loc in body_json(oauth.admin("get", "/locations"))["locations"]
    }
    assert (active[B_ID], active[C_ID], active[LOCATION_ID]) == (False, True, True)

    agency = app_event_body("UNINSTALL", app_id=oauth.ghl.app_id, company_id=company)
    assert events.handle_install_event(agency).body["locations"] == [C_ID]
    assert body_json(oauth.admin("get", f"/locations/{C_ID}"))["active"] is False
    # The built-in location is the environment's: an uninstall never stops it.
    assert body_json(oauth.admin("get", f"/locations/{LOCATION_ID}"))["active"] is True


def test_an_installed_location_syncs_with_its_grant_refreshed_when_it_expires(oauth: Service):
    from tests.support.helpers import ghl_event
    from tests.support.tenants import hosted_tenants

    e_id = "LeT6qY1vN5aZ0pW8uC4s"
    with hosted_tenants(oauth, (e_id,), registered=()) as made:
        tenant = made[e_id]
        reply = callback(oauth, f"?code={oauth.ghl.authorize(location_id=e_id)}")
        assert reply.status_code == 200, reply.body
        body = complete(oauth) | {
            "calltools_api_base_url": tenant.calltools.base_url,
            "calltools_api_token": tenant.calltools.token,
        }
        assert oauth.admin("put", f"/locations/{e_id}", body).status_code == 200
        tenant.ghl.token = "pit-never-given-to-the-app"  # only the grant reaches GHL

        def sync(contact_id: str) -> None:
            event = ghl_event("ContactTagUpdate", id=contact_id, tags=["cold lead"])
            event |= {"locationId": e_id, "appId": oauth.ghl.app_id}
            event.pop("dnd", None)  # no DND flag: the consumer re-reads the contact from GHL
            tenant.mirror(event)
            posted = oauth.post(event, mirror=False)
            assert body_json(posted)["status"] == "accepted", posted.body
            oauth.drain()

        sync("ContactOfE0000000001")
        assert tenant.members() == {"ContactOfE0000000001"}
        assert oauth.ghl.refresh_counts(e_id)["ok"] == 0

        expire_stored(oauth, e_id)  # a day later: the access token is at its end
        oauth.ghl.expire_access_tokens(e_id)
        sync("ContactOfE0000000002")
        assert tenant.members() == {"ContactOfE0000000001", "ContactOfE0000000002"}
        assert oauth.ghl.refresh_counts(e_id) == {"ok": 1, "refused": 0}


def test_the_callback_is_off_without_the_apps_settings(service: Service):
    reply = callback(service, f"?code={service.ghl.authorize(location_id=LOCATION_ID)}")
    assert reply.status_code == 503 and b"not configured" in reply.body
    event = app_event_body("INSTALL", app_id=service.ghl.app_id, company_id=service.ghl.company_id)
    assert service.container.oauth.app_events.handle_install_event(event).body["status"] == (
        "ignored"
    )


def test_bad_codes_and_an_unreachable_ghl(oauth: Service):
    assert callback(oauth, "").status_code == 400
    assert callback(oauth, "?code=").status_code == 400
    assert callback(oauth, "?code=%3Cscript%3E").status_code == 400
    assert callback(oauth, "?code=0123456789abcdef0123").status_code == 400  # GHL refuses it
    cancelled = callback(oauth, "?error=%3Cb%3Eaccess_denied%3C/b%3E")
    assert cancelled.status_code == 400 and b"<b>" not in cancelled.body
    oauth.ghl.stop()  # nothing answers on its port now
    assert callback(oauth, "?code=0123456789abcdef0123").status_code == 503


def test_the_lease_in_dynamodb_has_one_holder_until_it_runs_out(service: Service):
    from chalicelib.adapters.aws.token_lease import DynamoTokenLease, lock_key

    now = [1_000.0]
    table = service.container.dynamodb.Table(service.container.settings.state.table_name)
    lease = DynamoTokenLease(table, clock=lambda: now[0])
    assert lease.take(B_ID, "one", 30)
    assert not lease.take(B_ID, "two", 30)
    assert lease.take(B_ID, "one", 30)  # its own again
    assert lease.take(C_ID, "two", 30)  # another key is another lease
    lease.release(B_ID, "two")  # not its holder: nothing happens
    assert not lease.take(B_ID, "two", 30)
    now[0] += 32  # past the lease: taken over, and the old holder's release is a no-op
    assert lease.take(B_ID, "two", 30)
    lease.release(B_ID, "one")
    assert not lease.take(B_ID, "three", 30)
    lease.release(B_ID, "two")
    assert "Item" not in table.get_item(Key=lock_key(B_ID))
    assert lease.take(B_ID, "three", 30)
    item = table.get_item(Key=lock_key(B_ID))["Item"]
    assert item["kind"] == "oauth_lock" and int(str(item["ttl"])) > int(str(item["lease_until"]))
    states, _ = service.container.state_store.scan(None, 100)
    assert states == []  # the contact scans never see a lease


def test_signed_install_and_uninstall_webhooks_reach_the_handler(oauth: Service):
    install_b(oauth)
    assert oauth.admin("put", f"/locations/{B_ID}", complete(oauth)).status_code == 200
    company = oauth.ghl.company_id
    body = app_event_body(
        "UNINSTALL", app_id=oauth.ghl.app_id, company_id=company, location_id=B_ID
    )
    unsigned = oauth.post(body, sign=False, mirror=False)
    assert unsigned.status_code == 401  # neither signed nor the workflow secret
    workflow = oauth.post(
        body, {"X-Webhook-Secret": "wf-secret-for-tests"}, sign=False, mirror=False
    )
    assert body_json(workflow)["status"] != "deactivated"  # only a signed event may uninstall
    assert body_json(oauth.admin("get", f"/locations/{B_ID}"))["active"] is True
    reply = oauth.post(body, mirror=False)
    assert (reply.status_code, body_json(reply)["locations"]) == (200, [B_ID])
    assert body_json(oauth.admin("get", f"/locations/{B_ID}"))["active"] is False
