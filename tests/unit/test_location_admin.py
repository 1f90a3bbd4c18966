"""LocationAdmin with in-memory ports: tokens checked before anything is saved, kept on an
update, never in a reply; the built-in location untouchable; the bearer check of every admin route."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.services.admin_auth import AdminBearer
from chalicelib.services.locations import MAX_BODY_BYTES, LocationAdmin
from chalicelib.services.replies import HttpReply
from tests.support.location_admin import (
    ADMIN,
    AUTH,
    BUILTIN,
    CT_TOKEN,
    GHL_TOKEN,
    LOC,
    TOKENS,
    URL,
    World,
    body,
)


@pytest.fixture
def world() -> World:
    return World()


def shows_no_token(reply: HttpReply) -> bool:
    text = json.dumps(reply.body)
    return not any(token in text for token in TOKENS)


def test_a_new_location_is_checked_then_its_secret_and_item_are_saved(world: World):
    reply = world.put(body())
    assert (reply.status, reply.body["status"]) == (201, "created")
    shown = reply.body["location"]
    assert shown["location_id"] == LOC and shown["active"] is True and shown["builtin"] is False
    assert shown["rules"] == [{"tag": "cold lead", "bucket": "Dialer A", "exclude_tags": []}]
    assert shows_no_token(reply)
    assert world.checks.calls == [("ghl", LOC, GHL_TOKEN), ("calltools", URL, CT_TOKEN)]
    assert world.secrets.values[LOC].secret_json() == {
        "ghl_api_token": GHL_TOKEN,
        "calltools_api_token": CT_TOKEN,
    }
    stored = world.registry.items[LOC]
    assert stored.name == "Acme Roofing" and stored.created_at == world.now
    assert not any(token in stored.model_dump_json() for token in TOKENS)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"ghl_api_token": "pit-wrong"}, "GHL token rejected for this location"),
        ({"calltools_api_token": "ct-wrong"}, "CallTools token or base URL rejected"),
        (
            {"calltools_api_base_url": "https://east-1.calltools.io/api/"},
            "CallTools token or base URL rejected",
        ),
        (
            {"ghl_api_token": "pit-wrong", "calltools_api_token": "ct-wrong"},
            "GHL token rejected for this location; CallTools token or base URL rejected",
        ),
    ],
)
def test_a_rejected_token_is_422_naming_it_and_nothing_is_saved(
    world: World, changes: dict[str, Any], reason: str
):
    reply = world.put(body(**changes))
    assert reply.status == 422
    assert reply.body["status"] == "invalid" and reply.body["reason"] == reason
    assert world.secrets.values == {} and world.registry.items == {}
    # The fake's refusal echoes the token: the reply masks it.
    assert "pit-wrong" not in json.dumps(reply.body) and shows_no_token(reply)


def test_a_token_for_another_location_is_rejected(world: World):
    reply = world.put(body(), location_id="SomeOtherLocation9")
    assert reply.status == 422 and reply.body["checks"]["ghl"]["verdict"] == "rejected"
    assert reply.body["checks"]["calltools"]["verdict"] == "ok"


@pytest.mark.parametrize("down", ["ghl", "calltools"])
def test_an_api_that_does_not_answer_is_503_and_nothing_is_saved(world: World, down: str):
    world.checks.down.add(down)
    reply = world.put(body())
    assert (reply.status, reply.body["status"]) == (503, "unavailable")
    assert "did not answer" in reply.body["reason"]
    assert world.secrets.values == {} and world.registry.items == {}


def test_a_rejection_wins_over_an_unreachable_api(world: World):
    world.checks.down.add("calltools")
    reply = world.put(body(ghl_api_token="pit-wrong"))
    assert reply.status == 422 and reply.body["reason"] == "GHL token rejected for this location"


def test_an_update_keeps_the_stored_tokens_checks_them_again_and_keeps_created_at(world: World):
    assert world.put(body()).status == 201
    created = world.now
    world.now += timedelta(hours=1)
    world.checks.calls.clear()
    update = {k: v for k, v in body(name="Acme (renamed)").items() if "token" not in k}
    reply = world.put(update)
    assert (reply.status, reply.body["status"]) == (200, "updated")
    assert world.checks.calls == [("ghl", LOC, GHL_TOKEN), ("calltools", URL, CT_TOKEN)]
    assert (LOC, True) in world.secrets.reads  # read fresh, not from a cache
    assert world.secrets.values[LOC].secret_json() == {
        "ghl_api_token": GHL_TOKEN,
        "calltools_api_token": CT_TOKEN,
    }
    stored = world.registry.items[LOC]
    assert stored.name == "Acme (renamed)"
    assert (stored.created_at, stored.updated_at) == (created, world.now)
    assert shows_no_token(reply)


def test_an_update_replaces_only_the_token_given(world: World):
    world.put(body())
    world.checks.ghl["pit-rotated"] = LOC
    assert (
        world.put(
            {
                k: v
                for k, v in body(ghl_api_token="pit-rotated").items()
                if k != "calltools_api_token"
            }
        ).status
        == 200
    )
    assert world.secrets.values[LOC].secret_json() == {
        "ghl_api_token": "pit-rotated",
        "calltools_api_token": CT_TOKEN,
    }


def test_a_stored_token_that_stopped_working_fails_the_update(world: World):
    world.put(body())
    del world.checks.calltools[CT_TOKEN]  # revoked in CallTools since
    reply = world.put({k: v for k, v in body(name="x").items() if "token" not in k})
    assert reply.status == 422 and world.registry.items[LOC].name == "Acme Roofing"


def test_a_new_location_needs_both_tokens(world: World):
    reply = world.put({k: v for k, v in body().items() if k != "calltools_api_token"})
    assert (
        reply.status == 400 and reply.body["reason"] == "calltools_api_token required: none stored"
    )
    reply = world.put({k: v for k, v in body().items() if "token" not in k})
    assert reply.body["reason"] == "ghl_api_token and calltools_api_token required: none stored"
    assert world.checks.calls == [] and world.registry.items == {}


def test_the_builtin_location_cannot_be_put_or_removed(world: World):
    for reply in (world.put(body(), location_id=BUILTIN), world.admin.remove(AUTH, BUILTIN, None)):
        assert reply.status == 409 and "configured by environment" in reply.body["reason"]
    assert world.registry.items == {} and world.checks.calls == []


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b"", 400),
        (b"[" * 5000, 400),
        (json.dumps(body(name="x" * MAX_BODY_BYTES)).encode(), 413),
        (json.dumps(body(rules=[])).encode(), 400),
        (json.dumps(body(calltools_api_base_url="http://calltools.example/api/")).encode(), 400),
    ],
)
def test_bad_bodies_are_refused_before_any_check(world: World, raw: bytes, status: int):
    reply = world.put(raw)
    assert reply.status == status and world.checks.calls == []
    assert shows_no_token(reply)


def test_a_validation_reason_names_the_field_never_the_token(world: World):
    reply = world.put(body(ghl_api_token=GHL_TOKEN + " x"))
    assert reply.status == 400 and reply.body["reason"].startswith("ghl_api_token: ")
    assert GHL_TOKEN not in reply.body["reason"]


@pytest.mark.parametrize("location_id", ["a-b", "x" * 65, "", "a b"])
def test_ids_that_are_not_ghl_ids_are_400(world: World, location_id: str):
    assert world.put(body(), location_id=location_id).status == 400
    assert world.admin.show(AUTH, location_id).status == 400
    assert world.admin.remove(AUTH, location_id, None).status == 400


def test_list_and_show_give_the_builtin_and_the_registered_without_tokens(world: World):
    world.put(body())
    listed = world.admin.list(AUTH)
    assert listed.status == 200 and shows_no_token(listed)
    ids = [(loc["location_id"], loc["builtin"]) for loc in listed.body["locations"]]
    assert ids == [(BUILTIN, True), (LOC, False)]
    assert world.admin.show(AUTH, BUILTIN).body["builtin"] is True
    shown = world.admin.show(AUTH, LOC)
    assert shown.status == 200 and shown.body["name"] == "Acme Roofing" and shows_no_token(shown)
    assert world.admin.show(AUTH, "Unknown1").status == 404


def test_without_an_environment_location_only_the_registered_are_listed(world: World):
    admin = LocationAdmin(
        AdminBearer(ADMIN),
        lambda: world.registry,
        lambda: world.secrets,
        lambda: world.checks,
        builtin=None,
    )
    world.put(body())
    assert [loc["location_id"] for loc in admin.list(AUTH).body["locations"]] == [LOC]


def test_remove_deactivates_keeps_it_and_a_put_activates_it_again(world: World):
    world.put(body())
    reply = world.admin.remove(AUTH, LOC, {})
    assert (reply.status, reply.body["status"]) == (200, "deactivated")
    assert reply.body["location"]["active"] is False and world.registry.items[LOC].active is False
    assert LOC in world.secrets.values  # its tokens and state are kept
    assert world.admin.remove(AUTH, "Unknown1", None).status == 404
    assert world.put(body()).body["location"]["active"] is True


@pytest.mark.parametrize("value", ["true", "1", "True"])
def test_remove_from_buckets_is_not_built_yet_and_changes_nothing(world: World, value: str):
    world.put(body())
    reply = world.admin.remove(AUTH, LOC, {"remove_from_buckets": value})
    assert reply.status == 501 and "not built yet" in reply.body["reason"]
    assert world.registry.items[LOC].active is True


def test_a_failed_secret_write_saves_no_registry_item(world: World):
    world.secrets.fail_put = True
    with pytest.raises(RuntimeError):
        world.put(body())
    assert world.registry.items == {}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN}]
)
def test_every_route_needs_the_admin_token(world: World, headers: dict[str, str]):
    replies = [
        world.put(body(), headers=headers),
        world.admin.list(headers),
        world.admin.show(headers, LOC),
        world.admin.remove(headers, LOC, None),
    ]
    assert [r.status for r in replies] == [401] * 4
    assert world.checks.calls == [] and world.registry.items == {}


def test_the_routes_are_off_without_an_admin_token(world: World):
    admin = LocationAdmin(
        AdminBearer(""),
        lambda: world.registry,
        lambda: world.secrets,
        lambda: world.checks,
        builtin=None,
    )
    assert admin.list({"Authorization": "Bearer "}).status == 503
