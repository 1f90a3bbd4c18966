"""Installs and app events with fakes (services/oauth/install.py, app_events.py, callback.py):
what is registered and how, which events count, and what the callback page says."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.location import Location, LocationTokens
from chalicelib.ports import InstalledLocation
from chalicelib.services.oauth.app_events import AppEvents
from chalicelib.services.oauth.callback import OAuthCallback
from chalicelib.services.oauth.install import OAuthInstaller
from chalicelib.services.oauth.tokens import GrantKeeper
from tests.support.fake_locations import FakeLocationRegistry, FakeLocationSecrets
from tests.support.fake_oauth import FakeLease, FakeOAuthApi

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
APP = "app-1"


class World:
    def __init__(self) -> None:
        self.api = FakeOAuthApi(lambda: NOW)
        self.registry = FakeLocationRegistry()
        self.secrets = FakeLocationSecrets()
        self.company_secrets = FakeLocationSecrets()
        lease = FakeLease(lambda: 0.0)

        def keeper(secrets: FakeLocationSecrets, kind: str) -> GrantKeeper:
            return GrantKeeper(
                lambda: secrets, lambda: self.api, lambda: lease, kind=kind, clock=lambda: NOW
            )

        self.installer = OAuthInstaller(
            lambda: self.api,
            keeper(self.secrets, "location"),
            keeper(self.company_secrets, "company"),
            lambda: self.registry,
            builtin_id="Builtin1",
            clock=lambda: NOW,
        )
        self.events = AppEvents(lambda: self.installer, APP)

    def event(self, kind: Any, **ids: str) -> dict[str, Any]:
        return {"type": kind, "appId": APP, **ids}


@pytest.fixture
def world() -> World:
    return World()


def test_a_location_grant_registers_an_inactive_location_awaiting_calltools(world: World):
    page = OAuthCallback(lambda: world.installer).handle({"code": "good-code-0001"})
    assert page.status == 200 and "Loc1" in page.html and "awaiting CallTools" in page.html
    location = world.registry.items["Loc1"]
    assert (location.ghl_auth, location.active, location.awaiting_calltools) == (
        "oauth",
        False,
        True,
    )
    assert location.name == "GHL location Loc1" and location.company_id == "Co1"
    stored = world.secrets.values["Loc1"]
    assert stored.ghl_oauth is not None and stored.ghl_api_token is None
    assert stored.ghl_oauth.access_token.get_secret_value() not in page.html


def test_a_pit_location_installed_keeps_its_calltools_side_and_drops_its_pit(world: World):
    world.registry.items["Loc1"] = Location(
        location_id="Loc1",
        name="Acme",
        calltools_api_base_url="https://x.calltools.io/api/",
        rules=({"tag": "t", "bucket": "B"},),
    )
    world.secrets.values["Loc1"] = LocationTokens.model_validate(
        {"ghl_api_token": "pit-old", "calltools_api_token": "ct-key"}
    )
    world.installer.install(world.api.issue("Loc1"))
    location = world.registry.items["Loc1"]
    assert (location.ghl_auth, location.active, location.name) == ("oauth", True, "Acme")
    stored = world.secrets.values["Loc1"]
    assert stored.ghl_api_token is None and stored.calltools_api_token is not None


def test_an_agency_grant_registers_its_installed_locations_but_not_the_builtin(world: World):
    world.api.installed["Co1"] = [
        InstalledLocation("Loc1", "One"),
        InstalledLocation("Builtin1", "Env"),
        InstalledLocation("Loc2", "Two"),
    ]
    outcome = world.installer.install(world.api.issue("", user_type="Company"))
    assert [r.location_id for r in outcome.registered] == ["Loc1", "Loc2"]
    assert list(outcome.skipped) == ["Builtin1"]
    assert world.registry.items["Loc2"].name == "Two"
    assert "Co1" in world.company_secrets.values


def test_app_events_count_only_ours_with_ids_that_are_ids(world: World):
    world.installer.install(world.api.issue("Loc1"))
    assert world.events.handle_install_event({**world.event("UNINSTALL"), "appId": "x"}).body[
        "status"
    ] == ("ignored")
    for kind in (["UNINSTALL"], {"a": 1}, None, "ContactCreate"):
        assert world.events.handle_install_event(world.event(kind, companyId="Co1")).status == 400
    bad = world.event("UNINSTALL", locationId="../etc", companyId="Co1")
    assert world.events.handle_install_event(bad).status == 400
    assert world.registry.items["Loc1"].active is False  # never activated by an install
    world.registry.items["Loc1"] = world.registry.items["Loc1"].model_copy(
        update={"calltools_api_base_url": "https://x.calltools.io/api/", "active": True}
    )
    done = world.events.handle_install_event(world.event("UNINSTALL", companyId="Co1"))
    assert done.body == {"status": "deactivated", "locations": ["Loc1"]}


def test_install_without_an_agency_grant_awaits_the_callback(world: World):
    reply = world.events.handle_install_event(
        world.event("INSTALL", companyId="Co1", locationId="Loc9")
    )
    assert reply.body["status"] == "ignored" and "callback" in reply.body["reason"]
    assert world.registry.items == {}
    off = AppEvents(None, APP).handle_install_event(world.event("INSTALL", companyId="Co1"))
    assert off.body == {"status": "ignored", "reason": "OAuth is not configured"}


def test_the_callback_pages(world: World):
    callback = OAuthCallback(lambda: world.installer)
    assert OAuthCallback(None).handle({"code": "good-code-0001"}).status == 503
    assert callback.handle(None).status == 400
    assert callback.handle({"code": "short"}).status == 400
    refused = callback.handle({"code": "spent-code-0001"})
    assert refused.status == 400 and "refused" in refused.html
    cancelled = callback.handle({"error": "<img src=x>"})
    assert cancelled.status == 400 and "<img" not in cancelled.html
    assert cancelled.headers["Referrer-Policy"] == "no-referrer"
