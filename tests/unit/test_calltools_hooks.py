"""The CallTools rest hook client against scripted replies: the requests, paging, a subscribe that
is never resent, lenient error logs, and the masking of the token a hook URL carries."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from chalicelib.adapters.calltools.hooks import (
    HOOK_MODEL,
    RestHooks,
    Subscription,
    endpoint,
    hook_url,
    mask_token,
    mask_values,
)
from chalicelib.domain.errors import MaybeApplied, TransientError
from tests.support.helpers import fixture, scripted_calltools

SUBSCRIPTION = fixture("calltools/resthook-subscription.json")
Reply = httpx.Response | Exception


class Replies:
    def __init__(self, *replies: Reply) -> None:
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self._replies = list(replies)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, dict(request.url.params), body))
        reply = self._replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def hooks(self) -> RestHooks:
        return scripted_calltools(self).rest_hooks()


def ok(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_mask_token_hides_the_secret_wherever_a_url_appears():
    url = "https://h.example.test/api/webhook/calltools?token=s3cr%2Ft&x=1"
    assert mask_token(url) == "https://h.example.test/api/webhook/calltools?token=***&x=1"
    assert mask_token(f"POST {url} failed") == "POST " + mask_token(url) + " failed"
    assert mask_token("https://h/x?a=1&secret=abc") == "https://h/x?a=1&secret=***"
    assert mask_token("no url here") == "no url here"
    masked = mask_values({"url": url, "n": 3, "rows": [{"u": url}]})
    assert "s3cr" not in json.dumps(masked) and masked["n"] == 3


def test_hook_url_encodes_the_secret_and_endpoint_drops_it():
    url = hook_url("https://h.example.test/api/", "a&b=c d")
    assert url == "https://h.example.test/api/webhook/calltools?token=a%26b%3Dc+d"
    assert endpoint(url) == endpoint(hook_url("https://h.example.test/api", "other"))
    assert endpoint(url) == "https://h.example.test/api/webhook/calltools"
    assert endpoint(url) != endpoint(hook_url("https://other.example.test/api", "a"))


def test_subscriptions_follow_every_page():
    row = {**SUBSCRIPTION}
    replies = Replies(
        ok({"next": "p2", "results": [row]}),
        ok({"next": None, "results": [{**row, "id": 3308, "resthook_model": "Call"}, {"x": 1}]}),
    )
    found = replies.hooks().subscriptions()
    assert [s.id for s in found] == [3307, 3308]
    assert found[0] == Subscription(
        3307, HOOK_MODEL, SUBSCRIPTION["url"], SUBSCRIPTION["description"]
    )
    assert "EXAMPLE-not-a-real-secret" not in found[0].masked_url
    assert [(m, p, q["page"]) for m, p, q, _ in replies.requests] == [
        ("GET", "/api/resthooksubscriptions/", "1"),
        ("GET", "/api/resthooksubscriptions/", "2"),
    ]


def test_a_bare_list_reply_is_the_whole_list():
    replies = Replies(ok([SUBSCRIPTION]))
    assert [s.id for s in replies.hooks().subscriptions()] == [3307]
    assert len(replies.requests) == 1


def test_subscribe_posts_the_documented_body_and_returns_the_id():
    replies = Replies(ok(SUBSCRIPTION, 201))
    assert replies.hooks().subscribe(HOOK_MODEL, "https://h/x?token=t", "d") == 3307
    assert replies.requests == [
        (
            "POST",
            "/api/resthooksubscriptions/",
            {},
            {"resthook_model": HOOK_MODEL, "url": "https://h/x?token=t", "description": "d"},
        )
    ]


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(502, text="<html></html>"), httpx.ReadTimeout("t"), ok({"ok": True}, 201)],
    ids=["502", "read-timeout", "no-id"],
)
def test_a_subscribe_that_may_have_happened_is_not_sent_again(failure: Reply):
    """A second subscription would deliver every call outcome twice."""
    replies = Replies(failure, ok(SUBSCRIPTION, 201))
    with pytest.raises(MaybeApplied):
        replies.hooks().subscribe(HOOK_MODEL, "https://h/x?token=t", "d")
    assert len(replies.requests) == 1


def test_remove_deletes_by_id_and_one_gone_already_is_false():
    replies = Replies(httpx.Response(204), ok({"detail": "Not found."}, 404))
    hooks = replies.hooks()
    assert hooks.remove(3307) is True
    assert hooks.remove(3307) is False
    assert [(m, p) for m, p, _, _ in replies.requests] == [
        ("DELETE", "/api/resthooksubscriptions/3307/")
    ] * 2


def test_error_logs_are_newest_first_masked_and_at_most_the_limit():
    rows = [
        {"id": 5, "url": "https://h/x?token=abc", "error": "timeout"},
        {"id": 9, "url": "https://h/x?token=abc", "error": "HTTP 401"},
        {"id": 7, "response": "ok"},
    ]
    replies = Replies(ok({"next": "more", "results": rows}))
    logs = replies.hooks().error_logs(2)
    assert [e["id"] for e in logs] == [9, 7]
    assert logs[0]["url"] == "https://h/x?token=***"
    ((method, path, query, _),) = replies.requests  # one page only, however many there are
    assert (method, path, query) == (
        "GET",
        "/api/resthookerrorlogs/",
        {"ordering": "-id", "page_size": "2", "page": "1"},
    )


def test_error_logs_of_another_shape_come_as_they_are():
    replies = Replies(ok([{"message": "b"}, {"message": "a"}]))
    assert replies.hooks().error_logs(5) == [{"message": "b"}, {"message": "a"}]


def test_a_list_reply_of_no_known_shape_is_an_error_not_an_empty_list():
    """`hooks install` would subscribe again if it read "no subscriptions"."""
    with pytest.raises(TransientError):
        Replies(ok({"detail": "?"})).hooks().subscriptions()
