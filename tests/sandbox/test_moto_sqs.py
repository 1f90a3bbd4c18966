"""sandbox/moto_sqs.py makes moto's SQS faster without changing what SQS does: delays, visibility
timeouts, redrive to the DLQ after maxReceiveCount, retention, and the approximate counts.

tests/conftest.py applies the speed-up for every test; these tests check it is applied and that
the behaviour the product and the poller rely on holds under it. (Its speed is measured by
`python -m bench.moto_speed`, not here.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from moto import mock_aws

from sandbox import moto_sqs
from tests.support.helpers import use_moto_env

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

COUNTS: tuple[QueueAttributeNameType, ...] = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
)


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[SQSClient]:
    import boto3

    use_moto_env(monkeypatch)
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def counts(sqs: SQSClient, url: str) -> tuple[int, int, int]:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(COUNTS))["Attributes"]
    visible, delayed, in_flight = (int(attrs[name]) for name in COUNTS)
    return visible, delayed, in_flight


def receive(sqs: SQSClient, url: str, **kwargs: Any) -> list[Any]:
    kwargs.setdefault("WaitTimeSeconds", 0)
    reply = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], **kwargs
    )
    return list(reply.get("Messages", []))


def receive_within(sqs: SQSClient, url: str, seconds: float, **kwargs: Any) -> list[Any]:
    """Long-poll until something arrives or the deadline passes."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if got := receive(sqs, url, WaitTimeSeconds=1, **kwargs):
            return got
    return []


def test_the_speed_up_is_applied_to_the_pinned_moto() -> None:
    import moto
    from moto.sqs import models

    assert moto.__version__ == moto_sqs.PATCHED_VERSION
    assert moto_sqs.apply() is True
    module: Any = models
    assert module.unix_time_millis is moto_sqs._unix_time_millis
    assert module.Queue.attributes.fget is moto_sqs._attributes


def test_its_clock_is_the_wall_clock_moto_reads() -> None:
    from moto.core import utils

    before = utils.unix_time_millis()
    ours = moto_sqs._unix_time_millis()
    after = utils.unix_time_millis()
    assert before - 1 <= ours <= after + 1  # epoch milliseconds, as SentTimestamp reports them


def test_a_delayed_message_is_counted_as_delayed_and_arrives_after_its_delay(
    sqs: SQSClient,
) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sent_at = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=2)
    sqs.send_message(QueueUrl=url, MessageBody="now")
    assert counts(sqs, url) == (1, 1, 0)
    assert [m["Body"] for m in receive(sqs, url, VisibilityTimeout=60)] == ["now"]
    assert receive(sqs, url) == []  # still delayed
    got = receive_within(sqs, url, 10)
    assert [m["Body"] for m in got] == ["later"]
    assert time.monotonic() - sent_at >= 2 - 0.05


def test_a_received_message_is_invisible_until_its_timeout_then_comes_back(
    sqs: SQSClient,
) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    first = receive(sqs, url, VisibilityTimeout=2)
    assert len(first) == 1 and counts(sqs, url) == (0, 0, 1)
    assert receive(sqs, url) == []
    again = receive_within(sqs, url, 10, VisibilityTimeout=60)
    assert [m["MessageId"] for m in again] == [first[0]["MessageId"]]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    # The newest receipt handle deletes it; afterwards nothing is left anywhere.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)


def test_a_visibility_change_makes_a_message_visible_again_at_once(sqs: SQSClient) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    [message] = receive(sqs, url, VisibilityTimeout=60)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    assert counts(sqs, url) == (1, 0, 0)
    assert [m["MessageId"] for m in receive(sqs, url)] == [message["MessageId"]]


def test_after_max_receive_count_receives_the_message_goes_to_the_dlq(sqs: SQSClient) -> None:
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url = sqs.create_queue(QueueName="q", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for n in (1, 2):  # received and never deleted: back at once (visibility 0)
        [m] = receive(sqs, url, VisibilityTimeout=0)
        assert m["Attributes"]["ApproximateReceiveCount"] == str(n)
    assert receive(sqs, url, VisibilityTimeout=0) == []  # the third receive moves it instead
    assert counts(sqs, url) == (0, 0, 0)
    assert [m["Body"] for m in receive(sqs, dlq)] == ["poison"]


def test_a_message_past_the_retention_period_is_not_delivered(sqs: SQSClient) -> None:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_queue("q")
    [old] = queue._messages
    assert old.sent_timestamp is not None
    old.sent_timestamp -= 61_000  # sent 61 s ago: older than the queue keeps messages
    assert receive(sqs, url) == []
    sqs.send_message(QueueUrl=url, MessageBody="fresh")
    assert "fresh" in [m["Body"] for m in receive(sqs, url)]


def test_the_counts_add_up_with_visible_delayed_and_in_flight_messages(sqs: SQSClient) -> None:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for i in range(0, 30, 10):
        entries = [{"Id": str(j), "MessageBody": f"m{i + j}"} for j in range(10)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)  # type: ignore[arg-type]
    delayed = [{"Id": str(j), "MessageBody": "d", "DelaySeconds": 60} for j in range(5)]
    sqs.send_message_batch(QueueUrl=url, Entries=delayed)  # type: ignore[arg-type]
    taken = receive(sqs, url, VisibilityTimeout=60)
    assert len(taken) == 10
    assert counts(sqs, url) == (20, 5, 10)
    everything = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (everything["ApproximateNumberOfMessages"], everything["VisibilityTimeout"]) == (
        "20",
        "30",
    )
    assert "RedrivePolicy" not in everything and everything["SqsManagedSseEnabled"] == "true"
    for m in taken:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert counts(sqs, url) == (20, 5, 0)


def test_an_unknown_attribute_name_is_still_refused(sqs: SQSClient) -> None:
    from botocore.exceptions import ClientError

    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    with pytest.raises(ClientError, match="InvalidAttributeName"):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchThing"])  # type: ignore[list-item]
