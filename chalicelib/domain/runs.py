"""A reconciliation run: its progress, counts and checkpoint, as stored between invocations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["reconcile", "backfill"]
Phase = Literal["walk", "left", "done"]
RunStatus = Literal["running", "finished", "failed"]


def new_run_id(now: datetime) -> str:
    # Underscores keep the log redactor from reading digit runs as a phone number.
    return f"run_{now:%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:8]}"


class Run(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    mode: Mode = "reconcile"
    status: RunStatus = "running"
    trigger: str = "manual"
    started_at: datetime
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    error: str | None = None

    # Checkpoint: which rule's tag is being walked and the search cursor after the last page done;
    # then the state-table scan position for contacts that left.
    phase: Phase = "walk"
    rule_index: int = 0
    cursor: list[Any] | None = None
    rule_seen: int = 0  # contacts seen so far under the current rule's tag
    rule_total: int | None = None  # GHL's count for that tag when its walk began
    scan_key: dict[str, Any] | None = None

    pages: int = 0
    # What GHL's search said it would return, summed over the rules walked so far (for an ETA).
    expected: int | None = None
    seen: int = 0
    enqueued: int = 0
    removed: int = 0
    api_calls: dict[str, int] = Field(default_factory=dict)
    # The queue as the walk last saw it, and the rate the consumers drain it (contacts per second,
    # measured between two sightings): the walk feeds the queue only what they take while fresh.
    depth: int | None = None
    depth_at: datetime | None = None
    enqueued_at_depth: int = 0
    drain_rate: float | None = None
    # The last census of the state table, taken by the scan phase.
    census: dict[str, Any] | None = None

    version: int = 0
    lease_until: datetime | None = None
    lease_owner: str | None = None

    def public(self) -> dict[str, Any]:
        return self.model_dump(
            mode="json",
            include={
                "id",
                "mode",
                "status",
                "trigger",
                "started_at",
                "finished_at",
                "heartbeat_at",
                "error",
                "phase",
                "pages",
                "expected",
                "seen",
                "enqueued",
                "removed",
                "api_calls",
            },
        )


class RunActive(Exception):
    """A run is already going; its id is in `run_id`."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id} is active")
        self.run_id = run_id
