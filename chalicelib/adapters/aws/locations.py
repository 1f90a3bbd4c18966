"""The location registry in the state table: a `location#<id>` item per location, and one
`locations` item listing their ids, so that listing reads a few items rather than scanning every
contact (docs/locations.md). No token is ever written here: they are in Secrets Manager."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from chalicelib.domain.location import Location
from chalicelib.runtime.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

INDEX_KEY = {"pk": "locations"}
LOCATION_PREFIX = "location#"


def location_key(location_id: str) -> dict[str, str]:
    return {"pk": f"{LOCATION_PREFIX}{location_id}"}


def _item(location: Location) -> dict[str, Any]:
    return {
        **location_key(location.location_id),
        "kind": "location",
        "location_id": location.location_id,
        "active": location.active,
        # One JSON string, as runs are: floats (pacing) would come back as Decimals.
        "body": location.model_dump_json(),
    }


class DynamoLocationRegistry:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, location_id: str) -> Location | None:
        item = self._table.get_item(Key=location_key(location_id), ConsistentRead=True).get("Item")
        return Location.model_validate_json(str(item["body"])) if item else None

    def put(self, location: Location) -> None:
        # The id joins the index first: a failure between the two writes leaves an id whose item
        # is missing (skipped by `list`), never a location that `list` cannot find.
        self._table.update_item(
            Key=INDEX_KEY,
            UpdateExpression="ADD ids :id SET kind = :kind",
            ExpressionAttributeValues={":id": {location.location_id}, ":kind": "location_index"},
        )
        self._table.put_item(Item=_item(location))

    def list(self) -> Sequence[Location]:
        index = self._table.get_item(Key=INDEX_KEY, ConsistentRead=True).get("Item") or {}
        ids = sorted(str(i) for i in index.get("ids", set()))  # type: ignore[union-attr]
        # One GetItem each: an agency has dozens of locations, and the API function's role
        # grants no BatchGetItem.
        found = (self._readable(location_id) for location_id in ids)
        return [location for location in found if location is not None]

    def _readable(self, location_id: str) -> Location | None:
        """The location, or None when its item cannot be read (a newer version's fields, a hand
        edit): left out of the list, so one location's item never stops the listing or another
        location's run. `get` still raises for it: that location fails closed on its own."""
        try:
            return self.get(location_id)
        except ValidationError:
            logger.error("location item unreadable; left out", extra={"location_id": location_id})
            return None

    def deactivate(self, location_id: str, at: datetime) -> Location | None:
        current = self.get(location_id)
        if current is None:
            return None
        stopped = current.model_copy(update={"active": False, "updated_at": at})
        try:
            self._table.put_item(Item=_item(stopped), ConditionExpression="attribute_exists(pk)")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return stopped
