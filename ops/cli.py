"""Operator CLI: `python -m ops.cli reconcile|backfill|stats|why|doctor|dlq|hooks|locations`.

It talks to the admin API over HTTP, so it works the same against the local stack (the default:
URL and token come from the stack's .devstack/stack.json) and a deployed stage (`--url`, and the
token in ADMIN_API_TOKEN). Not imported by the Lambda functions.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from chalicelib.runtime.settings import Settings
from ops.hooks import hooks_app
from ops.locations import locations_app
from ops.stage import api_url, local_stack, stage_settings
from ops.why import show_found, terminal_text

app = typer.Typer(
    help="GoHighLevel → CallTools sync: reconciliation and statistics.", no_args_is_help=True
)
console = Console()

UrlOption = Annotated[
    str | None, typer.Option(help="Admin API base URL (default: the local stack)")
]
TokenOption = Annotated[str | None, typer.Option(help="Admin token (default: ADMIN_API_TOKEN)")]


class Admin:
    def __init__(self, url: str | None, token: str | None) -> None:
        settings = Settings()
        stack = local_stack()
        self.url = (
            url or settings.admin.api_url or stack.get("url") or "http://127.0.0.1:8000"
        ).rstrip("/")
        secret = (
            token or settings.admin.api_token.get_secret_value() or stack.get("admin_token", "")
        )
        self._http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
        )

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            console.print(f"[red]cannot reach {self.url}: {exc}[/red]")
            raise typer.Exit(2) from exc

    def stats(self) -> dict[str, Any]:
        reply = self.call("GET", "/sync/stats")
        if reply.status_code != 200:
            console.print(f"[red]stats: HTTP {reply.status_code} {reply.text}[/red]")
            raise typer.Exit(1)
        data: dict[str, Any] = reply.json()
        return data


def _start(admin: Admin, mode: str) -> str:
    reply = admin.call("POST", "/sync/trigger", json={"mode": mode})
    if reply.status_code == 409:
        run_id = str(reply.json().get("active_run_id"))
        console.print(f"A run is already active: following [bold]{run_id}[/bold]")
        return run_id
    if reply.status_code != 202:
        console.print(f"[red]trigger: HTTP {reply.status_code} {reply.text}[/red]")
        raise typer.Exit(1)
    run_id = str(reply.json()["run_id"])
    console.print(f"Started {mode} run [bold]{run_id}[/bold]")
    return run_id


def _follow(admin: Admin, run_id: str, poll_seconds: float, timeout: float) -> dict[str, Any]:
    """Live progress bar: pages, contacts seen, enqueued, ETA; returns the finished run."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn(
            "pages {task.fields[pages]} · seen {task.completed:.0f} · enqueued {task.fields[enqueued]}"
        ),
        TimeRemainingColumn(),
    )
    deadline = time.monotonic() + timeout
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("walking GHL", total=None, pages=0, enqueued=0)
        while time.monotonic() < deadline:
            stats = admin.stats()
            current, last = stats.get("current_run") or {}, stats.get("last_run") or {}
            run = (
                current if current.get("id") == run_id else last if last.get("id") == run_id else {}
            )
            if run:
                phase = (
                    "re-checking contacts that left"
                    if run.get("phase") == "left"
                    else "walking GHL"
                )
                progress.update(
                    task,
                    description=phase,
                    total=run.get("expected"),
                    completed=run.get("seen", 0),
                    pages=run.get("pages", 0),
                    enqueued=run.get("enqueued", 0),
                )
                if run.get("status") != "running":
                    progress.update(
                        task, total=run.get("seen") or 1, completed=run.get("seen") or 1
                    )
                    return run
            time.sleep(poll_seconds)
    console.print("[yellow]still running; check again with `stats`[/yellow]")
    raise typer.Exit(3)


def _run(mode: str, url: str | None, token: str | None, wait: bool, timeout: float) -> None:
    admin = Admin(url, token)
    run_id = _start(admin, mode)
    if not wait:
        return
    run = _follow(admin, run_id, poll_seconds=1.0, timeout=timeout)
    console.print(
        f"Run {run_id} {run.get('status')}: {run.get('pages')} pages, {run.get('seen')} seen, "
        f"{run.get('enqueued')} enqueued, {run.get('removed')} re-checked as left; "
        f"API calls {run.get('api_calls')}"
    )
    if run.get("status") != "finished":
        raise typer.Exit(1)


@app.command()
def reconcile(
    url: UrlOption = None,
    token: TokenOption = None,
    wait: Annotated[bool, typer.Option(help="Follow the run until it ends")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to follow before giving up")] = 3600,
) -> None:
    """Run a reconciliation now: enqueue only contacts that differ from the stored state."""
    _run("reconcile", url, token, wait, timeout)


@app.command()
def backfill(
    url: UrlOption = None,
    token: TokenOption = None,
    wait: Annotated[bool, typer.Option(help="Follow the run until it ends")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to follow before giving up")] = 3600,
) -> None:
    """First import: enqueue every tagged contact, whatever the stored state says."""
    _run("backfill", url, token, wait, timeout)


@app.command()
def stats(
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON")] = False,
) -> None:
    """Contact counts, the last and current run, and the DLQ depth."""
    data = Admin(url, token).stats()
    if as_json:
        console.print_json(json.dumps(data))
        return
    contacts = data["contacts"]
    table = Table(title="Contacts", show_header=False)
    for key in ("total", "failed", "dnd_excluded", "last_webhook_at", "source"):
        table.add_row(key, str(contacts.get(key)))
    for bucket, count in contacts.get("in_bucket", {}).items():
        table.add_row(f"in bucket {bucket}", str(count))
    table.add_row("DLQ depth", str(data.get("dlq_depth")))
    console.print(table)
    for label in ("current_run", "last_run"):
        run = data.get(label)
        if run:
            console.print(f"[bold]{label}[/bold]: " + ", ".join(f"{k}={v}" for k, v in run.items()))


@app.command()
def why(
    query: Annotated[str, typer.Argument(help="A GHL contact id, a phone number or an email")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON")] = False,
) -> None:
    """Why is this contact (not) in the dialler: found by id, phone or email (GHL's search), with
    the explanation and recent decisions of each match."""
    reply = Admin(url, token).call("GET", "/sync/contacts", params={"q": query})
    if reply.status_code != 200:
        console.print(f"[red]why: HTTP {reply.status_code} {escape(reply.text)}[/red]")
        raise typer.Exit(1)
    if as_json:
        console.print_json(reply.text)
        return
    show_found(reply.json(), console)


@app.command()
def doctor(
    url: UrlOption = None,
    probe_contact: Annotated[
        int | None,
        typer.Option(help="A CallTools test contact to find the working bucket-assignment call"),
    ] = None,
) -> None:
    """Check every setting and probe GHL, CallTools and AWS; exit 1 if any check fails."""
    from ops.doctor import diagnose

    settings = stage_settings()
    console.print(f"GHL {settings.ghl.api_base_url} · CallTools {settings.calltools.api_base_url}")
    checks = diagnose(settings, probe_contact, api_url=api_url(url, settings))
    table = Table(title="doctor")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    marks = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}
    for check in checks:
        table.add_row(check.name, marks[check.status], check.detail)
    console.print(table)
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        console.print(f"[red]failing: {', '.join(failed)}[/red]")
        raise typer.Exit(1)


app.add_typer(hooks_app, name="hooks")
app.add_typer(locations_app, name="locations")

dlq_app = typer.Typer(help="The dead-letter queue: what failed, and sending it back.")
app.add_typer(dlq_app, name="dlq")


def _queue() -> Any:
    from chalicelib.runtime.wiring import Container

    return Container(stage_settings()).queue


@dlq_app.command("list")
def dlq_list(limit: Annotated[int, typer.Option(help="At most this many")] = 50) -> None:
    """Dead letters with their failure reasons (they stay in the DLQ)."""
    letters = _queue().peek_dead(limit)
    table = Table(title=f"DLQ: {len(letters)} message(s) shown")
    for column in ("message_id", "contact_id", "reason", "sent_at"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        # A reason quotes CallTools or GHL: no markup, no control character reaches the terminal.
        columns = ("message_id", "contact_id", "reason", "sent_at")
        table.add_row(*(terminal_text(letter[c]) for c in columns))
    console.print(table)


@dlq_app.command("redrive")
def dlq_redrive(limit: Annotated[int, typer.Option(help="At most this many")] = 1000) -> None:
    """Move dead letters back to the contact queue (after fixing their cause)."""
    moved = _queue().redrive(limit)
    console.print(f"Moved {moved} message(s) back to the contact queue")


if __name__ == "__main__":
    app()
