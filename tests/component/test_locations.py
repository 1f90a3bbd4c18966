"""The location registry through the Chalice app: AWS in moto, the token checks against the GHL
and CallTools sandboxes. The tokens land in Secrets Manager and nowhere else: not in the state
table, not in a reply, not in a log line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib.adapters.aws.locations import location_key
from sandbox.ghl import GhlSandbox
from tests.support.helpers import LOCATION_ID
from tests.support.service import Service, body_json

OTHER = "Ot7hErL0cAt10nIdX9q2"
PREFIX = "ghl-calltools/local/locations/"


@pytest.fixture
def ghl() -> Iterator[GhlSandbox]:
    """GHL serving the location to register (the environment's stays LOCATION_ID)."""
    server = GhlSandbox(location_id=OTHER, token="pit-other-7c1e", rate_limit=None).start()
    yield server
    server.stop()


def location(service: Service, **changes: Any) -> dict[str, Any]:
    return {
        "name": "Acme Roofing",
        "ghl_api_token": service.ghl.token,
        "calltools_api_base_url": service.calltools.base_url,
        "calltools_api_token": service.calltools.token,
        "rules": [{"tag": "cold lead", "bucket": "Cold Leads", "exclude_tags": ["vip"]}],
    } | changes


def tokens(service: Service) -> tuple[str, str]:
    return service.ghl.token, service.calltools.token


def table_text(service: Service) -> str:
    table = service.container.dynamodb.Table(service.container.settings.state.table_name)
    return json.dumps(table.scan()["Items"], default=str)


def secret(name: str) -> dict[str, Any]:
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    value: dict[str, Any] = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    return value


def secret_names() -> list[str]:
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    return [s["Name"] for s in sm.list_secrets()["SecretList"]]


def test_a_location_is_registered_with_its_tokens_in_secrets_manager_only(service: Service):
    reply = service.admin("put", f"/locations/{OTHER}", location(service))
    assert reply.status_code == 201, reply.body
    shown = body_json(reply)["location"]
    assert (shown["location_id"], shown["active"], shown["builtin"]) == (OTHER, True, False)
    assert secret(PREFIX + OTHER) == {
        "ghl_api_token": service.ghl.token,
        "calltools_api_token": service.calltools.token,
    }
    stored = table_text(service)
    assert OTHER in stored and "Acme Roofing" in stored
    assert not any(token in stored for token in tokens(service))
    table = service.container.dynamodb.Table(service.container.settings.state.table_name)
    assert table.get_item(Key=location_key(OTHER))["Item"]["kind"] == "location"
    # The contact scans (census, leftovers) never see the registry's items.
    states, _ = service.container.state_store.scan(None, 100)
    assert states == []

    listed = service.admin("get", "/locations")
    assert listed.status_code == 200
    ids = [(loc["location_id"], loc["builtin"]) for loc in body_json(listed)["locations"]]
    assert ids == [(LOCATION_ID, True), (OTHER, False)]
    one = service.admin("get", f"/locations/{OTHER}")
    assert one.status_code == 200 and body_json(one)["name"] == "Acme Roofing"
    for text in (reply.body, listed.body, one.body):
        assert not any(token.encode() in text for token in tokens(service))


def test_a_rejected_token_saves_nothing_and_names_what_failed(service: Service):
    reply = service.admin(
        "put", f"/locations/{OTHER}", location(service, ghl_api_token="pit-wrong")
    )
    assert reply.status_code == 422
    assert body_json(reply)["reason"] == "GHL token rejected for this location"
    reply = service.admin(
        "put", f"/locations/{OTHER}", location(service, calltools_api_token="ct-wrong")
    )
    assert reply.status_code == 422
    assert body_json(reply)["reason"] == "CallTools token or base URL rejected"
    # A token good for GHL, but not for this location.
    reply = service.admin("put", "/locations/NotServedByThisToken1", location(service))
    assert reply.status_code == 422 and "GHL" in body_json(reply)["reason"]
    assert secret_names() == [] and "location" not in table_text(service)


def test_an_unreachable_calltools_is_503_and_saves_nothing(service: Service):
    closed = "http://127.0.0.1:9/api/"  # discard port: nothing listens
    reply = service.admin(
        "put", f"/locations/{OTHER}", location(service, calltools_api_base_url=closed)
    )
    assert reply.status_code == 503
    assert body_json(reply)["reason"] == "CallTools did not answer the token check"
    assert secret_names() == []


def test_an_update_keeps_the_stored_tokens_and_a_new_one_replaces_its_own(service: Service):
    assert service.admin("put", f"/locations/{OTHER}", location(service)).status_code == 201
    without = {
        k: v for k, v in location(service, name="Acme (renamed)").items() if "token" not in k
    }
    reply = service.admin("put", f"/locations/{OTHER}", without)
    assert reply.status_code == 200 and body_json(reply)["location"]["name"] == "Acme (renamed)"
    assert secret(PREFIX + OTHER)["calltools_api_token"] == service.calltools.token

    service.ghl.token = "pit-rotated-42"  # rotated in GHL: the old one stops working
    assert service.admin("put", f"/locations/{OTHER}", without).status_code == 422
    rotated = location(service, ghl_api_token="pit-rotated-42")
    del rotated["calltools_api_token"]
    assert service.admin("put", f"/locations/{OTHER}", rotated).status_code == 200
    assert secret(PREFIX + OTHER) == {
        "ghl_api_token": "pit-rotated-42",
        "calltools_api_token": service.calltools.token,
    }


def test_remove_deactivates_and_keeps_the_tokens(service: Service):
    service.admin("put", f"/locations/{OTHER}", location(service))
    assert (
        service.admin("delete", f"/locations/{OTHER}?remove_from_buckets=true").status_code == 501
    )
    reply = service.admin("delete", f"/locations/{OTHER}")
    assert reply.status_code == 200 and body_json(reply)["location"]["active"] is False
    assert body_json(service.admin("get", f"/locations/{OTHER}"))["active"] is False
    assert secret_names() == [PREFIX + OTHER]
    assert service.admin("delete", "/locations/NeverRegistered1").status_code == 404


def test_the_builtin_location_is_the_environments(service: Service):
    for method in ("put", "delete"):
        reply = service.admin(method, f"/locations/{LOCATION_ID}", location(service))
        assert reply.status_code == 409
        assert "configured by environment" in body_json(reply)["reason"]
    shown = body_json(service.admin("get", f"/locations/{LOCATION_ID}"))
    assert shown["builtin"] is True
    assert shown["rules"] == [{"tag": "cold lead", "bucket": "Cold Leads", "exclude_tags": []}]


def test_bodies_and_tokens_at_the_route(service: Service):
    big = location(service, name="x" * 70_000)
    assert service.admin("put", f"/locations/{OTHER}", big).status_code == 413
    raw = service.client.http.put(
        f"/locations/{OTHER}",
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer admin-token-for-tests",
        },
        body=b"{nope",
    )
    assert raw.status_code == 400
    assert service.admin("get", "/locations", token=None).status_code == 401
    assert (
        service.admin("put", f"/locations/{OTHER}", location(service), token="wrong").status_code
        == 401
    )
    assert secret_names() == []


def test_no_log_line_holds_a_token(
    service: Service,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    logs_on_stdout: None,
):
    service.admin("put", f"/locations/{OTHER}", location(service, ghl_api_token="pit-wrong-5e6f"))
    service.admin(
        "put", f"/locations/{OTHER}", location(service, calltools_api_token="ct-wrong-7a8b")
    )
    service.admin("put", f"/locations/{OTHER}", location(service))
    service.admin("put", f"/locations/{OTHER}", location(service, ghl_api_token="bad tok3n-9z"))
    service.admin("delete", f"/locations/{OTHER}")
    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text
    for line in ("location token check failed", "location registered", "location deactivated"):
        assert line in text  # the paths really ran and their lines were read
    for token in (*tokens(service), "pit-wrong-5e6f", "ct-wrong-7a8b", "bad tok3n-9z"):
        assert token not in text
