"""Routes and triggers only: each parses its event, calls one function in chalicelib, shapes the reply."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chalice.app import Chalice, CloudWatchEvent, Response, SQSEvent

from chalicelib.domain.runs import RunActive
from chalicelib.runtime import deploy_stage, wiring
from chalicelib.runtime.observability import flush_metrics, logger
from chalicelib.runtime.settings import get_settings, stage_settings
from chalicelib.services.admin_page.page import PageRequest, unavailable, url_base
from chalicelib.services.replies import HttpReply, PageReply

_project = Path(__file__).resolve().parent
deploy_stage.refuse_bad_deploy(_project)  # `chalice deploy`: Python 3.13, a location
app = Chalice(app_name="ghl-calltools-sync")
# Under `chalice deploy --stage S` the triggers take S's settings from .chalice/config.json only.
_stage = deploy_stage.stage_variables(_project)
_settings = get_settings() if _stage is None else stage_settings(_stage)

# Text body types reach the handler, which authenticates the raw bytes before parsing them. No
# binary type (application/octet-stream): Chalice requires one route's types to agree on binary
# support, and GHL sends JSON. Other types get 415 from Chalice.
WEBHOOK_CONTENT_TYPES = [
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
]


@app.middleware("all")
def publish_metrics(event: Any, get_response: Any) -> Any:
    """Every handler's metrics leave as one EMF log line set at the end of its invocation."""
    try:
        return get_response(event)
    finally:
        flush_metrics()


def _respond(work: Any) -> Response:
    """Shape an HttpReply; an unexpected error is a 503 (retry later), never a 500."""
    try:
        reply: HttpReply = work()
    except Exception:
        logger.exception("request failed")
        return Response({"status": "unavailable"}, status_code=503)
    return Response(reply.body, status_code=reply.status)


@app.route("/webhook/ghl", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def ghl_webhook() -> Response:
    request = app.current_request
    assert request is not None
    return _respond(
        lambda: wiring.container().webhook_intake.handle(request.raw_body, request.headers)
    )


@app.route("/webhook/calltools", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def calltools_webhook() -> Response:
    """CallTools rest hooks (call outcomes): the secret is the `token` in the subscribed URL."""
    request = app.current_request
    assert request is not None
    return _respond(
        lambda: wiring.container().outcomes.hook_intake.handle(
            request.raw_body, request.headers, request.query_params
        )
    )


@app.route("/sync/trigger", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
def sync_trigger() -> Response:
    request = app.current_request
    assert request is not None
    return _respond(
        lambda: wiring.container().operator.admin_api.trigger(request.headers, request.raw_body)
    )


@app.route("/sync/stats", methods=["GET"])
def sync_stats() -> Response:
    request = app.current_request
    assert request is not None
    params: Mapping[str, str] = request.query_params or {}
    location_id = params.get("location_id")
    return _respond(
        lambda: wiring.container().operator.admin_api.stats(request.headers, location_id)
    )


@app.route("/sync/contacts/{contact_id}", methods=["GET"])
def sync_contact(contact_id: str) -> Response:
    """Why is this contact (not) in the dialler? (services/explain.py)"""
    request = app.current_request
    assert request is not None
    return _respond(
        lambda: wiring.container().operator.admin_api.contact(request.headers, contact_id)
    )


@app.route("/sync/contacts", methods=["GET"])
def find_contacts() -> Response:
    """A contact by GHL id, phone or email (`?q=`), each match explained (services/lookup.py)."""
    request = app.current_request
    assert request is not None
    params: Mapping[str, str] = request.query_params or {}
    return _respond(
        lambda: wiring.container().operator.admin_api.find(request.headers, params.get("q"))
    )


# The status page (services/admin_page): server-rendered HTML, forms posted urlencoded.
FORM = ["application/x-www-form-urlencoded"]


def _page(work: Any) -> Response:
    """Shape a PageReply; an unexpected error is a 503 page, never a 500."""
    request = app.current_request
    assert request is not None
    context = request.context or {}
    identity = context.get("identity") or {}
    base = url_base(context.get("path"), context.get("resourcePath"))
    try:
        page_request = PageRequest(
            headers=request.headers,
            query=request.query_params or {},
            raw_body=request.raw_body if request.method == "POST" else None,
            source_ip=str(identity.get("sourceIp") or "unknown"),
            base=base,
        )
        reply: PageReply = work(wiring.container().operator.admin_page, page_request)
    except Exception:
        logger.exception("status page request failed")
        reply = unavailable(base)  # with the CSP, no-store and nosniff of every page
    return Response(reply.html, status_code=reply.status, headers=dict(reply.headers))


@app.route("/admin", methods=["GET"])
def admin_page() -> Response:
    return _page(lambda page, request: page.show(request))


@app.route("/admin/contact", methods=["GET"])
def admin_contact() -> Response:
    return _page(lambda page, request: page.contact(request))


@app.route("/admin/login", methods=["POST"], content_types=FORM)
def admin_login() -> Response:
    return _page(lambda page, request: page.login(request))


@app.route("/admin/logout", methods=["POST"], content_types=FORM)
def admin_logout() -> Response:
    return _page(lambda page, request: page.logout(request))


@app.route("/admin/run", methods=["POST"], content_types=FORM)
def admin_run() -> Response:
    return _page(lambda page, request: page.run(request))


@app.route("/admin/redrive", methods=["POST"], content_types=FORM)
def admin_redrive() -> Response:
    return _page(lambda page, request: page.redrive(request))


# The location registry (docs/locations.md): registers locations; syncing them comes later.
@app.route("/locations", methods=["GET"])
def locations_list() -> Response:
    request = app.current_request
    assert request is not None
    return _respond(lambda: wiring.container().locations.admin.list(request.headers))


@app.route("/locations/{location_id}", methods=["GET"])
def location_show(location_id: str) -> Response:
    request = app.current_request
    assert request is not None
    return _respond(lambda: wiring.container().locations.admin.show(request.headers, location_id))


@app.route("/locations/{location_id}", methods=["PUT"], content_types=WEBHOOK_CONTENT_TYPES)
def location_put(location_id: str) -> Response:
    request = app.current_request
    assert request is not None
    return _respond(
        lambda: wiring.container().locations.admin.put(
            request.headers, location_id, request.raw_body
        )
    )


@app.route("/locations/{location_id}", methods=["DELETE"])
def location_remove(location_id: str) -> Response:
    request = app.current_request
    assert request is not None
    return _respond(
        lambda: wiring.container().locations.admin.remove(
            request.headers, location_id, request.query_params
        )
    )


@app.route("/oauth/callback", methods=["GET"])
def oauth_callback() -> Response:
    """Where GHL sends the installer after a marketplace install (services/oauth/callback.py)."""
    request = app.current_request
    assert request is not None
    try:
        reply: PageReply = wiring.container().oauth.callback.handle(request.query_params)
    except Exception:
        logger.exception("OAuth callback failed")
        reply = PageReply(503, "Unavailable: try again shortly.", {"Content-Type": "text/plain"})
    return Response(reply.html, status_code=reply.status, headers=dict(reply.headers))


@app.schedule(_settings.reconcile.schedule, name="daily_reconciliation")
def daily_reconciliation(event: CloudWatchEvent) -> None:
    failed: Exception | None = None
    try:
        wiring.container().outcomes.runs.start(mode="reconcile", trigger="schedule")
    except RunActive as active:
        logger.info("scheduled run skipped: a run is active", extra={"run_id": active.run_id})
    except Exception as exc:  # raised below: the built-in's failure stops no other location
        failed = exc
    # Then one run per registered location, each with its own lock (docs/locations.md).
    wiring.container().locations.tenancy.start_runs(trigger="schedule")
    if failed is not None:
        raise failed


@app.on_sqs_message(
    queue=None if _settings.queue.arn else _settings.queue.name,
    queue_arn=_settings.queue.arn or None,
    batch_size=10,
    maximum_concurrency=_settings.queue.consumer_max_concurrency,
)
def sync_contacts(event: SQSEvent) -> dict[str, Any]:
    context: Any = event.context  # Lambda's context object (Chalice types it loosely)
    container = wiring.container()
    container.dedup.register_context(context)
    return container.batch_consumer.handle(
        event.to_dict()["Records"], context.get_remaining_time_in_millis
    )
