"""The local stack as a black box: `python -m sandbox` (what `make run` starts) in a subprocess
on a free port, found through its stack.json and driven over HTTP only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.helpers import EVENT_KEYS, Signer, dumps

ROOT = Path(__file__).resolve().parents[2]
COLD_LEADS = 70412  # the sandbox CallTools' one bucket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Callable[[], Any], deadline: float = 30.0, what: str = "condition") -> Any:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Stack:
    def __init__(self, proc: subprocess.Popen[str], out: Path, state_dir: Path) -> None:
        self.proc, self.out, self.state_dir = proc, out, state_dir
        self.info: dict[str, Any] = {}

    def output(self) -> str:
        return self.out.read_text()

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"stack exited early:\n{self.output()}")
        info = self.state_dir / "stack.json"
        if "Serving on" not in self.output() or not info.exists():
            return False
        self.info = json.loads(info.read_text())
        return True

    @property
    def calltools_admin(self) -> str:
        """The sandbox CallTools' root, where its /_sandbox/ endpoints are."""
        url: str = self.info["calltools_url"]
        return url.removesuffix("/api/")

    def calltools_state(self) -> dict[str, Any]:
        state: dict[str, Any] = httpx.get(
            f"{self.calltools_admin}/_sandbox/state", timeout=5
        ).json()
        return state

    def post(self, body: dict[str, Any], signer: Signer, *, seed: bool = True) -> httpx.Response:
        """POST a signed event; first make the sandbox GHL hold the contact as the event says."""
        if seed:
            contact = {k: v for k, v in body.items() if k not in EVENT_KEYS}
            httpx.put(
                f"{self.info['ghl_url']}/_sandbox/contacts/{body['id']}", json=contact, timeout=5
            )
        raw = dumps(body)
        return httpx.post(
            self.info["url"] + "/webhook/ghl", content=raw, headers=signer.headers(raw), timeout=10
        )

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.info['admin_token']}"}

    def stats(self) -> dict[str, Any]:
        reply = httpx.get(
            self.info["url"] + "/sync/stats", headers=self.admin_headers(), timeout=10
        )
        reply.raise_for_status()
        stats: dict[str, Any] = reply.json()
        return stats

    def sqs(self) -> Any:
        """A client of the stack's own moto server."""
        import boto3

        return boto3.client(
            "sqs",
            endpoint_url=self.info["aws_endpoint_url"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def queue_empty(self) -> bool:
        attrs = self.sqs().get_queue_attributes(
            QueueUrl=self.info["queue_url"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return not int(attrs["ApproximateNumberOfMessages"]) and not int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def bucket_members(self, bucket_id: int = COLD_LEADS) -> set[int]:
        return {
            c["id"] for c in self.calltools_state()["contacts"] if bucket_id in c.get("buckets", [])
        }


@contextmanager
def running_stack(state_dir: Path, signer: Signer) -> Iterator[Stack]:
    """`python -m sandbox` on a free port, its state in `state_dir`; stopped on exit."""
    out = state_dir / "stdout.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GHL_", "CALLTOOLS_"))}
    env.update(
        PORT=str(free_port()),
        LOCAL_STATE_DIR=str(state_dir),
        GHL_WEBHOOK_PUBLIC_KEYS=signer.public_pem,
        PYTHONUNBUFFERED="1",
        # The sandboxes are local: pace for speed, not for the real APIs' limits.
        CALLTOOLS_MAX_RPS="500",
        GHL_MAX_RPS="500",
    )
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    stack = Stack(proc, out, state_dir)
    try:
        wait_for(stack.ready, 60, "the local stack to start")
        yield stack
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
