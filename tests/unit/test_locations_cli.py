"""`ops.cli locations`: tokens come from files or a hidden prompt, go only into the PUT body, and
are never printed; replies are printed as text, not rich markup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

import ops.cli
import ops.locations
from ops.cli import app

runner = CliRunner()
GHL_TOKEN, CT_TOKEN = "pit-3c2b1a-from-file", "ct-9z8y7x-from-file"
LOCATION = {
    "location_id": "Ot7hErL0c",
    "name": "Acme [vip] Roofing",
    "ghl_auth": "pit",
    "calltools_api_base_url": "https://west-2.calltools.io/api/",
    "rules": [{"tag": "cold lead", "bucket": "Cold Leads", "exclude_tags": ["vip"]}],
    "pacing": {"ghl_max_rps": None, "calltools_max_rps": None},
    "fields": {"phone_field": None, "ghl_id_field": None},
    "active": True,
    "builtin": False,
    "created_at": "2026-11-29T12:00:00Z",
    "updated_at": "2026-11-29T12:00:00Z",
}
BUILTIN = LOCATION | {"location_id": "Lc9Xw2", "name": "(environment)", "builtin": True}


class AdminApi:
    """The admin API as a scripted transport."""

    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []
        self.put_status = 201

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path, method = request.url.path, request.method
        if method == "PUT":
            if self.put_status != 201:
                reason = "GHL token rejected for this location"
                return httpx.Response(self.put_status, json={"status": "invalid", "reason": reason})
            return httpx.Response(201, json={"status": "created", "location": LOCATION})
        if path == "/locations":
            return httpx.Response(200, json={"locations": [BUILTIN, LOCATION]})
        if method == "DELETE" and request.url.params.get("remove_from_buckets"):
            return httpx.Response(
                501, json={"status": "not_implemented", "reason": "not built yet"}
            )
        if method == "DELETE":
            return httpx.Response(200, json={"status": "deactivated", "location": LOCATION})
        if path == "/locations/Ot7hErL0c":
            return httpx.Response(200, json=LOCATION)
        return httpx.Response(404, json={"status": "not_found", "reason": "not registered"})

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.seen[-1].content)
        return data


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> AdminApi:
    answer = AdminApi()
    real = httpx.Client
    monkeypatch.setattr(
        httpx, "Client", lambda **kwargs: real(transport=httpx.MockTransport(answer), **kwargs)
    )
    monkeypatch.setattr(ops.cli, "console", Console(width=200))
    monkeypatch.setattr(ops.locations, "console", Console(width=200))
    return answer


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(LOCATION["rules"]))
    ghl, ct = tmp_path / "ghl.token", tmp_path / "ct.token"
    ghl.write_text(GHL_TOKEN + "\n")
    ct.write_text(CT_TOKEN + "\n")
    return {"rules": str(rules), "ghl": str(ghl), "ct": str(ct)}


def add_args(files: dict[str, str], *extra: str) -> list[str]:
    return [
        "locations",
        "add",
        "Ot7hErL0c",
        "--name",
        "Acme [vip] Roofing",
        "--calltools-url",
        "https://west-2.calltools.io/api/",
        "--rules-file",
        files["rules"],
        "--url",
        "http://admin.test",
        "--token",
        "adm",
        *extra,
    ]


def test_add_reads_the_tokens_from_files_and_never_prints_them(
    api: AdminApi, files: dict[str, str]
):
    args = add_args(files, "--ghl-token-file", files["ghl"], "--calltools-token-file", files["ct"])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    request = api.seen[-1]
    assert (request.method, request.url.path) == ("PUT", "/locations/Ot7hErL0c")
    assert request.headers["Authorization"] == "Bearer adm"
    assert api.body() == {
        "name": "Acme [vip] Roofing",
        "calltools_api_base_url": "https://west-2.calltools.io/api/",
        "rules": LOCATION["rules"],
        "ghl_api_token": GHL_TOKEN,
        "calltools_api_token": CT_TOKEN,
    }
    assert "created" in result.output and "Acme [vip] Roofing" in result.output
    assert GHL_TOKEN not in result.output and CT_TOKEN not in result.output


def test_add_prompts_hidden_and_an_empty_answer_keeps_the_stored_token(
    api: AdminApi, files: dict[str, str]
):
    result = runner.invoke(app, add_args(files), input="pit-typed-at-prompt\n\n")
    assert result.exit_code == 0, result.output
    body = api.body()
    assert body["ghl_api_token"] == "pit-typed-at-prompt" and "calltools_api_token" not in body
    assert "pit-typed-at-prompt" not in result.output  # hidden: not echoed


def test_no_option_takes_a_token_value():
    for command in ("add", "list", "show", "remove"):
        help_text = runner.invoke(app, ["locations", command, "--help"]).output
        assert "--ghl-token " not in help_text and "--calltools-token " not in help_text


def test_add_fails_with_the_reason_and_exit_1(api: AdminApi, files: dict[str, str]):
    api.put_status = 422
    args = add_args(files, "--ghl-token-file", files["ghl"], "--calltools-token-file", files["ct"])
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "HTTP 422 GHL token rejected for this location" in result.output


def test_add_refuses_a_rules_file_that_is_not_json(api: AdminApi, files: dict[str, str]):
    Path(files["rules"]).write_text("{nope")
    result = runner.invoke(app, add_args(files, "--ghl-token-file", files["ghl"]), input="\n")
    assert result.exit_code == 2 and api.seen == []


def test_list_and_show_print_names_as_text(api: AdminApi):
    result = runner.invoke(app, ["locations", "list", "--url", "http://admin.test", "--token", "a"])
    assert result.exit_code == 0, result.output
    assert "(environment) (built-in)" in result.output
    assert (
        "Acme [vip] Roofing" in result.output
        and "cold lead → Cold Leads (not vip)" in result.output
    )
    result = runner.invoke(app, ["locations", "show", "Ot7hErL0c", "--url", "http://admin.test"])
    assert result.exit_code == 0 and "https://west-2.calltools.io/api/" in result.output
    result = runner.invoke(app, ["locations", "show", "a/b", "--url", "http://admin.test"])
    assert result.exit_code == 1 and api.seen[-1].url.raw_path == b"/locations/a%2Fb"


def test_remove_deactivates_and_remove_from_buckets_is_refused(api: AdminApi):
    result = runner.invoke(app, ["locations", "remove", "Ot7hErL0c", "--url", "http://admin.test"])
    assert result.exit_code == 0 and "deactivated" in result.output
    assert api.seen[-1].method == "DELETE" and not api.seen[-1].url.params
    result = runner.invoke(
        app,
        ["locations", "remove", "Ot7hErL0c", "--remove-from-buckets", "--url", "http://admin.test"],
    )
    assert result.exit_code == 1 and "HTTP 501" in result.output
    assert api.seen[-1].url.params["remove_from_buckets"] == "true"
