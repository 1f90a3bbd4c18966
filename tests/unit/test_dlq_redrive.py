"""The status page's redrive against a fake SQS: within the API function's time, in few calls,
never losing a letter, never cycling one that died again."""

from __future__ import annotations

import itertools
import json
from typing import Any, cast

import pytest

from chalicelib.adapters.aws.queue import SqsContactQueue

QUEUE, DLQ = "https://sqs/q", "https://sqs/dlq"
LONG_AGO_MS = "1000"


class FakeSqs:
    """Two queues; receiving hides a letter until it is deleted (the visibility timeout never
    ends within a test). `fresh` letters keep arriving in the DLQ, newer than any redrive."""

    def __init__(self, letters: int, *, fresh: bool = False, refuse: set[int] | None = None):
        self.dlq = {f"m{i}": f'{{"contact_id":"c{i}"}}' for i in range(letters)}
        self.hidden: set[str] = set()
        self.sent: list[str] = []
        self.calls = 0
        self._fresh = itertools.count() if fresh else None
        self._refuse = refuse or set()  # indexes of sends SQS refuses

    def _call(self) -> None:
        self.calls += 1
        if self.calls > 2_000:
            raise RuntimeError("the redrive does not stop")

    def receive_message(self, **kw: Any) -> dict[str, Any]:
        self._call()
        assert kw["QueueUrl"] == DLQ
        if self._fresh is not None:
            n = next(self._fresh)
            letter = {"contact_id": f"new{n}"}
            self.dlq[f"n{n}"] = str(letter)
            return {"Messages": [self._message(f"n{n}", "99999999999999")]}
        ready = [m for m in self.dlq if m not in self.hidden][: kw["MaxNumberOfMessages"]]
        self.hidden.update(ready)
        return {"Messages": [self._message(m, LONG_AGO_MS) for m in ready]}

    def _message(self, mid: str, sent_ms: str) -> dict[str, Any]:
        return {
            "MessageId": mid,
            "ReceiptHandle": f"rh-{mid}",
            "Body": self.dlq[mid],
            "Attributes": {"SentTimestamp": sent_ms},
        }

    def send_message(self, **kw: Any) -> dict[str, Any]:
        self._call()
        return self._send(kw["QueueUrl"], kw["MessageBody"])

    def _send(self, url: str, body: str) -> dict[str, Any]:
        assert url == QUEUE
        index = len(self.sent)
        self.sent.append(body)
        if index in self._refuse:
            self.sent[index] = "(refused)"
            raise RuntimeError("refused")
        return {"MessageId": f"s{index}"}

    def send_message_batch(self, **kw: Any) -> dict[str, Any]:
        self._call()
        ok, failed = [], []
        for entry in kw["Entries"]:
            try:
                self._send(kw["QueueUrl"], entry["MessageBody"])
                ok.append({"Id": entry["Id"]})
            except RuntimeError:
                failed.append({"Id": entry["Id"], "Code": "InternalError", "SenderFault": False})
        return {"Successful": ok, "Failed": failed}

    def delete_message(self, **kw: Any) -> dict[str, Any]:
        self._call()
        self.dlq.pop(kw["ReceiptHandle"].removeprefix("rh-"))
        return {}

    def delete_message_batch(self, **kw: Any) -> dict[str, Any]:
        self._call()
        for entry in kw["Entries"]:
            self.dlq.pop(entry["ReceiptHandle"].removeprefix("rh-"))
        return {"Successful": [{"Id": e["Id"]} for e in kw["Entries"]], "Failed": []}


def queue_on(sqs: FakeSqs, clock: Any = None) -> SqsContactQueue:
    extra = {"clock": clock} if clock else {}
    return SqsContactQueue(cast(Any, sqs), QUEUE, DLQ, **extra)


def test_a_hundred_letters_move_in_a_few_dozen_calls():
    # One send and one delete per letter was some 200 calls: near the API function's 10 s.
    sqs = FakeSqs(100)
    assert queue_on(sqs).redrive(100) == 100
    assert sorted(sqs.sent) == sorted(f'{{"contact_id":"c{i}"}}' for i in range(100))
    assert not sqs.dlq and sqs.calls <= 35


def test_letters_that_keep_dying_do_not_hold_the_redrive_past_its_time():
    ticks = itertools.count()
    sqs = FakeSqs(0, fresh=True)
    moved = queue_on(sqs, clock=lambda: next(ticks) * 0.5).redrive(100, within_seconds=6)
    assert moved == 0 and sqs.calls <= 20


@pytest.mark.parametrize("refused", [{0}, {3, 11}])
def test_a_letter_sqs_refuses_to_take_back_stays_dead(refused: set[int]):
    sqs = FakeSqs(20, refuse=refused)
    moved = queue_on(sqs).redrive(100)
    assert moved == 20 - len(refused)
    assert len(sqs.dlq) == len(refused)  # kept, never deleted unsent
    assert sorted(sqs.dlq.values()) == sorted(
        b for b in (f'{{"contact_id":"c{i}"}}' for i in range(20)) if b not in sqs.sent
    )


def test_large_letters_go_back_in_batches_sqs_accepts():
    sqs = FakeSqs(10)
    for mid in sqs.dlq:
        sqs.dlq[mid] = json.dumps({"contact_id": mid, "pad": "x" * 100_000})
    sizes: list[int] = []
    send_batch = sqs.send_message_batch

    def measured(**kw: Any) -> dict[str, Any]:
        sizes.append(sum(len(e["MessageBody"].encode()) for e in kw["Entries"]))
        return send_batch(**kw)

    sqs.send_message_batch = measured  # type: ignore[method-assign]
    assert queue_on(sqs).redrive(100) == 10 and not sqs.dlq
    assert sizes and max(sizes) <= 256 * 1024


class PeekSqs:
    """A DLQ that holds the given bodies and hands them out on every receive (timeout 0)."""

    def __init__(self, bodies: list[str]) -> None:
        self.bodies = bodies

    def receive_message(self, **kw: Any) -> dict[str, Any]:
        assert kw["VisibilityTimeout"] == 0  # looking leaves them in place
        return {
            "Messages": [
                {"MessageId": f"m{i}", "Body": b, "Attributes": {"SentTimestamp": LONG_AGO_MS}}
                for i, b in enumerate(self.bodies)
            ]
        }


def test_one_letter_nested_too_deep_hides_no_other_from_the_page():
    bodies = ['{"contact_id":"c1"}', "[" * 100_000, '{"contact_id":' + "[" * 100_000 + "}"]
    letters = SqsContactQueue(cast(Any, PeekSqs(bodies)), QUEUE, DLQ).peek_dead(10)
    assert [d["contact_id"] for d in letters] == ["c1", "", ""]
