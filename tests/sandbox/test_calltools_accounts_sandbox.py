"""Several CallTools accounts at once, as an agency's clients each have one: one sandbox instance
per account (its own token, base URL, buckets, contacts, dispositions, call records, rest hooks
and throttle), and ids no two accounts share."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.calltools import CallToolsSandbox
from tests.sandbox.receiver import Receiver

HOOK_MODEL = "Historical Call Disposition"


@pytest.fixture
def accounts() -> Iterator[tuple[CallToolsSandbox, CallToolsSandbox]]:
    first = CallToolsSandbox(hook_timeout_seconds=1.0)
    second = CallToolsSandbox(
        token="account-b-token",
        buckets=[{"id": 80111, "name": "B Cold Leads"}],
        dispositions=[{"id": 62001, "name": "Booked"}],
        id_offset=1_000_000,
        hook_timeout_seconds=1.0,
    )
    with first, second:
        yield first, second


def client(account: CallToolsSandbox, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Token {token or account.token}"}
    return httpx.Client(base_url=account.base_url, headers=headers, timeout=5.0)


def test_each_account_has_its_own_data_and_its_token_opens_only_it(
    accounts: tuple[CallToolsSandbox, CallToolsSandbox],
) -> None:
    a, b = accounts
    with client(a) as a_api, client(b) as b_api, client(b, a.token) as wrong:
        made_a = a_api.post("contacts/", json={"mobile_phone_number": "+13125550147"}).json()
        made_b = b_api.post("contacts/", json={"mobile_phone_number": "+13125550147"}).json()
        assert (made_a["id"], made_b["id"]) == (48_000_000, 49_000_000)  # never the same id
        assert made_a["_phone_numbers"][0]["id"] != made_b["_phone_numbers"][0]["id"]
        assert a_api.get(f"contacts/{made_b['id']}/").status_code == 404  # B's id at A
        assert [x["name"] for x in b_api.get("buckets/").json()["results"]] == ["B Cold Leads"]
        assert [x["name"] for x in b_api.get("calldispositions/").json()["results"]] == ["Booked"]
        assert a_api.get("calldispositions/").json()["count"] == 7
        denied = wrong.get("contacts/")
        assert (denied.status_code, denied.json()) == (401, {"detail": "Invalid token."})
    b.record_call(made_b["id"], "Booked")
    assert [r["contact"] for r in b.call_records()] == [made_b["id"]]
    assert a.call_records() == []
    assert [c["id"] for c in a.contacts()] == [made_a["id"]]


def test_rest_hooks_and_throttles_are_per_account(
    accounts: tuple[CallToolsSandbox, CallToolsSandbox],
) -> None:
    a, b = accounts
    with Receiver() as receiver:
        a.subscribe(HOOK_MODEL, receiver.url + "/a")
        b.subscribe(HOOK_MODEL, receiver.url + "/b")
        a_contact = a.seed_contact({"mobile_phone_number": "+13125550147"})["id"]
        b_contact = b.seed_contact({"mobile_phone_number": "+13125550147"})["id"]
        b.record_call(b_contact, "Booked")
        a.record_call(a_contact, "Sale")
        paths = sorted(p.path for p in receiver.wait_for_posts(2))
    assert paths == ["/a", "/b"]  # each account posts its own calls to its own subscribers
    b.rate_limit_per_second = 1.0
    with client(a) as a_api, client(b) as b_api:
        assert b_api.get("buckets/").status_code == 200
        assert b_api.get("buckets/").status_code == 429  # B: 1 request/s
        assert [a_api.get("buckets/").status_code for _ in range(3)] == [200] * 3
