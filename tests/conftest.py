"""Component-test harness: the Chalice app under chalice.test.Client, AWS in moto, HTTP to sandboxes."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.runtime import wiring
from chalicelib.runtime.wiring import Container
from sandbox.aws import Resources, ensure_resources
from sandbox.calltools import CallToolsSandbox
from sandbox.ghl import GhlSandbox
from sandbox.poller import PENDING_COUNTS, SqsPoller
from tests.support.helpers import LOCATION_ID, GhlMirror, Signer, dumps, use_moto_env

WORKFLOW_SECRET = "wf-secret-for-tests"
ADMIN_TOKEN = "admin-token-for-tests"


@pytest.fixture(scope="session")
def signer() -> Signer:
    return Signer()


@pytest.fixture
def ghl() -> Iterator[GhlSandbox]:
    server = GhlSandbox(location_id=LOCATION_ID, rate_limit=None).start()
    yield server
    server.stop()


@pytest.fixture
def calltools() -> Iterator[CallToolsSandbox]:
    server = CallToolsSandbox().start()
    yield server
    server.stop()


@dataclass
class Service:
    client: Client
    container: Container
    resources: Resources
    ghl: GhlSandbox
    calltools: CallToolsSandbox
    signer: Signer
    sleeps: list[float] = field(default_factory=list)
    mirror: GhlMirror = field(init=False)
    ghl_ids: list[str] = field(default_factory=list)  # contacts a test generated in GHL

    def __post_init__(self) -> None:
        self.mirror = GhlMirror(self.ghl.upsert_contact, self.ghl.delete_contact)

    def post(
        self,
        body: Any,
        headers: dict[str, str] | None = None,
        *,
        sign: bool = True,
        mirror: bool = True,
    ) -> Any:
        """POST a webhook; by default GHL's sandbox is first brought to the event's state."""
        if mirror:
            self.mirror(body)
        raw = body if isinstance(body, bytes) else dumps(body)
        all_headers = {"Content-Type": "application/json"}
        if sign:
            all_headers["X-GHL-Signature"] = self.signer.ed25519(raw)
        all_headers.update(headers or {})
        return self.client.http.post("/webhook/ghl", headers=all_headers, body=raw)

    def admin(
        self, method: str, path: str, body: Any = None, token: str | None = ADMIN_TOKEN
    ) -> Any:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        raw = dumps(body) if body is not None else b""
        return getattr(self.client.http, method)(path, headers=headers, body=raw)

    def invoke(self, event: dict[str, Any], context: Any = None) -> Any:
        return self.client.lambda_.invoke("sync_contacts", event).payload

    def poller(
        self, *, report_batch_item_failures: bool = False, retry_delay_seconds: int = 0
    ) -> SqsPoller:
        return SqsPoller(
            self.container.sqs,
            self.resources.queue_url,
            self.invoke,
            report_batch_item_failures=report_batch_item_failures,
            retry_delay_seconds=retry_delay_seconds,
        )

    def drain(self, deadline_seconds: float = 30.0, **kwargs: Any) -> SqsPoller:
        poller = self.poller(**kwargs)
        poller.drain(deadline_seconds)
        return poller

    def queue_depth(self, url: str | None = None) -> int:
        attrs = self.container.sqs.get_queue_attributes(
            QueueUrl=url or self.resources.queue_url, AttributeNames=list(PENDING_COUNTS)
        )["Attributes"]
        return sum(int(attrs.get(name, "0")) for name in PENDING_COUNTS)

    def dlq_messages(self) -> list[dict[str, Any]]:
        reply = self.container.sqs.receive_message(
            QueueUrl=self.resources.dlq_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [dict(m) for m in reply.get("Messages", [])]

    def calltools_id(self, ghl_id: str) -> int | None:
        state = self.container.state_store.get(ghl_id)
        return state.calltools_id if state else None

    def calltools_ids(self, ghl_id: str) -> set[int]:
        """Every CallTools contact that carries this GHL id (more than one is a duplicate)."""
        return {c["id"] for c in self.calltools.contacts() if c.get("ghl_contact_id") == ghl_id}

    def in_bucket(self, ghl_id: str, bucket_id: int = 70412) -> bool:
        ct_id = self.calltools_id(ghl_id)
        return ct_id is not None and ct_id in self.calltools.bucket_members(bucket_id)


@pytest.fixture
def service(
    monkeypatch: pytest.MonkeyPatch, ghl: GhlSandbox, calltools: CallToolsSandbox, signer: Signer
) -> Iterator[Service]:
    use_moto_env(
        monkeypatch,
        GHL_LOCATION_ID=LOCATION_ID,
        GHL_WEBHOOK_PUBLIC_KEYS=signer.public_pem,
        GHL_WORKFLOW_SECRET=WORKFLOW_SECRET,
        ADMIN_API_TOKEN=ADMIN_TOKEN,
        GHL_API_BASE_URL=ghl.url,
        GHL_API_TOKEN=ghl.token,
        CALLTOOLS_API_BASE_URL=calltools.base_url,
        CALLTOOLS_API_TOKEN=calltools.token,
        HTTP_TIMEOUT_SECONDS="1",
        # The sandbox applies a request before it loses the reply, never later: a short wait
        # still takes the deferral path.
        CALLTOOLS_CREATE_SETTLE_SECONDS="2",
        # chalice.test gives the consumer a 3 s context; let it start every record.
        BATCH_TIME_RESERVE_SECONDS="0",
        # Pacing is tested on its own; here it would only slow the suite down.
        CALLTOOLS_MAX_RPS="1000",
        GHL_MAX_RPS="1000",
    )
    with mock_aws():
        container = wiring.reset()
        resources = ensure_resources(
            container.sqs,
            container.dynamodb_client,
            queue_name=container.settings.sync_queue_name,
            table_name=container.settings.state_table_name,
        )
        svc = Service(Client_for_app(), container, resources, ghl, calltools, signer)
        container.retry_policy.sleep = svc.sleeps.append  # record back-off instead of waiting
        with svc.client:
            yield svc
    wiring.reset()


class _CurrentStdout:
    """Writes to whatever sys.stdout is at the moment of writing."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def logs_on_stdout(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The sync logger's handler writes to the stream that was sys.stdout when chalicelib was
    first imported: under pytest, a capture file that capsys never reads. Point it at the
    sys.stdout capsys captures, so a test sees the printed JSON lines, `extra` fields included
    (caplog sees only the message)."""
    from chalicelib.runtime.observability import logger

    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            monkeypatch.setattr(handler, "stream", _CurrentStdout())


def Client_for_app() -> Client:  # noqa: N802 - reads like the class it returns
    from app import app

    return Client(app)


def body_json(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response.body)
    return data
