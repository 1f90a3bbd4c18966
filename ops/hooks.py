"""`python -m ops.cli hooks install|list|remove`: the CallTools rest hook that sends call outcomes
to this stage (`POST <api url>/webhook/calltools?token=<CALLTOOLS_WEBHOOK_SECRET>`).

The token is the hook's only secret: everything printed shows it as `token=***`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from chalicelib.adapters.calltools.hooks import (
    HOOK_MODEL,
    RestHooks,
    Subscription,
    endpoint,
    hook_url,
    mask_token,
)
from chalicelib.domain.errors import SyncError
from chalicelib.runtime.settings import Settings
from ops.stage import api_url, stage_settings

hooks_app = typer.Typer(
    help="CallTools rest hooks: call outcomes sent to this stage.", no_args_is_help=True
)
console = Console()

UrlOption = Annotated[
    str | None, typer.Option(help="The stage's API base URL (default: SYNC_API_URL, local stack)")
]
DESCRIPTION = "ghl-calltools-sync: call outcomes to GoHighLevel"


def rest_hooks(settings: Settings) -> RestHooks:
    """The stage's CallTools account (tests answer it from a MockTransport)."""
    from chalicelib.runtime.wiring import Container

    return Container(settings).calltools.rest_hooks()


def webhook_secret(settings: Settings) -> str:
    from chalicelib.runtime.wiring import Container

    return Container(settings).secret("calltools_webhook_secret")()


@dataclass(frozen=True)
class Ours:
    """The subscriptions of `HOOK_MODEL` to this stage's endpoint: with the current token, or
    with another (a rotated secret: CallTools' deliveries to them are refused)."""

    current: list[Subscription]
    stale: list[Subscription]


def ours(subscriptions: list[Subscription], wanted: str) -> Ours:
    mine = [
        s for s in subscriptions if s.is_for(HOOK_MODEL) and endpoint(s.url) == endpoint(wanted)
    ]
    return Ours(
        current=[s for s in mine if s.url == wanted],
        stale=[s for s in mine if s.url != wanted],
    )


def _stage_url(url: str | None, settings: Settings) -> str:
    base = api_url(url, settings)
    if not base:
        console.print("[red]no API URL: pass --url or set SYNC_API_URL[/red]")
        raise typer.Exit(2)
    return base


def _fail(what: str, exc: Exception) -> typer.Exit:
    console.print(f"[red]{what}: {type(exc).__name__}: {mask_token(str(exc))}[/red]")
    return typer.Exit(1)


@hooks_app.command("install")
def install(
    url: UrlOption = None,
    replace: Annotated[
        bool, typer.Option(help="Replace a subscription to this URL that carries another token")
    ] = False,
) -> None:
    """Subscribe "Historical Call Disposition" to this stage's URL, once."""
    settings = stage_settings()
    secret = webhook_secret(settings)
    if not secret:
        console.print(
            "[red]CALLTOOLS_WEBHOOK_SECRET is not set: the stage would refuse every hook[/red]"
        )
        raise typer.Exit(1)
    wanted = hook_url(_stage_url(url, settings), secret)
    hooks = rest_hooks(settings)
    try:
        found = ours(hooks.subscriptions(), wanted)
        if found.current:
            ids = ", ".join(str(s.id) for s in found.current)
            console.print(f"Already subscribed: {ids} → {mask_token(wanted)}")
            return
        if found.stale and not replace:
            for s in found.stale:
                console.print(
                    f"[yellow]subscription {s.id} sends to this URL with another token "
                    f"({s.masked_url}); rerun with --replace to replace it[/yellow]"
                )
            raise typer.Exit(1)
        # Subscribe before removing: no outcome goes undelivered in between.
        new_id = hooks.subscribe(HOOK_MODEL, wanted, DESCRIPTION)
        console.print(f"Subscribed {new_id}: {HOOK_MODEL} → {mask_token(wanted)}")
        for s in found.stale:
            hooks.remove(s.id)
            console.print(f"Removed {s.id} (the old token)")
    except SyncError as exc:
        raise _fail("install", exc) from exc


@hooks_app.command("list")
def list_hooks() -> None:
    """Every rest hook subscription of the CallTools account (tokens masked)."""
    try:
        subscriptions = rest_hooks(stage_settings()).subscriptions()
    except SyncError as exc:
        raise _fail("list", exc) from exc
    table = Table(title=f"CallTools rest hooks: {len(subscriptions)}")
    for column in ("id", "model", "url", "description"):
        table.add_column(column, overflow="fold")
    for s in subscriptions:
        table.add_row(str(s.id), s.model, s.masked_url, mask_token(s.description))
    console.print(table)


@hooks_app.command("remove")
def remove(
    url: UrlOption = None,
    subscription_id: Annotated[
        int | None, typer.Option("--id", help="Remove this subscription instead")
    ] = None,
) -> None:
    """Remove this stage's subscriptions (whatever their token), or the one `--id` names."""
    settings = stage_settings()
    hooks = rest_hooks(settings)
    try:
        if subscription_id is not None:
            gone = hooks.remove(subscription_id)
            console.print(f"{'Removed' if gone else 'No subscription'} {subscription_id}")
            return
        # The endpoint alone decides which are ours: no secret is needed to remove them.
        found = ours(hooks.subscriptions(), hook_url(_stage_url(url, settings), ""))
        mine = found.current + found.stale
        if not mine:
            console.print("No subscription sends to this stage")
        for s in mine:
            hooks.remove(s.id)
            console.print(f"Removed {s.id} ({s.masked_url})")
    except SyncError as exc:
        raise _fail("remove", exc) from exc
