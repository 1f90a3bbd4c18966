"""What syncing one contact came to: the consumer counts it, and dead-letters a failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Result = Literal["synced", "unchanged", "stale", "ignored", "failed"]


@dataclass(frozen=True)
class SyncOutcome:
    result: Result
    contact_id: str
    calltools_id: int | None = None
    added: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "contact_id": self.contact_id,
            "calltools_id": self.calltools_id,
            "added": list(self.added),
            "removed": list(self.removed),
            "reason": self.reason,
        }
