"""The rules' buckets in the state table, one item `stats#buckets`: their names by id for the stats
(the API function holds no CallTools token), and the last resolution by rule bucket key with its
time, shared by the consumer's containers (BucketMemory)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.domain.keyspace import Keyspace
from chalicelib.domain.time import parse_time
from chalicelib.ports import BucketResolution

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

BUCKET_NAMES_KEY = {"pk": "stats#buckets"}


def _resolution(value: Any) -> BucketResolution:
    """What `remember` wrote; entries that do not read as an id and a name are left out (a rule
    missing from the resolution is resolved in CallTools again)."""
    if not isinstance(value, dict):
        return {}
    resolution: BucketResolution = {}
    for key, entry in value.items():
        if not isinstance(entry, dict):
            continue
        bucket_id, name = entry.get("id"), entry.get("name")
        if isinstance(bucket_id, Decimal | int) and isinstance(name, str):
            resolution[str(key)] = (int(bucket_id), name)
    return resolution


class BucketItem:
    """Mixed into DynamoStateStore. Each writer sets only its own attributes of the one item."""

    _table: Table
    _keys: Keyspace

    def _key(self, key: dict[str, str]) -> dict[str, str]:
        """`key` in this location's keyspace (the built-in's: unchanged)."""
        return {name: self._keys.key(value) for name, value in key.items()}

    def note_bucket_names(self, names: dict[int, str]) -> None:
        self._table.update_item(
            Key=self._key(BUCKET_NAMES_KEY),
            UpdateExpression="SET #kind = :kind, #names = :names",
            ExpressionAttributeNames={"#kind": "kind", "#names": "names"},
            ExpressionAttributeValues={
                ":kind": "buckets",
                ":names": {str(k): v for k, v in names.items()},
            },
        )

    def bucket_names(self) -> dict[int, str]:
        item = self._table.get_item(Key=self._key(BUCKET_NAMES_KEY)).get("Item") or {}
        names = item.get("names")
        if not isinstance(names, dict):
            return {}
        return {int(k): str(v) for k, v in names.items() if str(k).isdigit()}

    def remember(self, resolution: BucketResolution, resolved_at: datetime) -> None:
        self._table.update_item(
            Key=self._key(BUCKET_NAMES_KEY),
            UpdateExpression="SET #kind = :kind, #resolution = :resolution, #at = :at",
            ExpressionAttributeNames={
                "#kind": "kind",
                "#resolution": "resolution",
                "#at": "resolved_at",
            },
            ExpressionAttributeValues={
                ":kind": "buckets",
                ":resolution": {
                    key: {"id": bucket_id, "name": name}
                    for key, (bucket_id, name) in resolution.items()
                },
                ":at": resolved_at.isoformat(),
            },
        )

    def recall(self) -> tuple[BucketResolution, datetime] | None:
        # Consistent: a resolution remembered a moment ago by another container is read.
        item = (
            self._table.get_item(Key=self._key(BUCKET_NAMES_KEY), ConsistentRead=True).get("Item")
            or {}
        )
        resolved_at = parse_time(item.get("resolved_at"))
        if resolved_at is None:
            return None
        return _resolution(item.get("resolution")), resolved_at
