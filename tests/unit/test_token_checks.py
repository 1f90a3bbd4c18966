"""The token checks through the real GHL and CallTools clients, answered by a MockTransport: a
refusal is "rejected", no answer is "unreachable", and each check is one cheap request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from chalicelib.adapters.http.client import ClientOptions
from chalicelib.adapters.http.retry import RetryPolicy
from chalicelib.adapters.token_checks import ApiTokenChecks

GHL = "https://services.leadconnectorhq.com"
CT = "https://west-2.calltools.io/api/"


def checks(
    answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]
) -> ApiTokenChecks:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    options = ClientOptions(
        max_rps=0,
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_attempts=1, sleep=lambda _: None),
    )
    return ApiTokenChecks(GHL, "2021-07-28", options=options)


def test_the_ghl_check_is_one_search_of_one_contact_in_the_location():
    seen: list[httpx.Request] = []
    result = checks(
        lambda r: httpx.Response(200, json={"contacts": [], "total": 0}), seen
    ).check_ghl("L1", "pit-1")
    assert result.verdict == "ok"
    (request,) = seen
    assert (request.method, str(request.url)) == ("POST", f"{GHL}/contacts/search")
    assert json.loads(request.content) == {"locationId": "L1", "pageLimit": 1}
    assert request.headers["Authorization"] == "Bearer pit-1"
    assert request.headers["Version"] == "2021-07-28"


def test_the_calltools_check_is_one_page_of_one_bucket():
    seen: list[httpx.Request] = []
    body: dict[str, Any] = {"count": 0, "next": None, "previous": None, "results": []}
    result = checks(lambda r: httpx.Response(200, json=body), seen).check_calltools(CT, "ct-1")
    assert result.verdict == "ok"
    (request,) = seen
    assert str(request.url) == f"{CT}buckets/?page_size=1"
    assert request.headers["Authorization"] == "Token ct-1"


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (401, "rejected"),
        (403, "rejected"),
        (400, "rejected"),
        (422, "rejected"),
        (500, "unreachable"),
        (502, "unreachable"),
        (429, "unreachable"),
    ],
)
def test_ghl_refusals_are_rejected_and_failures_unreachable(status: int, verdict: str):
    seen: list[httpx.Request] = []
    reply = httpx.Response(
        status, json={"message": "The token does not have access to this location."}
    )
    result = checks(lambda r: reply, seen).check_ghl("L1", "pit-1")
    assert result.verdict == verdict and str(status) in result.detail


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (401, "rejected"),
        (403, "rejected"),
        (404, "rejected"),
        (400, "rejected"),
        (503, "unreachable"),
    ],
)
def test_calltools_refusals_are_rejected_and_failures_unreachable(status: int, verdict: str):
    seen: list[httpx.Request] = []
    result = checks(lambda r: httpx.Response(status, text="<html>no</html>"), seen).check_calltools(
        CT, "ct-1"
    )
    assert result.verdict == verdict


def test_no_connection_is_unreachable():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    seen: list[httpx.Request] = []
    assert checks(refuse, seen).check_ghl("L1", "pit-1").verdict == "unreachable"
    assert checks(refuse, seen).check_calltools(CT, "ct-1").verdict == "unreachable"


def test_a_check_is_not_retried():
    seen: list[httpx.Request] = []
    checks(lambda r: httpx.Response(503), seen).check_calltools(CT, "ct-1")
    assert len(seen) == 1
