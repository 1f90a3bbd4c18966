"""The seed's batch design, as the yardstick: list ALL contacts, then for each tagged one look it
up in CallTools by phone, create or update it, and add it to the bucket. Plain httpx, sequential.

Read charitably, so the comparison flatters the baseline rather than us: the largest page GHL allows
(500), the bucket id resolved once per run, untagged contacts skipped without a CallTools call, and
a minimal 429 handling (wait as told, else 1 s, and retry) so it survives the rate limits at all.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import httpx

from bench.constants import BUCKET_NAME, LOCATION_ID, TAG
from bench.procinfo import peak_rss_bytes

GHL_VERSION = "2021-07-28"
PAGE_LIMIT = 500


class OutOfTime(Exception):
    pass


@dataclass
class BaselineResult:
    listed: int = 0
    tagged: int = 0
    synced: int = 0
    created: int = 0
    finished: bool = False
    seconds: float = 0.0
    # Client-side request counts and time by kind (429 retries included), for the notes.
    requests: Counter[str] = field(default_factory=Counter)
    request_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def as_dict(self) -> dict[str, Any]:
        return {
            "listed": self.listed,
            "tagged": self.tagged,
            "synced": self.synced,
            "created": self.created,
            "finished": self.finished,
            "seconds": round(self.seconds, 3),
            "requests": dict(self.requests),
            "request_seconds": {k: round(v, 3) for k, v in self.request_seconds.items()},
        }


class _Session:
    def __init__(self, result: BaselineResult, deadline: float | None) -> None:
        self._result = result
        self._deadline = deadline

    def send(self, client: httpx.Client, kind: str, method: str, url: str, **kw: Any) -> Any:
        while True:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                raise OutOfTime
            started = time.perf_counter()
            response = client.request(method, url, **kw)
            self._result.requests[kind] += 1
            self._result.request_seconds[kind] += time.perf_counter() - started
            if response.status_code == 429:
                time.sleep(float(response.headers.get("retry-after") or 1.0))
                continue
            response.raise_for_status()
            return response.json()


def _fields(contact: dict[str, Any]) -> dict[str, str]:
    fields = {
        "first_name": contact.get("firstName") or "",
        "last_name": contact.get("lastName") or "",
        "mobile_phone_number": contact.get("phone") or "",
        "email": contact.get("email") or "",
        "company_name": contact.get("companyName") or "",
        "city": contact.get("city") or "",
        "state": contact.get("state") or "",
        "zip_code": contact.get("postalCode") or "",
        "ghl_contact_id": contact["id"],
    }
    return {k: v for k, v in fields.items() if v}


def seed_style_sync(
    *,
    ghl_url: str,
    ghl_token: str,
    calltools_url: str,
    calltools_token: str,
    time_box_seconds: float | None = None,
) -> BaselineResult:
    """One batch run. With a time box it stops where it is and reports how far it got."""
    result = BaselineResult()
    started = time.perf_counter()
    deadline = time.monotonic() + time_box_seconds if time_box_seconds else None
    session = _Session(result, deadline)
    ghl = httpx.Client(
        base_url=ghl_url,
        headers={"Authorization": f"Bearer {ghl_token}", "Version": GHL_VERSION},
        timeout=30,
    )
    ct = httpx.Client(
        base_url=calltools_url, headers={"Authorization": f"Token {calltools_token}"}, timeout=30
    )
    try:
        buckets = session.send(ct, "buckets", "GET", "buckets/", params={"page_size": 250})
        bucket_id = next(b["id"] for b in buckets["results"] if b["name"] == BUCKET_NAME)

        contacts: list[dict[str, Any]] = []
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"locationId": LOCATION_ID, "pageLimit": PAGE_LIMIT}
            if after is not None:
                body["searchAfter"] = after
            page = session.send(ghl, "list", "POST", "/contacts/search", json=body)["contacts"]
            contacts.extend(page)
            result.listed = len(contacts)
            if len(page) < PAGE_LIMIT:
                break
            after = page[-1]["searchAfter"]

        for contact in contacts:
            if TAG not in {str(t).strip().casefold() for t in contact.get("tags") or []}:
                continue
            result.tagged += 1
            if not contact.get("phone"):
                continue
            fields = _fields(contact)
            found = session.send(
                ct, "lookup", "GET", "contacts/", params={"phone_number": contact["phone"]}
            )["results"]
            if found:
                ct_id = found[0]["id"]
                session.send(ct, "update", "PATCH", f"contacts/{ct_id}/", json=fields)
            else:
                ct_id = session.send(ct, "create", "POST", "contacts/", json=fields)["id"]
                result.created += 1
            session.send(
                ct, "bucket_add", "PATCH", f"contacts/{ct_id}/", json={"add_buckets": [bucket_id]}
            )
            result.synced += 1
        result.finished = True
    except OutOfTime:
        pass
    finally:
        ghl.close()
        ct.close()
        result.seconds = time.perf_counter() - started
    return result


def _child(conn: Connection, kwargs: dict[str, Any]) -> None:
    result = seed_style_sync(**kwargs)
    # This process loads only httpx and the baseline itself.
    conn.send((result.as_dict(), peak_rss_bytes() / 2**20))


def in_own_process(**kwargs: Any) -> tuple[dict[str, Any], float]:
    """seed_style_sync in a fresh interpreter: its result and that process's peak RSS in MB."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, kwargs), name="bench-baseline")
    proc.start()
    child.close()
    try:
        result: tuple[dict[str, Any], float] = parent.recv()
    finally:
        proc.join(timeout=60)
    return result
