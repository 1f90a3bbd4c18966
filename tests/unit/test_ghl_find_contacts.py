"""GhlHttpApi.find_contacts against scripted replies: the search body for a phone and an email,
the free-text second try for a phone that `eq` missed, and what a failure raises."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from chalicelib.adapters.ghl.api import GhlHttpApi
from chalicelib.adapters.http.client import ClientOptions
from chalicelib.adapters.http.retry import RetryPolicy
from chalicelib.domain.errors import PermanentError, TransientError
from chalicelib.ports import GhlContactFinder
from tests.support.helpers import LOCATION_ID

PHONE, EMAIL = "+14155550132", "marcus.oduya@example.com"
HIT = {"id": "c1", "locationId": LOCATION_ID, "phone": PHONE, "firstName": "Marcus", "tags": []}


class Search:
    """Answers each POST /contacts/search with the next of `replies`; records the bodies."""

    def __init__(self, *replies: httpx.Response) -> None:
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", "/contacts/search")
        self.bodies.append(json.loads(request.content))
        return self.replies.pop(0)

    def api(self) -> GhlContactFinder:
        return GhlHttpApi(
            "https://services.example.test",
            "token",
            options=ClientOptions(
                transport=httpx.MockTransport(self),
                retry=RetryPolicy(sleep=lambda _: None, max_attempts=2),
                max_rps=0,
            ),
        )


def hits(*rows: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"contacts": list(rows), "total": len(rows)})


def test_an_email_is_one_eq_search_of_the_location():
    search = Search(hits(HIT | {"email": EMAIL}))
    (found,) = search.api().find_contacts(LOCATION_ID, "email", EMAIL, 20)
    assert (found.id, found.location_id, found.first_name) == ("c1", LOCATION_ID, "Marcus")
    assert search.bodies == [
        {
            "locationId": LOCATION_ID,
            "pageLimit": 20,
            "filters": [{"field": "email", "operator": "eq", "value": EMAIL}],
        }
    ]


def test_a_phone_eq_hit_is_not_asked_again():
    search = Search(hits(HIT))
    assert [c.phone for c in search.api().find_contacts(LOCATION_ID, "phone", PHONE, 20)] == [PHONE]
    assert search.bodies[0]["filters"] == [{"field": "phone", "operator": "eq", "value": PHONE}]
    assert len(search.bodies) == 1


def test_a_phone_eq_miss_is_asked_again_as_free_text_digits():
    search = Search(hits(), hits(HIT, {"id": "near", "phone": "+14155550133", "tags": []}))
    found = search.api().find_contacts(LOCATION_ID, "phone", PHONE, 20)
    assert [c.id for c in found] == ["c1", "near"]  # candidates: the caller verifies them
    assert search.bodies[1] == {"locationId": LOCATION_ID, "pageLimit": 20, "query": "14155550132"}


def test_an_email_miss_is_not_asked_again():
    search = Search(hits())
    assert search.api().find_contacts(LOCATION_ID, "email", EMAIL, 20) == []
    assert len(search.bodies) == 1


def test_a_malformed_hit_is_no_candidate():
    search = Search(hits({"phone": PHONE, "tags": []}, HIT | {"tags": "x"}, HIT, "junk"))  # type: ignore[arg-type]
    assert [c.id for c in search.api().find_contacts(LOCATION_ID, "phone", PHONE, 20)] == ["c1"]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (httpx.Response(422, json={"message": "bad filter"}), PermanentError),
        (httpx.Response(200, json={"total": 0}), TransientError),
        (httpx.Response(503, text="<html>down</html>"), TransientError),
    ],
)
def test_a_failed_search_raises(reply: httpx.Response, error: type[Exception]):
    with pytest.raises(error):
        Search(reply, reply).api().find_contacts(LOCATION_ID, "email", EMAIL, 20)
