"""Adversarial cases of the location registry's admin API (issue 15's review): what a holder of
the admin token must not be able to do with a location's stored tokens."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.services.admin_auth import AdminBearer
from chalicelib.services.locations import LocationAdmin
from chalicelib.services.replies import HttpReply
from tests.support.fake_locations import (
    FakeLocationRegistry,
    FakeLocationSecrets,
    ScriptedTokenChecks,
)

ADMIN = "adm1n-t0ken"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
LOC = "Other0Location0Id001"
URL = "https://west-2.calltools.io/api/"
ELSEWHERE = "https://collector.attacker.example/api/"
GHL_TOKEN, CT_TOKEN = "pit-9f8e7d6c-ghl", "ct-key-5b4a3c2d"


class World:
    def __init__(self) -> None:
        self.registry = FakeLocationRegistry()
        self.secrets = FakeLocationSecrets()
        self.checks = ScriptedTokenChecks({GHL_TOKEN: LOC}, {CT_TOKEN: URL})
        self.admin = LocationAdmin(
            AdminBearer(ADMIN),
            registry=lambda: self.registry,
            secrets=lambda: self.secrets,
            checks=lambda: self.checks,
            builtin=None,
            clock=lambda: datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
        )

    def put(self, body: dict[str, Any]) -> HttpReply:
        return self.admin.put(AUTH, LOC, json.dumps(body).encode())


@pytest.fixture
def world() -> World:
    return World()


def body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Acme Roofing",
        "ghl_api_token": GHL_TOKEN,
        "calltools_api_base_url": URL,
        "calltools_api_token": CT_TOKEN,
        "rules": [{"tag": "cold lead", "bucket": "Dialer A"}],
    } | changes


def without_tokens(**changes: Any) -> dict[str, Any]:
    return {k: v for k, v in body(**changes).items() if "token" not in k}


def test_a_stored_calltools_token_is_never_sent_to_a_new_base_url(world: World):
    """Otherwise `PUT` with another host and no token makes the check send the stored key there:
    anyone with the admin token could read a location's CallTools key off their own server."""
    assert world.put(body()).status == 201
    world.checks.calls.clear()
    reply = world.put(without_tokens(calltools_api_base_url=ELSEWHERE))
    assert reply.status == 400
    assert reply.body["reason"] == ("calltools_api_token required: the CallTools base URL changed")
    assert all(token != CT_TOKEN for _, _, token in world.checks.calls)
    assert world.registry.items[LOC].calltools_api_base_url == URL


def test_a_new_base_url_with_its_token_is_checked_and_saved(world: World):
    world.put(body())
    world.checks.calltools["ct-west-3"] = "https://west-3.calltools.io/api/"
    reply = world.put(
        body(
            calltools_api_base_url="https://west-3.calltools.io/api/",
            calltools_api_token="ct-west-3",
        )
    )
    assert reply.status == 200
    assert world.secrets.values[LOC].secret_json()["calltools_api_token"] == "ct-west-3"


@pytest.mark.parametrize(
    "same_server", [URL, "https://WEST-2.calltools.io:443/api/", "https://west-2.calltools.io/v2/"]
)
def test_the_same_server_keeps_the_stored_token(world: World, same_server: str):
    world.put(body())
    world.checks.calltools[CT_TOKEN] = same_server
    assert world.put(without_tokens(calltools_api_base_url=same_server)).status == 200
    assert world.checks.calls[-1] == ("calltools", same_server, CT_TOKEN)


@pytest.mark.parametrize(
    "other_server",
    [
        "https://west-2.calltools.io.attacker.example/api/",
        "https://west-2.calltools.io:8443/api/",
        "http://127.0.0.1:9001/api/",
    ],
)
def test_another_port_or_host_needs_the_token_again(world: World, other_server: str):
    world.put(body())
    reply = world.put(without_tokens(calltools_api_base_url=other_server))
    assert reply.status == 400 and "base URL changed" in reply.body["reason"]
