"""`ops.cli why <contact id | phone | email>` asks the admin API (`GET /sync/contacts?q=`) and
prints each match's sentence and decisions."""

from __future__ import annotations

import json
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


PHONE, EMAIL = "+13125550147", "avery.lindqvist@example.com"
SECOND = ANSWER | {"contact_id": "c2", "known": False, "explanation": "Never seen: no webhook."}


@pytest.fixture
def admin_api(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """The admin API as a scripted transport: c1 by id, two contacts by phone, none by email."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        q = request.url.params.get("q")
        if request.url.path != "/sync/contacts":
            return httpx.Response(404, json={"status": "not found"})
        if q == "c1":
            return httpx.Response(
                200, json={"query": {"kind": "id", "masked": "c1"}, "matches": [ANSWER]}
            )
        if q == PHONE:
            matches = [ANSWER | {"name": "[b]Avery[/b] Lindqvist"}, SECOND | {"name": None}]
            return httpx.Response(
                200, json={"query": {"kind": "phone", "masked": "***47"}, "matches": matches}
            )
        if q == EMAIL:
            query = {"kind": "email", "masked": "a***@example.com"}
            return httpx.Response(200, json={"query": query, "matches": []})
        return httpx.Response(400, json={"status": "invalid", "reason": "q must be ..."})

    real = httpx.Client
    monkeypatch.setattr(
        httpx, "Client", lambda **kwargs: real(transport=httpx.MockTransport(answer), **kwargs)
    )
    monkeypatch.setattr(ops.cli, "console", Console(width=200))
    return seen


def why(*args: str) -> Any:
    return runner.invoke(app, ["why", *args, "--url", "http://admin.test", "--token", "t0k"])


def test_why_prints_the_explanation_and_the_decisions(admin_api: list[httpx.Request]):
    result = why("c1")
    assert result.exit_code == 0, result.output
    assert "DND for calls since 2026-11-28 14:13 UTC (ContactDndUpdate)." in result.output
    assert "ContactDndUpdate (re-read)" in result.output and "- Cold Leads" in result.output
    assert "1 contact" not in result.output  # an id prints as it always did
    assert admin_api[0].headers["Authorization"] == "Bearer t0k"
    assert admin_api[0].url.params["q"] == "c1"


def test_why_by_phone_prints_each_match_by_name(admin_api: list[httpx.Request]):
    result = why(PHONE)
    assert result.exit_code == 0, result.output
    assert "phone ***47: 2 contacts" in result.output
    assert "[b]Avery[/b] Lindqvist" in result.output  # GHL's text, never markup
    assert "(no name)" in result.output and "Never seen: no webhook." in result.output
    assert result.output.index("Avery") < result.output.index("(no name)")
    assert admin_api[0].url.raw_path == b"/sync/contacts?q=%2B13125550147"


def test_why_by_email_says_when_nothing_matched(admin_api: list[httpx.Request]):
    result = why(EMAIL)
    assert result.exit_code == 0, result.output
    assert "email a***@example.com: no contact of this location in GHL matches" in result.output


def test_why_json_prints_the_reply(admin_api: list[httpx.Request]):
    result = why(PHONE, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["query"] == {"kind": "phone", "masked": "***47"}
    assert [m["contact_id"] for m in data["matches"]] == ["c1", "c2"]


def test_why_fails_on_a_refusal_and_sends_the_query_escaped(admin_api: list[httpx.Request]):
    result = why("a/b&q=c1")
    assert result.exit_code == 1 and "HTTP 400" in result.output
    assert admin_api[0].url.params["q"] == "a/b&q=c1"


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


def test_why_prints_no_terminal_control_sequence_from_outside():
    """A bucket name or a reason holding ESC c (reset) or an OSC title would act on the
    operator's terminal: control characters are printed as nothing of the kind."""
    hostile = "\x1bc\x1b]0;pwned\x07\x1b[2J\x9b31m"
    odd = ANSWER | {
        "contact_id": "c1",
        "explanation": f"The last sync failed: {hostile}; in Leads.",
        "status": "failed",
        "reason": hostile,
        "calltools_id": hostile,
        "buckets": [{"id": 1, "name": f"Leads{hostile}"}],
        "history": [ANSWER["history"][0] | {"cause": hostile, "reason": hostile}],
    }
    console = Console(file=StringIO(), width=300)  # not a terminal: no escape of rich's own
    ops.why.show_found({"query": {"kind": "id"}, "matches": [odd]}, console)
    ops.why.show_found(
        {"query": {"kind": "email", "masked": "a***@x.y"}, "matches": [odd | {"name": hostile}]},
        console,
    )
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "The last sync failed" in out and "Leads" in out
    assert not any(c in out for c in "\x1b\x07\x9b"), repr(out)
