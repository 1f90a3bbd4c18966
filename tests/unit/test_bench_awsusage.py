"""The bench's AWS meters (bench/awsusage.py, bench/invocations.py) on stand-ins for botocore's
events and a Lambda handler: what they count is what AWS would bill."""

from __future__ import annotations

import json
import logging
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from bench.awsusage import AwsMeter, LogMeter
from bench.invocations import InvocationClock


def _call(meter: AwsMeter, service: str, operation: str, request: Any, response: Any) -> None:
    """One call as botocore's events carry it: the request body, then the raw answer."""
    model = SimpleNamespace(name=operation, service_model=SimpleNamespace(service_id=service))
    context: dict[str, Any] = {}
    meter._before(model=model, params={"body": request}, context=context)
    meter._after(model=model, http_response=SimpleNamespace(content=response), context=context)


def test_sqs_calls_are_billed_per_64_kb_of_request_or_answer():
    meter = AwsMeter()
    _call(meter, "SQS", "SendMessage", b'{"MessageBody": "small"}', b"{}")
    _call(meter, "SQS", "SendMessage", json.dumps({"MessageBody": "x" * 70_000}).encode(), b"{}")
    _call(meter, "SQS", "ReceiveMessage", b"{}", b"x" * 140_000)
    assert meter.calls == {"SQS.SendMessage": 2, "SQS.ReceiveMessage": 1}
    assert meter.sqs_requests == 1 + 2 + 3


def test_dynamodb_calls_become_request_units_and_reset_clears_them():
    meter = AwsMeter()
    key = {"pk": {"S": "contact#1"}}
    get = {"TableName": "t", "Key": key, "ConsistentRead": True}
    _call(meter, "DynamoDB", "GetItem", json.dumps(get).encode(), b'{"Item": {"pk": {"S": "a"}}}')
    put = {"TableName": "t", "Item": {**key, "blob": {"S": "x" * 2000}}}
    _call(meter, "DynamoDB", "PutItem", json.dumps(put).encode(), b"{}")
    assert meter.units.rru == 1
    assert meter.units.wru == 2  # a 2 KB item
    assert meter.calls["DynamoDB.PutItem"] == 1
    meter.reset()
    assert (meter.units.rru, meter.units.wru, sum(meter.calls.values()), meter.sqs_requests) == (
        0,
        0,
        0,
        0,
    )


def test_log_meter_counts_what_the_product_prints_and_logs_and_lets_it_through(capsys):
    product = logging.getLogger("bench-test-product")
    handler = logging.StreamHandler(sys.stdout)
    product.addHandler(handler)
    product.setLevel(logging.INFO)
    meter = LogMeter()
    meter.start()
    try:
        product.info("contact synced é")  # é is two bytes in UTF-8
        print('{"_aws": 1}')
    finally:
        meter.stop()
    product.info("after stop")
    product.removeHandler(handler)
    assert meter.bytes == len("contact synced é\n".encode()) + len('{"_aws": 1}\n')
    assert capsys.readouterr().out.splitlines() == ["contact synced é", '{"_aws": 1}', "after stop"]


def test_invocation_clock_times_each_invocation_with_its_records_and_aws_share():
    waited = [0.0]

    def handler(event: dict[str, Any], context: Any) -> str:
        waited[0] += 0.002  # as if an AWS call took 2 ms of this invocation
        return "done"

    clock = InvocationClock(lambda: waited[0])
    timed = clock.wrap(handler)
    assert timed({"Records": [1, 2, 3]}, None) == "done"
    assert timed({}, None) == "done"  # not an SQS batch: one record
    assert [i.records for i in clock.invocations] == [3, 1]
    assert clock.records() == 4
    assert all(i.aws_seconds == pytest.approx(0.002) for i in clock.invocations)
    assert clock.billed_ms() >= 2  # each at least 1 ms


def test_invocation_clock_records_a_failed_invocation_too():
    clock = InvocationClock()

    def failing(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("batch incomplete")

    with pytest.raises(RuntimeError):
        clock.wrap(failing)({"Records": [1]}, None)
    assert len(clock.invocations) == 1  # Lambda bills a failed invocation as well
