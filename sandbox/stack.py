"""The whole service on one machine: `make run`.

Chalice's local HTTP server for the routes, an SQS poller that feeds the consumer like Lambda's event
source mapping, a scheduler stub for @app.schedule, AWS on an embedded moto server (unless
AWS_ENDPOINT_URL is set) and sandbox GHL/CallTools servers (unless their API tokens are set).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shlex
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from chalicelib.adapters.ghl.signature import GHL_ED25519_KEY, GHL_RSA_KEY
from chalicelib.runtime.settings import Settings
from sandbox.aws import ensure_resources
from sandbox.calltools import CallToolsSandbox
from sandbox.calltools.outcomes import CALL_RESULT_MODEL
from sandbox.containers import LambdaContainers
from sandbox.ghl import GhlSandbox
from sandbox.poller import SqsPoller
from sandbox.scheduler import SchedulerStub

SAMPLE_CONTACT_ID = "p4Rk2VtQ8mZs1LwY7nHc"
DEFAULT_LOCATION_ID = "Lc9Xw2TqB7mR4dNs8KfA"


def sample_event(location_id: str) -> dict[str, Any]:
    """A ContactTagUpdate adding `cold lead`, with invented values (555-01xx phone, example.com)."""
    return {
        "type": "ContactTagUpdate",
        "locationId": location_id,
        "id": SAMPLE_CONTACT_ID,
        "firstName": "Avery",
        "lastName": "Lindqvist",
        "name": "Avery Lindqvist",
        "email": "avery.lindqvist@example.com",
        "phone": "+13125550147",
        "companyName": "Lindqvist Landscaping",
        "dnd": False,
        "tags": ["facebook lead", "cold lead"],
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "webhookId": str(uuid.uuid4()),
    }


def public_pem(key: ed25519.Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class LocalStack:
    """Starts every part; `env` is what the app's Settings will read."""

    settings: Settings
    env: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    ghl: GhlSandbox | None = None
    calltools: CallToolsSandbox | None = None
    signing_key: ed25519.Ed25519PrivateKey = field(
        default_factory=ed25519.Ed25519PrivateKey.generate
    )
    _stoppers: list[Any] = field(default_factory=list)

    def start_dependencies(self) -> None:
        s = self.settings
        if not s.aws.endpoint_url:
            from moto.server import ThreadedMotoServer

            from sandbox import moto_sqs

            moto_sqs.apply()  # the server runs in this process: its SQS without moto's slow paths
            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            moto.start()
            self._stoppers.append(moto)
            host, port = moto.get_host_and_port()
            self.env.update(
                AWS_ENDPOINT_URL=f"http://{host}:{port}",
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's dummy credentials
                AWS_DEFAULT_REGION=s.aws.region,
                AWS_REGION=s.aws.region,
            )
            self.lines.append(f"AWS        embedded moto server  http://{host}:{port}")
        else:
            self.lines.append(f"AWS        {s.aws.endpoint_url}")

        location = s.ghl.location_id or DEFAULT_LOCATION_ID
        self.env["GHL_LOCATION_ID"] = location
        if not s.ghl.api_token.get_secret_value():
            self.ghl = GhlSandbox(location_id=location).start()
            self._stoppers.append(self.ghl)
            self.env.update(GHL_API_BASE_URL=self.ghl.url, GHL_API_TOKEN=self.ghl.token)
            self.lines.append(f"GHL        sandbox               {self.ghl.url}")
        else:
            self.lines.append(f"GHL        real API              {s.ghl.api_base_url}")

        if not s.calltools.api_token.get_secret_value():
            buckets = [{"id": 70412, "name": "Cold Leads"}]
            self.calltools = CallToolsSandbox(buckets=buckets).start()
            for rule in s.rules:
                if isinstance(rule.bucket, str) and rule.bucket.casefold() != "cold leads":
                    self.calltools.add_bucket(rule.bucket)
            self._stoppers.append(self.calltools)
            self.env.update(
                CALLTOOLS_API_BASE_URL=self.calltools.base_url,
                CALLTOOLS_API_TOKEN=self.calltools.token,
            )
            self.lines.append(f"CallTools  sandbox               {self.calltools.base_url}")
        else:
            self.lines.append(f"CallTools  real API              {s.calltools.api_base_url}")

        # Without real GHL traffic, trust a key of our own too, so the sample can be signed.
        trusted = s.ghl.webhook_public_keys or GHL_ED25519_KEY + GHL_RSA_KEY
        self.env["GHL_WEBHOOK_PUBLIC_KEYS"] = trusted + public_pem(self.signing_key)
        if not s.ghl.workflow_secret.get_secret_value():
            self.env["GHL_WORKFLOW_SECRET"] = secrets.token_urlsafe(24)
        if not s.calltools.webhook_secret.get_secret_value():
            self.env["CALLTOOLS_WEBHOOK_SECRET"] = secrets.token_urlsafe(24)
        if not s.admin.api_token.get_secret_value():
            self.env["ADMIN_API_TOKEN"] = secrets.token_urlsafe(24)

    def connect_outcomes(self, url: str, calltools_secret: str, app_id: str = "") -> None:
        """Close the call-outcome loop on the sandboxes: CallTools posts each call result to the
        app (subscribed here directly, so the loop works before anything else subscribes), and
        GHL sends the app signed webhooks after the app's own tag and DND writes."""
        if self.calltools:
            hook = f"{url}/webhook/calltools?token={quote(calltools_secret, safe='')}"
            description = "ghl-calltools-sync local stack: call outcomes to GoHighLevel"
            self.calltools.subscribe(CALL_RESULT_MODEL, hook, description)
        if self.ghl:
            self.ghl.send_webhooks_to(f"{url}/webhook/ghl", self.sign, app_id=app_id)

    def keep(self, part: Any) -> None:
        """Stop `part` (anything with stop()) with the stack (sandbox/locations.py)."""
        self._stoppers.append(part)

    def stop(self) -> None:
        for part in reversed(self._stoppers):
            part.stop()

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.signing_key.sign(body)).decode()


def write_sample(stack: LocalStack, state_dir: Path, url: str) -> tuple[Path, str]:
    event = sample_event(stack.env["GHL_LOCATION_ID"])
    if stack.ghl:
        # GHL holds the contact the event describes: the consumer may re-read it from there.
        skip = ("type", "timestamp", "webhookId")
        stack.ghl.upsert_contact({k: v for k, v in event.items() if k not in skip})
    body = json.dumps(event).encode()
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "sample-event.json"
    path.write_bytes(body)
    curl = (
        f"curl -sS -X POST {url}/webhook/ghl -H 'Content-Type: application/json' "
        f"-H 'X-GHL-Signature: {stack.sign(body)}' --data-binary @{shlex.quote(str(path))}"
    )
    return path, curl


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server: no per-request lines
    # Settings is the one reader of the environment; the stack adds what it started, then re-reads.
    settings = Settings()
    stack = LocalStack(settings)
    stack.start_dependencies()
    os.environ.update(stack.env)

    from chalice.config import Config
    from chalice.local import create_local_server

    from app import app
    from chalicelib.runtime import wiring

    container = wiring.reset()
    s = container.settings
    resources = ensure_resources(
        container.sqs,
        container.dynamodb_client,
        queue_name=s.queue.name,
        table_name=s.state.table_name,
    )

    config = Config.create(chalice_stage="dev", app_name=app.app_name, chalice_app=app)
    server = create_local_server(app, config, "127.0.0.1", s.local.port)
    url = f"http://127.0.0.1:{server.server.server_address[1]}"

    def report(exc: BaseException) -> None:
        print(f"consumer: {type(exc).__name__}: {exc}", flush=True)

    # As many consumers as the event source mapping's maximum concurrency, each with a wiring
    # Container of its own, as each concurrent Lambda invocation has (sandbox/containers.py).
    consumers = s.queue.consumer_max_concurrency
    handler = app.handler_map["sync_contacts"]
    poller = SqsPoller(
        container.sqs,
        resources.queue_url,
        handler,
        workers=consumers,
        handler_for=LambdaContainers(handler, consumers, s).handler,
        report_batch_item_failures=s.local.report_batch_item_failures,
        on_error=report,
    ).start()
    scheduler = SchedulerStub(
        app, lambda name, exc: print(f"schedule {name}: {'ok' if exc is None else exc}", flush=True)
    ).start()

    _, curl = write_sample(stack, Path(s.local.state_dir), url)
    calltools_secret = s.calltools.webhook_secret.get_secret_value()
    stack.connect_outcomes(url, calltools_secret, s.ghl.app_id)
    info = {
        "url": url,
        "aws_endpoint_url": s.aws.endpoint_url,
        "queue_url": resources.queue_url,
        "dlq_url": resources.dlq_url,
        "table": resources.table_name,
        "ghl_url": stack.ghl.url if stack.ghl else s.ghl.api_base_url,
        "calltools_url": stack.calltools.base_url if stack.calltools else s.calltools.api_base_url,
        "calltools_token": stack.calltools.token if stack.calltools else None,
        "ghl_token": stack.ghl.token if stack.ghl else None,
        "location_id": s.ghl.location_id,
        "workflow_secret_set": bool(s.ghl.workflow_secret.get_secret_value()),
        # Local only (.devstack/ is git-ignored): lets the operator CLI find the admin API.
        "admin_token": s.admin.api_token.get_secret_value(),
        "workflow_secret": s.ghl.workflow_secret.get_secret_value(),
        "calltools_webhook_secret": calltools_secret,
    }
    (Path(s.local.state_dir) / "stack.json").write_text(json.dumps(info, indent=2))

    mode = "with" if s.local.report_batch_item_failures else "without"
    print("\nghl-calltools-sync local stack", flush=True)
    print(f"Webhook    {url}/webhook/ghl", flush=True)
    for line in stack.lines:
        print(line, flush=True)
    print(
        f"SQS        {resources.queue_url} (poller, {consumers} consumers, "
        f"{mode} ReportBatchItemFailures)",
        flush=True,
    )
    print(f"DLQ        {resources.dlq_url}", flush=True)
    print(f"DynamoDB   table {resources.table_name}", flush=True)
    print(f"Schedules  {'; '.join(scheduler.describe()) or 'none registered'}", flush=True)
    print(f"Status     {url}/admin  (sign in with admin_token from stack.json)", flush=True)
    if stack.calltools:
        print(
            f"Check      curl -s {stack.calltools.url}/_sandbox/state  (sandbox CallTools contents)",
            flush=True,
        )
    print("\nPost a signed sample event (tags the sample contact `cold lead`):", flush=True)
    print(curl, flush=True)
    if stack.calltools:
        # The sandbox numbers contacts from 48000000: the sample contact, once synced, is first.
        call = json.dumps({"contact": 48_000_000, "disposition": "Not Interested"})
        print(
            "\nThen place a call on it (CallTools posts the outcome to /webhook/calltools; "
            "ids in /_sandbox/state):",
            flush=True,
        )
        print(
            f"curl -sS -X POST {stack.calltools.url}/_sandbox/calls "
            f"-H 'Content-Type: application/json' -d '{call}'",
            flush=True,
        )
    print(
        "\nReconcile now, with a progress bar:  .venv/bin/python -m ops.cli reconcile",
        flush=True,
    )
    print(f"\nStack info: {Path(s.local.state_dir) / 'stack.json'}.  Ctrl-C stops.", flush=True)

    thread = threading.Thread(target=server.serve_forever, name="chalice-local", daemon=True)
    thread.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        poller.stop()
        scheduler.stop()
        stack.stop()
