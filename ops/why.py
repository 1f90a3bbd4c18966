"""`python -m ops.cli why <contact id | phone | email>`: the admin API's explanation of each
contact found, and its recent decisions as a table (newest first)."""

from __future__ import annotations

import unicodedata
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def terminal_text(value: object) -> str:
    """Text from CallTools or GHL as printed: brackets are not rich markup, and a control
    character (ESC, BEL, CSI) would act on the operator's terminal, so it is shown as �."""
    shown = "".join("\ufffd" if unicodedata.category(c) == "Cc" else c for c in str(value))
    return escape(shown)


def _buckets(entries: list[dict[str, Any]]) -> str:
    return ", ".join(str(b.get("name") or b.get("id")) for b in entries)


def _outcome(decision: dict[str, Any]) -> str:
    """What the decision did, in a few words."""
    parts = []
    if decision.get("added"):
        parts.append(f"+ {_buckets(decision['added'])}")
    if decision.get("removed"):
        parts.append(f"- {_buckets(decision['removed'])}")
    if decision.get("fields_changed"):
        parts.append("fields " + ", ".join(decision["fields_changed"]))
    if decision.get("exclusion"):
        parts.append(f"out: {decision['exclusion']}")
    if decision.get("reason"):
        parts.append(str(decision["reason"]))
    return "; ".join(parts) or "-"


def show(data: dict[str, Any], console: Console) -> None:
    # Names and reasons come from CallTools and GHL: brackets in them are text, not rich markup.
    console.print(
        f"[bold]{terminal_text(data.get('contact_id'))}[/bold]: {terminal_text(data.get('explanation'))}"
    )
    if not data.get("known"):
        return
    pending = data.get("pending") or {}
    lease = data.get("lease") or {}
    facts = [
        f"status {data.get('status')}" + (f" ({data['reason']})" if data.get("reason") else ""),
        f"DND {'on' if data.get('dnd') else 'off'}",
        f"CallTools id {data.get('calltools_id')}",
        f"buckets: {_buckets(data.get('buckets') or []) or 'none'}",
    ]
    if pending.get("buckets") or pending.get("create"):
        facts.append(
            f"pending: {_buckets(pending.get('buckets') or []) or '-'}"
            + (f", create sent {pending.get('create_sent_at')}" if pending.get("create") else "")
        )
    if lease.get("held"):
        facts.append(f"leased until {lease.get('until')}")
    console.print(terminal_text(" · ".join(facts)))
    table = Table(title="Decisions (newest first)")
    for column in ("at", "prompted by", "source time", "result", "what"):
        table.add_column(column)
    for d in data.get("history") or []:
        cause = str(d.get("cause")) + (" (re-read)" if d.get("reread") else "")
        cells = (str(d.get("at")), cause, str(d.get("source_time") or "-"), str(d.get("result")))
        table.add_row(*(terminal_text(cell) for cell in (*cells, _outcome(d))))
    console.print(table)


def show_found(found: dict[str, Any], console: Console) -> None:
    """The reply of `GET /sync/contacts?q=`: an id's explanation as `show` prints it; for a phone
    or email, how many contacts matched, then each by name (GHL's text: never markup)."""
    query = found.get("query") or {}
    matches = found.get("matches") or []
    if query.get("kind") == "id":
        for match in matches:
            show(match, console)
        return
    what = f"{query.get('kind')} {query.get('masked')}"
    if not matches:
        console.print(terminal_text(f"{what}: no contact of this location in GHL matches"))
        return
    console.print(terminal_text(f"{what}: {len(matches)} contact{'s' if len(matches) > 1 else ''}"))
    for match in matches:
        console.print()
        console.print(f"[bold]{terminal_text(match.get('name') or '(no name)')}[/bold]")
        show(match, console)
