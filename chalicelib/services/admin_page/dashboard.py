"""The status page: health, counts per bucket, failures, dead letters, search and the two actions.

Built from the same snapshot as `GET /sync/stats`; every value is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from chalicelib.runtime.observability import redact
from chalicelib.services.admin_page.forms import TITLE
from chalicelib.services.admin_page.html import document, esc, hidden
from chalicelib.services.explain import CONTACT_ID

# What `?notice=` may say: a fixed list, so the query string never reaches the page as text.
NOTICES = {
    "run-started": "A reconciliation run started.",
    "run-active": "A run is already going: no second one was started.",
    "signed-in": "Signed in.",
}
REFRESH_WHILE_RUNNING = 5


def when(value: Any) -> str:
    """An ISO time as a person reads it ("2026-11-29 23:02:59 UTC") in a <time> element that
    keeps the exact value; anything that is no time, as given (escaped)."""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return esc(value)
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return f'<time datetime="{esc(value)}">{at:%Y-%m-%d %H:%M:%S} UTC</time>'


def notice_text(notice: str) -> str | None:
    if notice in NOTICES:
        return NOTICES[notice]
    count = notice.removeprefix("redriven-")
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if notice.startswith("redriven-") and count.isascii() and count.isdigit() and len(count) < 7:
        return f"{int(count)} dead letter(s) sent back to the queue."
    return None


def _run(run: Mapping[str, Any] | None, element_id: str) -> str:
    if not run:
        return f'<dd id="{element_id}" data-state="none">none</dd>'
    state = str(run.get("status", "unknown"))
    counts = (
        f"seen {esc(run.get('seen', 0))}, enqueued {esc(run.get('enqueued', 0))}, "
        f"removed {esc(run.get('removed', 0))}"
    )
    expected = run.get("expected")
    progress = (
        f'<span id="run-progress">processed {esc(run.get("seen", 0))} contacts'
        f"{f' of about {esc(expected)}' if expected else ''} (phase {esc(run.get('phase'))})"
        "</span>"
        if element_id == "current-run"
        else ""
    )
    ended = f", ended {when(run.get('finished_at'))}" if run.get("finished_at") else ""
    # A run's error quotes an exception, which may quote an API's reply: masked like a log line.
    error = run.get("error")
    error = f' <span class="reason">{esc(redact(str(error)))}</span>' if error else ""
    return (
        f'<dd id="{element_id}" data-state="{esc(state)}"><span class="run-state">{esc(state)}'
        f'</span> · {esc(run.get("mode"))} <span class="contact-id">{esc(run.get("id"))}</span>'
        f" · started {when(run.get('started_at'))}{ended} · {counts} {progress}{error}</dd>"
    )


def _error_rate(contacts: Mapping[str, Any]) -> str:
    total, failed = int(contacts.get("total") or 0), int(contacts.get("failed") or 0)
    if not total:
        return "no contacts yet"
    return f"{failed} of {total} contacts failed ({100 * failed / total:.1f} %)"


def _health(snapshot: Mapping[str, Any]) -> str:
    contacts = snapshot.get("contacts") or {}
    outcomes = snapshot.get("outcomes")
    webhook_at = contacts.get("last_webhook_at")
    last_webhook = when(webhook_at) if webhook_at else "never"  # already HTML
    outcome_row = (
        f'<dt>Call outcomes</dt><dd id="outcomes">applied {esc(outcomes.get("applied"))}, '
        f"pending {esc(outcomes.get('pending'))}, unmapped {esc(outcomes.get('unmapped'))}</dd>"
        if outcomes
        else ""
    )
    return (
        '<section id="health"><h2>Health</h2><dl>'
        f'<dt>Last webhook</dt><dd id="last-webhook">{last_webhook}</dd>'
        f'<dt>Queue</dt><dd id="queue-depth">{esc(snapshot.get("queue_depth"))}</dd>'
        f'<dt>Dead letters</dt><dd id="dlq-depth">{esc(snapshot.get("dlq_depth"))}</dd>'
        f"<dt>Current run</dt>{_run(snapshot.get('current_run'), 'current-run')}"
        f"<dt>Last run</dt>{_run(snapshot.get('last_run'), 'last-run')}"
        f'<dt>Errors</dt><dd id="error-rate">{esc(_error_rate(contacts))}</dd>'
        f'<dt>DND for calls</dt><dd id="dnd-excluded">{esc(contacts.get("dnd_excluded", 0))}</dd>'
        f"{outcome_row}</dl></section>"
    )


def _buckets(contacts: Mapping[str, Any]) -> str:
    rows = "".join(
        f'<tr class="bucket" data-bucket="{esc(name)}"><td>{esc(name)}</td>'
        f'<td class="count">{esc(count)}</td></tr>'
        for name, count in sorted(
            (contacts.get("in_bucket") or {}).items(), key=lambda i: str(i[0])
        )
    )
    source = "live count" if contacts.get("source") == "live" else "as the last run counted"
    return (
        f'<section><h2>Contacts per bucket <span class="muted">({esc(source)})</span></h2>'
        f'<table id="buckets"><tr><th>Bucket</th><th>Contacts</th></tr>{rows}'
        f'<tr><td>All contacts we track</td><td class="count" id="total">'
        f"{esc(contacts.get('total', 0))}</td></tr></table></section>"
    )


def _item(base: str, css: str, contact_id: Any, reason: Any, at: Any = None) -> str:
    """One contact and why: its id links to its explanation; the reason is shown masked (it may
    quote what CallTools refused). A dead letter's body may name anything: no id, no link."""
    shown_at = f' <span class="muted">{when(at)}</span>' if at else ""
    shown = esc(redact(str(reason))) if reason else ""
    if not CONTACT_ID.fullmatch(str(contact_id or "")):
        who = '<span class="contact-id">(no contact id)</span>'
    else:
        query = quote(str(contact_id), safe="")
        who = (
            f'<a class="contact-id" href="{esc(base)}/admin/contact?q={esc(query)}">'
            f"{esc(contact_id)}</a>"
        )
    return f'<li class="{css}">{who} <span class="reason">{shown}</span>{shown_at}</li>'


def _failures(base: str, failures: Sequence[Mapping[str, Any]] | None) -> str:
    if failures is None:
        body = '<p class="muted">Too many contacts for a live scan: see the CLI.</p>'
    elif not failures:
        body = '<ul id="failures"></ul><p class="muted">No failed contacts.</p>'
    else:
        items = "".join(
            _item(base, "failure", f["contact_id"], f["reason"], f["at"]) for f in failures
        )
        body = f'<ul id="failures">{items}</ul>'
    return f"<section><h2>Latest failures</h2>{body}</section>"


def _dead_letters(base: str, letters: Sequence[Mapping[str, str]], csrf: str) -> str:
    items = "".join(
        _item(base, "dead-letter", d.get("contact_id"), d.get("reason")) for d in letters
    )
    return (
        f'<section><h2>Dead letters</h2><ul id="dead-letters">{items}</ul>'
        f'<form id="redrive-form" method="post" action="{esc(base)}/admin/redrive">'
        f'{hidden("csrf", csrf)}<button id="redrive-submit" type="submit">'
        "Send dead letters back to the queue…</button></form></section>"
    )


def _actions(base: str, csrf: str) -> str:
    return (
        "<section><h2>Find a contact</h2>"
        f'<form id="search" method="get" action="{esc(base)}/admin/contact">'
        '<input id="q" name="q" type="search" maxlength="200" required '
        'placeholder="GHL contact id, phone or email"> '
        '<button id="search-submit" type="submit">Explain</button></form>'
        "<h2>Reconciliation</h2>"
        f'<form id="run-form" method="post" action="{esc(base)}/admin/run">'
        f'{hidden("csrf", csrf)}<button id="run-submit" type="submit">Start a run…</button>'
        "</form></section>"
    )


def dashboard(
    snapshot: Mapping[str, Any],
    dead_letters: Sequence[Mapping[str, str]],
    csrf: str,
    *,
    notice: str | None = None,
    contact_html: str = "",
    base: str = "",
) -> str:
    contacts = snapshot.get("contacts") or {}
    banner = f'<section id="notice" role="status">{esc(notice)}</section>' if notice else ""
    # Refreshing keeps a run's progress moving, but would throw away a contact being read.
    running = bool(snapshot.get("current_run")) and not contact_html
    body = (
        f"<header><h1>{esc(TITLE)}</h1>"
        f'<form id="logout-form" class="inline" method="post" action="{esc(base)}/admin/logout">'
        f'{hidden("csrf", csrf)}<button class="quiet" type="submit">Sign out</button></form>'
        f"</header>{banner}{contact_html}"
        f'<div class="grid">{_health(snapshot)}{_buckets(contacts)}</div>'
        f"{_actions(base, csrf)}"
        f'<div class="grid">{_failures(base, snapshot.get("failures"))}'
        f"{_dead_letters(base, dead_letters, csrf)}</div>"
    )
    return document(TITLE, body, refresh_seconds=REFRESH_WHILE_RUNNING if running else None)
