"""The CallTools client's bucket writes and creates, against scripted replies (httpx.MockTransport):
how many calls each costs, what counts as verified, and which failures it must not resend."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from chalicelib.adapters.calltools.api import CallToolsHttpApi
from chalicelib.domain.errors import ConfigurationError, NotFound, PermanentError, TransientError
from chalicelib.ports import CreatedContact
from tests.support.helpers import scripted_calltools

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


def test_create_carries_its_buckets_where_patch_add_buckets_works_and_reports_them():
    account = Account(lambda m, p, body: contact(7, body["add_buckets"]))
    created = account.api("contact_patch").create_contact(FIELDS, frozenset({BUCKET}))
    assert created == CreatedContact(7, frozenset({BUCKET}))
    assert account.requests == [("POST", "/api/contacts/", {**FIELDS, "add_buckets": [BUCKET]})]


@pytest.mark.parametrize("method", ["bucket_patch", "contactbuckets"])
def test_create_carries_no_bucket_where_another_bucket_call_is_configured(method: str):
    account = Account(lambda m, p, body: contact(7, []))
    created = account.api(method).create_contact(FIELDS, frozenset({BUCKET}))
    assert created == CreatedContact(7, frozenset())
    assert account.requests == [("POST", "/api/contacts/", FIELDS)]


def test_a_create_that_ignores_its_buckets_reports_none_and_later_creates_carry_none():
    account = Account(lambda m, p, body: contact(7, []))
    api = account.api("contact_patch")
    assert api.create_contact(FIELDS, frozenset({BUCKET})).buckets == frozenset()
    assert api.create_contact(FIELDS, frozenset({BUCKET})).buckets == frozenset()
    assert [body for _, _, body in account.requests] == [
        {**FIELDS, "add_buckets": [BUCKET]},
        FIELDS,
    ]


def test_a_merged_create_names_the_contact_and_confirms_no_bucket():
    merged = httpx.Response(200, json={"duplicate_contacts": [48213907]})
    account = Account(lambda m, p, body: merged)
    created = account.api("contact_patch").create_contact(FIELDS, frozenset({BUCKET}))
    assert created == CreatedContact(48213907, frozenset())


def test_a_create_reply_naming_no_contact_is_left_to_the_retry_not_given_up():
    """It may have made one: the retry's search by phone finds it."""
    account = Account(lambda m, p, body: httpx.Response(201, json={"ok": True}))
    with pytest.raises(TransientError, match="neither id"):
        account.api("contact_patch").create_contact(FIELDS)
    assert len(account.requests) == 1


def test_contact_patch_write_is_verified_from_its_reply_in_one_call():
    account = Account(lambda m, p, body: contact(7, body["add_buckets"]))
    account.api("contact_patch").set_bucket_membership(7, BUCKET, member=True)
    assert [(m, p) for m, p, _ in account.requests] == [("PATCH", "/api/contacts/7/")]


def test_contact_patch_reply_without_the_bucket_is_read_back_and_then_a_failure():
    account = Account(lambda m, p, body: contact(7, []))
    with pytest.raises(ConfigurationError, match="changed nothing"):
        account.api("contact_patch").set_bucket_membership(7, BUCKET, member=True)
    assert [m for m, _, _ in account.requests] == ["PATCH", "GET"]


def test_a_reply_that_disagrees_with_the_read_back_loses_to_it():
    replies = [contact(7, []), contact(7, [BUCKET])]  # e.g. the reply was rendered too early
    account = Account(lambda m, p, body: replies.pop(0))
    account.api("contact_patch").set_bucket_membership(7, BUCKET, member=True)
    assert [m for m, _, _ in account.requests] == ["PATCH", "GET"]


def test_contactbuckets_add_after_a_lost_reply_is_judged_by_the_read_back():
    """The row exists (the lost POST made it): the repeated add is refused as a duplicate."""

    def reply(method: str, path: str, body: Any) -> httpx.Response:
        if method == "POST":
            return httpx.Response(400, json={"non_field_errors": ["must make a unique set."]})
        return contact(7, [BUCKET])

    account = Account(reply)
    account.api("contactbuckets").set_bucket_membership(7, BUCKET, member=True)
    assert [m for m, _, _ in account.requests] == ["POST", "GET"]


def test_a_refused_add_that_changed_nothing_is_a_refusal_and_auto_tries_the_next_call(
    caplog: pytest.LogCaptureFixture,
):
    def reply(method: str, path: str, body: Any) -> httpx.Response:
        if path.endswith("/contactbuckets/"):
            return httpx.Response(400, json={"bucket": ["Invalid pk."]})
        return contact(7, [])

    with pytest.raises(PermanentError, match="400"):
        Account(reply).api("contactbuckets").set_bucket_membership(7, BUCKET, member=True)
    caplog.clear()
    with pytest.raises(ConfigurationError, match="no bucket-assignment call"):
        Account(reply).api("auto").set_bucket_membership(7, BUCKET, member=True)
    messages = [r.getMessage() for r in caplog.records]
    assert "bucket method refused" in messages
    assert "CallTools accepted a bucket change that did not happen" in messages  # the PATCHes


def test_contactbuckets_add_is_not_resent_after_a_5xx():
    account = Account(lambda m, p, body: httpx.Response(502, text="<html></html>"))
    with pytest.raises(TransientError):
        account.api("contactbuckets").set_bucket_membership(7, BUCKET, member=True)
    assert [m for m, _, _ in account.requests] == ["POST"]


def test_contactbuckets_remove_of_a_row_already_gone_is_fine():
    def reply(method: str, path: str, body: Any) -> httpx.Response:
        if method == "DELETE":
            return httpx.Response(404, json={"detail": "Not found."})
        if path.endswith("/contactbuckets/"):
            row = {"id": 5, "contact": 7, "bucket": BUCKET}
            return httpx.Response(200, json={"count": 1, "next": None, "results": [row]})
        return contact(7, [])

    account = Account(reply)
    account.api("contactbuckets").set_bucket_membership(7, BUCKET, member=False)
    assert [m for m, _, _ in account.requests] == ["GET", "DELETE", "GET"]


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
        httpx.Response(504, text="<html>504 Gateway Time-out</html>"),
        httpx.Response(524, text="<html>A timeout occurred</html>"),
        httpx.ReadTimeout("no reply"),
    ],
    ids=["502", "500", "504", "524", "read-timeout"],
)
def test_create_is_not_resent_when_it_may_have_happened(failure: Any):
    account = Account(lambda m, p, body: failure)
    with pytest.raises(TransientError):
        account.api("contact_patch").create_contact(FIELDS)
    assert len(account.requests) == 1


@pytest.mark.parametrize(
    "first",
    [
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no connection"),
    ],
    ids=["429", "refused", "connect-timeout"],
)
def test_create_is_resent_when_it_certainly_did_not_happen(first: Any):
    replies = [first, contact(7, [])]
    account = Account(lambda m, p, body: replies.pop(0))
    assert account.api("contact_patch").create_contact(FIELDS).id == 7
    assert len(account.requests) == 2


@pytest.mark.parametrize("status", [503, 524])
def test_updates_are_still_retried_after_a_5xx(status: int):
    replies = [httpx.Response(status, text="<html></html>"), contact(7, [])]
    account = Account(lambda m, p, body: replies.pop(0))
    account.api("contact_patch").update_contact(7, {"first_name": "A"})
    assert len(account.requests) == 2


def test_501_is_not_retried():
    account = Account(lambda m, p, body: httpx.Response(501, json={"detail": "no"}))
    with pytest.raises(PermanentError):
        account.api("contact_patch").update_contact(7, {"first_name": "A"})
    assert len(account.requests) == 1


def test_a_404_from_a_bucket_write_is_not_taken_for_a_vanished_contact():
    """NotFound makes the sync forget the contact and recreate it: a missing bucket must not."""

    def reply(method: str, path: str, body: Any) -> httpx.Response:
        if path.startswith("/api/buckets/"):
            return httpx.Response(404, json={"detail": "Not found."})
        return contact(7, [])

    account = Account(reply)
    with pytest.raises(PermanentError) as refused:
        account.api("bucket_patch").set_bucket_membership(7, BUCKET, member=True)
    assert not isinstance(refused.value, NotFound)


def test_auto_carries_buckets_on_a_create_before_any_call_is_proven():
    """A first import's creates cost one call each, not a create plus a probe per container."""
    account = Account(lambda m, p, body: contact(7, body.get("add_buckets", [])))
    created = account.api("auto").create_contact(FIELDS, frozenset({BUCKET}))
    assert created == CreatedContact(7, frozenset({BUCKET}))
    assert account.requests == [("POST", "/api/contacts/", {**FIELDS, "add_buckets": [BUCKET]})]


def test_auto_stops_carrying_buckets_once_a_create_ignored_them_and_probes_instead():
    def reply(method: str, path: str, body: Any) -> httpx.Response:
        if method == "GET":
            return contact(7, [])
        if method == "POST":
            return contact(8, [])  # the create ignores add_buckets
        return contact(7, body.get("add_buckets", []))

    account = Account(reply)
    api = account.api("auto")
    assert api.create_contact(FIELDS, frozenset({BUCKET})).buckets == frozenset()
    api.set_bucket_membership(7, BUCKET, member=True)  # the probe: contact_patch works
    assert api.bucket_method == "contact_patch"
    assert api.create_contact(FIELDS, frozenset({BUCKET})).buckets == frozenset()
    assert account.requests[-1] == ("POST", "/api/contacts/", FIELDS)


def test_auto_sends_a_create_again_without_buckets_when_the_field_is_refused():
    def reply(method: str, path: str, body: Any) -> httpx.Response:
        if "add_buckets" in body:
            return httpx.Response(400, json={"add_buckets": ["unknown field"]})
        return contact(7, [])

    account = Account(reply)
    api = account.api("auto")
    assert api.create_contact(FIELDS, frozenset({BUCKET})) == CreatedContact(7, frozenset())
    assert api.create_contact(FIELDS, frozenset({BUCKET})) == CreatedContact(7, frozenset())
    assert [body for _, _, body in account.requests] == [
        {**FIELDS, "add_buckets": [BUCKET]},
        FIELDS,
        FIELDS,
    ]


def test_a_refused_create_is_not_sent_again_once_the_bucket_call_is_proven():
    account = Account(lambda m, p, body: httpx.Response(400, json={"phone": ["invalid"]}))
    with pytest.raises(PermanentError):
        account.api("contact_patch").create_contact(FIELDS, frozenset({BUCKET}))
    assert len(account.requests) == 1
