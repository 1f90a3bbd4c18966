"""Adversarial cases of the location registry's admin API (issue 15's review): what a holder of
the admin token must not be able to do with a location's stored tokens."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.services.admin_auth import AdminBearer
from chalicelib.services.locations import LocationAdmin
from tests.support.location_admin import (
    ADMIN,
    AUTH,
    CT_TOKEN,
    LOC,
    URL,
    World,
    body,
)

ELSEWHERE = "https://collector.attacker.example/api/"


@pytest.fixture
def world() -> World:
    return World(local_urls=True)


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


# --- where a location's CallTools calls may go -----------------------------------------------
INTERNAL = [
    "http://127.0.0.1:9001/2018-06-01/",  # Lambda's runtime API
    "http://localhost:8000/api/",
    "https://169.254.169.254/latest/",
    "https://10.0.0.7/api/",
    "https://192.168.1.1/api/",
    "https://[::1]/api/",
    "https://[fd00::1]/api/",
    "https://localhost/api/",
    "https://0.0.0.0/api/",
    "https://2130706433/api/",  # 127.0.0.1 to the resolver
    "https://0x7f.1/api/",
    "https://metadata.localhost/api/",
]


def deployed(world: World) -> LocationAdmin:
    return LocationAdmin(
        AdminBearer(ADMIN),
        registry=lambda: world.registry,
        secrets=lambda: world.secrets,
        checks=lambda: world.checks,
        builtin=None,
        local_urls=False,
    )


@pytest.mark.parametrize("url", INTERNAL)
def test_deployed_a_location_cannot_point_calltools_at_an_internal_address(world: World, url: str):
    world.checks.calltools[CT_TOKEN] = url
    reply = deployed(world).put(AUTH, LOC, json.dumps(body(calltools_api_base_url=url)).encode())
    assert reply.status == 400 and "calltools_api_base_url" in reply.body["reason"]
    assert world.checks.calls == [] and world.registry.items == {}


@pytest.mark.parametrize(
    "url",
    [URL, "https://east-1.calltools.io/api/", "https://CallTools.Example.xn--p1ai:8443/api/"],
)
def test_deployed_a_public_https_name_is_registered(world: World, url: str):
    world.checks.calltools[CT_TOKEN] = url
    reply = deployed(world).put(AUTH, LOC, json.dumps(body(calltools_api_base_url=url)).encode())
    assert reply.status == 201, reply.body


def test_the_local_stack_still_registers_its_loopback_sandbox(world: World):
    url = "http://127.0.0.1:8931/api/"
    world.checks.calltools[CT_TOKEN] = url
    assert world.put(body(calltools_api_base_url=url)).status == 201


def test_in_lambda_the_wiring_refuses_loopback_urls():
    from chalicelib.runtime.settings import Settings
    from chalicelib.runtime.wiring import Container

    in_lambda = Container(Settings(aws_lambda_function_name="ghl-calltools-sync-prod"))
    assert in_lambda.locations.admin.local_urls is False
    assert Container(Settings()).locations.admin.local_urls is True


def test_in_lambda_a_location_stored_with_a_loopback_url_gets_no_clients():
    """One registered before the rule: its messages wait (retried, then the DLQ), never sent to
    Lambda's own runtime API."""
    from chalicelib.domain.errors import ConfigurationError
    from chalicelib.domain.location import Location
    from chalicelib.runtime.settings import Settings
    from chalicelib.runtime.wiring import Container

    stored = Location(
        location_id=LOC,
        name="Acme",
        calltools_api_base_url="http://127.0.0.1:9001/api/",
        rules=body()["rules"],
    )
    in_lambda = Container(Settings(aws_lambda_function_name="ghl-calltools-sync-prod"))
    with pytest.raises(ConfigurationError, match="calltools_api_base_url"):
        in_lambda.locations.tenancy.build(stored)
