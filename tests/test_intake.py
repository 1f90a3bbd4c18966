"""The webhook intake's answers, with fakes for the queue and signature check."""

from __future__ import annotations

import pytest

from chalicelib.intake import MAX_BODY_BYTES, WebhookIntake
from tests.fakes import FakeQueue, FakeVerifier
from tests.helpers import LOCATION_ID, dumps, fixture

SIGNED = {"X-GHL-Signature": "good"}


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()


@pytest.fixture
def intake(queue: FakeQueue) -> WebhookIntake:
    return WebhookIntake(FakeVerifier(), queue, workflow_secret="s3cret", location_id=LOCATION_ID)


def test_signed_contact_event_is_enqueued(intake: WebhookIntake, queue: FakeQueue):
    reply = intake.handle(dumps(fixture("ghl/ContactTagUpdate.json")), SIGNED)
    assert reply.status == 200 and reply.body["status"] == "accepted"
    assert [getattr(m, "contact_id", None) for m in queue.sent] == ["p4Rk2VtQ8mZs1LwY7nHc"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-GHL-Signature": "bad"}, {"X-GHL-Signature": "N/A"}, {"X-Webhook-Secret": "nope"}],
)
def test_unauthenticated_is_401_and_enqueues_nothing(intake, queue, headers):
    reply = intake.handle(dumps(fixture("ghl/ContactTagUpdate.json")), headers)
    assert reply.status == 401 and not queue.sent


def test_workflow_payload_with_secret_is_enqueued_for_refetch(intake, queue):
    reply = intake.handle(
        dumps(fixture("ghl/workflow-webhook.json")), {"X-Webhook-Secret": "s3cret"}
    )
    assert reply.status == 200 and getattr(queue.sent[0], "snapshot", "?") is None


def test_workflow_payload_refused_when_no_secret_configured(queue):
    intake = WebhookIntake(FakeVerifier(), queue, workflow_secret="", location_id=LOCATION_ID)
    reply = intake.handle(dumps(fixture("ghl/workflow-webhook.json")), {"X-Webhook-Secret": ""})
    assert reply.status == 401 and not queue.sent


@pytest.mark.parametrize("raw", [b"not json", b"\xff\xfe", b"", b"[" * 100_000])
def test_not_json_is_400(intake, queue, raw):
    assert intake.handle(raw, SIGNED).status == 400 and not queue.sent


@pytest.mark.parametrize("body", [{"type": "ContactCreate"}, [1, 2], {"id": "x"}, "str"])
def test_not_a_contact_event_is_400(intake, queue, body):
    assert intake.handle(dumps(body), SIGNED).status == 400 and not queue.sent


def test_other_event_type_is_200_ignored(intake, queue):
    reply = intake.handle(dumps({"type": "INSTALL", "locationId": LOCATION_ID}), SIGNED)
    assert reply.status == 200 and reply.body["status"] == "ignored" and not queue.sent


def test_other_location_is_200_ignored(intake, queue):
    body = {**fixture("ghl/ContactCreate.json"), "locationId": "elsewhere"}
    reply = intake.handle(dumps(body), SIGNED)
    assert reply.status == 200 and reply.body["status"] == "ignored" and not queue.sent


def test_oversized_body_is_413_before_anything_else(intake, queue):
    assert intake.handle(b"x" * (MAX_BODY_BYTES + 1), {}).status == 413 and not queue.sent


def test_queue_failure_is_503_so_ghl_retries(intake, queue):
    queue.fail_send = True
    reply = intake.handle(dumps(fixture("ghl/ContactCreate.json")), SIGNED)
    assert reply.status == 503
