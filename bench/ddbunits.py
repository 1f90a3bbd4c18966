"""DynamoDB request units from the wire: item sizes as DynamoDB counts them, and the read and
write request units an on-demand table bills for one call.

Sizes follow "Item sizes and formats" in the DynamoDB developer guide: attribute names count
with their values; a number is about one byte per two significant digits plus one; a list or
map is three bytes plus one per element. Reads round each item up to 4 KB (a strongly
consistent read is one unit, an eventually consistent one half, a transactional one two);
writes round up to 1 KB (a transactional write is two units). A read that finds nothing, and a
write whose condition fails, still consume the minimum.
"""

from __future__ import annotations

import base64
import math
from decimal import Decimal
from typing import Any

READ_BLOCK = 4 * 1024
WRITE_BLOCK = 1024


def value_bytes(value: dict[str, Any]) -> int:
    """One attribute value in DynamoDB JSON, e.g. {"S": "abc"} or {"M": {...}}."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        return number_bytes(raw)
    if kind == "B":
        return len(base64.b64decode(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in raw)
    if kind == "NS":
        return sum(number_bytes(n) for n in raw)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in raw)
    if kind == "L":
        return 3 + sum(1 + value_bytes(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_bytes(v) for k, v in raw.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def number_bytes(text: str) -> int:
    digits = Decimal(text).normalize().as_tuple().digits
    return math.ceil(len(digits) / 2) + 1


def item_bytes(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_bytes(value) for name, value in item.items())


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    blocks = max(1, math.ceil(size / READ_BLOCK))
    return blocks * (2.0 if transactional else 1.0 if consistent else 0.5)


def write_units(size: int, *, transactional: bool = False) -> int:
    return max(1, math.ceil(size / WRITE_BLOCK)) * (2 if transactional else 1)


class UnitCounter:
    """Request units of one client's calls, from each request and its response (wire JSON).

    An update or delete is billed on the larger of the item before and after; the item before is
    known when an earlier call of the run wrote or read it, else the request's own size stands in.
    """

    def __init__(self) -> None:
        self.rru = 0.0
        self.wru = 0.0
        self.largest_item = 0
        self.partial_reads = 0  # queries and scans: units from what they returned (a floor)
        self._keys: dict[str, tuple[str, ...]] = {}  # table → its key attribute names
        self._sizes: dict[tuple[str, str], int] = {}  # (table, key) → last known item size
        self._unkeyed: dict[str, list[tuple[dict[str, Any], int]]] = {}  # before the key is known

    def call(self, operation: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        handler = getattr(self, f"_{operation}", None)
        if handler is not None:
            handler(request, response)

    # --- reads --------------------------------------------------------------------------------------
    def _GetItem(self, req: dict[str, Any], resp: dict[str, Any]) -> None:  # noqa: N802
        table, item = req["TableName"], resp.get("Item")
        self._learn_key(table, req["Key"])
        self.rru += read_units(self._seen(table, item), consistent=bool(req.get("ConsistentRead")))

    def _BatchGetItem(self, req: dict[str, Any], resp: dict[str, Any]) -> None:  # noqa: N802
        unprocessed = resp.get("UnprocessedKeys") or {}
        for table, asked in req["RequestItems"].items():
            consistent = bool(asked.get("ConsistentRead"))
            for key in asked["Keys"]:
                self._learn_key(table, key)
            found = resp.get("Responses", {}).get(table, [])
            for item in found:
                self.rru += read_units(self._seen(table, item), consistent=consistent)
            missing = (
                len(asked["Keys"]) - len(found) - len(unprocessed.get(table, {}).get("Keys", []))
            )
            self.rru += max(0, missing) * read_units(0, consistent=consistent)

    def _Query(self, req: dict[str, Any], resp: dict[str, Any]) -> None:  # noqa: N802
        size = sum(item_bytes(i) for i in resp.get("Items", []))
        self.rru += read_units(size, consistent=bool(req.get("ConsistentRead")))
        self.partial_reads += 1

    _Scan = _Query

    def _TransactGetItems(self, req: dict[str, Any], resp: dict[str, Any]) -> None:  # noqa: N802
        items = [r.get("Item") for r in resp.get("Responses", [])] or [None] * len(
            req["TransactItems"]
        )
        for entry, item in zip(req["TransactItems"], items, strict=False):
            table = entry["Get"]["TableName"]
            self.rru += read_units(self._seen(table, item), consistent=True, transactional=True)

    # --- writes -------------------------------------------------------------------------------------
    def _PutItem(self, req: dict[str, Any], _: dict[str, Any]) -> None:  # noqa: N802
        self.wru += write_units(self._put(req["TableName"], req["Item"]))

    def _UpdateItem(self, req: dict[str, Any], _: dict[str, Any]) -> None:  # noqa: N802
        self.wru += write_units(self._update(req))

    def _DeleteItem(self, req: dict[str, Any], _: dict[str, Any]) -> None:  # noqa: N802
        self.wru += write_units(self._delete(req["TableName"], req["Key"]))

    def _BatchWriteItem(self, req: dict[str, Any], _: dict[str, Any]) -> None:  # noqa: N802
        for table, entries in req["RequestItems"].items():
            for entry in entries:
                if "PutRequest" in entry:
                    self.wru += write_units(self._put(table, entry["PutRequest"]["Item"]))
                else:
                    self.wru += write_units(self._delete(table, entry["DeleteRequest"]["Key"]))

    def _TransactWriteItems(self, req: dict[str, Any], _: dict[str, Any]) -> None:  # noqa: N802
        for entry in req["TransactItems"]:
            ((action, body),) = entry.items()
            if action == "Put":
                size = self._put(body["TableName"], body["Item"])
            elif action == "Update":
                size = self._update(body)
            elif action == "Delete":
                size = self._delete(body["TableName"], body["Key"])
            else:  # ConditionCheck
                size = self._sizes.get((body["TableName"], _canon(body["Key"])), 0)
            self.wru += write_units(size, transactional=True)

    # --- item sizes ---------------------------------------------------------------------------------
    def _learn_key(self, table: str, key: dict[str, Any]) -> None:
        if table in self._keys:
            return
        self._keys[table] = tuple(sorted(key))
        for item, size in self._unkeyed.pop(table, []):
            if (k := self._key_of(table, item)) is not None:
                self._sizes[(table, k)] = size  # in order: the latest stays

    def _key_of(self, table: str, item: dict[str, Any]) -> str | None:
        names = self._keys.get(table)
        if not names or not all(n in item for n in names):
            return None
        return _canon({n: item[n] for n in names})

    def _seen(self, table: str, item: dict[str, Any] | None) -> int:
        if not item:
            return 0
        size = item_bytes(item)
        self.largest_item = max(self.largest_item, size)
        if (key := self._key_of(table, item)) is not None:
            self._sizes[(table, key)] = size
        elif table not in self._keys:
            self._unkeyed.setdefault(table, []).append((item, size))
        return size

    def _put(self, table: str, item: dict[str, Any]) -> int:
        key = self._key_of(table, item)
        before = self._sizes.get((table, key), 0) if key else 0
        return max(before, self._seen(table, item))

    def _update(self, req: dict[str, Any]) -> int:
        table, key = req["TableName"], req["Key"]
        self._learn_key(table, key)
        values = req.get("ExpressionAttributeValues", {})
        guess = item_bytes(key) + sum(value_bytes(v) for v in values.values())
        size = max(self._sizes.get((table, _canon(key)), 0), guess)
        self._sizes[(table, _canon(key))] = size
        self.largest_item = max(self.largest_item, size)
        return size

    def _delete(self, table: str, key: dict[str, Any]) -> int:
        self._learn_key(table, key)
        return self._sizes.pop((table, _canon(key)), item_bytes(key))


def _canon(key: dict[str, Any]) -> str:
    return repr(sorted((name, sorted(value.items())) for name, value in key.items()))
