"""The call-outcome store and the reverse lookup on the state table in moto, the table made as the
local stack makes it (sandbox/aws.py). The store's behaviour is checked against the in-memory fake
the service tests use (tests/support/fake_outcomes.py) by running the same tests over both."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chalicelib.adapters.aws.outcomes import DynamoOutcomeStore, outcome_key
from chalicelib.adapters.aws.state import DynamoStateStore
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.outcome_state import OutcomeState
from chalicelib.domain.state import ContactState
from chalicelib.ports import OutcomeStore
from sandbox.aws import ensure_resources
from tests.support.fake_outcomes import FakeContactDirectory, FakeOutcomeStore
from tests.support.helpers import use_moto_env

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import Table

TABLE = "ghl-calltools-state-test"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CLOCK = 1_750_000_000.0


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBClient]:
    use_moto_env(monkeypatch)
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def table(dynamodb: DynamoDBClient) -> Table:
    sqs = boto3.client("sqs", region_name="us-east-1")
    ensure_resources(sqs, dynamodb, queue_name="outcomes-test", table_name=TABLE)
    return boto3.resource("dynamodb", region_name="us-east-1").Table(TABLE)


@pytest.fixture(params=["dynamo", "fake"])
def store(request: pytest.FixtureRequest) -> OutcomeStore:
    if request.param == "fake":
        return FakeOutcomeStore()
    table: Table = request.getfixturevalue("table")
    return DynamoOutcomeStore(table, clock=lambda: CLOCK)


def lease(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- versions and leases ---------------------------------------------------------------------------


def test_acquire_from_a_state_already_read_refuses_one_that_moved(store: OutcomeStore) -> None:
    """The service passes what it just read (saving a read); a copy racing it must lose."""
    absent = OutcomeState(record_id=8)
    held = store.acquire(8, "worker-a", lease(2), T0, seen=absent)
    assert held.version == 1
    with pytest.raises(ConcurrentUpdate):  # read as absent by a second worker, now present
        store.acquire(8, "worker-b", lease(2), lease(3), seen=absent)
    saved = store.save(held)
    with pytest.raises(ConcurrentUpdate):  # an older read of it
        store.acquire(8, "worker-b", lease(2), lease(3), seen=held)
    again = store.acquire(8, "worker-b", lease(9), lease(3), seen=saved)
    assert again.lease_owner == "worker-b" and again.version == saved.version + 1


def test_acquire_creates_a_pending_outcome_with_the_lease(store: OutcomeStore) -> None:
    assert store.get(7) is None
    held = store.acquire(7, "worker-a", lease(2), T0)
    assert (held.record_id, held.status, held.version) == (7, "pending", 1)
    assert (held.lease_owner, held.lease_until) == ("worker-a", lease(2))
    assert store.get(7) == held
    assert store.tally().received == 1


def test_another_owner_waits_for_the_lease_to_expire(store: OutcomeStore) -> None:
    store.acquire(7, "worker-a", lease(2), T0)
    with pytest.raises(ConcurrentUpdate):
        store.acquire(7, "worker-b", lease(3), lease(1))
    again = store.acquire(7, "worker-a", lease(4), lease(1))  # the holder renews it
    assert (again.lease_owner, again.version) == ("worker-a", 2)
    taken = store.acquire(7, "worker-b", lease(10), lease(5))  # expired: anyone takes it
    assert (taken.lease_owner, taken.lease_until, taken.version) == ("worker-b", lease(10), 3)
    assert store.tally().received == 1  # one outcome, however often it is taken


def test_save_needs_the_current_version_and_releases_the_lease(store: OutcomeStore) -> None:
    held = store.acquire(7, "worker-a", lease(2), T0)
    kept = store.save(held.with_done("tags"), keep_lease=True)
    assert (kept.version, kept.lease_owner, kept.done) == (2, "worker-a", frozenset({"tags"}))
    with pytest.raises(ConcurrentUpdate):
        store.save(held.with_done("note"))  # version 1 is gone
    released = store.save(kept.with_done("note"))
    assert (released.version, released.lease_owner, released.lease_until) == (3, None, None)
    assert store.get(7) == released
    # Released: another owner takes it at once.
    assert store.acquire(7, "worker-b", lease(3), T0).lease_owner == "worker-b"


def test_a_save_from_a_lost_lease_is_refused(store: OutcomeStore) -> None:
    first = store.acquire(7, "worker-a", lease(2), T0)
    store.acquire(7, "worker-b", lease(10), lease(5))
    with pytest.raises(ConcurrentUpdate):
        store.save(first.model_copy(update={"status": "applied"}))
    assert store.tally().applied == 0


# --- the tally ---------------------------------------------------------------------------------------


def finish(store: OutcomeStore, record_id: int, status: str, **fields: Any) -> OutcomeState:
    held = store.acquire(record_id, "worker", lease(2), T0)
    return store.save(held.model_copy(update={"status": status, **fields}))


def test_the_tally_counts_each_final_status_once_even_when_a_save_is_retried(
    store: OutcomeStore,
) -> None:
    held = store.acquire(1, "worker", lease(2), T0)
    applied = held.model_copy(update={"status": "applied", "applied_at": lease(1)})
    saved = store.save(applied)
    with pytest.raises(ConcurrentUpdate):
        store.save(applied)  # the same save again (a retry after a lost reply)
    store.save(saved.model_copy(update={"note_id": "n1"}))  # final to final: not a new outcome
    store.acquire(1, "worker", lease(2), T0)  # redelivered: not received again
    finish(store, 2, "unmapped", reason="no contact")
    finish(store, 3, "unknown")
    store.acquire(4, "worker", lease(2), T0)  # still pending
    tally = store.tally()
    assert (tally.received, tally.applied, tally.unmapped, tally.unknown) == (4, 1, 1, 1)
    assert tally.pending == 1


def test_an_unknown_outcome_applied_later_moves_from_unknown_to_applied_in_the_tally(
    store: OutcomeStore,
) -> None:
    """An id first unknown to CallTools (forged ahead, or read too early) and applied once the
    record exists is one outcome: it leaves `unknown` for `applied`, and pending stays 0."""
    finish(store, 5, "unknown")
    finish(store, 5, "unknown")  # sent again, still unknown: not counted twice
    assert (store.tally().unknown, store.tally().pending) == (1, 0)
    finish(store, 5, "applied", applied_at=lease(1))
    tally = store.tally()
    assert (tally.received, tally.applied, tally.unknown, tally.pending) == (1, 1, 0, 0)


def test_the_tally_keeps_the_lag_of_the_newest_applied_outcome(store: OutcomeStore) -> None:
    assert store.tally().newest_applied_at is None and store.tally().newest_lag_seconds is None
    finish(store, 1, "applied", created_on=T0, applied_at=T0 + timedelta(seconds=95.5))
    finish(store, 2, "unmapped", created_on=T0, applied_at=T0 + timedelta(hours=1))
    finish(store, 3, "applied", created_on=lease(1), applied_at=lease(1) + timedelta(seconds=4))
    tally = store.tally()
    assert tally.newest_applied_at == lease(1) + timedelta(seconds=4)
    assert tally.newest_lag_seconds == pytest.approx(4.0)


def test_the_checkpoint_never_goes_down(store: OutcomeStore) -> None:
    assert store.checkpoint() == 0
    store.advance_checkpoint(500)
    store.advance_checkpoint(300)
    assert store.checkpoint() == 500
    store.advance_checkpoint(500)
    assert store.checkpoint() == 500
    store.advance_checkpoint(501)
    assert store.checkpoint() == store.tally().checkpoint == 501


# --- what the items hold (DynamoDB only) --------------------------------------------------------------


def test_every_field_survives_the_table_and_the_item_expires(table: Table) -> None:
    store = DynamoOutcomeStore(table, clock=lambda: CLOCK)
    held = store.acquire(9, "worker", lease(2), T0)
    full = held.model_copy(
        update={
            "status": "applied",
            "ghl_contact_id": "ghl-1",
            "calltools_contact_id": 4411,
            "disposition": "Not Interested",
            "created_on": T0,
            "done": frozenset({"tags", "note", "dnd"}),
            "note_sent_at": lease(1),
            "note_id": "note-1",
            "reason": None,
            "applied_at": lease(2),
        }
    )
    saved = store.save(full, keep_lease=True)
    assert store.get(9) == saved == full.model_copy(update={"version": 2})
    item = table.get_item(Key=outcome_key(9))["Item"]
    assert item["ttl"] == int(CLOCK) + 90 * 24 * 3600  # DynamoDB's TTL: epoch seconds
    # Not the contacts' attribute: an outcome must never answer the reverse lookup.
    assert "calltools_id" not in item and item["kind"] == "outcome"
    assert DynamoStateStore(table).contact_for_calltools_id(4411) is None


def test_a_failed_tally_update_does_not_fail_the_saved_outcome(
    table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DynamoOutcomeStore(table)
    held = store.acquire(5, "worker", lease(2), T0)
    real_update = table.update_item

    def throttled(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "UpdateItem")

    monkeypatch.setattr(table, "update_item", throttled)
    saved = store.save(held.model_copy(update={"status": "unknown"}))
    monkeypatch.setattr(table, "update_item", real_update)
    assert store.get(5) == saved
    assert store.tally().unknown == 0  # one outcome uncounted, never counted twice


# --- the reverse lookup -------------------------------------------------------------------------------


def link(states: DynamoStateStore, contact_id: str, calltools_id: int | None) -> None:
    states.save(ContactState(contact_id=contact_id, calltools_id=calltools_id, status="synced"))


@pytest.fixture(params=["dynamo", "fake"])
def directory(request: pytest.FixtureRequest) -> Callable[[dict[str, int]], Any]:
    """A directory holding these contacts (GHL id → CallTools id)."""

    def make(links: dict[str, int]) -> Any:
        if request.param == "fake":
            return FakeContactDirectory({ct: ghl for ghl, ct in links.items()})
        states = DynamoStateStore(request.getfixturevalue("table"))
        for ghl_id, ct_id in links.items():
            link(states, ghl_id, ct_id)
        return states

    return make


def test_the_reverse_lookup_names_the_contact(directory: Callable[[dict[str, int]], Any]) -> None:
    contacts = directory({"ghl-a": 101, "ghl-b": 102})
    assert contacts.contact_for_calltools_id(101) == "ghl-a"
    assert contacts.contact_for_calltools_id(102) == "ghl-b"
    assert contacts.contact_for_calltools_id(999) is None


def test_two_contacts_with_one_calltools_id_name_none(
    table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    states = DynamoStateStore(table)
    link(states, "ghl-a", 101)
    link(states, "ghl-b", 101)  # CallTools merged the two
    link(states, "ghl-c", None)  # not in CallTools yet: not in the index
    with caplog.at_level(logging.WARNING):
        assert states.contact_for_calltools_id(101) is None
    assert "several contacts" in caplog.text


def test_the_lookup_raises_when_the_table_has_no_index(dynamodb: DynamoDBClient) -> None:
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(TABLE)
    states = DynamoStateStore(table)
    link(states, "ghl-a", 101)
    with pytest.raises(ClientError) as raised:
        states.contact_for_calltools_id(101)
    assert raised.value.response["Error"]["Code"] in (
        "ValidationException",  # DynamoDB: "The table does not have the specified index"
        "ResourceNotFoundException",  # moto
    )

    # The local stack, started again on such a table, adds the index.
    sqs = boto3.client("sqs", region_name="us-east-1")
    ensure_resources(sqs, dynamodb, queue_name="outcomes-test", table_name=TABLE)
    indexes = dynamodb.describe_table(TableName=TABLE)["Table"]["GlobalSecondaryIndexes"]
    assert [i["IndexName"] for i in indexes] == ["by_calltools_id"]
    link(states, "ghl-b", 102)
    assert states.contact_for_calltools_id(102) == "ghl-b"
