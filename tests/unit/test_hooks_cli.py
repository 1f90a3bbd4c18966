"""`ops.cli hooks install|list|remove` and doctor's outcome-hook checks, against a scripted CallTools
account that keeps its subscriptions: install is idempotent, refuses without a secret, replaces a
stale token only when told, and never prints a token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

import ops.hooks
from chalicelib.adapters.calltools.hooks import HOOK_MODEL, RestHooks
from ops.cli import app
from ops.doctor import outcome_hook_checks
from tests.support.helpers import scripted_calltools

SECRET = "s3cret-Value-9f2"
OLD = "old-Token-77aa"
API = "https://abc123.execute-api.us-east-1.amazonaws.com/api"
OURS = f"{API}/webhook/calltools?token={SECRET}"
runner = CliRunner()


class HookAccount:
    """A CallTools account's rest hook subscriptions and delivery error log."""

    def __init__(self, *subscriptions: tuple[int, str, str]) -> None:
        self.subs = {i: {"id": i, "resthook_model": m, "url": u} for i, m, u in subscriptions}
        self.errors: list[dict[str, Any]] | None = []  # None: the endpoint is missing
        self.requests: list[tuple[str, str]] = []
        self.next_id = 4000

    def __call__(self, request: httpx.Request) -> httpx.Response:
        method, path = request.method, request.url.path
        self.requests.append((method, path))
        if path == "/api/resthooksubscriptions/" and method == "GET":
            return httpx.Response(200, json={"next": None, "results": list(self.subs.values())})
        if path == "/api/resthooksubscriptions/" and method == "POST":
            self.next_id += 1
            self.subs[self.next_id] = {**json.loads(request.content), "id": self.next_id}
            return httpx.Response(201, json=self.subs[self.next_id])
        if path.startswith("/api/resthooksubscriptions/") and method == "DELETE":
            gone = self.subs.pop(int(path.split("/")[-2]), None)
            return httpx.Response(204 if gone else 404)
        if path == "/api/resthookerrorlogs/" and self.errors is not None:
            return httpx.Response(200, json={"next": None, "results": self.errors})
        return httpx.Response(404, json={"detail": "Not found."})

    def hooks(self) -> RestHooks:
        return scripted_calltools(self).rest_hooks()

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]


@pytest.fixture
def stage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A configured stage: its URL and secret in the environment, no local stack."""
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("SYNC_API_URL", API)
    monkeypatch.setenv("CALLTOOLS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("CALLTOOLS_API_BASE_URL", "https://x.calltools.io/api/")
    monkeypatch.delenv("CALLTOOLS_WEBHOOK_SECRET_SECRET_ID", raising=False)
    monkeypatch.setattr(ops.hooks, "console", Console(width=400))  # no wrapped URLs


def cli(account: HookAccount, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setattr(ops.hooks, "rest_hooks", lambda settings: account.hooks())
    result = runner.invoke(app, ["hooks", *args])
    assert SECRET not in result.output and OLD not in result.output
    return result


@pytest.mark.usefixtures("stage")
def test_install_subscribes_once_and_a_second_install_keeps_it(monkeypatch: pytest.MonkeyPatch):
    account = HookAccount((3001, "Call", "https://elsewhere.example.test/hook"))
    first = cli(account, monkeypatch, "install")
    assert first.exit_code == 0, first.output
    assert "token=***" in first.output
    ours = [s for s in account.subs.values() if s["url"] == OURS]
    assert len(ours) == 1 and ours[0]["resthook_model"] == HOOK_MODEL
    again = cli(account, monkeypatch, "install")
    assert again.exit_code == 0 and "Already subscribed" in again.output
    assert account.writes() == [("POST", "/api/resthooksubscriptions/")]


@pytest.mark.usefixtures("stage")
def test_install_refuses_without_the_secret(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CALLTOOLS_WEBHOOK_SECRET", "")
    account = HookAccount()
    result = cli(account, monkeypatch, "install")
    assert result.exit_code == 1 and "CALLTOOLS_WEBHOOK_SECRET" in result.output
    assert account.requests == []


@pytest.mark.usefixtures("stage")
def test_a_subscription_with_another_token_is_replaced_only_when_told(
    monkeypatch: pytest.MonkeyPatch,
):
    stale = f"{API}/webhook/calltools?token={OLD}"
    account = HookAccount((3307, HOOK_MODEL, stale))
    told_not = cli(account, monkeypatch, "install")
    assert told_not.exit_code == 1 and "--replace" in told_not.output and "3307" in told_not.output
    assert account.writes() == []
    replaced = cli(account, monkeypatch, "install", "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert [s["url"] for s in account.subs.values()] == [OURS]
    # The new one first: no outcome is sent to a refused URL in between.
    assert account.writes() == [
        ("POST", "/api/resthooksubscriptions/"),
        ("DELETE", "/api/resthooksubscriptions/3307/"),
    ]


@pytest.mark.usefixtures("stage")
def test_a_subscribe_whose_reply_was_lost_is_reported_not_repeated(
    monkeypatch: pytest.MonkeyPatch,
):
    account = HookAccount()
    posts: list[str] = []

    def lost(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(request.url.path)
            return httpx.Response(502, text=f"<html>bad gateway for {OURS}</html>")
        return account(request)

    monkeypatch.setattr(ops.hooks, "rest_hooks", lambda s: scripted_calltools(lost).rest_hooks())
    result = runner.invoke(app, ["hooks", "install"])
    assert result.exit_code == 1 and "MaybeApplied" in result.output
    assert SECRET not in result.output
    assert len(posts) == 1


@pytest.mark.usefixtures("stage")
def test_install_needs_an_api_url(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SYNC_API_URL")
    result = cli(HookAccount(), monkeypatch, "install")
    assert result.exit_code == 2 and "--url" in result.output


def test_install_uses_the_local_stacks_url_and_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    for name in ("SYNC_API_URL", "CALLTOOLS_WEBHOOK_SECRET", "CALLTOOLS_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path))
    stack = {"url": "http://127.0.0.1:8123", "calltools_webhook_secret": SECRET}
    (tmp_path / "stack.json").write_text(json.dumps(stack))
    monkeypatch.setattr(ops.hooks, "console", Console(width=400))
    account = HookAccount()
    assert cli(account, monkeypatch, "install").exit_code == 0
    (sub,) = account.subs.values()
    assert sub["url"] == f"http://127.0.0.1:8123/webhook/calltools?token={SECRET}"


@pytest.mark.usefixtures("stage")
def test_list_shows_every_subscription_with_its_token_masked(monkeypatch: pytest.MonkeyPatch):
    account = HookAccount((3307, HOOK_MODEL, OURS), (3001, "Call", "https://e.example.test/h"))
    result = cli(account, monkeypatch, "list")
    assert result.exit_code == 0
    assert f"{API}/webhook/calltools?token=***" in result.output
    assert "3001" in result.output and "https://e.example.test/h" in result.output


@pytest.mark.usefixtures("stage")
def test_remove_takes_this_stages_subscriptions_whatever_their_token(
    monkeypatch: pytest.MonkeyPatch,
):
    account = HookAccount(
        (3307, HOOK_MODEL, OURS),
        (3308, HOOK_MODEL, f"{API}/webhook/calltools?token={OLD}"),
        (3001, HOOK_MODEL, "https://other-stage.example.test/api/webhook/calltools?token=x"),
    )
    assert cli(account, monkeypatch, "remove").exit_code == 0
    assert list(account.subs) == [3001]
    assert cli(account, monkeypatch, "remove").exit_code == 0  # nothing left of ours
    assert list(account.subs) == [3001]
    assert cli(account, monkeypatch, "remove", "--id", "3001").exit_code == 0
    assert account.subs == {}


def test_doctor_finds_our_subscription():
    (hook, errors) = outcome_hook_checks(HookAccount((1, HOOK_MODEL, OURS)).hooks(), SECRET, API)
    assert (hook.status, errors.status) == ("ok", "ok")
    assert "subscription 1" in hook.detail and SECRET not in hook.detail


@pytest.mark.parametrize(
    ("subscriptions", "secret", "api", "says"),
    [
        ((), SECRET, API, "hooks install"),
        (((1, HOOK_MODEL, f"{API}/webhook/calltools?token={OLD}"),), SECRET, API, "--replace"),
        (((1, "Call", OURS),), SECRET, API, "hooks install"),  # another model is not ours
        (((1, HOOK_MODEL, OURS),), "", API, "CALLTOOLS_WEBHOOK_SECRET"),
        (((1, HOOK_MODEL, OURS),), SECRET, "", "SYNC_API_URL"),
    ],
    ids=["none", "stale-token", "other-model", "no-secret", "no-url"],
)
def test_doctor_warns_when_outcomes_would_not_arrive(
    subscriptions: tuple[tuple[int, str, str], ...], secret: str, api: str, says: str
):
    hook, _ = outcome_hook_checks(HookAccount(*subscriptions).hooks(), secret, api)
    assert hook.status == "warn" and says in hook.detail
    assert SECRET not in hook.detail and OLD not in hook.detail


def test_doctor_shows_the_latest_delivery_errors_masked():
    account = HookAccount((1, HOOK_MODEL, OURS))
    account.errors = [
        {"id": 11, "url": OURS, "error": "HTTP 401", "payload": {"phone_number": "+13125550147"}},
        {"id": 12, "url": OURS, "error": "timeout"},
    ]
    _, errors = outcome_hook_checks(account.hooks(), SECRET, API)
    assert errors.status == "warn"
    assert errors.detail.index('"id":12') < errors.detail.index('"id":11')  # newest first
    assert "token=***" in errors.detail
    assert SECRET not in errors.detail and "+13125550147" not in errors.detail


def test_doctor_reports_an_unreadable_error_log_as_a_warning():
    account = HookAccount((1, HOOK_MODEL, OURS))
    account.errors = None
    hook, errors = outcome_hook_checks(account.hooks(), SECRET, API)
    assert hook.status == "ok" and errors.status == "warn" and "NotFound" in errors.detail
