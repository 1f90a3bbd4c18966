"""Waits that may last: a bucket removal CallTools does not take, rules it cannot resolve. The
message comes back after a growing delay instead of walking towards the DLQ."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.errors import Deferred, SyncError, TransientError
from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.rules import ResolvedRule
from chalicelib.domain.sync_plan import SyncPlan
from chalicelib.runtime.observability import logger
from chalicelib.services.rule_book import RuleBook
from chalicelib.services.sync.decisions import UNPROMPTED, Prompt
from chalicelib.services.sync.lease import Held
from chalicelib.services.sync.outcome import SyncOutcome


class RemovalNotDone(SyncError):
    """A bucket removal did not happen (refused, or CallTools unavailable)."""


# The delay grows from 30 s to SQS's longest (15 min); 100 deferrals span about a day.
MAX_DEFERRALS = 100


def deferral_backoff(deferrals: int) -> float:
    return float(min(900, 30 * 2 ** min(deferrals, 5)))


def removal_not_done(
    held: Held,
    exc: RemovalNotDone,
    deferrals: int,
    now: datetime,
    prompt: Prompt = UNPROMPTED,
    plan: SyncPlan | None = None,
) -> SyncOutcome:
    """A removal CallTools refused or could not take: the state keeps the bucket (so every
    later delivery and every nightly run tries again) and the message comes back after a
    growing delay, without walking towards the DLQ. Only after about a day of refusals is
    it dead-lettered, for a person to look at; the nightly run still retries it."""
    reason = f"removal not done yet: {exc}"
    history = prompt.onto(held.state.history, now, "failed", plan, reason=reason)
    held.release(status="failed", reason=reason, updated_at=now, history=history)
    logger.warning("bucket removal not done; retrying", extra={"contact_id": held.state.contact_id})
    if deferrals >= MAX_DEFERRALS:
        return SyncOutcome("failed", held.state.contact_id, held.state.calltools_id, reason=reason)
    raise Deferred(reason, deferral_backoff(deferrals), counter="removal_deferrals") from exc


def resolved_or_wait(rulebook: RuleBook, message: SyncMessage) -> list[ResolvedRule]:
    """The rules' buckets; a container with no recent resolution (its own or another's) asks
    CallTools. While CallTools cannot answer, the message waits (a removal among them must not
    walk to the DLQ)."""
    try:
        return rulebook.resolved()
    except TransientError as exc:
        if message.deferrals >= MAX_DEFERRALS:
            raise
        logger.error("rules cannot be resolved; message deferred", extra={"error": str(exc)})
        raise Deferred(f"rules not resolved: {exc}", deferral_backoff(message.deferrals)) from exc
