"""Drives the real product in-process against a World: wiring from environment variables, the
Chalice SQS handler fed by the local stack's poller, webhooks through WebhookIntake.

Each scenario runs in its own process, so setting os.environ and the wiring singleton here is safe.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bench.constants import LOCATION_ID
from bench.events import Signer, signed
from bench.world import AWS_TEST_CREDENTIALS, REGION, WorldInfo

if TYPE_CHECKING:
    from chalicelib.domain.runs import Run
    from chalicelib.runtime.wiring import Container
    from sandbox.poller import Handler, LocalLambdaContext, SqsPoller

# The dev/prod stage's lambda_timeout of sync_contacts (.chalice/config.json).
CONSUMER_TIMEOUT_SECONDS = 120.0
# Settings a developer's shell might carry that would change what is measured.
_CLEARED = ("AWS_PROFILE", "SYNC_RULES", "GHL_APP_ID", "CALLTOOLS_BUCKET_METHOD", "SYNC_QUEUE_URL")


def configure(
    info: WorldInfo, signer: Signer, *, pacing: bool, settings: dict[str, str] | None = None
) -> Container:
    """Point the product at the world. `pacing=False` lifts the client-side rate pacers (for
    counting calls or measuring work); `True` keeps the product's defaults (GHL 8/s, CallTools
    5/s shared by CONSUMER_MAX_CONCURRENCY=2 consumers). `settings`: environment variables of the
    product's own to set on top (e.g. CALLTOOLS_MAX_RPS)."""
    for name in (*_CLEARED, "GHL_MAX_RPS", "CALLTOOLS_MAX_RPS", "CONSUMER_MAX_CONCURRENCY"):
        os.environ.pop(name, None)
    os.environ.update(AWS_TEST_CREDENTIALS)
    os.environ.update(
        AWS_ENDPOINT_URL=info.aws_endpoint,
        GHL_LOCATION_ID=LOCATION_ID,
        GHL_WEBHOOK_PUBLIC_KEYS=signer.public_pem,
        GHL_WORKFLOW_SECRET="bench-workflow-secret",  # noqa: S106 - invented
        ADMIN_API_TOKEN="bench-admin-token",  # noqa: S106 - invented
        GHL_API_BASE_URL=info.ghl_url,
        GHL_API_TOKEN=info.ghl_token,
        CALLTOOLS_API_BASE_URL=info.calltools_url,
        CALLTOOLS_API_TOKEN=info.calltools_token,
        SYNC_QUEUE_URL=info.queue_url,
    )
    if not pacing:
        os.environ.update(GHL_MAX_RPS="100000", CALLTOOLS_MAX_RPS="100000")
    os.environ.update(settings or {})
    from chalicelib.runtime import wiring

    return wiring.reset()


def consumer_poller(
    info: WorldInfo,
    *,
    workers: int | None = None,
    on_container: Callable[[Container], Any] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> SqsPoller:
    """The local stack's event-source-mapping stand-in, calling the deployed handler function.

    As deployed: CONSUMER_MAX_CONCURRENCY consumers (the configured container's settings) unless
    `workers` says otherwise, each with a wiring Container of its own as each concurrent Lambda
    invocation has (sandbox/containers.py); `on_container` sees each one before it is used (to
    time its AWS calls, or to make the per-container bucket lookup outside what is counted), and
    `on_event` each SQS event as a consumer picks it up. The poller gets its own SQS client, so
    the harness's receives are not counted as the product's AWS time.
    """
    import boto3

    from app import app
    from chalicelib.runtime import wiring
    from sandbox.containers import LambdaContainers
    from sandbox.poller import SqsPoller

    settings = wiring.container().settings
    count = workers or settings.queue.consumer_max_concurrency
    handler = app.handler_map["sync_contacts"]
    containers = LambdaContainers(handler, count, settings, on_new=on_container)

    def handler_for(worker: int) -> Handler:
        own = containers.handler(worker)
        if on_event is None:
            return own

        def observed(event: dict[str, Any], context: LocalLambdaContext) -> Any:
            on_event(event)
            return own(event, context)

        return observed

    sqs = boto3.client("sqs", endpoint_url=info.aws_endpoint, region_name=REGION)
    return SqsPoller(
        sqs,
        info.queue_url,
        handler,
        workers=count,
        handler_for=handler_for,
        function_timeout=CONSUMER_TIMEOUT_SECONDS,
        retry_delay_seconds=1,
    )


def warmed(timer: AwsTimer | None = None) -> Callable[[Container], None]:
    """An `on_container` for consumer_poller: the container's bucket lookup now (once per
    container, as at a Lambda cold start, and before the calls a scenario counts); with a timer,
    the container's AWS calls timed from then on."""

    def prepare(container: Container) -> None:
        container.rulebook.resolved()
        if timer is not None:
            timer.attach(container)

    return prepare


def post_webhook(container: Container, signer: Signer, body: dict[str, Any]) -> None:
    raw, headers = signed(signer, body)
    reply = container.webhook_intake.handle(raw, headers)
    if reply.status != 200 or reply.body.get("status") != "accepted":
        raise RuntimeError(f"webhook not accepted: {reply.status} {reply.body}")


def reconcile(container: Container, poller: SqsPoller, deadline_seconds: float) -> Run:
    """One reconciliation run, start to finish: every step and every contact it enqueued."""
    run = container.reconciler.start(mode="reconcile", trigger="bench")
    poller.drain(deadline_seconds)
    done = container.run_store.get(run.id)
    if done is None or done.status != "finished":
        raise RuntimeError(f"run {run.id} did not finish: {done}")
    return done


class AwsTimer:
    """Wall time during which at least one of the product's AWS calls was in flight (calls from
    several threads overlap and count once: `seconds`), the calls' own durations added up
    (`summed_seconds`: what concurrent consumers spent waiting on AWS between them), and the calls
    by operation.

    Measured from botocore's before-call to after-call: the request on the wire, moto's work and
    the response parsing. Serialising the request is left out (it would happen against AWS too).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight = 0
        self._since = 0.0
        self._thread = threading.local()  # a thread has one call in flight at a time
        self.seconds = 0.0
        self.summed_seconds = 0.0
        self.calls: Counter[str] = Counter()

    def attach(self, container: Container) -> None:
        clients = (container.sqs, container.dynamodb_client, container.dynamodb.meta.client)
        for client in clients:
            events = client.meta.events
            events.register("before-call", self._before)
            events.register("after-call", self._after)
            events.register("after-call-error", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        now = time.perf_counter()
        self._thread.started = now
        with self._lock:
            if self._inflight == 0:
                self._since = now
            self._inflight += 1
            self.calls[f"{model.service_model.service_id}.{model.name}"] += 1

    def _after(self, **_: Any) -> None:
        now = time.perf_counter()
        with self._lock:
            self.summed_seconds += now - self._thread.started
            self._inflight -= 1
            if self._inflight == 0:
                self.seconds += now - self._since

    def reset(self) -> None:
        with self._lock:
            self.seconds = 0.0
            self.summed_seconds = 0.0
            self.calls.clear()
