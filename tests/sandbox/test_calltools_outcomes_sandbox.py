"""The CallTools sandbox's call results and rest hooks (calltools.md §8), over loopback HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from sandbox.calltools import CallToolsSandbox
from tests.sandbox.receiver import Receiver, closed_port_url, wait_for

HOOK_MODEL = "Historical Call Disposition"
# Key orders of calltools.md §8a, as the shared fixtures show them.
RECORD_KEYS = [
    *("id", "call_uuid", "contact", "app_user", "campaign", "disposition", "phone_number"),
    "created_on",
]
DISPOSITION_KEYS = [
    *("id", "name", "hang_up_call", "no_contact", "set_contact_dnc", "set_phone_number_dnc"),
    "indicate_answering_machine",
]


@pytest.fixture
def ct() -> Iterator[CallToolsSandbox]:
    with CallToolsSandbox(hook_timeout_seconds=1.0) as server:
        yield server


@pytest.fixture
def client(ct: CallToolsSandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Token {ct.token}"}
    with httpx.Client(base_url=ct.base_url, headers=headers, timeout=5.0) as c:
        yield c


@pytest.fixture
def admin(ct: CallToolsSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ct.url, timeout=5.0) as c:
        yield c


def seed(ct: CallToolsSandbox, phone: str = "+13125550147") -> int:
    return int(ct.seed_contact({"first_name": "Avery", "mobile_phone_number": phone})["id"])


def test_dispositions_are_listed_like_drf_and_read_by_id(client: httpx.Client) -> None:
    page = client.get("calldispositions/").json()
    assert (page["count"], page["next"], page["previous"]) == (7, None, None)
    names = {d["id"]: d["name"] for d in page["results"]}
    assert names[61003] == "Not Interested"
    assert list(page["results"][0]) == DISPOSITION_KEYS
    dnc = client.get("calldispositions/61005/")
    assert dnc.status_code == 200
    assert dnc.json() == {
        "id": 61005,
        "name": "Do Not Call",
        "hang_up_call": True,
        "no_contact": False,
        "set_contact_dnc": True,
        "set_phone_number_dnc": False,
        "indicate_answering_machine": False,
    }
    assert client.get("calldispositions/61006/").json()["set_phone_number_dnc"] is True
    assert client.get("calldispositions/61002/").json()["no_contact"] is True
    missing = client.get("calldispositions/1/")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not found."})


def test_dispositions_survive_reset_and_added_ones_do_not(ct: CallToolsSandbox) -> None:
    added = ct.add_disposition("Callback Requested", no_contact=True)
    assert added["id"] == 61008
    assert len(ct.dispositions()) == 8
    ct.reset()
    assert [d["id"] for d in ct.dispositions()] == list(range(61001, 61008))


def test_a_placed_call_is_a_record_with_the_documented_shape(
    ct: CallToolsSandbox, client: httpx.Client, admin: httpx.Client
) -> None:
    cid = seed(ct)
    placed = admin.post(
        "/_sandbox/calls", json={"contact": cid, "disposition": "not interested", "deliver": False}
    )
    assert placed.status_code == 201
    record = placed.json()
    assert list(record) == RECORD_KEYS
    assert record["contact"] == cid
    assert record["disposition"] == 61003
    assert record["phone_number"] == "+13125550147"  # the contact's phone by default
    assert (record["app_user"], record["campaign"]) == (55012, 7704)
    assert re.fullmatch(r"[0-9a-f-]{36}", record["call_uuid"])
    created = datetime.strptime(record["created_on"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60  # UTC, no zone written
    assert client.get(f"historicalcalldispositions/{record['id']}/").json() == record
    by_id = admin.post(
        "/_sandbox/calls",
        json={
            "contact": cid,
            "disposition": 61001,
            "campaign": 9,
            "phone_number": "+1",
            "app_user": 1,
        },
    ).json()
    assert (by_id["disposition"], by_id["campaign"], by_id["phone_number"]) == (61001, 9, "+1")
    assert by_id["id"] == record["id"] + 1


def test_unknown_records_are_404(ct: CallToolsSandbox, client: httpx.Client) -> None:
    record = ct.record_call(seed(ct), "Sale", deliver=False)
    ct.reset()  # the id counter survives: a kept id now 404s
    resp = client.get(f"historicalcalldispositions/{record['id']}/")
    assert (resp.status_code, resp.json()) == (404, {"detail": "Not found."})
    assert ct.record_call(seed(ct), "Sale", deliver=False)["id"] == record["id"] + 1


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"disposition": "Sale"}, {"contact": ["This field is required."]}),
        (
            {"contact": 1, "disposition": "Sale"},
            {"contact": ['Invalid pk "1" - object does not exist.']},
        ),
        ({"contact": "CONTACT"}, {"disposition": ["This field is required."]}),
        (
            {"contact": "CONTACT", "disposition": "Nope"},
            {"disposition": ['Invalid pk "Nope" - object does not exist.']},
        ),
        (
            {"contact": "CONTACT", "disposition": 1},
            {"disposition": ['Invalid pk "1" - object does not exist.']},
        ),
    ],
)
def test_placing_a_call_checks_contact_and_disposition(
    ct: CallToolsSandbox, admin: httpx.Client, body: dict[str, Any], errors: dict[str, Any]
) -> None:
    cid = seed(ct)
    body = {k: cid if v == "CONTACT" else v for k, v in body.items()}
    resp = admin.post("/_sandbox/calls", json=body)
    assert (resp.status_code, resp.json()) == (400, errors)
    assert ct.call_records() == []


def test_history_pages_newest_first_with_ordering(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    cid = seed(ct)
    ids = [ct.record_call(cid, "No Answer", deliver=False)["id"] for _ in range(7)]
    for ordering in ("-id", "-pk"):
        first = client.get(
            "historicalcalldispositions/", params={"ordering": ordering, "page_size": 3}
        ).json()
        assert first["count"] == 7
        assert [r["id"] for r in first["results"]] == ids[::-1][:3]
        assert first["next"] == (
            f"{ct.url}/api/historicalcalldispositions/?ordering={ordering}&page=2&page_size=3"
        )
        third = client.get(first["next"].replace("page=2", "page=3")).json()
        assert [r["id"] for r in third["results"]] == [ids[0]]
        assert third["next"] is None
    default = client.get("historicalcalldispositions/").json()
    assert [r["id"] for r in default["results"]] == ids  # ascending id without an ordering
    assert list(default) == ["count", "next", "previous", "results"]
    over = client.get("historicalcalldispositions/", params={"page": 9, "page_size": 3})
    assert over.status_code == 404


def test_page_size_is_capped_at_250(ct: CallToolsSandbox, client: httpx.Client) -> None:
    cid = seed(ct)
    for _ in range(260):
        ct.record_call(cid, "Sale", deliver=False)
    page = client.get("historicalcalldispositions/", params={"page_size": 1000}).json()
    assert (page["count"], len(page["results"])) == (260, 250)


def test_do_not_call_dispositions_mark_the_contact(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    plain, dnc, wrong = seed(ct), seed(ct, "+13125550148"), seed(ct, "+13125550149")
    ct.record_call(plain, "Not Interested", deliver=False)
    ct.record_call(dnc, "Do Not Call", deliver=False)
    ct.record_call(wrong, "Wrong Number", deliver=False)

    def contact(cid: int) -> Any:
        return client.get(f"contacts/{cid}/").json()

    assert contact(plain)["do_not_contact"] is False
    assert contact(dnc)["do_not_contact"] is True
    assert contact(wrong)["do_not_contact"] is False
    assert [p["do_not_contact"] for p in contact(wrong)["_phone_numbers"]] == [True]
    assert [p["do_not_contact"] for p in contact(plain)["_phone_numbers"]] == [False]


def test_subscriptions_are_created_listed_read_and_deleted(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    body = {
        "resthook_model": HOOK_MODEL,
        "url": "https://example.com/h?token=x",
        "description": "d",
    }
    created = client.post("resthooksubscriptions/", json=body)
    assert created.status_code == 201
    sub = created.json()
    assert sub == {"id": sub["id"], **body}
    assert client.get(f"resthooksubscriptions/{sub['id']}/").json() == sub
    listed = client.get("resthooksubscriptions/").json()
    assert (listed["count"], listed["results"]) == (1, [sub])
    ct.reset()  # the account's configuration: kept
    assert ct.subscriptions() == [sub]
    assert client.delete(f"resthooksubscriptions/{sub['id']}/").status_code == 204
    assert client.get(f"resthooksubscriptions/{sub['id']}/").status_code == 404
    assert client.delete(f"resthooksubscriptions/{sub['id']}/").status_code == 404
    assert ct.subscriptions() == []


def test_a_bad_subscription_is_a_drf_400(ct: CallToolsSandbox, client: httpx.Client) -> None:
    resp = client.post("resthooksubscriptions/", json={"resthook_model": "Calls", "url": "ftp://x"})
    assert resp.status_code == 400
    assert resp.json() == {
        "resthook_model": ['"Calls" is not a valid choice.'],
        "url": ["Enter a valid URL."],
    }
    assert client.post("resthooksubscriptions/", json={}).json() == {
        "resthook_model": ["This field is required."],
        "url": ["This field is required."],
    }
    assert ct.subscriptions() == []


def test_a_recorded_call_is_posted_to_its_subscribers_only(
    ct: CallToolsSandbox, admin: httpx.Client
) -> None:
    with Receiver() as hook, Receiver() as other:
        ct.subscribe(HOOK_MODEL, hook.url + "/webhook/calltools?token=s3cret")
        ct.subscribe("Call", other.url + "/call")  # a different model: never fires here
        record = admin.post(
            "/_sandbox/calls", json={"contact": seed(ct), "disposition": "Not Interested"}
        ).json()
        (post,) = wait_for(hook.posts)
        assert post.path == "/webhook/calltools?token=s3cret"
        assert json.loads(post.body) == record  # the body is the object as a GET shows it
        assert post.headers["content-type"] == "application/json"
        wait_for(lambda: ct.hook_deliveries)
        assert other.posts() == []
    assert [(d.object_id, d.status) for d in ct.hook_deliveries] == [(record["id"], 200)]
    assert ct.hook_errors() == []


def test_deliver_false_records_the_call_and_posts_nothing(
    ct: CallToolsSandbox, client: httpx.Client, admin: httpx.Client
) -> None:
    with Receiver() as hook:
        ct.subscribe(HOOK_MODEL, hook.url)
        cid = seed(ct)
        body = {"contact": cid, "disposition": "Sale", "deliver": False}
        missed = admin.post("/_sandbox/calls", json=body).json()
        ct.record_call(cid, "Sale")  # a later call is delivered: the missed one went before it
        wait_for(hook.posts)
        assert [d.object_id for d in wait_for(lambda: ct.hook_deliveries)] == [missed["id"] + 1]
        assert [json.loads(p.body)["id"] for p in hook.posts()] == [missed["id"] + 1]
    listed = client.get("historicalcalldispositions/", params={"ordering": "-id"}).json()
    assert [r["id"] for r in listed["results"]] == [missed["id"] + 1, missed["id"]]


def test_failed_deliveries_show_in_the_error_log_newest_first(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    with Receiver(status=500) as broken:
        refusing = ct.subscribe(HOOK_MODEL, broken.url + "/x")
        ct.record_call(seed(ct), "Sale")
        first = wait_for(ct.hook_errors)
    assert first == [
        {
            "id": 1,
            "resthook": refusing["id"],
            "url": broken.url + "/x",
            "status_code": 500,
            "error": first[0]["error"],
            "created_on": first[0]["created_on"],
        }
    ]
    ct.unsubscribe(refusing["id"])
    down = ct.subscribe(HOOK_MODEL, closed_port_url())
    ct.record_call(seed(ct, "+13125550148"), "Sale")
    wait_for(lambda: len(ct.hook_errors()) == 2)
    log = client.get("resthookerrorlogs/").json()
    assert log["count"] == 2
    newest = log["results"][0]
    assert (newest["resthook"], newest["status_code"]) == (down["id"], None)
    assert "Connection" in newest["error"] or "refused" in newest["error"]
    assert [e["id"] for e in log["results"]] == [2, 1]
    ct.reset()
    assert client.get("resthookerrorlogs/").json()["count"] == 0


def test_placing_a_call_does_not_wait_for_a_slow_receiver(ct: CallToolsSandbox) -> None:
    ct.hook_timeout_seconds = 0.3
    with Receiver() as hook:
        hook.delay = 2.0
        ct.subscribe(HOOK_MODEL, hook.url)
        with httpx.Client(base_url=ct.url, timeout=0.25) as impatient:
            body = {"contact": seed(ct), "disposition": "Sale"}
            assert impatient.post("/_sandbox/calls", json=body).status_code == 201
        (error,) = wait_for(ct.hook_errors)
    assert error["status_code"] is None  # the hook timed out: CallTools logs it


def test_auth_throttle_and_faults_apply_to_the_new_routes(
    ct: CallToolsSandbox, client: httpx.Client
) -> None:
    for path in ("calldispositions/", "historicalcalldispositions/", "resthooksubscriptions/"):
        assert httpx.get(ct.base_url + path).status_code == 401
    ct.script_faults(["429", "502_html"])
    throttled = client.get("historicalcalldispositions/", params={"ordering": "-id"})
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "1")
    assert client.get("calldispositions/61003/").status_code == 502
    assert client.get("calldispositions/61003/").status_code == 200
    assert ct.fault_counts == {"429": 1, "502_html": 1}
    ct.rate_limit_per_second = 1
    statuses = [client.get("calldispositions/").status_code for _ in range(3)]
    assert statuses[0] == 200 and 429 in statuses


def test_a_lost_reply_still_subscribes(ct: CallToolsSandbox, client: httpx.Client) -> None:
    ct.timeout_seconds = 0.5
    ct.script_faults(["lost_reply"])
    body = {"resthook_model": HOOK_MODEL, "url": "https://example.com/h"}
    with pytest.raises(httpx.ReadTimeout):
        client.post("resthooksubscriptions/", json=body, timeout=0.1)
    assert [s["url"] for s in ct.subscriptions()] == ["https://example.com/h"]


def test_state_shows_records_and_hooks(ct: CallToolsSandbox, admin: httpx.Client) -> None:
    ct.subscribe(HOOK_MODEL, closed_port_url())
    record = ct.record_call(seed(ct), "Interested", deliver=False)
    state = admin.get("/_sandbox/state").json()
    assert state["call_records"] == [record]
    assert [s["resthook_model"] for s in state["resthooks"]] == [HOOK_MODEL]
    assert state["resthook_errors"] == []
