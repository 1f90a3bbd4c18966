"""The dashboard's contact section: the explanation of each contact a search found."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.services.admin_page.dashboard import when
from chalicelib.services.admin_page.html import esc

NOTHING_FOUND = "Nothing found: no contact of this location matches that search."


def _buckets(entries: Sequence[Mapping[str, Any]] | None) -> str:
    return ", ".join(str(b.get("name") or f"bucket {b.get('id')}") for b in entries or []) or "—"


def _decision(d: Mapping[str, Any]) -> str:
    what = []
    if d.get("added"):
        what.append(f"added to {_buckets(d['added'])}")
    if d.get("removed"):
        what.append(f"removed from {_buckets(d['removed'])}")
    if d.get("fields_changed"):
        what.append("fields " + ", ".join(str(f) for f in d["fields_changed"]))
    if d.get("exclusion"):
        what.append(f"excluded: {d['exclusion']}")
    if d.get("reason"):
        what.append(str(d["reason"]))
    cause = f"{d.get('cause')}{' (re-read)' if d.get('reread') else ''}"
    return (
        f'<tr class="decision"><td>{when(d.get("at")) if d.get("at") else ""}</td><td>{esc(cause)}</td>'
        f"<td>{esc(d.get('result'))}</td><td>{esc('; '.join(what) or 'no change')}</td></tr>"
    )


def _one(match: Mapping[str, Any], first: bool) -> str:
    def ident(name: str) -> str:
        return f' id="{name}"' if first else ""

    name = match.get("name")
    heading = f'<h2 class="contact-name">{esc(name)}</h2>' if name else "<h2>Contact</h2>"
    rows = "".join(_decision(d) for d in match.get("history") or [])
    details = ""
    if match.get("known"):
        pending = match.get("pending") or {}
        details = (
            f"<dl><dt>Status</dt><dd{ident('contact-status')}>{esc(match.get('status'))}</dd>"
            f"<dt>CallTools id</dt><dd>{esc(match.get('calltools_id') or '—')}</dd>"
            f"<dt>Buckets</dt><dd>{esc(_buckets(match.get('buckets')))}</dd>"
            f"<dt>Pending</dt><dd>{esc(_buckets(pending.get('buckets')))}"
            f"{esc(' (create unresolved)' if pending.get('create') else '')}</dd></dl>"
            f'<table{ident("history")} class="history"><tr><th>When</th><th>Prompted by</th>'
            f"<th>Result</th><th>What</th></tr>{rows}</table>"
        )
    return (
        f'<section class="contact">{heading}'
        f'<p>GHL id <span class="contact-id"{ident("contact-id")}>'
        f"{esc(match.get('contact_id'))}</span></p>"
        f'<p class="explanation"{ident("explanation")}>{esc(match.get("explanation"))}</p>'
        f"{details}</section>"
    )


def contact_section(
    query: str, matches: Sequence[Mapping[str, Any]], *, problem: str | None = None
) -> str:
    if problem or not matches:
        said = problem or NOTHING_FOUND
        inner = f'<section class="contact"><p id="explanation">{esc(said)}</p></section>'
    else:
        inner = "".join(_one(m, i == 0) for i, m in enumerate(matches))
    return (
        f'<div id="contact"><p class="muted">Search: <span id="contact-query">{esc(query)}'
        f"</span></p>{inner}</div>"
    )
