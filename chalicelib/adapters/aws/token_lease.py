"""The lease on a grant's refresh (ports.TokenLease) in the state table: one item
`oauth#lock#<key>` held by one owner until `lease_until` (epoch seconds).

Taken by a conditional put: free, expired, or already the owner's. DynamoDB's TTL deletes old
items days late, so expiry is the condition's comparison, and `ttl` only tidies up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chalicelib.adapters.aws.state import PK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

LOCK_PREFIX = "oauth#lock#"


def lock_key(key: str) -> dict[str, str]:
    return {PK: f"{LOCK_PREFIX}{key}"}


def _conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoTokenLease:
    def __init__(self, table: Table, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    def take(self, key: str, owner: str, seconds: float) -> bool:
        now = self._clock()
        try:
            self._table.put_item(
                Item={
                    **lock_key(key),
                    "kind": "oauth_lock",
                    "owner": owner,
                    "lease_until": int(now + seconds) + 1,
                    "ttl": int(now + seconds) + 3600,
                },
                ConditionExpression="attribute_not_exists(#pk) OR lease_until < :now OR #owner = :me",
                ExpressionAttributeNames={"#pk": PK, "#owner": "owner"},
                ExpressionAttributeValues={":now": int(now), ":me": owner},
            )
        except ClientError as exc:
            if _conditional_failure(exc):
                return False
            raise
        return True

    def release(self, key: str, owner: str) -> None:
        try:
            self._table.delete_item(
                Key=lock_key(key),
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": owner},
            )
        except ClientError as exc:
            if not _conditional_failure(exc):  # expired and taken by another: theirs now
                raise
