"""Writes to a GHL contact for call outcomes (gohighlevel.md §12).

Built on GhlHttpApi's own request (`GhlHttpApi.writer()`), so these writes share its pacer, retry
policy and rate-header handling: GHL's budget is per location, reads and writes alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx

from chalicelib.adapters.http.retry import body_excerpt, json_body
from chalicelib.domain.errors import MaybeApplied, NotFound, PermanentError, TransientError
from chalicelib.runtime.observability import logger

# GhlHttpApi._request: (method, path, *, idempotent=..., **httpx kwargs) → the final response.
Request = Callable[..., httpx.Response]


class GhlContactWrites:
    """The GhlContactWriter port. Never a contact PUT with `tags`: GHL would replace them all."""

    def __init__(self, request: Request) -> None:
        self._request = request

    def _send(
        self, what: str, method: str, path: str, *, idempotent: bool = True, **kw: Any
    ) -> Any:
        response = self._request(method, path, idempotent=idempotent, **kw)
        status = response.status_code
        if status == 404:
            raise NotFound(f"GHL {what}: contact not found")
        if status >= 400:
            raise PermanentError(f"GHL {what}: {status} {body_excerpt(response)}")
        return json_body(response)

    def add_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        # Adding a tag the contact has is a no-op in effect: resent after a 5xx or timeout.
        if tags:
            self._send(
                "add tags", "POST", f"/contacts/{contact_id}/tags", json={"tags": list(tags)}
            )

    def remove_tags(self, contact_id: str, tags: Sequence[str]) -> None:
        if tags:
            self._send(
                "remove tags", "DELETE", f"/contacts/{contact_id}/tags", json={"tags": list(tags)}
            )

    def add_note(self, contact_id: str, body: str) -> str:
        # A second POST makes a second note: not resent after a reply that may be lost (the retry
        # policy raises MaybeApplied); the caller looks for the note's marker first.
        reply = self._send(
            "add note",
            "POST",
            f"/contacts/{contact_id}/notes",
            idempotent=False,
            json={"body": body},
        )
        note = reply.get("note") if isinstance(reply, dict) else None
        note_id = note.get("id") if isinstance(note, dict) else None
        if isinstance(note_id, str) and note_id:
            return note_id
        # A 2xx naming no note may still have made one.
        logger.error("GHL add note: reply names no note id")
        raise MaybeApplied("GHL add note: reply names no note id")

    def notes(self, contact_id: str) -> list[tuple[str, str]]:
        reply = self._send("notes", "GET", f"/contacts/{contact_id}/notes")
        rows = reply.get("notes") if isinstance(reply, dict) else None
        if not isinstance(rows, list):
            # Never "no notes": the caller would write the note again.
            raise TransientError("GHL notes: reply has no notes list")
        return [
            (str(row["id"]), str(row.get("body") or ""))
            for row in rows
            if isinstance(row, dict) and row.get("id")
        ]

    def set_call_dnd(self, contact_id: str, message: str) -> None:
        # A partial PUT of dndSettings.Call alone (never `tags`, which would replace them all).
        # Setting the same value twice is harmless, so it may be resent.
        settings = {"Call": {"status": "active", "message": message}}
        self._send("set DND", "PUT", f"/contacts/{contact_id}", json={"dndSettings": settings})
