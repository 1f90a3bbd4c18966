"""The GoHighLevel sandbox, exercised over loopback HTTP the way the product's client will use it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.ghl import GhlSandbox

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ghl"
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
RATE_HEADERS = (
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def make_client(server: GhlSandbox) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.token}", "Version": "2021-07-28"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10.0)


@pytest.fixture
def ghl() -> Iterator[GhlSandbox]:
    with GhlSandbox(rate_limit=None) as server:
        yield server


@pytest.fixture
def client(ghl: GhlSandbox) -> Iterator[httpx.Client]:
    with make_client(ghl) as c:
        yield c


def search(client: httpx.Client, ghl: GhlSandbox, **body: Any) -> httpx.Response:
    return client.post("/contacts/search", json={"locationId": ghl.location_id, **body})


def search_ids(client: httpx.Client, ghl: GhlSandbox, **body: Any) -> list[str]:
    resp = search(client, ghl, pageLimit=500, **body)
    assert resp.status_code == 200, resp.text
    return [c["id"] for c in resp.json()["contacts"]]


def test_auth_and_version_header_are_required(ghl: GhlSandbox) -> None:
    url = ghl.url + "/contacts/abc"
    resp = httpx.get(url, headers={"Version": "2021-07-28"})
    assert (resp.status_code, resp.json()) == (401, {"statusCode": 401, "message": "Invalid JWT"})
    for version in ({}, {"Version": "2023-02-21"}):
        resp = httpx.get(url, headers={"Authorization": f"Bearer {ghl.token}", **version})
        assert resp.status_code == 400
        assert resp.json() == {"statusCode": 400, "message": "version header is missing or invalid"}


def test_get_contact_has_the_documented_shape(ghl: GhlSandbox, client: httpx.Client) -> None:
    expected = fixture("get-contact.json")["contact"]
    ghl.upsert_contact(expected)
    resp = client.get(f"/contacts/{expected['id']}")
    assert resp.status_code == 200
    assert resp.json() == {"contact": expected}
    assert list(resp.json()["contact"]) == list(expected)


def test_unknown_or_foreign_contact_is_404(ghl: GhlSandbox, client: httpx.Client) -> None:
    ghl.upsert_contact({"id": "foreign0000000000000", "locationId": "OtherLocation0000000"})
    for cid in ("doesNotExist00000000", "foreign0000000000000"):
        resp = client.get(f"/contacts/{cid}")
        assert (resp.status_code, resp.json()) == (
            404,
            {"statusCode": 404, "message": "Contact not found"},
        )
    assert "foreign0000000000000" not in search_ids(client, ghl)


def test_upsert_fills_ids_and_timestamps(ghl: GhlSandbox) -> None:
    created = ghl.upsert_contact({"firstName": "Ada", "lastName": "Byron", "tags": ["cold lead"]})
    assert re.fullmatch(r"[A-Za-z0-9]{20}", created["id"])
    assert created["locationId"] == ghl.location_id
    assert ISO_MS.fullmatch(created["dateAdded"])
    assert created["dateUpdated"] == created["dateAdded"]
    assert created["fullNameLowerCase"] == "ada byron"
    dnd = ghl.set_dnd(created["id"], True)
    assert dnd["dnd"] is True
    assert dnd["dndSettings"]["Call"]["status"] == "active"
    assert dnd["dateUpdated"] > created["dateUpdated"]
    assert dnd["dateAdded"] == created["dateAdded"]
    tagged = ghl.set_tags(created["id"], ["warm"])
    assert tagged["tags"] == ["warm"]
    assert tagged["dateUpdated"] > dnd["dateUpdated"]
    assert ghl.delete_contact(created["id"])
    assert ghl.contact(created["id"]) is None


def test_search_contacts_have_the_search_shape(ghl: GhlSandbox, client: httpx.Client) -> None:
    page = fixture("search-contacts-page.json")
    for contact in page["contacts"]:
        ghl.upsert_contact({k: v for k, v in contact.items() if k != "searchAfter"})
    body = search(client, ghl, pageLimit=10).json()
    assert body["total"] == 3
    assert re.fullmatch(r"[0-9a-f-]{36}", body["traceId"])
    assert body["contacts"] == page["contacts"]


def test_search_after_walks_1201_contacts_in_three_pages(
    ghl: GhlSandbox, client: httpx.Client
) -> None:
    ids = ghl.generate_contacts(1201, seed=7)
    seen: list[str] = []
    cursor: list[Any] | None = None
    pages = 0
    while True:
        extra: dict[str, Any] = {"searchAfter": cursor} if cursor else {}
        body = search(
            client,
            ghl,
            pageLimit=500,
            filters=[{"field": "tags", "operator": "eq", "value": "cold lead"}],
            sort=[{"field": "dateAdded", "direction": "asc"}],
            **extra,
        ).json()
        pages += 1
        assert body["total"] == 1201
        seen += [c["id"] for c in body["contacts"]]
        if len(body["contacts"]) < 500:
            break
        cursor = body["contacts"][-1]["searchAfter"]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 1201
    assert seen == ids  # ids come back in dateAdded order, ties broken by id


def test_search_after_descending_by_date_updated(ghl: GhlSandbox, client: httpx.Client) -> None:
    ghl.generate_contacts(30, seed=3)
    sort = [{"field": "dateUpdated", "direction": "desc"}]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        extra: dict[str, Any] = {"searchAfter": cursor} if cursor else {}
        contacts = search(client, ghl, pageLimit=7, sort=sort, **extra).json()["contacts"]
        seen += [c["id"] for c in contacts]
        if len(contacts) < 7:
            break
        cursor = contacts[-1]["searchAfter"]
    assert len(seen) == len(set(seen)) == 30
    stamps = [ghl.contact(cid)["dateUpdated"] for cid in seen]  # type: ignore[index]
    assert stamps == sorted(stamps, reverse=True)


def test_equal_dates_are_paged_by_id(ghl: GhlSandbox, client: httpx.Client) -> None:
    when = "2026-01-12T16:20:31.482Z"
    for cid in ("c" * 20, "a" * 20, "b" * 20):
        ghl.upsert_contact({"id": cid, "dateAdded": when})
    seen, cursor = [], None
    for _ in range(4):
        extra: dict[str, Any] = {"searchAfter": cursor} if cursor else {}
        contacts = search(client, ghl, pageLimit=1, **extra).json()["contacts"]
        if not contacts:
            break
        seen.append(contacts[0]["id"])
        cursor = contacts[0]["searchAfter"]
    assert seen == ["a" * 20, "b" * 20, "c" * 20]


def test_page_paging_and_its_10000_record_cap(ghl: GhlSandbox, client: httpx.Client) -> None:
    ids = ghl.generate_contacts(12)
    page2 = search(client, ghl, pageLimit=5, page=2).json()["contacts"]
    assert [c["id"] for c in page2] == ids[5:10]
    assert search(client, ghl, pageLimit=500, page=20).status_code == 200  # records 9,501-10,000
    assert search(client, ghl, pageLimit=500, page=21).status_code == 422
    assert search(client, ghl, pageLimit=100, page=101).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"pageLimit": 10, "page": 1, "searchAfter": [1768234831482, "p4Rk2VtQ8mZs1LwY7nHc"]},
        {"pageLimit": 501},
        {"pageLimit": 0},
        {},
        {"pageLimit": 10, "filters": [{"field": "city", "operator": "eq", "value": "X"}]},
        {"pageLimit": 10, "sort": [{"field": "email", "direction": "asc"}]},
        {"pageLimit": 10, "searchAfter": "nope"},
    ],
)
def test_invalid_search_bodies_are_422(
    ghl: GhlSandbox, client: httpx.Client, body: dict[str, Any]
) -> None:
    resp = search(client, ghl, **body)
    assert resp.status_code == 422
    assert resp.json()["statusCode"] == 422


def test_search_needs_location_id(ghl: GhlSandbox, client: httpx.Client) -> None:
    assert client.post("/contacts/search", json={"pageLimit": 10}).status_code == 422
    other = client.post("/contacts/search", json={"locationId": "elsewhere", "pageLimit": 10})
    assert other.status_code == 403


def test_tag_filters_ignore_case_and_whitespace(ghl: GhlSandbox, client: httpx.Client) -> None:
    tags = {"A": ["Cold Lead"], "B": [" cold lead "], "C": ["cold leads"], "D": ["other"], "E": []}
    made = {k: ghl.upsert_contact({"tags": v})["id"] for k, v in tags.items()}

    def matching(operator: str, value: Any = None) -> set[str]:
        leaf = {"field": "tags", "operator": operator}
        if value is not None:
            leaf["value"] = value
        names = {v: k for k, v in made.items()}
        return {names[i] for i in search_ids(client, ghl, filters=[leaf])}

    assert matching("eq", "COLD LEAD") == {"A", "B"}
    assert matching("not_eq", "cold lead") == {"C", "D", "E"}
    assert matching("contains", "cold lead") == {"A", "B", "C"}
    assert matching("exists") == {"A", "B", "C", "D"}
    assert matching("not_exists") == {"E"}


def test_dnd_id_and_group_filters(ghl: GhlSandbox, client: httpx.Client) -> None:
    a, b, c = (ghl.upsert_contact({"tags": ["cold lead"]})["id"] for _ in range(3))
    ghl.set_dnd(b, True)
    cold = {"field": "tags", "operator": "eq", "value": "cold lead"}
    not_dnd = {"field": "dnd", "operator": "eq", "value": False}
    assert set(search_ids(client, ghl, filters=[cold, not_dnd])) == {a, c}
    assert search_ids(client, ghl, filters=[{"field": "id", "operator": "eq", "value": b}]) == [b]
    either = {
        "group": "OR",
        "filters": [
            {"field": "id", "operator": "eq", "value": a},
            {"field": "id", "operator": "eq", "value": b},
        ],
    }
    assert set(search_ids(client, ghl, filters=[either, not_dnd])) == {a}
    dnd_contact = search(
        client, ghl, pageLimit=5, filters=[{"field": "dnd", "operator": "eq", "value": True}]
    )
    assert dnd_contact.json()["contacts"][0]["dndSettings"]["Call"]["status"] == "active"


def test_phone_and_email_filters_match_exactly_in_the_location(
    ghl: GhlSandbox, client: httpx.Client
) -> None:
    """What the admin lookup sends (GhlHttpApi.find_contacts)."""
    made = {
        "A": ghl.upsert_contact({"phone": "+14155550132", "email": "Marcus.Oduya@example.com"}),
        "B": ghl.upsert_contact({"phone": "+14155550133", "email": "marcus.oduya@example.c"}),
        "C": ghl.upsert_contact({"phone": "+14155550132", "locationId": "OtherLocation0000001"}),
    }
    names = {c["id"]: k for k, c in made.items()}

    def matching(field: str, value: str) -> set[str]:
        leaf = {"field": field, "operator": "eq", "value": value}
        return {names[i] for i in search_ids(client, ghl, filters=[leaf])}

    assert matching("phone", "+14155550132") == {"A"}
    assert matching("email", "marcus.oduya@EXAMPLE.com") == {"A"}
    assert matching("phone", "4155550132") == set()  # eq: the stored E.164 only


def test_free_text_query_is_a_substring_of_name_email_phone_or_company(
    ghl: GhlSandbox, client: httpx.Client
) -> None:
    made = {
        "A": ghl.upsert_contact({"phone": "+14155550132", "firstName": "Marcus"}),
        "B": ghl.upsert_contact({"email": "ODUYA@example.com", "tags": ["cold lead"]}),
        "C": ghl.upsert_contact({"companyName": "Oduya & Sons", "firstName": "Ines"}),
        "D": ghl.upsert_contact({"phone": "+14155550132", "locationId": "OtherLocation0000001"}),
    }
    names = {c["id"]: k for k, c in made.items()}

    def matching(query: str, **body: Any) -> set[str]:
        return {names[i] for i in search_ids(client, ghl, query=query, **body)}

    assert matching("14155550132") == {"A"}
    assert matching("oduya") == {"B", "C"}
    assert matching("MARC") == {"A"}
    cold = {"field": "tags", "operator": "eq", "value": "cold lead"}
    assert matching("oduya", filters=[cold]) == {"B"}
    assert matching("") == {"A", "B", "C"}
    total = search(client, ghl, pageLimit=1, query="oduya").json()["total"]
    assert total == 2
    assert search(client, ghl, pageLimit=10, query="x" * 76).status_code == 422
    assert search(client, ghl, pageLimit=10, query=["oduya"]).status_code == 422


def test_rate_limit_429_without_retry_after_and_headers() -> None:
    with GhlSandbox(rate_limit=(5, 60.0), daily_limit=1000) as ghl, make_client(ghl) as client:
        ghl.upsert_contact({"id": "x" * 20})
        remaining = []
        for _ in range(5):
            resp = client.get("/contacts/" + "x" * 20)
            assert resp.status_code == 200
            assert all(h in resp.headers for h in RATE_HEADERS)
            remaining.append(int(resp.headers["X-RateLimit-Remaining"]))
        assert remaining == [4, 3, 2, 1, 0]
        assert resp.headers["X-RateLimit-Max"] == "5"
        assert resp.headers["X-RateLimit-Interval-Milliseconds"] == "60000"
        assert resp.headers["X-RateLimit-Daily-Remaining"] == "995"
        limited = client.get("/contacts/" + "x" * 20)
        assert limited.status_code == 429
        assert limited.json() == {"statusCode": 429, "message": "Too many requests"}
        assert "Retry-After" not in limited.headers
        assert limited.headers["X-RateLimit-Remaining"] == "0"


def test_rate_limit_headers_on_errors_too(ghl: GhlSandbox, client: httpx.Client) -> None:
    resp = client.get("/contacts/missing")
    assert resp.status_code == 404
    assert all(h in resp.headers for h in RATE_HEADERS)


def test_fault_injection_and_call_log(ghl: GhlSandbox, client: httpx.Client) -> None:
    ghl.script_faults(["500_json", "429"])
    first = client.get("/contacts/any")
    assert (first.status_code, first.json()["statusCode"]) == (500, 500)
    assert client.get("/contacts/any").headers["Retry-After"] == "1"
    assert client.get("/contacts/any").status_code == 404
    assert [c.path for c in ghl.calls("GET")] == ["/contacts/any"] * 3
    ghl.reset_calls()
    assert ghl.call_count() == 0


def test_admin_contact_endpoints(ghl: GhlSandbox) -> None:
    with httpx.Client(base_url=ghl.url + "/_sandbox") as admin:
        put = admin.put("/contacts/adminMade0000000000", json={"firstName": "Zed", "tags": ["x"]})
        assert put.status_code == 200
        assert put.json()["contact"]["name"] == "Zed"
        assert admin.get("/contacts/adminMade0000000000").json()["contact"]["tags"] == ["x"]
        assert admin.delete("/contacts/adminMade0000000000").status_code == 204
        assert admin.get("/contacts/adminMade0000000000").status_code == 404
        assert admin.post("/generate", json={"n": 3}).status_code == 201
        assert ghl.count() == 3
        assert admin.post("/reset").status_code == 200
        assert ghl.count() == 0


def test_generated_contacts_have_unique_phones_beyond_80000(ghl: GhlSandbox) -> None:
    ghl._phone_seq = 79_990  # skip ahead instead of generating 80,000 contacts
    ids = ghl.generate_contacts(20)
    phones = [ghl.contact(i)["phone"] for i in ids]  # type: ignore[index]
    assert len(set(phones)) == 20
    assert all(re.fullmatch(r"\+1[2-9]\d\d5\d\d01\d\d", p) for p in phones)


def test_search_stays_fast_with_100k_contacts(ghl: GhlSandbox, client: httpx.Client) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ids = ghl.generate_contacts(100_000, tag="cold lead", seed=1, start=start)
    cold = [{"field": "tags", "operator": "eq", "value": "cold lead"}]
    first = search(client, ghl, pageLimit=500, filters=cold).json()
    assert first["total"] == 100_000
    middle = ghl.contact(ids[70_000])
    assert middle is not None
    added_ms = int(datetime.fromisoformat(middle["dateAdded"]).timestamp() * 1000)
    page = search(client, ghl, pageLimit=500, filters=cold, searchAfter=[added_ms, ids[70_000]])
    assert [c["id"] for c in page.json()["contacts"]] == ids[70_001:70_501]
