"""The contact lookup (services/lookup.py): what a query is, and which of GHL's candidates are
kept (only exact matches of our location), explained, named, at most five."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.contact import Contact
from chalicelib.domain.errors import TransientError
from chalicelib.domain.state import ContactState
from chalicelib.services.admin import AdminApi
from chalicelib.services.explain import ContactExplainer
from chalicelib.services.lookup import (
    CANDIDATES,
    MAX_MATCHES,
    ContactLookup,
    InvalidQuery,
    LookupUnavailable,
    Query,
    classify,
    display_name,
)
from tests.support.fake_lookup import FakeFinder
from tests.support.helpers import CONTACT_ID, LOCATION_ID

PHONE, EMAIL = "+14155550132", "marcus.oduya@example.com"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (CONTACT_ID, Query("id", CONTACT_ID)),
        ("  abc_DEF-123  ", Query("id", "abc_DEF-123")),
        ("x" * 64, Query("id", "x" * 64)),
        ("1-800-FLOWERS", Query("id", "1-800-FLOWERS")),  # letters: an id, never a vanity number
        (PHONE, Query("phone", PHONE)),
        ("+1 (415) 555-0132", Query("phone", PHONE)),
        ("(415) 555-0132", Query("phone", PHONE)),
        ("415.555.0132", Query("phone", PHONE)),
        ("4155550132", Query("phone", PHONE)),
        ("+44 20 7946 0018", Query("phone", "+442079460018")),
        (EMAIL, Query("email", EMAIL)),
        ("  Marcus.Oduya@Example.COM ", Query("email", EMAIL)),
        ("a+tag@sub.example.org", Query("email", "a+tag@sub.example.org")),
    ],
)
def test_a_query_is_an_id_a_phone_or_an_email(q: str, expected: Query):
    assert classify(q) == expected


def test_a_national_number_is_read_in_the_default_region():
    assert classify("020 7946 0018", "GB") == Query("phone", "+442079460018")
    with pytest.raises(InvalidQuery):
        classify("020 7946 0018", "US")


@pytest.mark.parametrize(
    "q",
    [
        None,
        "",
        "   ",
        "a@b",  # no dot in the domain
        "a b@example.com",
        "@example.com",
        "a@@example.com",
        "12345",  # digits alone: a phone or nothing, and no valid phone
        "555-0132",
        "+1 415 555 01329999",
        "x" * 65,  # too long for an id
        "a/b",
        "Robert'); DROP TABLE--",
        "Ünïcode",
        "a" * 250 + "@example.com",  # over 254 characters
        "4" * 300,
        "+" + "1" * 300,
    ],
)
def test_anything_else_is_invalid(q: str | None):
    with pytest.raises(InvalidQuery) as refused:
        classify(q)
    assert q is None or not q.strip() or q.strip() not in str(refused.value)


def test_the_masked_query_shows_no_raw_phone_or_email():
    assert classify(PHONE).masked == "***32"
    assert classify(EMAIL).masked == "m***@example.com"
    assert classify(CONTACT_ID).masked == CONTACT_ID


def contact(cid: str, **fields: Any) -> Contact:
    defaults: dict[str, Any] = {"location_id": LOCATION_ID, "first_name": "Marcus"}
    return Contact(id=cid, **(defaults | fields))


def lookup(
    finder: FakeFinder, states: dict[str, ContactState] | None = None, location: str = LOCATION_ID
) -> ContactLookup:
    known = states or {}
    explainer = ContactExplainer(known.get, lambda: {70412: "Cold Leads"})
    return ContactLookup(lambda: explainer, lambda: finder, location)


def test_only_exact_phone_matches_of_our_location_are_kept():
    finder = FakeFinder(
        [
            contact("exact", phone=PHONE, last_name="Oduya"),
            contact("national", phone="(415) 555-0132"),  # the same number, formatted
            contact("near_miss", phone="+14155550133"),
            contact("longer", phone="+141555501320"),
            contact("elsewhere", phone=PHONE, location_id="OtherLocation0000001"),
            contact("no_location", phone=PHONE, location_id=None),
            contact("no_phone", email=EMAIL),
            contact("exact", phone=PHONE),  # the same contact twice
            contact("bad/id", phone=PHONE),  # not an id we could look up
        ]
    )
    found = lookup(finder).find("(415) 555-0132")
    assert found["query"] == {"kind": "phone", "masked": "***32"}
    assert [m["contact_id"] for m in found["matches"]] == ["exact", "national"]
    assert found["matches"][0]["name"] == "Marcus Oduya"
    assert finder.calls == [(LOCATION_ID, "phone", PHONE, CANDIDATES)]


def test_only_exact_email_matches_of_our_location_are_kept():
    finder = FakeFinder(
        [
            contact("exact", email="Marcus.Oduya@Example.com"),
            contact("near_miss", email="marcus.oduya@example.c"),
            contact("prefix", email="xmarcus.oduya@example.com"),
            contact("elsewhere", email=EMAIL, location_id="OtherLocation0000001"),
            contact("phone_only", phone=PHONE),
        ]
    )
    found = lookup(finder).find("MARCUS.ODUYA@example.com")
    assert found["query"] == {"kind": "email", "masked": "m***@example.com"}
    assert [m["contact_id"] for m in found["matches"]] == ["exact"]
    assert finder.calls == [(LOCATION_ID, "email", EMAIL, CANDIDATES)]


def test_each_match_is_explained_from_our_state():
    state = ContactState(contact_id="synced", status="synced", calltools_id=48, buckets={70412})
    found = lookup(
        FakeFinder([contact("synced", phone=PHONE), contact("new", phone=PHONE)]), {"synced": state}
    ).find(PHONE)
    synced, new = found["matches"]
    assert synced["known"] is True and synced["buckets"] == [{"id": 70412, "name": "Cold Leads"}]
    assert synced["calltools_id"] == 48
    assert new["known"] is False and str(new["explanation"]).startswith("Never seen:")


def test_at_most_five_matches():
    finder = FakeFinder([contact(f"c{i}", phone=PHONE) for i in range(12)])
    found = lookup(finder).find(PHONE)
    assert [m["contact_id"] for m in found["matches"]] == [f"c{i}" for i in range(MAX_MATCHES)]


def test_nothing_matched_is_an_empty_list():
    assert lookup(FakeFinder([contact("x", phone="+14155550199")])).find(PHONE)["matches"] == []


def test_an_id_is_explained_without_asking_ghl():
    finder = FakeFinder([contact(CONTACT_ID, phone=PHONE)])
    found = lookup(finder).find(CONTACT_ID)
    assert found["query"] == {"kind": "id", "masked": CONTACT_ID}
    (match,) = found["matches"]
    assert match["contact_id"] == CONTACT_ID and match["name"] is None and not finder.calls


def test_ghl_failing_is_unavailable_and_the_log_holds_no_raw_query(
    logs_on_stdout: None, capsys: pytest.CaptureFixture[str]
):
    finder = FakeFinder(error=TransientError(f"GHL answered 503 for {PHONE} and {EMAIL}"))
    for q in (PHONE, EMAIL):
        with pytest.raises(LookupUnavailable) as failed:
            lookup(finder).find(q)
        assert PHONE not in str(failed.value) and EMAIL not in str(failed.value)
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [line["query"] for line in lines] == ["***32", "m***@example.com"]
    assert PHONE not in out and PHONE[2:] not in out and EMAIL not in out


def test_no_location_configured_is_unavailable_not_a_search_of_every_location():
    finder = FakeFinder([contact("x", phone=PHONE, location_id="")])
    with pytest.raises(LookupUnavailable):
        lookup(finder, location="").find(PHONE)
    assert not finder.calls


@pytest.mark.parametrize(
    ("first", "last", "shown"),
    [
        ("Marcus", "Oduya", "Marcus Oduya"),
        ("", "", None),
        ("Mar\x1b[31mcus", "O\u200bduya\n", "Mar [31mcus O duya"),  # control characters go
        ("Call", "+14155550132", "Call ***32"),  # a name field holding a phone
        ("x" * 200, "", "x" * 120),
    ],
)
def test_the_display_name_is_tamed_untrusted_text(first: str, last: str, shown: str | None):
    assert display_name(contact("c", first_name=first, last_name=last)) == shown


def admin(finder: FakeFinder) -> AdminApi:
    class NoRuns:
        def start(self, mode: Any = "reconcile", trigger: str = "manual") -> Any:
            raise AssertionError("no run")

    class NoStats:
        def snapshot(self) -> dict[str, Any]:
            return {}

    found = lookup(finder)
    return AdminApi("t0k", NoRuns, NoStats, lookup=lambda: found)


@pytest.mark.parametrize(
    ("headers", "q", "status"),
    [
        ({}, PHONE, 401),
        ({"Authorization": "Bearer nope"}, PHONE, 401),
        ({"Authorization": "Bearer t0k"}, None, 400),
        ({"Authorization": "Bearer t0k"}, "12345", 400),
        ({"Authorization": "Bearer t0k"}, PHONE, 200),
    ],
)
def test_the_route_checks_the_token_then_the_query(headers: dict[str, str], q: str, status: int):
    finder = FakeFinder([contact("exact", phone=PHONE)])
    answered = admin(finder).find(headers, q)
    assert answered.status == status
    assert bool(finder.calls) == (status == 200)


def test_the_route_is_503_when_ghl_fails_and_without_a_lookup():
    failing = admin(FakeFinder(error=TransientError("GHL unreachable: ConnectError")))
    answered = failing.find({"Authorization": "Bearer t0k"}, EMAIL)
    assert answered.status == 503 and "retry later" in answered.body["reason"]
    unwired = AdminApi("t0k", lambda: None, lambda: None)  # type: ignore[arg-type,return-value]
    assert unwired.find({"Authorization": "Bearer t0k"}, EMAIL).status == 503
