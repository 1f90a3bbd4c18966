"""A grant's expiry and its refresh under the lease (services/oauth/tokens.py), with fakes: a
token is handed out while good for five more minutes; one worker refreshes, stores before it lets
go, the others wait and re-read; a refused refresh marks once and is not retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from chalicelib.domain.errors import TransientError
from chalicelib.domain.location import LocationTokens
from chalicelib.domain.oauth import REFRESH_MARGIN, GhlAuthFailed, grant_from_reply
from chalicelib.services.oauth.tokens import GrantKeeper
from tests.support.fake_locations import FakeLocationSecrets
from tests.support.fake_oauth import FakeLease, FakeOAuthApi, grant

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class World:
    def __init__(self) -> None:
        self.now = T0
        self.ticks = 0.0
        self.secrets = FakeLocationSecrets()
        self.api = FakeOAuthApi(lambda: self.now)
        self.lease = FakeLease(lambda: self.ticks)
        self.refused: list[tuple[str, str]] = []
        self.sleeps: list[float] = []
        self.keeper = GrantKeeper(
            lambda: self.secrets,
            lambda: self.api,
            lambda: self.lease,
            on_refused=lambda key, reason: self.refused.append((key, reason)),
            clock=lambda: self.now,
            wait_seconds=2.0,
            poll_seconds=0.5,
            sleep=self.sleep,
            monotonic=lambda: self.ticks,
        )

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.ticks += seconds

    def install(self, expires_in: timedelta) -> str:
        issued = self.api.issue()
        issued = issued.model_copy(update={"expires_at": self.now + expires_in})
        self.secrets.values["Loc1"] = LocationTokens(
            calltools_api_token=SecretStr("ct-key"), ghl_oauth=issued
        )
        return issued.access_token.get_secret_value()


@pytest.fixture
def world() -> World:
    return World()


def test_good_until_keeps_five_minutes_in_hand():
    g = grant(expires_at=T0 + REFRESH_MARGIN)
    assert not g.good_until(T0)
    assert g.good_until(T0 - timedelta(seconds=1))
    assert timedelta(minutes=5) == REFRESH_MARGIN


def test_a_token_reply_becomes_a_grant_and_a_bad_one_names_no_value():
    body = {
        "access_token": "acc-secret-1",
        "refresh_token": "ref-secret-1",
        "expires_in": 86399,
        "userType": "Location",
        "locationId": "Loc1",
        "companyId": "Co1",
    }
    g = grant_from_reply(body, T0)
    assert g.expires_at == T0 + timedelta(seconds=86399) and g.user_type == "Location"
    assert "acc-secret-1" not in repr(g) and "ref-secret-1" not in str(g.model_dump())
    assert g.secret_json()["refresh_token"] == "ref-secret-1"
    for broken in (
        {**body, "expires_in": 0},
        {**body, "expires_in": True},
        {k: v for k, v in body.items() if k != "access_token"},
        {**body, "userType": "Agency", "locationId": ""},
        ["acc-secret-1"],
    ):
        with pytest.raises(ValueError) as caught:
            grant_from_reply(broken, T0)
        assert "secret-1" not in str(caught.value)


def test_a_good_token_is_handed_out_without_the_lease_or_ghl(world: World):
    token = world.install(timedelta(hours=1))
    assert world.keeper.access_token("Loc1") == token
    assert world.lease.taken == [] and world.api.refreshes == []
    assert world.secrets.reads == [("Loc1", False)]  # the cached read


def test_a_token_near_expiry_is_refreshed_once_and_stored_before_the_lease_goes(world: World):
    old = world.install(REFRESH_MARGIN - timedelta(seconds=1))
    stored_at_release: list[str] = []

    def on_release(key: str) -> None:
        oauth = world.secrets.values["Loc1"].ghl_oauth
        assert oauth is not None
        stored_at_release.append(oauth.access_token.get_secret_value())

    world.lease.on_release = on_release
    token = world.keeper.access_token("Loc1")
    assert token != old and len(world.api.refreshes) == 1
    assert stored_at_release == [token]
    assert world.secrets.values["Loc1"].calltools_api_token == SecretStr("ct-key")
    assert world.lease.held == {}
    assert world.keeper.access_token("Loc1") == token and len(world.api.refreshes) == 1


def test_a_worker_that_loses_the_race_waits_and_reads_the_winners_grant(world: World):
    world.install(timedelta(minutes=1))
    world.lease.held["Loc1"] = ("the-other-worker", 30.0)
    winner = world.api.issue()

    def other_worker_finishes(seconds: float) -> None:
        world.ticks += seconds
        stored = world.secrets.values["Loc1"]
        world.secrets.values["Loc1"] = stored.model_copy(update={"ghl_oauth": winner})

    world.keeper._sleep = other_worker_finishes
    assert world.keeper.access_token("Loc1") == winner.access_token.get_secret_value()
    assert world.api.refreshes == []  # it never asked GHL itself
    assert ("Loc1", True) in world.secrets.reads  # and it read the secret uncached


def test_a_lease_never_released_ends_the_wait_at_the_deadline(world: World):
    world.install(timedelta(minutes=1))
    world.lease.held["Loc1"] = ("a-crashed-worker", 30.0)
    with pytest.raises(TransientError):
        world.keeper.access_token("Loc1")
    assert world.api.refreshes == [] and sum(world.sleeps) == pytest.approx(2.0)
    world.ticks = 31.0  # its lease ran out: the next worker takes over
    assert world.keeper.access_token("Loc1") and len(world.api.refreshes) == 1


def test_a_refused_refresh_marks_once_and_ghl_is_not_asked_again(world: World):
    world.install(timedelta(minutes=1))
    world.api.live_refresh.clear()  # revoked: the app was uninstalled, or the token spent
    with pytest.raises(GhlAuthFailed):
        world.keeper.access_token("Loc1")
    assert [key for key, _ in world.refused] == ["Loc1"]
    assert "invalid_grant" in world.refused[0][1]
    with pytest.raises(GhlAuthFailed):
        world.keeper.access_token("Loc1")
    assert len(world.api.refused) == 1 and len(world.refused) == 1


def test_no_grant_is_an_auth_failure_and_update_keeps_the_lease_discipline(world: World):
    with pytest.raises(GhlAuthFailed):
        world.keeper.access_token("Loc1")
    world.lease.held["Loc1"] = ("busy", 30.0)
    with pytest.raises(TransientError):
        world.keeper.update("Loc1", lambda current: LocationTokens())
    assert "Loc1" not in world.secrets.values
    world.ticks = 40.0
    world.keeper.update("Loc1", lambda current: LocationTokens(ghl_oauth=world.api.issue()))
    assert world.secrets.values["Loc1"].ghl_oauth is not None and world.lease.held == {}


def test_doctor_fails_a_refused_grant_and_warns_of_an_install_awaiting_calltools():
    from chalicelib.domain.location import Location
    from ops.doctor_locations import location_auth

    complete = Location(
        location_id="Loc1",
        name="One",
        ghl_auth="oauth",
        calltools_api_base_url="https://x.calltools.io/api/",
        rules=({"tag": "t", "bucket": "B"},),
    )
    waiting = Location(location_id="Loc2", name="Two", ghl_auth="oauth", active=False)
    assert location_auth([complete]) == ("ok", "1 registered, 1 by OAuth")
    status, detail = location_auth([complete, waiting])
    assert status == "warn" and "Loc2" in detail and "Loc1" not in detail
    refused = complete.model_copy(update={"ghl_auth_failed": True})
    status, detail = location_auth([refused, waiting])
    assert status == "fail" and "Loc1" in detail and "reinstall" in detail
