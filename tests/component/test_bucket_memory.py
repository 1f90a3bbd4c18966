"""The rules' bucket resolution shared between containers through the state table: DynamoStateStore
as BucketMemory in moto, and the echo of an outcome's tag (issue 14) synced by a container that
starts after another resolved the rules, at no CallTools call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.aws.buckets import BUCKET_NAMES_KEY
from chalicelib.adapters.aws.state import DynamoStateStore
from chalicelib.runtime import wiring
from chalicelib.services.rule_book import FRESH_FOR
from sandbox.aws import ensure_resources
from sandbox.containers import LambdaContainers
from sandbox.poller import SqsPoller
from tests.support.helpers import CONTACT_ID, ago, tagged, use_moto_env
from tests.support.service import Service

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

TABLE = "ghl-calltools-state-test"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
RESOLUTION = {"name:cold leads": (70412, "Cold Leads"), "id:80100": (80100, "Hot Leads")}


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Table]:
    use_moto_env(monkeypatch)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        ensure_resources(sqs, dynamodb, queue_name="buckets-test", table_name=TABLE)
        yield boto3.resource("dynamodb", region_name="us-east-1").Table(TABLE)


def test_a_resolution_remembered_is_recalled(table: Table):
    store = DynamoStateStore(table)
    assert store.recall() is None
    store.remember(RESOLUTION, T0)
    assert store.recall() == (RESOLUTION, T0)
    later = {"name:cold leads": (70412, "Cold Leads")}
    store.remember(later, T0 + timedelta(minutes=5))
    assert store.recall() == (later, T0 + timedelta(minutes=5))  # replaced, not merged


def test_the_stats_names_and_the_resolution_share_the_item_without_erasing_each_other(
    table: Table,
):
    store = DynamoStateStore(table)
    store.note_bucket_names({70412: "Cold Leads", 80100: "Hot Leads"})
    store.remember(RESOLUTION, T0)
    assert store.bucket_names() == {70412: "Cold Leads", 80100: "Hot Leads"}
    store.note_bucket_names({70412: "Cold Leads"})
    assert store.recall() == (RESOLUTION, T0)
    assert store.bucket_names() == {70412: "Cold Leads"}
    assert table.get_item(Key=BUCKET_NAMES_KEY)["Item"]["kind"] == "buckets"


def test_a_damaged_entry_is_left_out_of_what_is_recalled(table: Table):
    """A rule missing from the recalled resolution is resolved in CallTools again."""
    table.put_item(
        Item={
            **BUCKET_NAMES_KEY,
            "resolution": {"name:cold leads": {"id": 70412, "name": "Cold Leads"}, "id:9": "x"},
            "resolved_at": T0.isoformat(),
        }
    )
    assert DynamoStateStore(table).recall() == ({"name:cold leads": (70412, "Cold Leads")}, T0)


# --- two consumer containers (issue 14: the echo of a tag we added costs no CallTools call) ----
def second_container(service: Service) -> tuple[wiring.Container, SqsPoller]:
    """A consumer container that starts after the first, with the same settings and resources,
    and a poller whose invocations it answers (as sandbox/stack.py runs each worker)."""
    containers = LambdaContainers(service.invoke, 1, service.container.settings)
    poller = SqsPoller(
        service.container.sqs,
        service.resources.queue_url,
        service.invoke,
        handler_for=containers.handler,
        retry_delay_seconds=0,
    )
    return containers.containers[0], poller


def synced_by_the_first_container(service: Service) -> None:
    service.post(tagged("cold lead", at=ago(60)))
    service.drain()
    assert service.in_bucket(CONTACT_ID)
    # The first container resolved the rules in CallTools.
    assert service.calltools.call_count("GET", "/api/buckets/") >= 1
    service.calltools.reset_calls()


def echo(service: Service) -> None:
    """GHL's ContactTagUpdate after we added an outcome's tag."""
    service.post(tagged("cold lead", "calltools: not interested", at=ago(1)))


def test_the_echo_on_a_new_container_costs_no_calltools_call(service: Service):
    synced_by_the_first_container(service)
    echo(service)
    other, poller = second_container(service)
    poller.drain(30.0)
    assert service.queue_depth() == 0 and poller.failed_invocations == 0
    assert service.calltools.calls() == []
    # It was the second container that synced it, with the buckets the first resolved.
    assert poller.invocations == 1
    assert [r.bucket_id for r in other.rulebook.resolved()] == [70412]
    state = other.state_store.get(CONTACT_ID)
    assert state is not None and state.buckets == {70412} and state.status != "failed"
    assert service.in_bucket(CONTACT_ID)


def test_a_new_container_finding_the_resolution_stale_asks_calltools_once(service: Service):
    """The same echo, the first container's resolution older than the window."""
    synced_by_the_first_container(service)
    store = service.container.state_store
    recalled = store.recall()
    assert recalled is not None
    store.remember(recalled[0], recalled[1] - FRESH_FOR)
    echo(service)
    _, poller = second_container(service)
    poller.drain(30.0)
    assert [(c.method, c.path) for c in service.calltools.calls()] == [("GET", "/api/buckets/")]
    fresh = store.recall()
    assert fresh is not None and fresh[1] > recalled[1]  # and remembered again
