"""Call outcomes in the state table: one `outcome#<record id>` item each, versioned and leased like
a contact's state; their tally in `stats#outcomes`; the catch-up's checkpoint in
`outcomes#checkpoint`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.outcome_state import OutcomeState, tally_change
from chalicelib.domain.time import parse_time
from chalicelib.ports import OutcomeTally
from chalicelib.runtime.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

TALLY_KEY = {"pk": "stats#outcomes"}
CHECKPOINT_KEY = {"pk": "outcomes#checkpoint"}
# Long past any redelivery or catch-up of the record; then DynamoDB's TTL deletes the item, so the
# table does not grow with every call ever made. The tally keeps its counts.
OUTCOME_TTL = timedelta(days=90)


def outcome_key(record_id: int) -> dict[str, str]:
    return {"pk": f"outcome#{record_id}"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, Decimal | int) else None


def to_item(state: OutcomeState, expires_at: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        **outcome_key(state.record_id),
        # Not "contact": the contact scans filter on it. The CallTools contact is not stored as
        # `calltools_id` either, which would put outcomes in the contacts' reverse-lookup index.
        "kind": "outcome",
        "record_id": state.record_id,
        "status": state.status,
        "done": sorted(state.done),
        "version": state.version,
        "ttl": expires_at,
    }
    optional = {
        "ghl_contact_id": state.ghl_contact_id,
        "calltools_contact_id": state.calltools_contact_id,
        "disposition": state.disposition,
        "created_on": _iso(state.created_on),
        "note_sent_at": _iso(state.note_sent_at),
        "note_id": state.note_id,
        "reason": state.reason,
        "applied_at": _iso(state.applied_at),
        "lease_until": _iso(state.lease_until),
        "lease_owner": state.lease_owner,
    }
    item.update({k: v for k, v in optional.items() if v is not None})
    return item


def from_item(item: dict[str, Any]) -> OutcomeState:
    return OutcomeState(
        record_id=int(item["record_id"]),
        status=item.get("status", "pending"),
        ghl_contact_id=item.get("ghl_contact_id"),
        calltools_contact_id=_int(item.get("calltools_contact_id")),
        disposition=item.get("disposition"),
        created_on=parse_time(item.get("created_on")),
        done=frozenset(str(s) for s in item.get("done", [])),
        note_sent_at=parse_time(item.get("note_sent_at")),
        note_id=item.get("note_id"),
        reason=item.get("reason"),
        applied_at=parse_time(item.get("applied_at")),
        version=_int(item.get("version")) or 0,
        lease_until=parse_time(item.get("lease_until")),
        lease_owner=item.get("lease_owner"),
    )


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoOutcomeStore:
    """The tally is counted on the transition itself: a save whose put (conditional on the version)
    replaced a pending (or unknown) item with a final one counts it (`tally_change`), which a
    retried save cannot repeat (its version is gone). Counting is a second write, not a
    transaction with the put: every outcome would then contend for the one tally item, and a
    conflict would fail the outcome's save. A crash between the two leaves one outcome uncounted
    (shown as pending), never one counted twice.
    """

    def __init__(self, table: Table, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    def get(self, record_id: int) -> OutcomeState | None:
        item = self._table.get_item(Key=outcome_key(record_id), ConsistentRead=True).get("Item")
        return from_item(dict(item)) if item else None

    def acquire(
        self,
        record_id: int,
        owner: str,
        lease_until: datetime,
        now: datetime,
        *,
        seen: OutcomeState | None = None,
    ) -> OutcomeState:
        current = self.get(record_id) if seen is None else seen
        if current is None or current.version == 0:
            created = OutcomeState(record_id=record_id, lease_until=lease_until, lease_owner=owner)
            stored, _ = self._put(created)
            self._count({"received": 1})
            return stored
        if (
            current.lease_owner not in (None, owner)
            and current.lease_until is not None
            and current.lease_until > now
        ):
            raise ConcurrentUpdate(f"outcome {record_id} is leased to another worker")
        held = current.model_copy(update={"lease_until": lease_until, "lease_owner": owner})
        stored, _ = self._put(held)
        return stored

    def save(self, state: OutcomeState, *, keep_lease: bool = False) -> OutcomeState:
        if not keep_lease:
            state = state.model_copy(update={"lease_until": None, "lease_owner": None})
        stored, previous = self._put(state)
        change = tally_change(previous, stored)
        if change:
            self._count(change, newest=stored if stored.status == "applied" else None)
        return stored

    def _put(self, state: OutcomeState) -> tuple[OutcomeState, OutcomeState | None]:
        """Write version+1 if the stored version is still `state.version` (0: no item yet);
        returns what was stored and what it replaced, read in the same request."""
        stored = state.model_copy(update={"version": state.version + 1})
        expires_at = int(self._clock() + OUTCOME_TTL.total_seconds())
        kwargs: dict[str, Any] = {
            "Item": to_item(stored, expires_at),
            "ReturnValues": "ALL_OLD",
        }
        if state.version == 0:
            kwargs["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            kwargs["ConditionExpression"] = "version = :expected"
            kwargs["ExpressionAttributeValues"] = {":expected": state.version}
        try:
            reply = self._table.put_item(**kwargs)
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ConcurrentUpdate(f"outcome {state.record_id} changed meanwhile") from exc
            raise
        old = reply.get("Attributes")
        return stored, from_item(dict(old)) if old else None

    def _count(self, counts: dict[str, int], newest: OutcomeState | None = None) -> None:
        """ADD to the tally's counters; for an applied outcome also note when, and how late.
        The outcome is saved by now: a failure here is logged, not raised, for a retry could
        not count it again (its version is gone) and would only fail the outcome."""
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values: dict[str, Any] = {f":c{i}": n for i, n in enumerate(counts.values())}
        expression = "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(counts)))
        if newest is not None and newest.applied_at is not None:
            # The last applied one, which is the newest give or take the clocks of two workers.
            sets = ["newest_applied_at = :at"]
            values[":at"] = newest.applied_at.isoformat()
            if newest.created_on is not None:
                lag = (newest.applied_at - newest.created_on).total_seconds()
                sets.append("newest_lag_seconds = :lag")
                values[":lag"] = Decimal(str(round(lag, 3)))
            expression += " SET " + ", ".join(sets)
        try:
            self._table.update_item(
                Key=TALLY_KEY,
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            logger.warning(
                "outcome tally not updated",
                extra={"counts": counts, "error": exc.response.get("Error", {}).get("Code")},
            )

    def checkpoint(self) -> int:
        item = self._table.get_item(Key=CHECKPOINT_KEY, ConsistentRead=True).get("Item") or {}
        return _int(item.get("record_id")) or 0

    def advance_checkpoint(self, record_id: int) -> None:
        try:
            self._table.update_item(
                Key=CHECKPOINT_KEY,
                UpdateExpression="SET record_id = :id",
                ConditionExpression="attribute_not_exists(record_id) OR record_id < :id",
                ExpressionAttributeValues={":id": record_id},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def tally(self) -> OutcomeTally:
        # Two GetItems, not one BatchGetItem: the stats route's function may read items but has
        # no dynamodb:BatchGetItem.
        item = self._table.get_item(Key=TALLY_KEY, ConsistentRead=True).get("Item") or {}
        lag = item.get("newest_lag_seconds")
        return OutcomeTally(
            received=_int(item.get("received")) or 0,
            applied=_int(item.get("applied")) or 0,
            unmapped=_int(item.get("unmapped")) or 0,
            unknown=_int(item.get("unknown")) or 0,
            newest_applied_at=parse_time(item.get("newest_applied_at")),
            newest_lag_seconds=float(lag) if isinstance(lag, Decimal | int) else None,
            checkpoint=self.checkpoint(),
        )


if TYPE_CHECKING:
    from chalicelib.ports import OutcomeStore

    def _is_an_outcome_store(table: Table) -> OutcomeStore:
        return DynamoOutcomeStore(table)
