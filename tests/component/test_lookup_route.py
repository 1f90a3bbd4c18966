"""`GET /sync/contacts?q=` through the Chalice app, AWS in moto and GHL as its sandbox: a contact
found by id, phone or email and explained; GHL's near-misses and other locations dropped; the
query checked; GHL down is a 503, and nothing shows or logs the raw phone or email."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.support.helpers import CONTACT_ID, tagged
from tests.support.service import ADMIN_TOKEN, Service, body_json

# The fixture contact's (tests/fixtures/ghl/ContactTagUpdate.json).
PHONE, EMAIL = "+13125550147", "avery.lindqvist@example.com"
OTHER_LOCATION = "OtherLocation0000001"


def find(service: Service, q: str, token: str | None = ADMIN_TOKEN) -> Any:
    return service.admin("get", f"/sync/contacts?q={quote(q, safe='')}", token=token)


def found(service: Service, q: str) -> dict[str, Any]:
    reply = find(service, q)
    assert reply.status_code == 200, reply.body
    return body_json(reply)


def test_a_synced_contact_is_found_by_id_phone_or_email_and_explained(service: Service):
    service.post(tagged("cold lead"))
    service.drain()
    for q, kind in [
        (CONTACT_ID, "id"),
        (PHONE, "phone"),
        ("(312) 555-0147", "phone"),
        (EMAIL.upper(), "email"),
    ]:
        body = found(service, q)
        assert body["query"]["kind"] == kind
        (match,) = body["matches"]
        assert match["contact_id"] == CONTACT_ID and match["known"] is True
        assert str(match["explanation"]).startswith("In Cold Leads since ")
        assert match["name"] == (None if kind == "id" else "Avery Lindqvist")
    assert found(service, PHONE)["query"] == {"kind": "phone", "masked": "***47"}
    assert found(service, EMAIL)["query"] == {"kind": "email", "masked": "a***@example.com"}
    shown = find(service, PHONE).body.decode() + find(service, EMAIL).body.decode()
    assert PHONE not in shown and PHONE[2:] not in shown and EMAIL not in shown


def test_a_contact_ghl_has_and_we_never_stored_is_found_never_seen(service: Service):
    service.ghl.upsert_contact({"id": "inGhlOnly00000000001", "email": EMAIL, "firstName": "Ines"})
    (match,) = found(service, EMAIL)["matches"]
    assert (match["contact_id"], match["known"], match["name"]) == (
        "inGhlOnly00000000001",
        False,
        "Ines",
    )
    assert str(match["explanation"]).startswith("Never seen:")


def test_near_misses_and_other_locations_are_not_matches(service: Service):
    service.ghl.upsert_contact({"id": "ours0000000000000001", "phone": PHONE})
    service.ghl.upsert_contact({"id": "near0000000000000001", "phone": "+13125550148"})
    service.ghl.upsert_contact(
        {"id": "else0000000000000001", "phone": PHONE, "locationId": OTHER_LOCATION}
    )
    assert [m["contact_id"] for m in found(service, PHONE)["matches"]] == ["ours0000000000000001"]
    assert found(service, "+13125550149")["matches"] == []
    assert found(service, "nobody@example.com")["matches"] == []


def test_a_phone_ghl_holds_unformatted_is_found_by_the_free_text_second_try(service: Service):
    service.ghl.upsert_contact({"id": "raw00000000000000001", "phone": "13125550147"})
    service.ghl.reset_calls()
    assert [m["contact_id"] for m in found(service, PHONE)["matches"]] == ["raw00000000000000001"]
    bodies = [c.body for c in service.ghl.calls("POST", "/contacts/search")]
    assert [("filters" in b, b.get("query")) for b in bodies] == [
        (True, None),
        (False, "13125550147"),
    ]


@pytest.mark.parametrize("q", ["", "   ", "12345", "a@b", "a/b", "x" * 300])
def test_a_missing_or_invalid_query_is_400_without_asking_ghl(service: Service, q: str):
    service.ghl.reset_calls()
    assert find(service, q).status_code == 400
    assert service.admin("get", "/sync/contacts").status_code == 400
    assert service.ghl.call_count("POST", "/contacts/search") == 0


def test_the_route_needs_the_admin_token(service: Service):
    assert find(service, PHONE, token=None).status_code == 401
    assert find(service, PHONE, token="wrong").status_code == 401
    assert service.ghl.call_count("POST", "/contacts/search") == 0


def test_ghl_down_is_503_retry_later_and_no_log_holds_the_query(
    service: Service, logs_on_stdout: None, capsys: pytest.CaptureFixture[str]
):
    service.ghl.set_fault_rate(1.0, ["503_html"])
    for q in (PHONE, EMAIL):
        reply = find(service, q)
        assert reply.status_code == 503 and "retry later" in body_json(reply)["reason"]
    assert found(service, CONTACT_ID)["matches"][0]["known"] is False  # an id needs no GHL
    service.ghl.stop()  # connection refused
    assert find(service, EMAIL).status_code == 503
    out = capsys.readouterr().out
    assert "contact lookup: GHL search failed" in out
    assert PHONE not in out and PHONE[2:] not in out and EMAIL not in out
