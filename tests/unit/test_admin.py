"""The admin routes' bearer-token check: exactly the configured token, nothing near it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.errors import ConfigurationError
from chalicelib.domain.runs import Mode, Run, RunActive
from chalicelib.services.admin import AdminApi
from chalicelib.services.replies import HttpReply

TOKEN = "Adm1n-Token-For-Tests"


class FakeStarter:
    def __init__(self, active: str | None = None, error: Exception | None = None) -> None:
        self.started: list[tuple[str, str]] = []
        self.active = active
        self.error = error

    def start(self, mode: Mode = "reconcile", trigger: str = "manual") -> Run:
        if self.active:
            raise RunActive(self.active)
        if self.error:
            raise self.error
        self.started.append((mode, trigger))
        return Run(id="run_1", mode=mode, trigger=trigger, started_at=datetime.now(UTC))


class FakeStats:
    def snapshot(self) -> dict[str, Any]:
        return {"contacts": 3}


def admin(token: str = TOKEN, starter: FakeStarter | None = None) -> tuple[AdminApi, FakeStarter]:
    starter = starter or FakeStarter()
    return AdminApi(token, lambda: starter, FakeStats), starter


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_exact_token_is_accepted():
    api, starter = admin()
    assert api.stats(bearer(TOKEN)).status == 200
    assert api.stats(bearer(TOKEN)).body == {"contacts": 3}
    assert api.trigger(bearer(TOKEN), b"").status == 202 and starter.started == [
        ("reconcile", "api")
    ]


def test_the_bearer_scheme_is_case_insensitive_and_the_token_is_trimmed():
    api, _ = admin()
    assert api.stats({"authorization": f"bearer {TOKEN}"}).status == 200
    assert api.stats({"Authorization": f"BEARER   {TOKEN}  "}).status == 200


@pytest.mark.parametrize(
    "given",
    [TOKEN[:-1], TOKEN + "x", TOKEN[1:], "x" + TOKEN, "", TOKEN.lower(), TOKEN.upper(), TOKEN[:1]],
    ids=["prefix", "extension", "suffix", "prepended", "empty", "lower-case", "upper-case", "1st"],
)
def test_a_near_miss_token_is_refused(given: str):
    api, starter = admin()
    assert api.stats(bearer(given)).status == 401
    assert api.trigger(bearer(given), b'{"mode": "backfill"}').status == 401
    assert not starter.started


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": TOKEN},  # no scheme
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer{TOKEN}"},
        {"X-Webhook-Secret": TOKEN},
        {"Authorization": "Bearer N/A"},
    ],
    ids=["none", "no-scheme", "basic", "no-space", "other-header", "n/a"],
)
def test_a_token_not_given_as_bearer_is_refused(headers: dict[str, str]):
    api, starter = admin()
    assert api.stats(headers).status == 401
    assert api.trigger(headers, None).status == 401 and not starter.started


@pytest.mark.parametrize("given", ["", "anything", "Bearer "])
def test_routes_are_off_when_no_token_is_configured(given: str):
    api, starter = admin(token="")
    reply = api.stats({"Authorization": f"Bearer {given}"})
    assert reply.status == 503
    assert api.trigger({"Authorization": f"Bearer {given}"}, None).status == 503
    assert not starter.started


def test_the_token_is_read_at_each_request_so_a_rotation_takes_effect():
    current = {"token": "first-token"}
    api = AdminApi(lambda: current["token"], FakeStarter, FakeStats)
    assert api.stats(bearer("first-token")).status == 200
    current["token"] = "second-token"
    assert api.stats(bearer("first-token")).status == 401
    assert api.stats(bearer("second-token")).status == 200


@pytest.mark.parametrize(
    ("body", "status", "mode"),
    [
        (b'{"mode": "backfill"}', 202, "backfill"),
        (b'{"mode": "reconcile"}', 202, "reconcile"),
        (b"{}", 202, "reconcile"),
        (None, 202, "reconcile"),
        (b'{"mode": "drop"}', 400, None),
        (b"[1]", 400, None),
        (b"{not json", 400, None),
    ],
)
def test_trigger_modes(body: bytes | None, status: int, mode: str | None):
    api, starter = admin()
    reply = api.trigger(bearer(TOKEN), body)
    assert reply.status == status
    assert starter.started == ([(mode, "api")] if mode else [])
    if mode:
        assert reply.body == {"status": "started", "run_id": "run_1", "mode": mode}


def test_trigger_while_a_run_is_active_is_a_conflict():
    api, _ = admin(starter=FakeStarter(active="run_0"))
    reply = api.trigger(bearer(TOKEN), None)
    assert reply.status == 409 and reply.body["active_run_id"] == "run_0"


def test_refusals_say_why():
    api, _ = admin()
    assert api.stats({}) == HttpReply(
        401, {"status": "unauthorized", "reason": "admin bearer token required"}
    )
    off, _ = admin(token="")
    assert off.stats(bearer(TOKEN)) == HttpReply(
        503,
        {"status": "unavailable", "reason": "admin routes are off: ADMIN_API_TOKEN not set"},
    )


def test_a_seven_character_scheme_other_than_bearer_is_refused():
    """Only "Bearer " introduces the token, not any scheme of the same length."""
    api, _ = admin()
    for scheme in ("Digest ", "Token  ", "Basic: "):
        assert api.stats({"Authorization": scheme + TOKEN}).status == 401


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body is not JSON"),
        (b'{"mode": "drop"}', 'mode must be "reconcile" or "backfill"'),
    ],
)
def test_a_bad_trigger_body_says_why(body: bytes, reason: str):
    api, _ = admin()
    assert api.trigger(bearer(TOKEN), body) == HttpReply(
        400, {"status": "invalid", "reason": reason}
    )


def test_a_conflict_names_the_active_run():
    api, _ = admin(starter=FakeStarter(active="run_0"))
    assert api.trigger(bearer(TOKEN), None) == HttpReply(
        409, {"status": "conflict", "reason": "a run is active", "active_run_id": "run_0"}
    )


def test_a_trigger_the_settings_cannot_run_answers_503_with_the_reason():
    """The reconciler refuses to start without the settings it needs (here no GHL_LOCATION_ID):
    the caller is told why, not given a 500, and may retry once it is fixed."""
    problem = ConfigurationError("GHL_LOCATION_ID is not set: no location to reconcile")
    api, starter = admin(starter=FakeStarter(error=problem))
    assert api.trigger(bearer(TOKEN), b'{"mode": "backfill"}') == HttpReply(
        503,
        {"status": "unavailable", "reason": "GHL_LOCATION_ID is not set: no location to reconcile"},
    )
    assert not starter.started
