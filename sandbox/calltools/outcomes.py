"""Call results in a sandbox CallTools account (calltools.md §8a, §8b): the disposition
definitions, the historical call dispositions agents record, and `POST /_sandbox/calls`, which
plays an agent finishing a call. A mixin of CallToolsSandbox (routes.py); a recorded call goes to
the rest hooks (hooks.py) through `_publish`.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sandbox.calltools.store import PHONE_FIELDS, Contact
from sandbox.http.messages import Handler, HttpError, Request, Response

CALL_RESULT_MODEL = "Historical Call Disposition"
DISPOSITION_FLAGS = (
    *("hang_up_call", "no_contact", "set_contact_dnc", "set_phone_number_dnc"),
    "indicate_answering_machine",
)
DEFAULT_DISPOSITIONS: tuple[dict[str, Any], ...] = (
    {"id": 61001, "name": "Interested"},
    {"id": 61002, "name": "No Answer", "no_contact": True},
    {"id": 61003, "name": "Not Interested"},
    {"id": 61004, "name": "Sale"},
    {"id": 61005, "name": "Do Not Call", "hang_up_call": True, "set_contact_dnc": True},
    {"id": 61006, "name": "Wrong Number", "set_phone_number_dnc": True},
    {"id": 61007, "name": "Answering Machine", "indicate_answering_machine": True},
)
# The sandbox account's one agent and campaign, used when a call names neither.
DEFAULT_APP_USER, DEFAULT_CAMPAIGN = 55012, 7704
CREATED_ON_FORMAT = "%Y-%m-%d %H:%M:%S"  # as CallTools writes it: no zone (taken as UTC)


def disposition(fields: dict[str, Any]) -> dict[str, Any]:
    """A disposition definition in the API's key order; flags not given are false."""
    out = {"id": int(fields["id"]), "name": str(fields["name"])}
    out.update({flag: bool(fields.get(flag, False)) for flag in DISPOSITION_FLAGS})
    return out


class CallOutcomes:
    """Dispositions (they survive reset(), like the initial buckets) and call records (they do
    not; their id counter does, so a kept id then 404s)."""

    _lock: threading.RLock  # SandboxServer's
    _uuid_rng: random.Random
    _contacts: dict[int, Contact]  # CallToolsStore's
    _dnc_phones: set[tuple[int, str]]
    _initial_dispositions: list[dict[str, Any]]
    _next_record: int
    _paginate: Callable[[Request, list[Any]], Response]
    _publish: Callable[[str, dict[str, Any]], None]  # hooks.py: to every subscriber of a model

    def _init_outcomes(self, dispositions: Sequence[dict[str, Any]] | None) -> None:
        given = DEFAULT_DISPOSITIONS if dispositions is None else dispositions
        self._initial_dispositions = [disposition(d) for d in given]
        self._next_record = 9_120_000

    def _reset_outcomes(self) -> None:
        with self._lock:
            self._dispositions = {d["id"]: dict(d) for d in self._initial_dispositions}
            self._records: dict[int, dict[str, Any]] = {}

    def _outcome_routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", r"/api/calldispositions/", self._list_dispositions),
            ("GET", r"/api/calldispositions/(?P<id>\d+)/", self._get_disposition),
            ("GET", r"/api/historicalcalldispositions/", self._list_records),
            ("GET", r"/api/historicalcalldispositions/(?P<id>\d+)/", self._get_record),
            ("POST", r"/_sandbox/calls", self._admin_place_call),
        ]

    # Python API for tests

    def add_disposition(self, name: str, id: int | None = None, **flags: bool) -> dict[str, Any]:
        with self._lock:
            did = id if id is not None else max(self._dispositions, default=61000) + 1
            self._dispositions[did] = disposition({"id": did, "name": name, **flags})
            return dict(self._dispositions[did])

    def dispositions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(self._dispositions[d]) for d in sorted(self._dispositions)]

    def call_records(self) -> list[dict[str, Any]]:
        """Every historical call disposition, oldest first."""
        with self._lock:
            return [dict(self._records[r]) for r in sorted(self._records)]

    def record_call(
        self,
        contact: int,
        disposition: int | str,
        *,
        campaign: int | None = DEFAULT_CAMPAIGN,
        app_user: int | None = DEFAULT_APP_USER,
        phone_number: str | None = None,
        created_on: datetime | str | None = None,
        deliver: bool = True,
    ) -> dict[str, Any]:
        """An agent's disposition of a call to `contact` (by disposition id or name, any case).

        Applies the disposition's do-not-call flags to the contact, then, with `deliver`, POSTs
        the record to the rest hooks in the background; `deliver=False` is a hook CallTools
        failed to send (the record is still listed). KeyError for an unknown contact or
        disposition."""
        with self._lock:
            c = self._contacts.get(int(contact))
            if c is None:
                raise KeyError(f"unknown contact {contact}")
            d = self._disposition_for(disposition)
            if phone_number is None:
                phone_number = next((c[f] for f in PHONE_FIELDS if c[f]), None)
            if isinstance(created_on, datetime):
                zone = created_on.tzinfo or UTC
                created_on = created_on.replace(tzinfo=zone).astimezone(UTC)
            moment = created_on or datetime.now(UTC)
            rid, self._next_record = self._next_record, self._next_record + 1
            record = {
                "id": rid,
                "call_uuid": self._new_uuid(),
                "contact": c["id"],
                "app_user": app_user,
                "campaign": campaign,
                "disposition": d["id"],
                "phone_number": phone_number,
                "created_on": (
                    moment if isinstance(moment, str) else moment.strftime(CREATED_ON_FORMAT)
                ),
            }
            self._records[rid] = record
            if d["set_contact_dnc"]:
                c["do_not_contact"] = True
            if d["set_phone_number_dnc"] and phone_number:
                self._dnc_phones.add((c["id"], phone_number))
            if deliver:
                self._publish(CALL_RESULT_MODEL, dict(record))
            return dict(record)

    # Storage

    def _new_uuid(self) -> str:
        return str(uuid.UUID(int=self._uuid_rng.getrandbits(128), version=4))

    def _disposition_for(self, key: int | str) -> dict[str, Any]:
        if isinstance(key, int) or str(key).isdigit():
            if (found := self._dispositions.get(int(key))) is not None:
                return found
        else:
            for d in self._dispositions.values():
                if d["name"].casefold() == str(key).strip().casefold():
                    return d
        raise KeyError(f"unknown disposition {key!r}")

    def _known(self, key: int | str) -> bool:
        try:
            self._disposition_for(key)
        except KeyError:
            return False
        return True

    # API endpoints

    def _list_dispositions(self, req: Request) -> Response:
        return self._paginate(req, [self._dispositions[d] for d in sorted(self._dispositions)])

    def _get_disposition(self, req: Request) -> Response:
        if (d := self._dispositions.get(int(req.params["id"]))) is None:
            raise HttpError(404, "Not found.")
        return 200, d, {}

    def _list_records(self, req: Request) -> Response:
        # DRF's OrderingFilter: id or pk, either way; anything else is ignored (ascending id).
        newest_first = req.arg("ordering") in ("-id", "-pk")
        ids = sorted(self._records, reverse=newest_first)
        return self._paginate(req, [self._records[r] for r in ids])

    def _get_record(self, req: Request) -> Response:
        if (record := self._records.get(int(req.params["id"]))) is None:
            raise HttpError(404, "Not found.")
        return 200, record, {}

    # Admin endpoint

    def _admin_place_call(self, req: Request) -> Response:
        """An agent dispositions a call: {contact, disposition (id or name), campaign?,
        app_user?, phone_number?, created_on?, deliver? (default true)}."""
        data, errors = req.json_object(), dict[str, list[str]]()
        contact, key = data.get("contact"), data.get("disposition")
        if contact is None:
            errors["contact"] = ["This field is required."]
        elif isinstance(contact, bool) or not str(contact).isdigit():
            errors["contact"] = ["Incorrect type. Expected pk value."]
        elif int(contact) not in self._contacts:
            errors["contact"] = [f'Invalid pk "{contact}" - object does not exist.']
        if key is None:
            errors["disposition"] = ["This field is required."]
        elif isinstance(key, bool) or not isinstance(key, int | str) or not self._known(key):
            errors["disposition"] = [f'Invalid pk "{key}" - object does not exist.']
        if errors:
            raise HttpError(400, body=errors)
        options = {k: data[k] for k in ("campaign", "app_user", "phone_number") if k in data}
        record = self.record_call(
            int(str(contact)),
            key if isinstance(key, int) else str(key),
            created_on=data.get("created_on"),
            deliver=bool(data.get("deliver", True)),
            **options,
        )
        return 201, record, {}
