"""The deployed Lambda entry points, called as AWS would call them and timed per invocation:
Chalice's API handler for a webhook, `sync_contacts` per SQS batch (through the poller),
`daily_reconciliation` per scheduled run."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench import pricing
from bench.events import Signer, signed

CONSUMER, WEBHOOK, SCHEDULE = "sync_contacts", "api_handler", "daily_reconciliation"


@dataclass(frozen=True)
class Invocation:
    records: int
    seconds: float
    aws_seconds: float  # of which some AWS call was in flight (moto here)


class InvocationClock:
    """One function's invocations: the records handed to each, its duration and AWS share.

    `aws_seconds` reads a running total of time spent waiting on AWS (bench.product.AwsTimer).
    """

    def __init__(self, aws_seconds: Callable[[], float] = lambda: 0.0) -> None:
        self.invocations: list[Invocation] = []
        self._aws = aws_seconds

    @contextmanager
    def timed(self, records: int = 1) -> Iterator[None]:
        aws_before, started = self._aws(), time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - started
            self.invocations.append(Invocation(records, seconds, self._aws() - aws_before))

    def wrap(self, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[..., Any]:
        def timed_handler(event: dict[str, Any], context: Any) -> Any:
            with self.timed(len(event.get("Records", [])) or 1):
                return handler(event, context)

        return timed_handler

    def billed_ms(self) -> int:
        return sum(pricing.billed_ms(i.seconds) for i in self.invocations)

    def records(self) -> int:
        return sum(i.records for i in self.invocations)


def time_consumer(clock: InvocationClock) -> None:
    """Time every invocation of the deployed SQS handler. Call it before the poller is built:
    the poller takes the handler from app.handler_map."""
    from app import app

    app.handler_map[CONSUMER] = clock.wrap(app.handler_map[CONSUMER])


def invoke_webhook(signer: Signer, body: dict[str, Any], clock: InvocationClock) -> None:
    """POST /webhook/ghl through Chalice's Lambda entry point, as API Gateway would call it."""
    from app import app
    from sandbox.poller import LocalLambdaContext

    raw, headers = signed(signer, body)  # signing is GHL's work, outside the timing
    path = "/webhook/ghl"
    event = {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "POST",
            "path": f"/api{path}",
            "stage": "api",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": raw.decode(),
        "isBase64Encoded": False,
    }
    context = LocalLambdaContext(function_name=WEBHOOK, timeout_seconds=10)
    with clock.timed():
        reply = app(event, context)
    answer = json.loads(reply.get("body") or "{}")
    if reply.get("statusCode") != 200 or answer.get("status") != "accepted":
        raise RuntimeError(f"webhook not accepted: {reply.get('statusCode')} {answer}")


def invoke_schedule(clock: InvocationClock) -> None:
    """The EventBridge schedule's invocation of `daily_reconciliation`: it starts a run."""
    from app import app
    from sandbox.poller import LocalLambdaContext

    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }
    with clock.timed():
        app.handler_map[SCHEDULE](event, LocalLambdaContext(function_name=SCHEDULE))
