"""The webhook intake's answers, with fakes for the queue and signature check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.services.intake import MAX_BODY_BYTES, WebhookIntake
from tests.support.fakes import FakeQueue, FakeVerifier
from tests.support.helpers import LOCATION_ID, dumps, fixture

SIGNED = {"X-GHL-Signature": "good"}
FIXTURES_NOW = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()


def make_intake(queue: FakeQueue, replay_after: timedelta) -> WebhookIntake:
    """The fixtures' events span early 2026: the intake's clock is a day after the newest."""
    return WebhookIntake(
        FakeVerifier(),
        queue,
        workflow_secret="s3cret",
        location_id=LOCATION_ID,
        replay_after=replay_after,
        clock=lambda: FIXTURES_NOW,
    )


@pytest.fixture
def intake(queue: FakeQueue) -> WebhookIntake:
    return make_intake(queue, timedelta(days=60))  # wide enough for every fixture


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


def test_an_event_older_than_the_dedup_window_is_ignored_not_enqueued(queue: FakeQueue):
    intake = make_intake(queue, timedelta(days=14))
    reply = intake.handle(dumps(fixture("ghl/ContactTagUpdate.json")), SIGNED)  # 49 days old
    assert reply.status == 200 and reply.body["status"] == "ignored"
    assert "replay" in reply.body["reason"] and not queue.sent


@pytest.mark.parametrize("location", [None, "someone-elses-location"])
def test_an_event_of_no_or_another_location_is_ignored_not_enqueued(
    intake: WebhookIntake, queue: FakeQueue, location: str | None
):
    body = fixture("ghl/ContactTagUpdate.json")
    body.pop("locationId")
    if location:
        body["locationId"] = location
    reply = intake.handle(dumps(body), SIGNED)
    assert reply.status == 200 and reply.body["status"] == "ignored" and not queue.sent


def test_without_a_configured_location_every_webhook_is_refused_with_503(queue: FakeQueue):
    intake = WebhookIntake(FakeVerifier(), queue, workflow_secret="s3cret", location_id="")
    reply = intake.handle(dumps(fixture("ghl/ContactTagUpdate.json")), SIGNED)
    assert reply.status == 503 and "GHL_LOCATION_ID" in reply.body["reason"]
    assert not queue.sent


def test_a_signed_event_with_null_tags_is_accepted_and_rereads(
    intake: WebhookIntake, queue: FakeQueue
):
    body = {**fixture("ghl/ContactTagUpdate.json"), "tags": None}
    reply = intake.handle(dumps(body), SIGNED)
    assert reply.status == 200 and reply.body["status"] == "accepted"
    assert [m.snapshot for m in queue.sent if hasattr(m, "snapshot")] == [None]
