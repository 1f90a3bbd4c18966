"""The registry and the secret store on moto: what they write, read back and refuse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.aws.location_secrets import LocationSecretStore
from chalicelib.adapters.aws.locations import INDEX_KEY, DynamoLocationRegistry, location_key
from chalicelib.domain.location import Location, LocationTokens, Pacing
from chalicelib.domain.rules import Rule
from sandbox.aws import ensure_resources
from tests.support.helpers import use_moto_env

PREFIX = "ghl-calltools/test/locations/"
AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_moto_env(monkeypatch)
    with mock_aws():
        ensure_resources(
            boto3.client("sqs"), boto3.client("dynamodb"), queue_name="q", table_name="state"
        )
        yield


def location(location_id: str, **changes: object) -> Location:
    base = Location(
        location_id=location_id,
        name=f"Client {location_id}",
        calltools_api_base_url="https://west-2.calltools.io/api/",
        rules=(Rule(tag="cold lead", bucket="Cold Leads"),),
        pacing=Pacing(ghl_max_rps=2.5),
        created_at=AT,
    )
    return base.model_copy(update=changes)


def store(max_age: int = 300) -> LocationSecretStore:
    return LocationSecretStore(lambda: boto3.client("secretsmanager"), PREFIX, max_age=max_age)


def test_the_registry_reads_back_what_it_wrote_and_lists_by_id(aws: None):
    table = boto3.resource("dynamodb").Table("state")
    registry = DynamoLocationRegistry(table)
    assert registry.list() == [] and registry.get("L1") is None
    registry.put(location("Lb"))
    registry.put(location("La"))
    registry.put(location("Lb", name="Renamed"))
    assert [loc.location_id for loc in registry.list()] == ["La", "Lb"]
    got = registry.get("Lb")
    assert got is not None and got.name == "Renamed" and got.pacing.ghl_max_rps == 2.5
    assert table.get_item(Key=INDEX_KEY)["Item"]["ids"] == {"La", "Lb"}


def test_an_id_without_its_item_is_skipped(aws: None):
    table = boto3.resource("dynamodb").Table("state")
    registry = DynamoLocationRegistry(table)
    registry.put(location("La"))
    table.delete_item(Key=location_key("La"))  # as if the item's write had failed
    assert registry.list() == []


def test_deactivate_keeps_the_item_and_unknown_ids_are_none(aws: None):
    registry = DynamoLocationRegistry(boto3.resource("dynamodb").Table("state"))
    registry.put(location("La"))
    stopped = registry.deactivate("La", AT.replace(hour=13))
    assert stopped is not None and stopped.active is False
    got = registry.get("La")
    assert got is not None and got.active is False and got.updated_at == AT.replace(hour=13)
    assert got.name == "Client La"
    assert registry.deactivate("Nobody", AT) is None and registry.get("Nobody") is None


def test_secrets_are_created_then_replaced_and_read_back_fresh(aws: None):
    secrets = store()
    assert secrets.get("La") is None
    secrets.put(
        "La", LocationTokens.model_validate({"ghl_api_token": "g1", "calltools_api_token": "c1"})
    )
    first = secrets.get("La")
    assert first is not None and first.secret_json() == {
        "ghl_api_token": "g1",
        "calltools_api_token": "c1",
    }
    secrets.put(
        "La", LocationTokens.model_validate({"ghl_api_token": "g2", "calltools_api_token": "c1"})
    )
    # This container's cache does not hide its own write.
    again = secrets.get("La")
    assert again is not None and again.secret_json()["ghl_api_token"] == "g2"
    sm = boto3.client("secretsmanager")
    assert (
        json.loads(sm.get_secret_value(SecretId=PREFIX + "La")["SecretString"])["ghl_api_token"]
        == "g2"
    )


def test_another_containers_write_is_seen_after_max_age_or_when_fresh(aws: None):
    reader, writer = store(), store()
    writer.put("La", LocationTokens.model_validate({"calltools_api_token": "c1"}))
    assert reader.get("La") is not None
    writer.put("La", LocationTokens.model_validate({"calltools_api_token": "c2"}))
    cached = reader.get("La")
    fresh = reader.get("La", fresh=True)
    assert cached is not None and cached.secret_json() == {"calltools_api_token": "c1"}
    assert fresh is not None and fresh.secret_json() == {"calltools_api_token": "c2"}


@pytest.mark.parametrize("value", ["not json", '["a"]', '{"calltools_api_token": "has space"}'])
def test_a_corrupt_secret_raises_without_quoting_it(aws: None, value: str):
    boto3.client("secretsmanager").create_secret(Name=PREFIX + "La", SecretString=value)
    with pytest.raises(ValueError, match="is not a tokens object") as caught:
        store().get("La")
    assert value not in str(caught.value) and caught.value.__cause__ is None
    assert "has space" not in repr(caught.value)
