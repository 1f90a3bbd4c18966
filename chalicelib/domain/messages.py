"""The messages that travel through the sync queue: sync one contact, or continue a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.contact import Contact

# "outcome": a call outcome made the contact DND in GHL, and its sync takes it out now.
Origin = Literal["marketplace", "workflow", "reconciliation", "outcome"]


class HitPage(BaseModel):
    """The search page a reconciliation hit came from: the rule's tag, the cursor the page started
    after and its size. Reading it again refreshes every hit of that page in one call."""

    model_config = ConfigDict(frozen=True)

    tag: str
    after: list[Any] | None = None
    size: int = Field(ge=1, le=500)  # GHL's pageLimit bounds


class SyncMessage(BaseModel):
    """One unit of work for the consumer: sync this contact.

    `snapshot` is None when the contact must be re-read from GHL before deciding.
    `event_time` orders snapshots: an older one never overwrites newer state.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["contact"] = "contact"
    v: int = 1
    origin: Origin
    contact_id: str
    location_id: str | None = None
    app_id: str | None = None
    event_type: str | None = None
    webhook_id: str | None = None
    event_time: datetime | None = None
    snapshot: Contact | None = None
    received_at: datetime
    # How often this message was put back to wait (a lease, a settling create, a removal that
    # CallTools did not take yet): counted apart from SQS receives, which lead to the DLQ.
    deferrals: int = 0
    # Of those, the waits for a removal CallTools did not take yet (dead-lettered after a day).
    removal_deferrals: int = 0
    # A reconciliation hit's search page (None for webhooks, and hits queued before it existed).
    page: HitPage | None = None

    @property
    def dedup_key(self) -> str | None:
        """Same webhookId → same event, whatever SQS message carries it."""
        return f"webhook:{self.webhook_id}" if self.webhook_id else None


class ReconcileStep(BaseModel):
    """Continue reconciliation run `run_id` from its stored checkpoint."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["reconcile_step"] = "reconcile_step"
    run_id: str
    # The registered location whose run this is; None: the built-in location's (and every step
    # queued before locations had runs).
    location_id: str | None = None


OutcomeOrigin = Literal["hook", "catchup"]


class OutcomeMessage(BaseModel):
    """Apply CallTools call outcome `record_id` to GHL. Only the id is carried: the consumer reads
    the record back from CallTools and trusts nothing else a hook said."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["outcome"] = "outcome"
    v: int = 1
    origin: OutcomeOrigin
    record_id: int = Field(gt=0)
    received_at: datetime
    deferrals: int = 0


class CatchUpStep(BaseModel):
    """Queue the call outcomes CallTools recorded since the last catch-up (run by a consumer:
    only it holds the CallTools token)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["outcome_catchup"] = "outcome_catchup"
    requested_at: datetime


QueueMessage = SyncMessage | ReconcileStep | OutcomeMessage | CatchUpStep
