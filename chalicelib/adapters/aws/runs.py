"""Reconciliation runs in the state table: `run#<id>` items, the `run#active` lock, `run#last`
(a registered location's behind its `loc#<id>#`: its own lock and checkpoints)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.keyspace import BUILTIN, Keyspace
from chalicelib.domain.runs import Run, RunActive

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

ACTIVE = {"pk": "run#active"}
LAST = {"pk": "run#last"}


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in (
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    )


class DynamoRunStore:
    def __init__(self, table: Table, keys: Keyspace = BUILTIN) -> None:
        self._table = table
        self._keys = keys
        self._active = {"pk": keys.key(ACTIVE["pk"])}
        self._last = {"pk": keys.key(LAST["pk"])}

    def _run_key(self, run_id: str) -> dict[str, str]:
        return {"pk": self._keys.key(f"run#{run_id}")}

    def _item(self, run: Run, version: int) -> dict[str, Any]:
        # The run is stored as JSON: cursors hold mixed types DynamoDB would turn into Decimals.
        return {
            **self._run_key(run.id),
            "kind": "run",
            "version": version,
            "body": run.model_copy(update={"version": version}).model_dump_json(),
        }

    def get(self, run_id: str) -> Run | None:
        item = self._table.get_item(Key=self._run_key(run_id), ConsistentRead=True).get("Item")
        return Run.model_validate_json(str(item["body"])) if item else None

    def _pointer(self, key: dict[str, str]) -> dict[str, Any]:
        return dict(self._table.get_item(Key=key, ConsistentRead=True).get("Item") or {})

    def active_run_id(self) -> str | None:
        value = self._pointer(self._active).get("run_id")
        return str(value) if value else None

    def last_run_id(self) -> str | None:
        value = self._pointer(self._last).get("run_id")
        return str(value) if value else None

    def start(self, run: Run, stale_before: datetime) -> Run:
        try:
            self._table.put_item(
                Item={
                    **self._active,
                    "kind": "lock",
                    "run_id": run.id,
                    "heartbeat_at": run.started_at.isoformat(),
                },
                ConditionExpression="attribute_not_exists(pk) OR heartbeat_at < :stale",
                ExpressionAttributeValues={":stale": stale_before.isoformat()},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise RunActive(self.active_run_id() or "unknown") from exc
            raise
        self._table.put_item(
            Item=self._item(run, 1), ConditionExpression="attribute_not_exists(pk)"
        )
        return run.model_copy(update={"version": 1})

    def save(self, run: Run) -> Run:
        new_version = run.version + 1
        try:
            self._table.put_item(
                Item=self._item(run, new_version),
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":v": run.version},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ConcurrentUpdate(f"run {run.id} changed meanwhile") from exc
            raise
        if run.heartbeat_at:
            try:
                self._table.update_item(
                    Key=self._active,
                    UpdateExpression="SET heartbeat_at = :at",
                    ConditionExpression="run_id = :id",
                    ExpressionAttributeValues={":at": run.heartbeat_at.isoformat(), ":id": run.id},
                )
            except ClientError as exc:
                if not _conditional_failed(exc):
                    raise
        return run.model_copy(update={"version": new_version})

    def finish(self, run: Run) -> Run:
        saved = self.save(run)
        self._table.put_item(Item={**self._last, "kind": "lock", "run_id": run.id})
        try:
            self._table.delete_item(
                Key=self._active,
                ConditionExpression="run_id = :id",
                ExpressionAttributeValues={":id": run.id},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
        return saved
