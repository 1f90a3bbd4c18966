"""One location's registry item that cannot be read (written by a newer version, a rolled-back
deploy, a hand edit) stops that location only: never the listing or another location's run."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.aws.locations import DynamoLocationRegistry, location_key
from chalicelib.domain.location import Location
from chalicelib.domain.rules import Rule
from sandbox.aws import ensure_resources
from tests.support.helpers import use_moto_env


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoLocationRegistry]:
    use_moto_env(monkeypatch)
    with mock_aws():
        ensure_resources(
            boto3.client("sqs"), boto3.client("dynamodb"), queue_name="q", table_name="state"
        )
        yield DynamoLocationRegistry(boto3.resource("dynamodb").Table("state"))


def location(location_id: str) -> Location:
    return Location(
        location_id=location_id,
        name=f"Client {location_id}",
        calltools_api_base_url="https://west-2.calltools.io/api/",
        rules=(Rule(tag="cold lead", bucket="Cold Leads"),),
    )


def test_an_unreadable_item_is_left_out_of_the_list_and_its_own_read_still_fails(
    registry: DynamoLocationRegistry,
):
    for location_id in ("La", "Lb", "Lc"):
        registry.put(location(location_id))
    table = boto3.resource("dynamodb").Table("state")
    newer = json.loads(location("Lb").model_dump_json()) | {"oauth_company_id": "c1"}
    table.update_item(
        Key=location_key("Lb"),
        UpdateExpression="SET body = :b",
        ExpressionAttributeValues={":b": json.dumps(newer)},
    )
    assert [loc.location_id for loc in registry.list()] == ["La", "Lc"]
    with pytest.raises(ValueError):  # fail closed for that location: retried, never guessed
        registry.get("Lb")
