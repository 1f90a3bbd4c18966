"""`GET /sync/contacts/{contactId}`: what we believe about one contact, its recent decisions,
and a sentence saying why it is (not) in the dialler. One DynamoDB read, no GHL or CallTools
call: the API function holds neither token (bucket names are the ones the consumer stored)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from chalicelib.domain.explanation import explain
from chalicelib.domain.history import Decision
from chalicelib.domain.state import ContactState
from chalicelib.domain.time import utcnow
from chalicelib.runtime.observability import logger, redact

# A GHL contact id is a plain token; anything else is refused before it reaches a key.
CONTACT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _masked(state: ContactState | None) -> ContactState | None:
    """`state` with its failure reason masked: it may quote what CallTools refused."""
    if state is None or not state.reason:
        return state
    return state.model_copy(update={"reason": redact(state.reason)})


class ContactExplainer:
    def __init__(
        self,
        states: Callable[[str], ContactState | None],
        bucket_names: Callable[[], dict[int, str]],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._states = states
        self._bucket_names = bucket_names
        self._clock = clock

    def _names(self) -> dict[int, str]:
        try:
            return self._bucket_names()
        except Exception:  # the explanation stays available with ids only
            logger.warning("bucket names unavailable for the explanation")
            return {}

    def explain(self, contact_id: str) -> dict[str, Any]:
        """`contact_id` must match CONTACT_ID (the caller checks). A contact never stored is an
        answer too ("never seen"), not an error: we cannot tell whether GHL knows it."""
        state = self._states(contact_id)
        names = self._names()

        def buckets(ids: Iterable[int]) -> list[dict[str, Any]]:
            return [{"id": b, "name": names.get(b)} for b in sorted(ids)]

        def decision(d: Decision) -> dict[str, Any]:
            return {
                "at": _iso(d.at),
                "cause": d.cause,
                "reread": d.reread,
                "source_time": _iso(d.source_time),
                "result": d.result,
                "added": buckets(d.added),
                "removed": buckets(d.removed),
                "fields_changed": list(d.fields),
                "exclusion": d.exclusion,
                "reason": d.reason,
            }

        body: dict[str, Any] = {
            "contact_id": contact_id,
            "known": state is not None,
            # Only the reason is free text from outside; masking the whole sentence would
            # mask its times too ("2026-11-28 14" is ten digits, a phone to `redact`).
            "explanation": explain(_masked(state), names),
        }
        if state is None:
            return body
        now = self._clock()
        return body | {
            "status": state.status,
            "reason": redact(state.reason) if state.reason else None,
            "dnd": state.dnd,
            "calltools_id": state.calltools_id,
            "buckets": buckets(state.buckets),
            "pending": {
                "buckets": buckets(state.pending_buckets),
                "create": state.create_unresolved,
                "create_sent_at": _iso(state.pending_since),
            },
            "lease": {
                "held": bool(state.lease_until and state.lease_until > now),
                "until": _iso(state.lease_until),
            },
            "source_time": _iso(state.source_time),
            "updated_at": _iso(state.updated_at),
            "history": [decision(d) for d in reversed(state.history)],  # newest first
        }
