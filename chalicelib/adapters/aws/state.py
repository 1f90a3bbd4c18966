"""Contact sync state in DynamoDB, one item per GHL contact, guarded by a version number."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.adapters.aws.buckets import BucketItem
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.history import from_records, to_records
from chalicelib.domain.keyspace import BUILTIN, Keyspace
from chalicelib.domain.state import ContactState
from chalicelib.domain.time import parse_time
from chalicelib.runtime.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

PK = "pk"
WEBHOOK_CLOCK_KEY = {PK: "stats#webhooks"}
# The global secondary index on contact items' `calltools_id` (infra/template.yaml,
# sandbox/aws.py), keys only: an entry carries the table's `pk`, `[loc#<location>#]contact#<id>`.
BY_CALLTOOLS_ID = "by_calltools_id"
CONTACT_PREFIX = "contact#"


# A run's "seen" pages outlive it long enough for a paused or stale run to be taken over.
SEEN_TTL = timedelta(days=3)


def contact_key(contact_id: str, keys: Keyspace = BUILTIN) -> dict[str, str]:
    return {PK: keys.key(f"{CONTACT_PREFIX}{contact_id}")}


def seen_key(run_id: str, page: int, keys: Keyspace = BUILTIN) -> dict[str, str]:
    return {PK: keys.key(f"seen#{run_id}#{page}")}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def to_item(state: ContactState, version: int, keys: Keyspace = BUILTIN) -> dict[str, Any]:
    item: dict[str, Any] = {
        **contact_key(state.contact_id, keys),
        "kind": "contact",
        "contact_id": state.contact_id,
        "version": version,
        "buckets": sorted(state.buckets),
        "pending_buckets": sorted(state.pending_buckets),
        # One string attribute, not a map: smaller items, cheaper reads in bulk.
        "field_hashes": _json(state.field_hashes),
        "status": state.status,
        "dnd": state.dnd,
    }
    optional = {
        "calltools_id": state.calltools_id,
        "source_time": _iso(state.source_time),
        "read_until": _iso(state.read_until),
        "reason": state.reason,
        "updated_at": _iso(state.updated_at),
        "lease_until": _iso(state.lease_until),
        "lease_owner": state.lease_owner,
        "failed_fingerprint": state.failed_fingerprint,
        "pending_phone": state.pending_phone,
        "pending_since": _iso(state.pending_since),
        # One short-keyed JSON string, like field_hashes; left out of the census scan's projection.
        "h": _json(to_records(state.history)) if state.history else None,
    }
    item.update({k: v for k, v in optional.items() if v is not None})
    if keys.location_id is not None:  # the built-in's items carry none: today's items
        item["location_id"] = keys.location_id
    return item


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _history(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) and value else []
    except (ValueError, RecursionError):  # corrupt: only history, the sync goes on without it
        return []


def _hashes(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = json.loads(value) if value else {}
    return {str(k): str(v) for k, v in (value or {}).items()}


def from_item(item: dict[str, Any]) -> ContactState:
    def num(value: Any) -> int | None:
        return int(value) if isinstance(value, Decimal | int) else None

    return ContactState(
        contact_id=str(item["contact_id"]),
        calltools_id=num(item.get("calltools_id")),
        buckets=frozenset(int(b) for b in item.get("buckets", [])),
        pending_buckets=frozenset(int(b) for b in item.get("pending_buckets", [])),
        pending_phone=item.get("pending_phone"),
        pending_since=parse_time(item.get("pending_since")),
        field_hashes=_hashes(item.get("field_hashes")),
        source_time=parse_time(item.get("source_time")),
        read_until=parse_time(item.get("read_until")),
        version=num(item.get("version")) or 0,
        status=item.get("status", "new"),
        reason=item.get("reason"),
        dnd=bool(item.get("dnd", False)),
        updated_at=parse_time(item.get("updated_at")),
        lease_until=parse_time(item.get("lease_until")),
        lease_owner=item.get("lease_owner"),
        failed_fingerprint=item.get("failed_fingerprint"),
        history=from_records(_history(item.get("h"))),
    )


class DynamoStateStore(BucketItem):
    """One location's items (`keys`: the built-in's by default, today's keys)."""

    def __init__(self, table: Table, keys: Keyspace = BUILTIN) -> None:
        self._table = table
        self._keys = keys
        self.calls = 0  # DynamoDB requests made by the bulk methods, for run statistics

    def get(self, contact_id: str) -> ContactState | None:
        reply = self._table.get_item(Key=contact_key(contact_id, self._keys), ConsistentRead=True)
        item = reply.get("Item")
        return from_item(dict(item)) if item else None

    def acquire(
        self, state: ContactState, owner: str, lease_until: datetime, now: datetime
    ) -> ContactState:
        held = state.model_copy(update={"lease_until": lease_until, "lease_owner": owner})
        return self._put(held, state.version)

    def save(self, state: ContactState, *, keep_lease: bool = False) -> ContactState:
        if not keep_lease:
            state = state.model_copy(update={"lease_until": None, "lease_owner": None})
        return self._put(state, state.version)

    def _put(self, state: ContactState, expected_version: int) -> ContactState:
        """Write version+1 only if the stored version is still `expected_version`."""
        new_version = expected_version + 1
        if expected_version == 0:
            condition = "attribute_not_exists(pk)"
            values: dict[str, Any] = {}
        else:
            condition = "version = :expected"
            values = {":expected": expected_version}
        kwargs: dict[str, Any] = {
            "Item": to_item(state, new_version, self._keys),
            "ConditionExpression": condition,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            self._table.put_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConcurrentUpdate(f"state of {state.contact_id} changed meanwhile") from exc
            raise
        return state.model_copy(update={"version": new_version})

    # --- bulk access for the reconciliation and stats ---------------------------------------------
    def _batch_get(self, keys: Sequence[dict[str, str]]) -> Iterator[dict[str, Any]]:
        """BatchGetItem, 100 keys a call, retrying unprocessed keys."""
        client = self._table.meta.client
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self._table.name: {"Keys": list(keys[start : start + 100]), "ConsistentRead": True}
            }
            throttled = 0
            while request:
                reply = client.batch_get_item(RequestItems=request)
                self.calls += 1
                yield from (dict(i) for i in reply.get("Responses", {}).get(self._table.name, []))
                request = dict(reply.get("UnprocessedKeys") or {})
                if request:  # throttled: back off before asking again
                    time.sleep(min(2.0, 0.05 * 2 ** min(throttled, 5)))
                    throttled += 1

    def get_many(self, contact_ids: Sequence[str]) -> dict[str, ContactState]:
        keys = [contact_key(i, self._keys) for i in dict.fromkeys(contact_ids)]
        states = (from_item(item) for item in self._batch_get(keys))
        return {state.contact_id: state for state in states}

    def note_seen(self, run_id: str, page: int, contact_ids: Sequence[str]) -> None:
        """One item per walked page, not one write per contact: 100,000 contacts cost 200 writes.
        Written even when empty, so a page walked again replaces what it noted before. The items
        expire by TTL; a run older than that re-checks more contacts, never fewer."""
        self._table.put_item(
            Item={
                **seen_key(run_id, page, self._keys),
                "kind": "seen",
                "contact_ids": list(contact_ids),
                "ttl": int(time.time() + SEEN_TTL.total_seconds()),
            }
        )
        self.calls += 1

    def seen_by(self, run_id: str, pages: int) -> set[str]:
        keys = [seen_key(run_id, page, self._keys) for page in range(pages)]
        return {cid for item in self._batch_get(keys) for cid in item.get("contact_ids", [])}

    def scan(
        self, start_key: dict[str, Any] | None, limit: int
    ) -> tuple[list[ContactState], dict[str, Any] | None]:
        """One page of this location's contact items (other item kinds and other locations'
        contacts share the table and are filtered out: the built-in's carry no location_id)."""
        values: dict[str, Any] = {":contact": "contact"}
        if self._keys.location_id is None:
            mine = "attribute_not_exists(#loc)"
        else:
            mine, values[":loc"] = "#loc = :loc", self._keys.location_id
        kwargs: dict[str, Any] = {
            "FilterExpression": f"#k = :contact AND {mine}",
            # Only what the census and the "left" check read.
            "ProjectionExpression": "contact_id, buckets, pending_buckets, #s, reason, updated_at",
            "ExpressionAttributeNames": {"#k": "kind", "#s": "status", "#loc": "location_id"},
            "ExpressionAttributeValues": values,
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        reply = self._table.scan(**kwargs)
        self.calls += 1
        states = [from_item(dict(item)) for item in reply.get("Items", [])]
        next_key = reply.get("LastEvaluatedKey")
        return states, dict(next_key) if next_key else None

    def note_webhook(self, received_at: datetime) -> None:
        try:
            self._table.update_item(
                Key=self._key(WEBHOOK_CLOCK_KEY),
                UpdateExpression="SET last_webhook_at = :at",
                ConditionExpression="attribute_not_exists(last_webhook_at) OR last_webhook_at < :at",
                ExpressionAttributeValues={":at": received_at.isoformat()},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def last_webhook_at(self) -> datetime | None:
        item = self._table.get_item(Key=self._key(WEBHOOK_CLOCK_KEY)).get("Item") or {}
        return parse_time(item.get("last_webhook_at"))

    # --- the reverse lookup (ContactDirectory) ----------------------------------------------------
    def contact_for_calltools_id(self, calltools_id: int) -> str | None:
        """The one contact whose state names this CallTools contact. Two or more (CallTools merged
        contacts, or one was re-linked and the index still shows the old item) name none: an
        outcome written to the wrong GHL contact is worse than one the caller maps another way.
        A missing or still-building index raises (ClientError) for the caller to fall back."""
        reply = self._table.query(
            IndexName=BY_CALLTOOLS_ID,
            KeyConditionExpression="calltools_id = :id",
            ExpressionAttributeValues={":id": calltools_id},
            # A second match of this location is all it takes to refuse; the rest of the page
            # leaves room for other locations' items with the same id.
            Limit=10,
        )
        # The index spans every location: only this location's contacts count (another
        # CallTools account may use the same ids).
        items = reply.get("Items", [])
        owned = (self._keys.own(str(item.get("pk", "")), CONTACT_PREFIX) for item in items)
        contacts = sorted(contact for contact in owned if contact is not None)
        if len(contacts) > 1:
            logger.warning(
                "several contacts carry one CallTools id; none is used",
                extra={"calltools_id": calltools_id, "contact_ids": contacts},
            )
            return None
        return contacts[0] if contacts else None
