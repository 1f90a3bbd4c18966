"""What one sync puts on the contact's decision history (domain/history.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.history import Decision, DecisionResult, cause_of, remember
from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.sync_plan import SyncPlan
from chalicelib.runtime.observability import redact


@dataclass(frozen=True)
class Prompt:
    """What prompted this sync and what GHL data its plan was made from."""

    cause: str
    reread: bool = False
    source_time: datetime | None = None

    @classmethod
    def of(cls, message: SyncMessage, reread: bool, source_time: datetime | None) -> Prompt:
        return cls(cause_of(message.origin, message.event_type), reread, source_time)

    def onto(
        self,
        history: Sequence[Decision],
        at: datetime,
        result: DecisionResult,
        plan: SyncPlan | None = None,
        *,
        added: Sequence[int] = (),
        removed: Sequence[int] = (),
        reason: str | None = None,
    ) -> tuple[Decision, ...]:
        """`history` with this sync's decision appended. A failure's reason may quote what
        CallTools refused (a phone, an email): it is masked before it is stored."""
        decision = Decision(
            at=at,
            cause=self.cause,
            reread=self.reread,
            source_time=self.source_time,
            result=result,
            added=tuple(added),
            removed=tuple(removed),
            fields=tuple(sorted(plan.changed_fields)) if plan and result == "synced" else (),
            exclusion=plan.exclusion if plan else None,
            reason=redact(reason) if reason else None,
        )
        return remember(history, decision)


# A caller that names no prompt (a test, an older path): the decision is still recorded.
UNPROMPTED = Prompt("sync")
