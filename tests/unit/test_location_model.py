"""A location's model: ids like GHL's, a CallTools base URL that is https (http on loopback
only), the sync rules of SYNC_RULES, and tokens that never show."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.location import (
    BuiltinLocation,
    Location,
    LocationRequest,
    LocationTokens,
    check_calltools_base_url,
    is_location_id,
)
from chalicelib.domain.rules import Rule

BASE = "https://east-1.calltools.io/api/"
RULES = [{"tag": "cold lead", "bucket": "Cold Leads", "exclude_tags": ["vip"]}]


def request(**changes: Any) -> LocationRequest:
    body = {"name": "Acme Roofing", "calltools_api_base_url": BASE, "rules": RULES} | changes
    return LocationRequest.model_validate(body)


@pytest.mark.parametrize("value", ["Lc9Xw2TqB7mR4dNs8KfA", "a", "9" * 64])
def test_plain_ids_are_location_ids(value: str):
    assert is_location_id(value)
    Location(
        location_id=value, name="n", calltools_api_base_url=BASE, rules=(Rule(tag="t", bucket=1),)
    )


@pytest.mark.parametrize("value", ["", "9" * 65, "a-b", "a_b", "a b", "ä", "a#b", "../x", "a\n"])
def test_anything_else_is_not(value: str):
    assert not is_location_id(value)
    with pytest.raises(ValidationError):
        Location(
            location_id=value,
            name="n",
            calltools_api_base_url=BASE,
            rules=(Rule(tag="t", bucket=1),),
        )


@pytest.mark.parametrize(
    "url",
    [
        BASE,
        "https://app.calltools.io/api",
        "http://127.0.0.1:8123/api/",
        "http://localhost:9/api/",
        "http://[::1]:80/api/",
    ],
)
def test_https_or_loopback_http_base_urls_are_taken(url: str):
    assert check_calltools_base_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://east-1.calltools.io/api/", "https"),
        ("http://10.0.0.5/api/", "https"),
        ("http://169.254.169.254/latest/", "https"),
        ("ftp://east-1.calltools.io/api/", "https"),
        ("east-1.calltools.io/api/", "host"),
        ("https://", "host"),
        ("https://user:pw@east-1.calltools.io/api/", "credentials"),
        ("https://east-1.calltools.io/api/?token=x", "query"),
        ("https://east-1.calltools.io:notaport/api/", "not a URL"),
    ],
)
def test_other_base_urls_are_refused_saying_why(url: str, why: str):
    with pytest.raises(ValueError, match=why):
        check_calltools_base_url(url)


def test_a_request_takes_the_sync_rules_and_trims_tokens_read_from_files():
    req = request(ghl_api_token="pit-abc123\n", calltools_api_token=" ct-key ")
    assert req.rules == (Rule(tag="cold lead", bucket="Cold Leads", exclude_tags=("vip",)),)
    assert req.ghl_api_token is not None and req.ghl_api_token.get_secret_value() == "pit-abc123"
    assert req.calltools_api_token is not None
    assert req.calltools_api_token.get_secret_value() == "ct-key"
    assert "pit-abc123" not in repr(req) and "ct-key" not in str(req)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rules": []}, "rules"),
        ({"rules": [{"tag": " ", "bucket": "B"}]}, "rules"),
        ({"rules": [{"tag": "t", "bucket": "B", "colour": "red"}]}, "rules"),
        ({"name": "  "}, "name"),
        ({"ghl_api_token": "has space"}, "ghl_api_token"),
        ({"calltools_api_token": "line\nbreak"}, "calltools_api_token"),
        ({"calltools_api_token": ""}, "calltools_api_token"),
        ({"ghl_api_token": 12345}, "ghl_api_token"),
        ({"pacing": {"ghl_max_rps": 11}}, "pacing"),
        ({"pacing": {"ghl_max_rps": 0}}, "pacing"),
        ({"fields": {"phone_field": ""}}, "fields"),
        ({"location_id": "x"}, "location_id"),  # the id is the path's, not the body's
        ({"active": False}, "active"),
    ],
)
def test_a_bad_request_names_the_field(changes: dict[str, Any], field: str):
    with pytest.raises(ValidationError) as caught:
        request(**changes)
    assert {str(e["loc"][0]) for e in caught.value.errors()} == {field}


def test_a_bad_token_is_refused_without_being_quoted():
    secret = "pit-secret value"
    with pytest.raises(ValidationError) as caught:
        request(ghl_api_token=secret)
    messages = [e["msg"] for e in caught.value.errors(include_input=False)]
    assert messages and all(secret not in m and "pit-secret" not in m for m in messages)


def test_pacing_and_fields_default_to_the_deployments_settings():
    req = request(pacing={"calltools_max_rps": 2.5}, fields={"ghl_id_field": "ghl_id"})
    assert (req.pacing.ghl_max_rps, req.pacing.calltools_max_rps) == (None, 2.5)
    assert (req.fields.phone_field, req.fields.ghl_id_field) == (None, "ghl_id")


def test_the_tokens_secret_holds_only_the_tokens_given():
    tokens = LocationTokens.model_validate({"calltools_api_token": "ct-1\n", "later_field": "x"})
    assert tokens.secret_json() == {"calltools_api_token": "ct-1"}
    assert "ct-1" not in repr(tokens)


def test_public_views_hold_no_token_and_say_which_is_builtin():
    location = Location(
        location_id="L2", name="n", calltools_api_base_url=BASE, rules=(Rule(tag="t", bucket=7),)
    )
    shown = location.public()
    assert shown["builtin"] is False and shown["active"] is True and shown["ghl_auth"] == "pit"
    assert shown["rules"] == [{"tag": "t", "bucket": 7, "exclude_tags": []}]
    assert not {k for k in shown if "token" in k}
    builtin = BuiltinLocation("L1", BASE, (Rule(tag="t", bucket="B"),)).public()
    assert builtin["builtin"] is True and builtin["location_id"] == "L1"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        (BASE, True),
        ("http://127.0.0.1:8123/api/", True),
        ("http://east-1.calltools.io/api/", False),
    ],
)
def test_the_environments_calltools_url_obeys_the_same_rule(url: str, ok: bool):
    from chalicelib.runtime.settings import Settings

    if ok:
        assert Settings(CALLTOOLS_API_BASE_URL=url).calltools.api_base_url == url
    else:
        with pytest.raises(ValidationError, match="must be https"):
            Settings(CALLTOOLS_API_BASE_URL=url)
