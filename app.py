"""Routes and triggers only: each parses its event, calls one function in chalicelib, shapes the reply."""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice, Response, SQSEvent

from chalicelib import wiring
from chalicelib.observability import logger
from chalicelib.settings import get_settings

app = Chalice(app_name="ghl-calltools-sync")

# Any body type reaches the handler: it authenticates the raw bytes before parsing them.
WEBHOOK_CONTENT_TYPES = [
    "application/json",
    "text/plain",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
]


@app.route("/webhook/ghl", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def ghl_webhook() -> Response:
    request = app.current_request
    assert request is not None
    try:
        reply = wiring.container().webhook_intake.handle(request.raw_body, request.headers)
    except Exception:  # never a 500: GHL retries on 503, and the error is logged
        logger.exception("webhook intake failed")
        return Response({"status": "unavailable"}, status_code=503)
    return Response(reply.body, status_code=reply.status)


_settings = get_settings()


@app.on_sqs_message(
    queue=None if _settings.sync_queue_arn else _settings.sync_queue_name,
    queue_arn=_settings.sync_queue_arn or None,
    batch_size=10,
    maximum_concurrency=_settings.consumer_max_concurrency,
)
def sync_contacts(event: SQSEvent) -> dict[str, Any]:
    context: Any = event.context  # Lambda's context object (Chalice types it loosely)
    container = wiring.container()
    container.dedup.register_context(context)
    return container.batch_consumer.handle(
        event.to_dict()["Records"], context.get_remaining_time_in_millis
    )
