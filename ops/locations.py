"""`python -m ops.cli locations add|list|show|remove`: the location registry's admin API
(docs/locations.md).

Tokens are read from files or typed at a hidden prompt, never taken from the command line (a
shell's history and `ps` would show them), and never printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

locations_app = typer.Typer(
    help="Locations (GHL sub-accounts) this deployment knows: register, list, show, remove.",
    no_args_is_help=True,
)
console = Console()

UrlOption = Annotated[
    str | None, typer.Option(help="Admin API base URL (default: the local stack)")
]
TokenOption = Annotated[str | None, typer.Option(help="Admin token (default: ADMIN_API_TOKEN)")]
TokenFile = Annotated[
    Path | None,
    typer.Option(exists=True, dir_okay=False, readable=True, help="File holding the token"),
]


def _admin(url: str | None, token: str | None) -> Any:
    from ops.cli import Admin  # ops.cli adds this app: imported when a command runs

    return Admin(url, token)


def _path(location_id: str) -> str:
    return f"/locations/{quote(location_id, safe='')}"


def _token(label: str, path: Path | None) -> str | None:
    """The token in `path`, or typed at a hidden prompt; empty keeps the stored one."""
    if path is not None:
        text = path.read_text().strip()
        if not text:
            console.print(f"[red]{escape(str(path))} is empty[/red]")
            raise typer.Exit(2)
        return text
    typed = typer.prompt(
        f"{label} (empty: keep the stored one)", default="", show_default=False, hide_input=True
    )
    return str(typed).strip() or None


def _fail(what: str, reply: Any) -> typer.Exit:
    try:
        reason = reply.json().get("reason") or reply.text
    except ValueError:
        reason = reply.text
    console.print(f"[red]{what}: HTTP {reply.status_code} {escape(str(reason))}[/red]")
    return typer.Exit(1)


def _rules(rules: list[dict[str, Any]]) -> str:
    def one(rule: dict[str, Any]) -> str:
        text = f"{rule.get('tag')} → {rule.get('bucket')}"
        excluded = rule.get("exclude_tags") or []
        return text + (f" (not {', '.join(map(str, excluded))})" if excluded else "")

    return "; ".join(one(r) for r in rules)


def _show(location: dict[str, Any]) -> None:
    table = Table(title=escape(str(location.get("name"))), show_header=False)
    for key in ("location_id", "active", "builtin", "ghl_auth", "calltools_api_base_url"):
        table.add_row(key, escape(str(location.get(key))))
    table.add_row("rules", escape(_rules(location.get("rules") or [])))
    for key in ("pacing", "fields"):
        if location.get(key):
            table.add_row(key, escape(json.dumps(location[key])))
    for key in ("created_at", "updated_at"):
        if location.get(key):
            table.add_row(key, str(location[key]))
    console.print(table)


@locations_app.command("add")
def add(
    location_id: Annotated[str, typer.Argument(help="The GHL location id")],
    name: Annotated[str, typer.Option(help="A display name")],
    calltools_url: Annotated[str, typer.Option(help="CallTools API base URL (its silo)")],
    rules_file: Annotated[
        Path,
        typer.Option(
            exists=True, dir_okay=False, help='JSON: [{"tag", "bucket", "exclude_tags"?}]'
        ),
    ],
    ghl_token_file: TokenFile = None,
    calltools_token_file: TokenFile = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Register a location, or update it: both tokens are checked against GHL and CallTools first."""
    try:
        rules = json.loads(rules_file.read_text())
    except ValueError as exc:
        console.print(f"[red]{escape(str(rules_file))} is not JSON: {escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    body: dict[str, Any] = {"name": name, "calltools_api_base_url": calltools_url, "rules": rules}
    for key, label, path in (
        ("ghl_api_token", "GHL token", ghl_token_file),
        ("calltools_api_token", "CallTools API key", calltools_token_file),
    ):
        value = _token(label, path)
        if value is not None:
            body[key] = value
    reply = _admin(url, token).call("PUT", _path(location_id), json=body)
    if reply.status_code not in (200, 201):
        raise _fail("add", reply)
    data = reply.json()
    console.print(f"{escape(location_id)}: {data.get('status')}")
    _show(data.get("location") or {})


@locations_app.command("list")
def list_locations(
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON")] = False,
) -> None:
    """Every location: the environment's (built-in) and the registered ones."""
    reply = _admin(url, token).call("GET", "/locations")
    if reply.status_code != 200:
        raise _fail("list", reply)
    if as_json:
        console.print_json(reply.text)
        return
    table = Table(title="Locations")
    for column in ("id", "name", "active", "CallTools", "rules"):
        table.add_column(column, overflow="fold")
    for loc in reply.json().get("locations", []):
        name = str(loc.get("name")) + (" (built-in)" if loc.get("builtin") else "")
        cells = (loc.get("location_id"), name, "yes" if loc.get("active") else "no")
        table.add_row(
            *(escape(str(c)) for c in cells),
            escape(str(loc.get("calltools_api_base_url"))),
            escape(_rules(loc.get("rules") or [])),
        )
    console.print(table)


@locations_app.command("show")
def show(
    location_id: Annotated[str, typer.Argument(help="The GHL location id")],
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """One location, as registered (its tokens are never shown)."""
    reply = _admin(url, token).call("GET", _path(location_id))
    if reply.status_code != 200:
        raise _fail("show", reply)
    _show(reply.json())


@locations_app.command("remove")
def remove(
    location_id: Annotated[str, typer.Argument(help="The GHL location id")],
    remove_from_buckets: Annotated[
        bool, typer.Option(help="Also take its contacts out of their buckets (not built yet)")
    ] = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Stop syncing a location: it is deactivated; its state and tokens are kept."""
    params = {"remove_from_buckets": "true"} if remove_from_buckets else {}
    reply = _admin(url, token).call("DELETE", _path(location_id), params=params)
    if reply.status_code != 200:
        raise _fail("remove", reply)
    console.print(f"{escape(location_id)}: {reply.json().get('status')}")
