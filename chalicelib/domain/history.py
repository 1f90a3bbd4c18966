"""A contact's recent sync decisions, kept in its state item to answer "why is it (not) in the
dialler?": what prompted each decision, what GHL data it reflected and what it came to.

Bounded (the last HISTORY_LIMIT) and compact in storage (short keys, epoch seconds): it rides
along with the writes the sync makes anyway. It holds no phone or email: failure reasons are
masked by the caller before they get here, and truncated here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

HISTORY_LIMIT = 20
REASON_LIMIT = 160

DecisionResult = Literal["synced", "unchanged", "stale", "failed"]


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    # A webhook's event type, "reconciliation", "outcome" (a call outcome), or the origin.
    cause: str
    # The plan was made from GHL's re-read rather than the event's snapshot.
    reread: bool = False
    source_time: datetime | None = None
    result: DecisionResult
    added: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()
    fields: tuple[str, ...] = ()
    # Why the contact is in no bucket (dnd, no_matching_tag, no_dialable_phone, deleted, ...).
    exclusion: str | None = None
    # With result "failed": why (masked).
    reason: str | None = None


def cause_of(origin: str, event_type: str | None) -> str:
    """What prompted a sync: a webhook's event type, else its origin (reconciliation, outcome)."""
    if origin in ("marketplace", "workflow") and event_type:
        return event_type
    return origin


def shorten(reason: str | None) -> str | None:
    if reason is None or len(reason) <= REASON_LIMIT:
        return reason
    return reason[: REASON_LIMIT - 1] + "…"


def remember(
    history: Sequence[Decision], decision: Decision, limit: int = HISTORY_LIMIT
) -> tuple[Decision, ...]:
    """The history with `decision` appended, oldest first, the oldest dropped beyond `limit`."""
    return (*history, decision)[-limit:] if limit > 0 else ()


def _epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _time(value: Any) -> datetime:
    """Epoch seconds as stored; anything else (a string, NaN, out of range) raises ValueError."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError("not a time")
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError("time out of range") from exc


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("not a list")
    return value


def to_records(history: Sequence[Decision]) -> list[dict[str, Any]]:
    """Compact dicts for storage: short keys, empty values left out, times in epoch seconds."""
    records = []
    for d in history:
        record: dict[str, Any] = {
            "t": _epoch(d.at),
            "c": d.cause,
            "r": d.result,
            "rr": 1 if d.reread else None,
            "s": _epoch(d.source_time),
            "a": list(d.added) or None,
            "d": list(d.removed) or None,
            "f": list(d.fields) or None,
            "x": d.exclusion,
            "e": shorten(d.reason),
        }
        records.append({k: v for k, v in record.items() if v is not None})
    return records


def _from_record(r: Any) -> Decision:
    """One stored record; ValueError (pydantic's too) or TypeError if it is not one we wrote."""
    if not isinstance(r, dict):
        raise ValueError("not a record")
    source_time = r.get("s")
    return Decision(
        at=_time(r.get("t")),
        cause=str(r.get("c", "")),
        reread=bool(r.get("rr")),
        source_time=None if source_time is None else _time(source_time),
        result=r.get("r", "synced"),
        added=tuple(int(b) for b in _list(r.get("a"))),
        removed=tuple(int(b) for b in _list(r.get("d"))),
        fields=tuple(str(f) for f in _list(r.get("f"))),
        exclusion=r.get("x"),
        reason=r.get("e"),
    )


def from_records(records: Any) -> tuple[Decision, ...]:
    """What `to_records` wrote; an unreadable record is skipped (it is only history): a
    corrupt item must not stop the contact's sync, nor its explanation."""
    history = []
    for r in records if isinstance(records, list) else []:
        try:
            history.append(_from_record(r))
        except (ValueError, TypeError):
            continue
    return tuple(history)[-HISTORY_LIMIT:]
