"""Wrong admin tokens per source address, counted in the state table in 15-minute windows.

One item per (source, window), deleted by the table's TTL. The address is hashed: the table holds
no client address. Fixed windows let a guesser try 2 × the limit around a window's edge; the limit
is small enough for that not to matter against a long random token.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.adapters.aws.state import PK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

WINDOW_SECONDS = 15 * 60
MAX_FAILURES = 5


class DynamoLoginThrottle:
    def __init__(self, table: Table, max_failures: int = MAX_FAILURES) -> None:
        self._table = table
        self._max = max_failures

    @staticmethod
    def _key(source: str, now: datetime) -> dict[str, str]:
        digest = hashlib.sha256(source.encode("utf-8", "replace")).hexdigest()[:32]
        window = int(now.timestamp()) // WINDOW_SECONDS
        return {PK: f"throttle#login#{digest}#{window}"}

    def blocked(self, source: str, now: datetime) -> bool:
        item = self._table.get_item(Key=self._key(source, now), ConsistentRead=True).get("Item")
        return int(str((item or {}).get("failures", 0))) >= self._max

    def failed(self, source: str, now: datetime) -> None:
        self._table.update_item(
            Key=self._key(source, now),
            UpdateExpression="ADD failures :one SET #ttl = :ttl",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={
                ":one": 1,
                ":ttl": int(now.timestamp()) + 2 * WINDOW_SECONDS,
            },
        )
