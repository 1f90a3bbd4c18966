"""The per-location path's parts without AWS: the keying plan, the cached registry view, the
Tenants cache, the PIT token seam, and the webhook intake's routing by location."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from chalicelib.domain.errors import ConfigurationError
from chalicelib.domain.keyspace import BUILTIN, Keyspace
from chalicelib.domain.location import Location, LocationTokens
from chalicelib.services.ghl_tokens import PitGhlTokens, calltools_token
from chalicelib.services.intake import WebhookIntake
from chalicelib.services.tenancy import CachedDirectory, ForgetfulRegistry, Tenant, Tenants
from tests.support.fake_locations import (
    OTHER,
    FakeLocationRegistry,
    FakeLocationSecrets,
    StaticDirectory,
    location,
)
from tests.support.fakes import FakeQueue, FakeVerifier
from tests.support.helpers import LOCATION_ID, dumps, fixture

SIGNED = {"X-GHL-Signature": "good"}
NOW = datetime(2026, 3, 2, tzinfo=UTC)


# --- the keying plan ------------------------------------------------------------------------------


def test_the_builtin_location_keeps_todays_keys_exactly():
    assert BUILTIN.key("contact#c1") == "contact#c1"
    assert BUILTIN.key("run#active") == "run#active"
    assert BUILTIN.dedup("webhook:w1") == "webhook:w1"


def test_a_registered_location_prefixes_its_keys_and_dedup_keys():
    keys = Keyspace(OTHER)
    assert keys.key("contact#c1") == f"loc#{OTHER}#contact#c1"
    assert keys.dedup("webhook:w1") == f"{OTHER}:webhook:w1"


def test_a_key_is_owned_only_by_its_own_location():
    mine, other = Keyspace(OTHER), Keyspace("Another1")
    stored = f"loc#{OTHER}#contact#c1"
    assert mine.own(stored, "contact#") == "c1"
    assert other.own(stored, "contact#") is None
    assert BUILTIN.own(stored, "contact#") is None  # the built-in never sees it
    assert BUILTIN.own("contact#c1", "contact#") == "c1"
    assert mine.own("contact#c1", "contact#") is None


@pytest.mark.parametrize("bad", ["", "a#b", "a:b", "x" * 65])
def test_a_keyspace_needs_a_plain_location_id(bad: str):
    with pytest.raises(ValueError):
        Keyspace(bad)


# --- the registry as webhooks read it ---------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingRegistry(FakeLocationRegistry):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.broken = False

    def get(self, location_id: str) -> Location | None:
        self.reads += 1
        if self.broken:
            raise RuntimeError("DynamoDB unavailable")
        return super().get(location_id)


def test_the_directory_answers_active_locations_only_and_caches_a_minute():
    registry, clock = CountingRegistry(), Clock()
    registry.put(location())
    registry.put(location("Stopped1", active=False))
    directory = CachedDirectory(lambda: registry, seconds=60, clock=clock)
    assert directory.active(OTHER) == location()
    assert directory.active("Stopped1") is None
    assert directory.active("Unknown1") is None
    reads = registry.reads
    clock.now = 59
    assert directory.active(OTHER) is not None and directory.active("Unknown1") is None
    assert registry.reads == reads  # all three answers cached, the misses too
    registry.deactivate(OTHER, NOW)
    clock.now = 60
    assert directory.active(OTHER) is None
    assert registry.reads == reads + 1


def test_a_registry_failure_is_raised_and_not_cached():
    registry, clock = CountingRegistry(), Clock()
    registry.put(location())
    directory = CachedDirectory(lambda: registry, clock=clock)
    registry.broken = True
    with pytest.raises(RuntimeError):
        directory.active(OTHER)
    registry.broken = False
    assert directory.active(OTHER) is not None


def test_a_change_through_the_admin_registry_is_seen_at_once_in_this_container():
    registry, clock = CountingRegistry(), Clock()
    directory = CachedDirectory(lambda: registry, clock=clock)
    admin = ForgetfulRegistry(lambda: registry, directory.forget)
    assert directory.active(OTHER) is None  # cached miss
    admin.put(location())
    assert directory.active(OTHER) is not None
    admin.deactivate(OTHER, NOW)
    assert directory.active(OTHER) is None


# --- Tenants ----------------------------------------------------------------------------------------


def test_tenants_build_once_per_location_and_again_when_it_changed():
    registry, clock = CountingRegistry(), Clock()
    registry.put(location())
    directory = CachedDirectory(lambda: registry, seconds=0, clock=clock)
    built: list[Location] = []

    def build(loc: Location) -> Tenant:
        built.append(loc)
        return Tenant(loc, object(), object(), object(), object())  # type: ignore[arg-type]

    tenants = Tenants(LOCATION_ID, directory, build, seconds=900, clock=clock)
    assert tenants.is_builtin(LOCATION_ID) and tenants.is_builtin(None)
    assert not tenants.is_builtin(OTHER)
    first = tenants.tenant(OTHER)
    assert first is not None and tenants.tenant(OTHER) is first and len(built) == 1
    registry.put(location(name="Acme Roofing West"))
    changed = tenants.tenant(OTHER)
    assert changed is not first and changed is not None and changed.location.name.endswith("West")
    clock.now = 901
    assert tenants.tenant(OTHER) is not changed  # rebuilt after its lifetime
    registry.deactivate(OTHER, NOW)
    assert tenants.tenant(OTHER) is None
    assert tenants.tenant("Unknown1") is None


# --- the token seam ---------------------------------------------------------------------------------


def test_a_pit_location_token_comes_from_its_own_secret():
    secrets = FakeLocationSecrets()
    secrets.put(OTHER, LocationTokens(ghl_api_token=SecretStr("pit-a"), calltools_api_token=None))
    secrets.put("Second1", LocationTokens(ghl_api_token=SecretStr("pit-b")))
    tokens = PitGhlTokens(lambda: secrets)
    assert tokens.token_for(location()) == "pit-a"
    assert tokens.token_for(location("Second1")) == "pit-b"
    with pytest.raises(ConfigurationError, match="no CallTools token"):
        calltools_token(lambda: secrets, location())


def test_no_token_is_a_configuration_error_naming_no_token():
    secrets = FakeLocationSecrets()
    tokens = PitGhlTokens(lambda: secrets)
    with pytest.raises(ConfigurationError, match="no GHL token"):
        tokens.token_for(location())
    secrets.put(OTHER, LocationTokens(ghl_api_token=SecretStr("pit-a")))
    with pytest.raises(ConfigurationError, match="oauth") as raised:
        tokens.token_for(location(ghl_auth="oauth"))
    assert "pit-a" not in str(raised.value)


# --- the webhook intake's routing -------------------------------------------------------------------


def intake(queue: FakeQueue, directory: StaticDirectory | None) -> WebhookIntake:
    return WebhookIntake(
        FakeVerifier(),
        queue,
        workflow_secret="s3cret",
        location_id=LOCATION_ID,
        replay_after=timedelta(days=60),
        clock=lambda: NOW,
        locations=directory,
    )


def event(location_id: str = OTHER) -> bytes:
    return dumps({**fixture("ghl/ContactTagUpdate.json"), "locationId": location_id})


def test_an_event_of_a_registered_active_location_is_enqueued_with_its_location():
    queue = FakeQueue()
    reply = intake(queue, StaticDirectory(OTHER)).handle(event(), SIGNED)
    assert reply.status == 200 and reply.body["status"] == "accepted"
    assert [getattr(m, "location_id", None) for m in queue.sent] == [OTHER]


def test_the_builtin_location_is_served_as_before_without_asking_the_registry():
    queue = FakeQueue()
    reply = intake(queue, StaticDirectory(broken=True)).handle(event(LOCATION_ID), SIGNED)
    assert reply.status == 200 and reply.body["status"] == "accepted"
    assert [getattr(m, "location_id", None) for m in queue.sent] == [LOCATION_ID]


@pytest.mark.parametrize("directory", [StaticDirectory(), StaticDirectory("Another1"), None])
def test_an_unregistered_or_inactive_location_is_ignored_and_nothing_enqueued(directory):
    queue = FakeQueue()
    reply = intake(queue, directory).handle(event(), SIGNED)
    assert (reply.status, reply.body["status"], reply.body["reason"]) == (
        200,
        "ignored",
        "other location",
    )
    assert not queue.sent


def test_a_registry_failure_is_503_and_nothing_enqueued():
    queue = FakeQueue()
    reply = intake(queue, StaticDirectory(broken=True)).handle(event(), SIGNED)
    assert reply.status == 503 and not queue.sent


def test_the_workflow_secret_speaks_for_the_builtin_location_only():
    queue = FakeQueue()
    body = {"contact_id": "c1", "locationId": OTHER}
    reply = intake(queue, StaticDirectory(OTHER)).handle(
        dumps(body), {"X-Webhook-Secret": "s3cret"}
    )
    assert reply.status == 200 and reply.body["status"] == "ignored" and not queue.sent
    body["locationId"] = LOCATION_ID
    reply = intake(queue, StaticDirectory(OTHER)).handle(
        dumps(body), {"X-Webhook-Secret": "s3cret"}
    )
    assert reply.body["status"] == "accepted" and len(queue.sent) == 1


def test_another_apps_event_of_a_registered_location_is_ignored():
    queue = FakeQueue()
    service = WebhookIntake(
        FakeVerifier(),
        queue,
        workflow_secret="s3cret",
        location_id=LOCATION_ID,
        app_id="ourapp",
        replay_after=timedelta(days=60),
        clock=lambda: NOW,
        locations=StaticDirectory(OTHER),
    )
    reply = service.handle(event(), SIGNED)
    assert reply.body == {"status": "ignored", "reason": "other app"} and not queue.sent
