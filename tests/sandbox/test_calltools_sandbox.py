"""The CallTools sandbox, exercised over loopback HTTP the way the product's client will use it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.calltools import BUCKET_METHODS, CallToolsSandbox, MembershipEvent

FIXTURES = Path(__file__).parent.parent / "fixtures" / "calltools"
BUCKET = 70412


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def ct() -> Iterator[CallToolsSandbox]:
    with CallToolsSandbox() as server:
        yield server


def make_client(server: CallToolsSandbox, timeout: float = 5.0) -> httpx.Client:
    headers = {"Authorization": f"Token {server.token}"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=timeout)


@pytest.fixture
def client(ct: CallToolsSandbox) -> Iterator[httpx.Client]:
    with make_client(ct) as c:
        yield c


def new_contact(client: httpx.Client, phone: str = "+13125550147", **extra: Any) -> Any:
    body = {"first_name": "Avery", "last_name": "Lindqvist", "mobile_phone_number": phone, **extra}
    resp = client.post("contacts/", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sandbox-calltools-token"}, {"Authorization": "Token nope"}],
)
def test_auth_is_required_on_every_api_path(ct: CallToolsSandbox, headers: dict[str, str]) -> None:
    for path in ("contacts/", "buckets/", "contactbuckets/"):
        resp = httpx.get(ct.base_url + path, headers=headers)
        assert resp.status_code == 401
        assert resp.json() == {"detail": "Invalid token."}


def test_paths_without_trailing_slash_are_404(client: httpx.Client) -> None:
    created = new_contact(client)
    for path in ("contacts", f"contacts/{created['id']}", "buckets", "contactbuckets"):
        resp = client.get(path)
        assert resp.status_code == 404
        assert resp.json() == {"detail": "Not found."}
    assert client.get("nothing-here/").status_code == 404


def test_create_replies_201_with_the_documented_contact_shape(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    body = {
        "first_name": "Avery",
        "last_name": "Lindqvist",
        "mobile_phone_number": "+13125550147",
        "email": "avery.lindqvist@example.com",
        "zip_code": "62701",
        "ghl_contact_id": "p4Rk2VtQ8mZs1LwY7nHc",
        "external_id": "ignored",  # unknown keys are dropped, like the real API
        "add_tags": [90117],
        "add_buckets": [BUCKET],
    }
    resp = client.post("contacts/", json=body)
    assert resp.status_code == 201
    contact = resp.json()
    assert list(contact) == list(fixture("contact.json"))
    assert contact["id"] >= 48_000_000
    assert contact["_phone_numbers"] == [
        {
            "id": contact["_phone_numbers"][0]["id"],
            "contact": contact["id"],
            "phone_number": "+13125550147",
            "do_not_contact": False,
        }
    ]
    assert contact["home_phone_number"] is None
    assert (contact["status"], contact["ready"], contact["system_disposition"]) == (
        "new",
        True,
        "Ready",
    )
    assert contact["tags"] == [90117]
    assert contact["buckets"] == [BUCKET]
    assert contact["ghl_contact_id"] == "p4Rk2VtQ8mZs1LwY7nHc"
    assert client.get(f"contacts/{contact['id']}/").json() == contact
    assert ct.contact(contact["id"]) == contact


@pytest.mark.parametrize(
    ("field", "phone"),
    [
        ("mobile_phone_number", "+12222222222"),
        ("home_phone_number", "312-555-0147"),
        ("office_phone_number", "+0123456789"),
    ],
)
def test_undialable_or_non_e164_phone_is_400(
    ct: CallToolsSandbox, client: httpx.Client, field: str, phone: str
) -> None:
    resp = client.post("contacts/", json={"first_name": "X", field: phone})
    assert resp.status_code == 400
    assert resp.json() == {field: ["Enter a valid, dialable phone number."]}
    assert ct.contacts() == []


def test_list_pages_like_drf_and_follows_next(ct: CallToolsSandbox, client: httpx.Client) -> None:
    seeded = [ct.seed_contact({"mobile_phone_number": f"+1312555{i:04d}"})["id"] for i in range(23)]
    first = client.get("contacts/", params={"page_size": 10}).json()
    assert first["count"] == 23
    assert first["previous"] is None
    assert first["next"] == f"{ct.url}/api/contacts/?page=2&page_size=10"
    seen, url = [], ct.base_url + "contacts/?page_size=10"
    while url:
        page = client.get(url).json()
        seen += [c["id"] for c in page["results"]]
        url = page["next"]
    assert seen == seeded  # every contact once, ordered by id
    third = client.get("contacts/", params={"page_size": 10, "page": 3}).json()
    assert len(third["results"]) == 3
    assert third["previous"] == f"{ct.url}/api/contacts/?page=2&page_size=10"
    assert client.get("contacts/", params={"page": 4, "page_size": 10}).status_code == 404


def test_page_size_defaults_to_25_and_is_capped_at_250(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    for i in range(260):
        ct.seed_contact({"first_name": f"n{i}"})
    assert len(client.get("contacts/").json()["results"]) == 25
    assert len(client.get("contacts/", params={"page_size": 1000}).json()["results"]) == 250


def test_unknown_filter_is_ignored_and_returns_everything(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    for i in range(3):
        ct.seed_contact({"mobile_phone_number": f"+1415555013{i}", "ghl_contact_id": f"g{i}"})
    for params in ({"external_id": "g1"}, {"ghl_contact_id": "g1"}, {"search": "+14155550131"}):
        assert client.get("contacts/", params=params).json()["count"] == 3


def test_phone_filter_is_exact_and_checks_every_phone_field(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    a = ct.seed_contact({"mobile_phone_number": "+14155550131"})
    b = ct.seed_contact({"home_phone_number": "+14155550132"})
    ct.seed_contact({"mobile_phone_number": "+14155550133"})

    def ids(phone: str) -> list[int]:
        resp = client.get("contacts/", params={"phone_number": phone})
        return [c["id"] for c in resp.json()["results"]]

    assert ids("+14155550131") == [a["id"]]
    assert ids("+14155550132") == [b["id"]]
    assert ids("+1415555013") == []  # a prefix is not a match
    assert ids("+19999999999") == []


def test_buckets_and_first_name_filters(ct: CallToolsSandbox, client: httpx.Client) -> None:
    in_bucket = ct.seed_contact({"first_name": "bob", "buckets": [BUCKET]})
    ct.seed_contact({"first_name": "alice"})
    resp = client.get("contacts/", params={"buckets__id": BUCKET}).json()
    assert [c["id"] for c in resp["results"]] == [in_bucket["id"]]
    assert client.get("contacts/", params={"first_name": "alice"}).json()["count"] == 1
    assert client.get("contacts/", params={"buckets__id": "x"}).status_code == 400


def test_duplicate_allow_creates_a_second_contact(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    first, second = new_contact(client), new_contact(client)
    assert first["id"] != second["id"]
    assert len(ct.contacts()) == 2


def test_duplicate_merge_updates_the_existing_contact() -> None:
    with CallToolsSandbox(duplicate_mode="merge") as ct, make_client(ct) as c:
        original = new_contact(c, company_name="Lindqvist Landscaping LLC")
        resp = c.post(
            "contacts/",
            json={"first_name": "Ava", "company_name": "", "mobile_phone_number": "+13125550147"},
        )
        assert resp.status_code == 200
        body = resp.json()
        assert body == {"duplicate_contacts": [original["id"]], "duplicate_action": "MERGE"}
        assert set(body) == set(fixture("create-duplicate-merge.json"))
        merged = ct.contact(original["id"])
        assert merged is not None
        assert merged["first_name"] == "Ava"  # non-empty values overwrite
        assert merged["company_name"] == "Lindqvist Landscaping LLC"  # blanks do not
        assert len(ct.contacts()) == 1


def attempt_bucket_add(client: httpx.Client, method: str, contact_id: int) -> httpx.Response:
    if method == "contact_patch":
        return client.patch(f"contacts/{contact_id}/", json={"add_buckets": [BUCKET]})
    if method == "bucket_patch":
        return client.patch(f"buckets/{BUCKET}/", json={"add_contacts": [contact_id]})
    return client.post("contactbuckets/", json={"contact": contact_id, "bucket": BUCKET})


@pytest.mark.parametrize("configured", BUCKET_METHODS)
@pytest.mark.parametrize("attempted", BUCKET_METHODS)
def test_only_the_configured_bucket_method_changes_membership(
    configured: str, attempted: str
) -> None:
    with CallToolsSandbox(bucket_method=configured) as ct, make_client(ct) as client:
        contact = new_contact(client)
        resp = attempt_bucket_add(client, attempted, contact["id"])
        assert resp.is_success  # every candidate replies 2xx, working or not
        works = configured == attempted
        assert ct.bucket_members(BUCKET) == ({contact["id"]} if works else set())
        assert ct.bucket_add_count(BUCKET) == int(works)
        rows = client.get("contactbuckets/", params={"contact_id": contact["id"]}).json()
        assert rows["count"] == int(works)
        assert client.get(f"contacts/{contact['id']}/").json()["buckets"] == (
            [BUCKET] if works else []
        )
        assert client.get(f"buckets/{BUCKET}/").json()["count"] == int(works)


def test_contactbuckets_rows_can_be_read_and_filtered(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    other = ct.add_bucket("Warm Leads")
    a, b = new_contact(client), new_contact(client, phone="+14155550132")
    client.patch(f"contacts/{a['id']}/", json={"add_buckets": [BUCKET, other]})
    client.patch(f"contacts/{b['id']}/", json={"add_buckets": [BUCKET]})
    rows = client.get("contactbuckets/", params={"contact_id": a["id"], "bucket_id": BUCKET})
    body = rows.json()
    assert body["count"] == 1
    assert body["results"] == [
        {"id": body["results"][0]["id"], "contact": a["id"], "bucket": BUCKET}
    ]
    assert client.get("contactbuckets/", params={"bucket_id": BUCKET}).json()["count"] == 2
    assert client.get("contactbuckets/").json()["count"] == 3
    buckets = client.get("buckets/").json()["results"]
    assert [(x["id"], x["name"], x["count"]) for x in buckets] == [
        (BUCKET, "Cold Leads", 2),
        (other, "Warm Leads", 1),
    ]
    assert list(buckets[0]) == list(fixture("bucket.json"))
    assert ct.bucket_id("Warm Leads") == other


def test_membership_history_records_adds_and_removes(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    contact = new_contact(client)
    cid = contact["id"]
    client.patch(f"contacts/{cid}/", json={"add_buckets": [BUCKET]})
    client.patch(f"contacts/{cid}/", json={"add_buckets": [BUCKET]})  # no-op: already in
    client.patch(f"contacts/{cid}/", json={"remove_buckets": [BUCKET]})
    assert ct.membership_events == [
        MembershipEvent(cid, BUCKET, "add"),
        MembershipEvent(cid, BUCKET, "remove"),
    ]
    assert ct.bucket_add_count(BUCKET) == 1
    assert ct.ever_in_bucket(cid, BUCKET)
    assert ct.bucket_members(BUCKET) == set()


def test_patch_tags_fields_and_delete(ct: CallToolsSandbox, client: httpx.Client) -> None:
    cid = new_contact(client, add_tags=[1, 2])["id"]
    resp = client.patch(f"contacts/{cid}/", json={"remove_tags": [1], "add_tags": [3], "city": "X"})
    assert resp.status_code == 200
    assert (resp.json()["tags"], resp.json()["city"]) == ([2, 3], "X")
    bad = client.patch(f"contacts/{cid}/", json={"mobile_phone_number": "+12222222222"})
    assert bad.status_code == 400
    assert client.patch(f"contacts/{cid}/", content=b"{not json").status_code == 400
    assert client.delete(f"contacts/{cid}/").status_code == 204
    assert client.get(f"contacts/{cid}/").json() == {"detail": "Not found."}
    assert client.patch(f"contacts/{cid}/", json={}).status_code == 404


def test_fault_script_serves_429_then_html_502_then_recovers(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    ct.retry_after = 7
    ct.script_faults(["429", "502_html", "503_html"])
    first = client.get("contacts/")
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "7"
    assert first.headers["content-type"] == "application/json"
    second = client.get("contacts/")
    assert second.status_code == 502
    assert second.headers["content-type"].startswith("text/html")
    assert "<html>" in second.text
    assert client.get("contacts/").status_code == 503
    assert client.get("contacts/").status_code == 200
    assert ct.fault_counts == {"429": 1, "502_html": 1, "503_html": 1}
    assert ct.call_count("GET", "/api/contacts/") == 4  # faulted requests are logged too


def test_admin_paths_never_get_faults(ct: CallToolsSandbox, client: httpx.Client) -> None:
    ct.set_fault_rate(1.0, ["500_json"], seed=1)
    assert httpx.get(ct.url + "/_sandbox/calls").status_code == 200
    resp = client.get("contacts/")
    assert (resp.status_code, resp.json()) == (500, {"detail": "Internal server error"})
    ct.clear_faults()
    assert client.get("contacts/").status_code == 200


def test_timeout_fault_outlasts_the_client(ct: CallToolsSandbox, client: httpx.Client) -> None:
    ct.timeout_seconds = 0.5
    ct.script_faults(["timeout"])
    with make_client(ct, timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.get("contacts/")
    assert client.get("contacts/").status_code == 200
    assert ct.fault_counts == {"timeout": 1}


def test_lost_reply_fault_applies_the_request_then_times_out(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    ct.timeout_seconds = 0.5
    ct.script_faults(["lost_reply"])
    body = {"first_name": "Lost", "mobile_phone_number": "+13125550100"}
    with make_client(ct, timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.post("contacts/", json=body)
    assert [c["first_name"] for c in ct.contacts()] == ["Lost"]
    assert ct.fault_counts == {"lost_reply": 1}


def test_latency_delays_responses_but_requests_overlap(ct: CallToolsSandbox) -> None:
    ct.latency_ms = 300
    statuses: list[int] = []

    def fetch() -> None:
        with make_client(ct) as c:
            statuses.append(c.get("contacts/").status_code)

    started = time.perf_counter()
    threads = [threading.Thread(target=fetch) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    assert statuses == [200] * 5
    assert 0.3 <= elapsed < 1.2  # five 300 ms requests in parallel, not 1.5 s in series


def test_rate_limit_replies_429_with_retry_after() -> None:
    with CallToolsSandbox(rate_limit_per_second=2) as ct, make_client(ct) as client:
        assert [client.get("buckets/").status_code for _ in range(2)] == [200, 200]
        resp = client.get("buckets/")
        assert resp.status_code == 429
        assert int(resp.headers["Retry-After"]) >= 1


def test_admin_endpoints(ct: CallToolsSandbox, client: httpx.Client) -> None:
    admin = httpx.Client(base_url=ct.url)
    new_contact(client, add_buckets=[BUCKET])
    calls = admin.get("/_sandbox/calls").json()
    assert calls["calls"][0]["method"] == "POST"
    assert calls["calls"][0]["path"] == "/api/contacts/"
    state = admin.get("/_sandbox/state").json()
    assert len(state["contacts"]) == 1
    assert state["membership_events"][0]["action"] == "add"
    config = admin.post("/_sandbox/config", json={"bucket_method": "bucket_patch"}).json()
    assert config["bucket_method"] == ct.bucket_method == "bucket_patch"
    assert admin.post("/_sandbox/config", json={"bucket_method": "nope"}).status_code == 400
    faults = admin.post("/_sandbox/faults", json={"script": ["500_json"], "retry_after": 3})
    assert faults.json()["script"] == ["500_json"]
    assert admin.post("/_sandbox/latency", json={"ms": 5}).json() == {"ms": 5.0}
    assert admin.post("/_sandbox/reset").status_code == 200
    assert (ct.contacts(), ct.calls(), ct.pending_faults, ct.membership_events) == ([], [], [], [])
    assert ct.bucket_members(BUCKET) == set()
    admin.close()


def test_stop_is_prompt_even_with_a_parked_request_and_restart_keeps_the_port() -> None:
    ct = CallToolsSandbox().start()
    url = ct.url
    ct.timeout_seconds = 60.0
    ct.script_faults(["timeout"])
    with make_client(ct, timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.get("contacts/")
    started = time.perf_counter()
    ct.stop()
    assert time.perf_counter() - started < 2.0  # the parked handler is woken, not waited for
    with ct.start(), make_client(ct) as client:
        assert ct.url == url
        assert client.get("contacts/").status_code == 200
