"""Outbound rest hooks of a sandbox CallTools account (calltools.md §8): subscriptions, the POST of
a new object to each subscriber of its model, and the error log of failed deliveries.

As documented: the body is the object as a GET shows it; no signature, no custom headers (a
secret can only ride in the URL); one attempt per object, a failure goes to
`/api/resthookerrorlogs/` (the real retry policy is unknown). Subscriptions are the account's
configuration: they survive reset(), as a CallTools account keeps them; deliveries and the error
log do not. A mixin of CallToolsSandbox (routes.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, NamedTuple

from sandbox.http.messages import Handler, HttpError, Request, Response
from sandbox.http.outbound import Delivery, send_in_background

HOOK_MODELS = (  # the models calltools.md §8 lists
    *("Contact", "Contact Tag", "Call", "Note", "SMS", "Phone Number", "Email Address"),
    *("Opportunity", "Goal", "Calendar Event", "Case", "Historical Call Disposition"),
    "Historical Contact Disposition",
)


class HookDelivery(NamedTuple):
    """One delivery attempt of an object to a subscription."""

    subscription: int
    object_id: Any
    url: str
    status: int | None  # None: no reply (refused, timed out)
    error: str


class RestHooks:
    _lock: threading.RLock  # SandboxServer's
    _stopping: threading.Event
    hook_timeout_seconds: float
    _paginate: Callable[[Request, list[Any]], Response]

    def _init_hooks(self) -> None:
        self._subscriptions: dict[int, dict[str, Any]] = {}
        self._next_subscription, self._next_error = 3300, 1

    def _reset_hooks(self) -> None:
        with self._lock:
            self._hook_errors: list[dict[str, Any]] = []
            self._hook_deliveries: list[HookDelivery] = []

    def _hook_routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", r"/api/resthooksubscriptions/", self._list_subscriptions),
            ("POST", r"/api/resthooksubscriptions/", self._create_subscription),
            ("GET", r"/api/resthooksubscriptions/(?P<id>\d+)/", self._get_subscription),
            ("DELETE", r"/api/resthooksubscriptions/(?P<id>\d+)/", self._delete_subscription),
            ("GET", r"/api/resthookerrorlogs/", self._list_hook_errors),
        ]

    # Python API for tests

    def subscribe(self, resthook_model: str, url: str, description: str = "") -> dict[str, Any]:
        with self._lock:
            sid, self._next_subscription = self._next_subscription, self._next_subscription + 1
            sub = {"id": sid, "resthook_model": resthook_model, "url": url}
            self._subscriptions[sid] = {**sub, "description": description}
            return dict(self._subscriptions[sid])

    def unsubscribe(self, subscription_id: int) -> bool:
        with self._lock:
            return self._subscriptions.pop(subscription_id, None) is not None

    def subscriptions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(self._subscriptions[s]) for s in sorted(self._subscriptions)]

    def hook_errors(self) -> list[dict[str, Any]]:
        """The error log, newest first."""
        with self._lock:
            return [dict(e) for e in reversed(self._hook_errors)]

    @property
    def hook_deliveries(self) -> list[HookDelivery]:
        """Every finished delivery, in the order they finished (successes too)."""
        with self._lock:
            return list(self._hook_deliveries)

    # Delivery

    def _publish(self, model: str, body: dict[str, Any]) -> None:
        """POST `body` to every subscriber of `model`, each in its own thread (never blocks)."""
        data = json.dumps(body).encode()
        with self._lock:
            subs = [s for s in self._subscriptions.values() if s["resthook_model"] == model]
        for sub in subs:
            send_in_background(
                sub["url"],
                data,
                {"User-Agent": "CallTools-RestHooks (sandbox)"},
                timeout=self.hook_timeout_seconds,
                done=partial(self._delivered, sub["id"], body.get("id")),
                stopping=self._stopping,
            )

    def _delivered(self, subscription: int, object_id: Any, outcome: Delivery) -> None:
        with self._lock:
            attempt = HookDelivery(subscription, object_id, *outcome)
            self._hook_deliveries.append(attempt)
            if outcome.ok:
                return
            eid, self._next_error = self._next_error, self._next_error + 1
            self._hook_errors.append(
                {
                    "id": eid,
                    "resthook": subscription,
                    "url": outcome.url,
                    "status_code": outcome.status,
                    "error": outcome.error,
                    "created_on": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                }
            )

    # API endpoints

    def _find_subscription(self, req: Request) -> dict[str, Any]:
        if (sub := self._subscriptions.get(int(req.params["id"]))) is None:
            raise HttpError(404, "Not found.")
        return sub

    def _list_subscriptions(self, req: Request) -> Response:
        subs = [self._subscriptions[s] for s in sorted(self._subscriptions)]
        return self._paginate(req, subs)

    def _create_subscription(self, req: Request) -> Response:
        data, errors = req.json_object(), dict[str, list[str]]()
        model, url = data.get("resthook_model"), data.get("url")
        if model in (None, ""):
            errors["resthook_model"] = ["This field is required."]
        elif model not in HOOK_MODELS:
            errors["resthook_model"] = [f'"{model}" is not a valid choice.']
        if url in (None, ""):
            errors["url"] = ["This field is required."]
        elif not isinstance(url, str) or not url.startswith(("http://", "https://")):
            errors["url"] = ["Enter a valid URL."]
        description = data.get("description", "")
        if not isinstance(description, str):
            errors["description"] = ["Not a valid string."]
        if errors:
            raise HttpError(400, body=errors)
        return 201, self.subscribe(str(model), str(url), description), {}

    def _get_subscription(self, req: Request) -> Response:
        return 200, self._find_subscription(req), {}

    def _delete_subscription(self, req: Request) -> Response:
        self.unsubscribe(self._find_subscription(req)["id"])
        return 204, None, {}

    def _list_hook_errors(self, req: Request) -> Response:
        return self._paginate(req, list(reversed(self._hook_errors)))
