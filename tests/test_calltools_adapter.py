"""The CallTools client's bucket writes and creates, against scripted replies (httpx.MockTransport):
how many calls each costs, what counts as verified, and which failures it must not resend."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from chalicelib.adapters.calltools_api import CallToolsHttpApi
from chalicelib.errors import ConfigurationError, TransientError
from tests.helpers import scripted_calltools

BUCKET = 70412
FIELDS = {"first_name": "Avery", "mobile_phone_number": "+13125550147"}


class Account:
    """A scripted CallTools account: records requests, answers from `reply`."""

    def __init__(self, reply: Callable[[str, str, Any], httpx.Response | Exception]) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self._reply = reply

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        result = self._reply(request.method, request.url.path, body)
        if isinstance(result, Exception):
            raise result
        return result

    def api(self, method: str) -> CallToolsHttpApi:
        return scripted_calltools(self, method)


def contact(cid: int, buckets: list[int]) -> httpx.Response:
    return httpx.Response(200, json={"id": cid, "buckets": [{"id": b} for b in buckets]})


def test_create_carries_the_bucket_once_contact_patch_is_known_and_trusts_its_reply():
    account = Account(lambda m, p, body: contact(7, body.get("add_buckets", [])))
    created = account.api("contact_patch").create_contact(FIELDS, {BUCKET})
    assert created.id == 7 and created.buckets == {BUCKET}
    assert account.requests == [("POST", "/api/contacts/", {**FIELDS, "add_buckets": [BUCKET]})]


def test_create_reply_without_the_bucket_confirms_nothing():
    account = Account(lambda m, p, body: contact(7, []))  # the field was ignored
    created = account.api("contact_patch").create_contact(FIELDS, {BUCKET})
    assert created.id == 7 and created.buckets == frozenset()


@pytest.mark.parametrize("method", ["auto", "bucket_patch", "contactbuckets"])
def test_create_asks_for_no_bucket_until_contact_patch_is_known(method: str):
    account = Account(lambda m, p, body: contact(7, []))
    created = account.api(method).create_contact(FIELDS, {BUCKET})
    assert created.buckets == frozenset()
    assert account.requests[0][2] == FIELDS


def test_contact_patch_write_is_verified_from_its_reply_in_one_call():
    account = Account(lambda m, p, body: contact(7, body["add_buckets"]))
    account.api("contact_patch").set_bucket_membership(7, BUCKET, member=True)
    assert [(m, p) for m, p, _ in account.requests] == [("PATCH", "/api/contacts/7/")]


def test_contact_patch_reply_without_the_bucket_is_a_failure():
    account = Account(lambda m, p, body: contact(7, []))
    with pytest.raises(ConfigurationError, match="changed nothing"):
        account.api("contact_patch").set_bucket_membership(7, BUCKET, member=True)


def test_bucket_patch_write_is_read_back():
    members: list[int] = []

    def reply(method: str, path: str, body: Any) -> httpx.Response:
        if method == "PATCH":
            members.extend(body["add_contacts"])
            return httpx.Response(200, json={"id": BUCKET, "name": "Cold Leads"})
        return contact(7, [BUCKET] if members else [])

    account = Account(reply)
    account.api("bucket_patch").set_bucket_membership(7, BUCKET, member=True)
    assert [(m, p) for m, p, _ in account.requests] == [
        ("PATCH", f"/api/buckets/{BUCKET}/"),
        ("GET", "/api/contacts/7/"),
    ]


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(502, text="<html>502 Bad Gateway</html>"),
        httpx.Response(500, json={"detail": "error"}),
        httpx.ReadTimeout("no reply"),
    ],
    ids=["502", "500", "read-timeout"],
)
def test_create_is_not_resent_when_it_may_have_happened(failure: Any):
    account = Account(lambda m, p, body: failure)
    with pytest.raises(TransientError):
        account.api("contact_patch").create_contact(FIELDS)
    assert len(account.requests) == 1


@pytest.mark.parametrize(
    "first",
    [httpx.Response(429, headers={"Retry-After": "0"}), httpx.ConnectError("refused")],
    ids=["429", "refused"],
)
def test_create_is_resent_when_it_certainly_did_not_happen(first: Any):
    replies = [first, contact(7, [])]
    account = Account(lambda m, p, body: replies.pop(0))
    assert account.api("contact_patch").create_contact(FIELDS).id == 7
    assert len(account.requests) == 2


def test_updates_are_still_retried_after_a_5xx():
    replies = [httpx.Response(503, text="<html></html>"), contact(7, [])]
    account = Account(lambda m, p, body: replies.pop(0))
    account.api("contact_patch").update_contact(7, {"first_name": "A"})
    assert len(account.requests) == 2
