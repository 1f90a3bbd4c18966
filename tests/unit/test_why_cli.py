"""`ops.cli why <contact id>` asks the admin API and prints its sentence and the decisions."""

from __future__ import annotations

from io import StringIO
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

import ops.cli
import ops.why
from ops.cli import app

runner = CliRunner()
ANSWER: dict[str, Any] = {
    "contact_id": "c1",
    "known": True,
    "explanation": "Out of every bucket: DND for calls since 2026-11-28 14:13 UTC (ContactDndUpdate).",
    "status": "excluded",
    "reason": "dnd",
    "dnd": True,
    "calltools_id": 48,
    "buckets": [],
    "pending": {"buckets": [], "create": False, "create_sent_at": None},
    "lease": {"held": False, "until": None},
    "history": [
        {
            "at": "2026-11-28T14:13:00+00:00",
            "cause": "ContactDndUpdate",
            "reread": True,
            "source_time": "2026-11-28T14:12:58+00:00",
            "result": "synced",
            "added": [],
            "removed": [{"id": 70412, "name": "Cold Leads"}],
            "fields_changed": [],
            "exclusion": "dnd",
            "reason": None,
        }
    ],
}


@pytest.fixture
def admin_api(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """The admin API as a scripted transport: it knows c1 only."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/sync/contacts/c1":
            return httpx.Response(200, json=ANSWER)
        return httpx.Response(400, json={"status": "invalid"})

    real = httpx.Client
    monkeypatch.setattr(
        httpx, "Client", lambda **kwargs: real(transport=httpx.MockTransport(answer), **kwargs)
    )
    monkeypatch.setattr(ops.cli, "console", Console(width=200))
    return seen


def test_why_prints_the_explanation_and_the_decisions(admin_api: list[httpx.Request]):
    result = runner.invoke(app, ["why", "c1", "--url", "http://admin.test", "--token", "t0k"])
    assert result.exit_code == 0, result.output
    assert "DND for calls since 2026-11-28 14:13 UTC (ContactDndUpdate)." in result.output
    assert "ContactDndUpdate (re-read)" in result.output and "- Cold Leads" in result.output
    assert admin_api[0].headers["Authorization"] == "Bearer t0k"


def test_why_fails_on_a_refusal_and_sends_the_id_escaped(admin_api: list[httpx.Request]):
    result = runner.invoke(app, ["why", "a/b", "--url", "http://admin.test", "--token", "t"])
    assert result.exit_code == 1 and "HTTP 400" in result.output
    assert admin_api[0].url.raw_path == b"/sync/contacts/a%2Fb"


def test_why_prints_brackets_in_names_and_reasons_as_they_are():
    """Bucket names and failure reasons come from CallTools and GHL: never read as rich markup."""
    odd = ANSWER | {
        "explanation": "The last sync failed: CallTools 400 [/api/contacts/48/]; in [vip] Leads.",
        "status": "failed",
        "reason": "CallTools 400 [bold]x",
        "buckets": [{"id": 1, "name": "[vip] Leads"}],
        "history": [ANSWER["history"][0] | {"result": "failed", "reason": "refused [/x]"}],
    }
    console = Console(file=StringIO(), width=300)
    ops.why.show(odd, console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    for text in ("[/api/contacts/48/]", "in [vip] Leads.", "[bold]x", "buckets: [vip] Leads"):
        assert text in out
    assert "refused [/x]" in out
