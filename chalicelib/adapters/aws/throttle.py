"""Sign-in attempts per source address (an IPv6 one by its /64), counted in the state table in
15-minute windows.

One item per (source, window), deleted by the table's TTL. The address is hashed: the table holds
no client address. Every attempt is counted before its token is compared, by one conditional
write: parallel guesses cannot all read "not blocked" before any is counted, and a table that
cannot count refuses the attempt (the caller answers 503) instead of leaving guesses uncounted.
A right token gives its attempt back. Fixed windows let a guesser try 2 × the limit around a
window's edge; the limit is small enough for that not to matter against a long random token.
"""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chalicelib.adapters.aws.state import PK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

WINDOW_SECONDS = 15 * 60
MAX_FAILURES = 5
# One IPv6 client holds a whole /64 (the usual smallest allocation): counted as one source.
IPV6_PREFIX = 64


def source_of(address: str) -> str:
    """What one guesser is: an IPv4 address, an IPv6 address's /64, or the text as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:  # an IPv4 client written as IPv6: its own address, not ::/64
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def _refused(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoLoginThrottle:
    def __init__(self, table: Table, max_failures: int = MAX_FAILURES) -> None:
        self._table = table
        self._max = max_failures

    @staticmethod
    def _key(source: str, now: datetime) -> dict[str, str]:
        digest = hashlib.sha256(source_of(source).encode("utf-8", "replace")).hexdigest()[:32]
        window = int(now.timestamp()) // WINDOW_SECONDS
        return {PK: f"throttle#login#{digest}#{window}"}

    def attempt(self, source: str, now: datetime) -> bool:
        """Count one attempt; False (nothing counted) once the window holds the limit."""
        try:
            self._table.update_item(
                Key=self._key(source, now),
                UpdateExpression="ADD failures :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(failures) OR failures < :max",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":one": 1,
                    ":max": self._max,
                    ":ttl": int(now.timestamp()) + 2 * WINDOW_SECONDS,
                },
            )
        except ClientError as exc:
            if _refused(exc):
                return False
            raise
        return True

    def succeeded(self, source: str, now: datetime) -> None:
        """Give back the attempt counted at `now` (the same window): the token was right."""
        try:
            self._table.update_item(
                Key=self._key(source, now),
                UpdateExpression="ADD failures :back",
                ConditionExpression="failures > :zero",
                ExpressionAttributeValues={":back": -1, ":zero": 0},
            )
        except ClientError as exc:
            if not _refused(exc):
                raise
