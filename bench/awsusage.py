"""What the product asks of AWS, counted in the units AWS bills: SQS requests, DynamoDB read and
write request units, Lambda invocations and their billed milliseconds, bytes of log.

AWS calls are counted on the product's own clients (botocore's before-call and after-call
events), never the harness's: the bench's SQS poller has a client of its own. What Lambda's
event source mapping does in the poller's place (a receive and a delete per invocation) is
added as a modelled line (bench.pricing.ESM_SQS_REQUESTS_PER_INVOCATION). Invocations are
timed by bench.invocations.
"""

from __future__ import annotations

import io
import json
import logging
import statistics
import sys
import threading
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from bench import pricing
from bench.ddbunits import UnitCounter
from bench.invocations import (
    CONSUMER,
    SCHEDULE,
    WEBHOOK,
    Invocation,
    InvocationClock,
    time_consumer,
)
from bench.product import AwsTimer

if TYPE_CHECKING:
    from chalicelib.runtime.wiring import Container


def _json(raw: Any) -> dict[str, Any]:
    if isinstance(raw, bytes | bytearray):
        raw = raw.decode()
    if not raw:
        return {}
    parsed = json.loads(raw) if isinstance(raw, str) else raw
    return parsed if isinstance(parsed, dict) else {}


def _size(raw: Any) -> int:
    if isinstance(raw, bytes | bytearray):
        return len(raw)
    return len(str(raw or "").encode())


class AwsMeter:
    """The product's AWS calls by operation, SQS's billed requests and DynamoDB's units."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.sqs_requests = 0
        self.units = UnitCounter()

    def attach(self, container: Container) -> None:
        clients = (container.sqs, container.dynamodb_client, container.dynamodb.meta.client)
        for client in clients:
            client.meta.events.register("before-call", self._before)
            client.meta.events.register("after-call", self._after)

    def _before(
        self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        context["bench_request"] = params.get("body")  # read again once the answer is in

    def _after(self, model: Any, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_id
        request = context.pop("bench_request", None)
        with self._lock:
            self.calls[f"{service}.{model.name}"] += 1
            if service == "SQS":
                payload = max(_size(request), _size(http_response.content))
                self.sqs_requests += pricing.sqs_billed_requests(payload)
            elif service == "DynamoDB":
                # A refused call (a failed condition) bills like a done one: the request decides.
                self.units.call(model.name, _json(request), _json(http_response.content))

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.sqs_requests = 0
            self.units = UnitCounter()


class LogMeter:
    """Bytes the product prints: its JSON log lines and the EMF metric lines, which Lambda sends
    to CloudWatch Logs. Counted on the way to stdout, which still gets them."""

    def __init__(self) -> None:
        self.bytes = 0
        self._restore: list[Callable[[], None]] = []

    def start(self) -> None:
        original = sys.stdout
        counting = _CountingStream(original, self)
        sys.stdout = counting  # print() of the EMF lines
        self._restore.append(lambda: setattr(sys, "stdout", original))
        loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
        for lg in loggers:
            for handler in getattr(lg, "handlers", []):
                if isinstance(handler, logging.StreamHandler) and handler.stream is original:
                    handler.setStream(counting)
                    self._restore.append(_stream_restorer(handler, original))

    def stop(self) -> None:
        while self._restore:
            self._restore.pop()()


def _stream_restorer(handler: logging.StreamHandler[Any], stream: TextIO) -> Callable[[], None]:
    def restore() -> None:
        handler.setStream(stream)

    return restore


class _CountingStream(io.TextIOBase):
    def __init__(self, inner: TextIO, meter: LogMeter) -> None:
        super().__init__()
        self._inner, self._meter = inner, meter

    def write(self, text: str) -> int:
        self._meter.bytes += len(text.encode())
        return self._inner.write(text)

    def flush(self) -> None:
        self._inner.flush()

    def fileno(self) -> int:
        return self._inner.fileno()

    def isatty(self) -> bool:
        return self._inner.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._inner.encoding


class Meters:
    """Everything counted for one kind of contact, reset between kinds."""

    def __init__(self, container: Container) -> None:
        self.aws = AwsMeter()
        self.wait = AwsTimer()  # how much of an invocation was spent waiting on AWS (moto)
        self.attach(container)
        self.logs = LogMeter()
        self.clocks = {
            name: InvocationClock(lambda: self.wait.seconds)
            for name in (WEBHOOK, CONSUMER, SCHEDULE)
        }
        time_consumer(self.clocks[CONSUMER])

    def attach(self, container: Container) -> None:
        """Count and time this container's AWS calls too (a consumer's has its own clients)."""
        self.aws.attach(container)
        self.wait.attach(container)

    def reset(self) -> None:
        self.aws.reset()
        self.logs.bytes = 0
        for clock in self.clocks.values():
            clock.invocations.clear()

    def per_contact(self, contacts: int) -> dict[str, Any]:
        """The counts since the last reset, divided by `contacts`, and the usage AWS bills."""
        n = contacts
        used = {name: c for name, c in self.clocks.items() if c.invocations}
        consumer = self.clocks[CONSUMER]
        esm = len(consumer.invocations) * pricing.ESM_SQS_REQUESTS_PER_INVOCATION
        platform_logs = sum(len(c.invocations) for c in used.values())
        log_bytes = self.logs.bytes + platform_logs * pricing.PLATFORM_LOG_BYTES_PER_INVOCATION
        usage = pricing.Usage(
            api_requests=len(self.clocks[WEBHOOK].invocations) / n,
            lambda_invocations={name: len(c.invocations) / n for name, c in used.items()},
            lambda_billed_ms={name: c.billed_ms() / n for name, c in used.items()},
            sqs_requests=(self.aws.sqs_requests + esm) / n,
            dynamodb_rru=self.aws.units.rru / n,
            dynamodb_wru=self.aws.units.wru / n,
            log_bytes=log_bytes / n,
        )
        calls = self.aws.calls
        return {
            "contacts": n,
            "usage": usage,
            "calls": {op: round(k / n, 3) for op, k in sorted(calls.items())},
            "sqs_calls": sum(k for op, k in calls.items() if op.startswith("SQS.")) / n,
            "sqs_ours": self.aws.sqs_requests / n,
            "sqs_esm_modelled": esm / n,
            "dynamodb_reads": sum(k for op, k in calls.items() if _is_read(op)) / n,
            "dynamodb_writes": sum(k for op, k in calls.items() if _is_write(op)) / n,
            "dynamodb_largest_item_bytes": self.aws.units.largest_item,
            "dynamodb_partial_reads": self.aws.units.partial_reads,
            "consumer_records": consumer.records() / n,
            "records_per_consumer_invocation": (
                consumer.records() / len(consumer.invocations) if consumer.invocations else 0.0
            ),
            "ms_per_invocation_median": {
                name: _median_ms(c.invocations) for name, c in used.items()
            },
            "aws_wait_share": {name: _aws_share(c.invocations) for name, c in used.items()},
            "product_log_bytes": self.logs.bytes / n,
        }


_READS = ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems")
_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


def _is_read(op: str) -> bool:
    return op.startswith("DynamoDB.") and op.split(".", 1)[1] in _READS


def _is_write(op: str) -> bool:
    return op.startswith("DynamoDB.") and op.split(".", 1)[1] in _WRITES


def _median_ms(invocations: list[Invocation]) -> float:
    return round(statistics.median(i.seconds for i in invocations) * 1000, 2)


def _aws_share(invocations: list[Invocation]) -> float:
    total = sum(i.seconds for i in invocations)
    return round(sum(i.aws_seconds for i in invocations) / total, 3) if total else 0.0
