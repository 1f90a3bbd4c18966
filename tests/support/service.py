"""The component harness: the Chalice app under chalice.test.Client with AWS in moto and GHL and
CallTools as sandbox servers. tests/conftest.py's `service` fixture builds it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chalice.test import Client

from chalicelib.runtime.wiring import Container
from sandbox.aws import Resources
from sandbox.calltools import CallToolsSandbox
from sandbox.ghl import GhlSandbox
from sandbox.poller import PENDING_COUNTS, SqsPoller
from tests.support.helpers import GhlMirror, Signer, dumps

WORKFLOW_SECRET = "wf-secret-for-tests"
ADMIN_TOKEN = "admin-token-for-tests"
# CALLTOOLS_WEBHOOK_SECRET under the `hooked` fixture (tests/conftest.py).
HOOK_SECRET = "hook-secret-for-tests-7f3a"


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


def Client_for_app() -> Client:  # noqa: N802 - reads like the class it returns
    from app import app

    return Client(app)


def body_json(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response.body)
    return data
