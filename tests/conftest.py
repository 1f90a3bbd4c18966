"""Shared fixtures: the sandbox servers, a signer, and `service`, the component harness of
tests/support/service.py (the Chalice app under chalice.test.Client, AWS in moto)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from moto import mock_aws

from chalicelib.runtime import wiring
from sandbox import moto_sqs
from sandbox.aws import ensure_resources
from sandbox.calltools import CallToolsSandbox
from sandbox.ghl import GhlSandbox
from tests.support.helpers import LOCATION_ID, Signer, use_moto_env
from tests.support.service import (
    ADMIN_TOKEN,
    HOOK_SECRET,
    WORKFLOW_SECRET,
    Client_for_app,
    Service,
)

# moto's SQS without its per-message datetime work (sandbox/moto_sqs.py), for every suite's
# mock_aws and in-process moto server: same SQS behaviour, far less time with long queues.
moto_sqs.apply()


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
            queue_name=container.settings.queue.name,
            table_name=container.settings.state.table_name,
        )
        svc = Service(Client_for_app(), container, resources, ghl, calltools, signer)
        container.retry_policy.sleep = svc.sleeps.append  # record back-off instead of waiting
        with svc.client:
            yield svc
    wiring.reset()


@pytest.fixture
def hook_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """CALLTOOLS_WEBHOOK_SECRET, set before `service` builds its container (use_moto_env keeps
    what it is not given)."""
    monkeypatch.setenv("CALLTOOLS_WEBHOOK_SECRET", HOOK_SECRET)
    return HOOK_SECRET


@pytest.fixture
def hooked(hook_secret: str, service: Service) -> Service:
    """`service` with CallTools hooks (call outcomes) switched on."""
    return service


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
