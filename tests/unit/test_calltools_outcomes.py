"""CallTools' call results read back by id, against scripted replies (httpx.MockTransport): the
requests, 404 → None, replies that must not be acted on, the catch-up's paging and the cache."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from chalicelib.adapters.calltools.account import AccountConventions
from chalicelib.adapters.calltools.api import CallToolsHttpApi
from chalicelib.adapters.calltools.outcomes import DISPOSITION_TTL_SECONDS, CallToolsOutcomes
from chalicelib.adapters.http.client import ClientOptions
from chalicelib.adapters.http.pacing import RatePacer
from chalicelib.adapters.http.retry import RetryPolicy
from chalicelib.domain.errors import ConfigurationError, PermanentError, TransientError
from chalicelib.domain.outcomes import CallRecord
from chalicelib.ports import CallOutcomes
from tests.support.helpers import fixture

RECORD = fixture("calltools/historical-call-disposition.json")
DISPOSITION = fixture("calltools/call-disposition.json")
Reply = httpx.Response | Exception


class CallTools:
    """Records (method, path, query) and answers from `reply`."""

    def __init__(self, reply: Callable[[str, str, dict[str, str]], Reply]) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._reply = reply

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.requests.append((request.method, request.url.path, params))
        result = self._reply(request.method, request.url.path, params)
        if isinstance(result, Exception):
            raise result
        return result

    def outcomes(
        self, ghl_id_field: str = "ghl_contact_id", clock: Any = None
    ) -> CallToolsOutcomes:
        api = CallToolsHttpApi(
            "https://x.calltools.io/api/",
            "token",
            account=AccountConventions(ghl_id_field=ghl_id_field),
            options=ClientOptions(
                transport=httpx.MockTransport(self),
                retry=RetryPolicy(sleep=lambda _: None),
                max_rps=0,
            ),
        )
        if clock is None:
            return api.outcomes()
        return CallToolsOutcomes(api._request, ghl_id_field=ghl_id_field, clock=clock)


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


GONE = httpx.Response(404, json={"detail": "Not found."})


def test_call_record_is_read_back_by_id():
    ct = CallTools(lambda m, p, q: ok(RECORD))
    record = ct.outcomes().call_record(9120457)
    assert record == CallRecord.model_validate(RECORD)
    assert record is not None and record.contact == 48213907 and record.disposition == 61003
    assert ct.requests == [("GET", "/api/historicalcalldispositions/9120457/", {})]


def test_an_unknown_record_is_none():
    assert CallTools(lambda m, p, q: GONE).outcomes().call_record(1) is None


@pytest.mark.parametrize(
    "body",
    [
        {**RECORD, "contact": "not a number"},
        {**RECORD, "id": 0},
        {**RECORD, "id": 9120458},  # another record than the one asked for
    ],
    ids=["bad-field", "bad-id", "other-record"],
)
def test_a_record_that_does_not_validate_is_never_acted_on(body: dict[str, Any]):
    with pytest.raises(PermanentError):
        CallTools(lambda m, p, q: ok(body)).outcomes().call_record(9120457)


def test_a_reply_that_is_no_object_is_retried_later():
    html = httpx.Response(200, text="<html>maintenance</html>")
    with pytest.raises(TransientError):
        CallTools(lambda m, p, q: html).outcomes().call_record(9120457)


def test_a_record_read_is_retried_after_a_5xx():
    replies: list[Reply] = [httpx.Response(502, text="<html></html>"), ok(RECORD)]
    ct = CallTools(lambda m, p, q: replies.pop(0))
    assert ct.outcomes().call_record(9120457) is not None
    assert len(ct.requests) == 2


def test_disposition_is_read_and_cached_for_a_while():
    now = [1000.0]
    ct = CallTools(lambda m, p, q: ok(DISPOSITION))
    outcomes = ct.outcomes(clock=lambda: now[0])
    first = outcomes.disposition(61005)
    assert first is not None and first.name == "Do Not Call" and first.do_not_call
    now[0] += DISPOSITION_TTL_SECONDS - 1
    assert outcomes.disposition(61005) == first
    assert len(ct.requests) == 1
    now[0] += 2  # the definition may have been renamed: read again
    assert outcomes.disposition(61005) == first
    assert ct.requests == [("GET", "/api/calldispositions/61005/", {})] * 2


def test_an_unknown_disposition_is_none_and_not_cached():
    replies: list[Reply] = [GONE, ok(DISPOSITION)]
    outcomes = CallTools(lambda m, p, q: replies.pop(0)).outcomes()
    assert outcomes.disposition(61005) is None
    assert outcomes.disposition(61005) is not None


@pytest.mark.parametrize(
    "body", [{**DISPOSITION, "name": ""}, {**DISPOSITION, "id": 61001}], ids=["no-name", "other"]
)
def test_a_disposition_that_does_not_validate_is_never_acted_on(body: dict[str, Any]):
    with pytest.raises(PermanentError):
        CallTools(lambda m, p, q: ok(body)).outcomes().disposition(61005)


def pages(ids: list[int], size: int) -> Callable[[str, str, dict[str, str]], httpx.Response]:
    """The records `ids` (newest first), served `size` a page."""

    def reply(method: str, path: str, query: dict[str, str]) -> httpx.Response:
        page = int(query["page"])
        chunk = ids[(page - 1) * size : page * size]
        more = page * size < len(ids)
        rows = [{**RECORD, "id": i} for i in chunk]
        return ok(
            {"count": len(ids), "next": "https://x/?page=n" if more else None, "results": rows}
        )

    return reply


def test_records_after_pages_newest_first_down_to_the_checkpoint():
    ct = CallTools(pages(list(range(110, 100, -1)), size=4))
    found = ct.outcomes().records_after(103, limit=100)
    assert [r.id for r in found] == [104, 105, 106, 107, 108, 109, 110]
    assert [q for _, _, q in ct.requests] == [
        {"ordering": "-id", "page_size": "250", "page": str(n)} for n in (1, 2)
    ]
    assert {p for _, p, _ in ct.requests} == {"/api/historicalcalldispositions/"}


def test_records_after_returns_the_oldest_within_the_limit_so_none_is_skipped():
    ct = CallTools(pages(list(range(110, 100, -1)), size=4))
    assert [r.id for r in ct.outcomes().records_after(0, limit=4)] == [101, 102, 103, 104]
    assert len(ct.requests) == 3  # every page down to the checkpoint


def test_records_after_stops_at_the_first_record_older_than_since():
    def reply(method: str, path: str, query: dict[str, str]) -> httpx.Response:
        rows = [
            {**RECORD, "id": 9, "created_on": "2026-11-29 10:00:00"},
            {**RECORD, "id": 8, "created_on": "2026-11-28 09:00:00"},
            {**RECORD, "id": 7, "created_on": "2026-11-27 09:00:00"},
        ]
        return ok({"next": "more", "results": rows})

    ct = CallTools(reply)
    since = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert [r.id for r in ct.outcomes().records_after(0, limit=10, since=since)] == [8, 9]
    assert len(ct.requests) == 1


def test_records_after_reads_to_the_last_page():
    ct = CallTools(pages([5, 4, 3], size=2))
    assert [r.id for r in ct.outcomes().records_after(0, limit=10)] == [3, 4, 5]
    assert len(ct.requests) == 2


def test_records_after_the_newest_is_nothing():
    ct = CallTools(pages([5, 4, 3], size=2))
    assert ct.outcomes().records_after(5, limit=10) == []


def test_a_record_pushed_onto_the_next_page_by_newer_ones_is_returned_once():
    shifted = [[12, 11], [11, 10], [9]]  # a record arrived between the two reads

    def reply(method: str, path: str, query: dict[str, str]) -> httpx.Response:
        page = int(query["page"])
        rows = [{**RECORD, "id": i} for i in shifted[page - 1]]
        return ok({"next": "n" if page < 3 else None, "results": rows})

    found = CallTools(reply).outcomes().records_after(0, limit=10)
    assert [r.id for r in found] == [9, 10, 11, 12]


def test_an_ignored_ordering_is_refused_rather_than_stopping_early():
    """Oldest first, the first record at or below the checkpoint would end the catch-up."""
    ct = CallTools(pages([3, 4, 5], size=10))
    with pytest.raises(ConfigurationError, match="ordering"):
        ct.outcomes().records_after(1, limit=10)


def test_a_list_record_that_does_not_validate_stops_the_catch_up():
    bad = ok({"next": None, "results": [{**RECORD, "id": 7}, {**RECORD, "id": 6, "contact": "x"}]})
    with pytest.raises(PermanentError, match="contact"):
        CallTools(lambda m, p, q: bad).outcomes().records_after(0, limit=10)


def test_a_list_reply_without_results_is_retried_later():
    with pytest.raises(TransientError):
        CallTools(lambda m, p, q: ok({"detail": "?"})).outcomes().records_after(0, limit=10)


def test_ghl_contact_id_reads_the_configured_field():
    contact = fixture("calltools/contact.json")
    ct = CallTools(lambda m, p, q: ok({**contact, "ghl_id": " p4Rk2VtQ8mZs1LwY7nHc "}))
    assert ct.outcomes(ghl_id_field="ghl_id").ghl_contact_id(48213907) == "p4Rk2VtQ8mZs1LwY7nHc"
    assert ct.requests == [("GET", "/api/contacts/48213907/", {})]


@pytest.mark.parametrize(
    "reply",
    [
        ok({"id": 7, "ghl_contact_id": ""}),
        ok({"id": 7, "ghl_contact_id": None}),
        ok({"id": 7}),
        GONE,
    ],
    ids=["empty", "null", "missing", "404"],
)
def test_ghl_contact_id_is_none_when_the_contact_carries_none(reply: httpx.Response):
    assert CallTools(lambda m, p, q: reply).outcomes().ghl_contact_id(7) is None


def test_no_configured_field_means_no_lookup():
    ct = CallTools(lambda m, p, q: ok({"id": 7}))
    assert ct.outcomes(ghl_id_field="").ghl_contact_id(7) is None
    assert ct.requests == []


def test_the_outcomes_share_the_clients_pace():
    """CallTools' limit is per account: a 429 on a contact write holds the record reads back."""
    replies: list[Reply] = [httpx.Response(429, headers={"Retry-After": "7"}), ok({}), ok(RECORD)]
    ct = CallTools(lambda m, p, q: replies.pop(0))
    api = CallToolsHttpApi(
        "https://x.calltools.io/api/",
        "token",
        options=ClientOptions(
            transport=httpx.MockTransport(ct), retry=RetryPolicy(sleep=lambda _: None), max_rps=0
        ),
    )
    waited: list[float] = []
    api._pacer = RatePacer(100, clock=lambda: 0.0, sleep=waited.append)
    api.update_contact(7, {"first_name": "A"})
    assert waited == [7.0]  # the update's own retry waited out the 429
    api.outcomes().call_record(9120457)
    assert len(waited) == 2 and waited[1] >= 7.0  # and so did the record read: one pacer


def test_it_is_the_port():
    outcomes: CallOutcomes = CallTools(lambda m, p, q: ok({})).outcomes()  # mypy checks it
    assert isinstance(outcomes, CallToolsOutcomes)
