"""Per-call time of moto's SQS with N messages queued, without and with sandbox/moto_sqs.py.

`python -m bench.moto_speed [N ...]` (default 1000 5000): each mode in its own interpreter (the
speed-up patches moto's module), against a ThreadedMotoServer over HTTP as the product calls it.
Medians of 15 calls; a local emulation figure, not one of AWS.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

CALLS = 15
BODY = "x" * 300  # about a SyncMessage with its snapshot


def _median_ms(call: Callable[[], Any], before: Callable[[], Any] | None = None) -> float:
    samples = []
    for _ in range(CALLS):
        if before:
            before()
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 2)


def measure(sizes: list[int], patched: bool) -> dict[int, dict[str, float]]:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from sandbox import moto_sqs

    if patched:
        moto_sqs.apply()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    sqs = boto3.client(
        "sqs",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
    )
    url = sqs.create_queue(QueueName="speed")["QueueUrl"]
    out: dict[int, dict[str, float]] = {}
    queued = 0
    handles: list[str] = []  # one received message's, for the next delete

    def take_one() -> None:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
        handles.append(got["Messages"][0]["ReceiptHandle"])

    def delete_one() -> None:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handles.pop())

    def send_ten() -> None:
        entries = [{"Id": str(i), "MessageBody": BODY} for i in range(10)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)  # type: ignore[arg-type]

    try:
        for size in sizes:
            while queued < size:
                send_ten()
                queued += 10
            figures = {
                # No queue work at all: the HTTP round trip through the server, for scale.
                "GetQueueUrl (round trip)": _median_ms(
                    lambda: sqs.get_queue_url(QueueName="speed")
                ),
                "SendMessageBatch(10)": _median_ms(send_ten),
                # Visibility 0: the messages stay visible, so the queue keeps its length.
                "ReceiveMessage(10)": _median_ms(
                    lambda: sqs.receive_message(
                        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
                    )
                ),
                "GetQueueAttributes(counts)": _median_ms(
                    lambda: sqs.get_queue_attributes(
                        QueueUrl=url,
                        AttributeNames=[
                            "ApproximateNumberOfMessages",
                            "ApproximateNumberOfMessagesNotVisible",
                            "ApproximateNumberOfMessagesDelayed",
                        ],
                    )
                ),
                "DeleteMessage": _median_ms(delete_one, before=take_one),
            }
            queued += 10 * CALLS - CALLS  # the batches sent, less the messages deleted
            out[size] = figures
    finally:
        server.stop()
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("--patched", "--unpatched"):
        print(json.dumps(measure([int(n) for n in argv[1:]], patched=argv[0] == "--patched")))
        return 0
    sizes: list[str] = argv or ["1000", "5000"]
    results = {}
    for mode in ("--unpatched", "--patched"):
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.moto_speed", mode, *sizes],
            capture_output=True,
            text=True,
            check=True,
        )
        results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    print("| operation | queued | moto 5.2.5 | with sandbox/moto_sqs.py |")
    print("|---|---|---|---|")
    for size in sizes:
        for op, before in results["--unpatched"][size].items():
            after = results["--patched"][size][op]
            print(f"| {op} | {int(size):,} | {before:g} ms | {after:g} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
