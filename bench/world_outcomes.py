"""The world's call-outcome commands (issue 14): CallTools' rest hook subscription, agents
recording dispositions, and what reached GHL (notes with their time, call DND).

`OutcomeWorld` is mixed into the world process's `_World` (it runs there, next to the sandboxes);
`OutcomeCalls` into the parent's `World` handle (each method one command over the pipe).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from sandbox.calltools import CallToolsSandbox
    from sandbox.ghl import GhlSandbox

HOOK_MODEL = "Historical Call Disposition"
_MARKER = re.compile(r"\[CallTools disposition (\d+)\]")  # chalicelib.domain.outcomes.note_marker


class OutcomeWorld:
    ghl: GhlSandbox
    calltools: CallToolsSandbox

    def subscribe_outcomes(self, url: str) -> int:
        return int(self.calltools.subscribe(HOOK_MODEL, url, "bench")["id"])

    def record_call(self, ghl_id: str, disposition: str) -> int:
        """An agent dispositions a call to the CallTools contact of `ghl_id`; CallTools POSTs the
        record to the subscribed hook in the background. The record's id."""
        contact = next(
            c["id"] for c in self.calltools.contacts() if c.get("ghl_contact_id") == ghl_id
        )
        return int(self.calltools.record_call(contact, disposition)["id"])

    def outcome_notes(self, ghl_ids: list[str]) -> dict[int, float]:
        """Every note we wrote on these contacts: record id → when GHL stored it (epoch s)."""
        out: dict[int, float] = {}
        for cid in ghl_ids:
            for note in self.ghl.notes(cid):
                if found := _MARKER.search(note["body"]):
                    added = datetime.fromisoformat(note["dateAdded"].replace("Z", "+00:00"))
                    out[int(found.group(1))] = added.timestamp()
        return out

    def note_count(self, ghl_ids: list[str]) -> int:
        return sum(len(self.ghl.notes(cid)) for cid in ghl_ids)

    def call_dnd(self, ghl_ids: list[str]) -> list[str]:
        """Those of `ghl_ids` that GHL has as DND for calls."""
        out = []
        for cid in ghl_ids:
            data = self.ghl.contact(cid) or {}
            if (data.get("dndSettings") or {}).get("Call", {}).get("status") == "active":
                out.append(cid)
        return out

    def tag_replacements(self) -> int:
        return self.ghl.tag_replacements


class OutcomeCalls:
    def _call(self, name: str, *args: Any) -> Any:
        raise NotImplementedError  # World's

    def subscribe_outcomes(self, url: str) -> int:
        return int(self._call("subscribe_outcomes", url))

    def record_call(self, ghl_id: str, disposition: str) -> int:
        return int(self._call("record_call", ghl_id, disposition))

    def outcome_notes(self, ghl_ids: list[str]) -> dict[int, float]:
        return cast(dict[int, float], self._call("outcome_notes", ghl_ids))

    def note_count(self, ghl_ids: list[str]) -> int:
        return int(self._call("note_count", ghl_ids))

    def call_dnd(self, ghl_ids: list[str]) -> list[str]:
        return cast(list[str], self._call("call_dnd", ghl_ids))

    def tag_replacements(self) -> int:
        return int(self._call("tag_replacements"))
