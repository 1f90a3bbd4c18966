"""CallTools' call results read back by id (calltools.md §8a, §8b): the CallOutcomes port.

Built on CallToolsHttpApi's own request (`CallToolsHttpApi.outcomes()`), so it shares that
client's pacer and retry policy: CallTools' limit is per account.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from chalicelib.domain.errors import ConfigurationError, NotFound, PermanentError, TransientError
from chalicelib.domain.outcomes import CallRecord, Disposition
from chalicelib.runtime.observability import logger

# CallToolsHttpApi._request: (method, path, **httpx kwargs) → the reply's JSON; raises NotFound on
# a 404 and PermanentError on any other refusal.
Request = Callable[..., Any]

RECORDS = "historicalcalldispositions/"
PAGE_SIZE = 250  # the most CallTools serves in one page
# 100,000 records: far more than a night of calls. Beyond it the older ones are left (logged).
MAX_PAGES = 400
# Definitions change rarely (an admin renames one); a new name shows within this long.
DISPOSITION_TTL_SECONDS = 600.0


class CallToolsOutcomes:
    def __init__(
        self,
        request: Request,
        *,
        ghl_id_field: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._request = request
        self._ghl_id_field = ghl_id_field
        self._clock = clock
        self._dispositions: dict[int, tuple[float, Disposition]] = {}
        self._lock = threading.Lock()

    def _get(self, path: str) -> dict[str, Any] | None:
        """The object at `path`; None when CallTools does not know it."""
        try:
            body = self._request("GET", path)
        except NotFound:
            return None
        if not isinstance(body, dict):
            raise TransientError(f"CallTools GET {path}: reply is not an object")
        return body

    def call_record(self, record_id: int) -> CallRecord | None:
        body = self._get(f"{RECORDS}{record_id}/")
        if body is None:
            return None
        record = _record(body, f"CallTools record {record_id}")
        if record.id != record_id:
            # Never act on a record other than the one asked for.
            raise PermanentError(f"CallTools record {record_id}: reply is record {record.id}")
        return record

    def disposition(self, disposition_id: int) -> Disposition | None:
        now = self._clock()
        with self._lock:
            cached = self._dispositions.get(disposition_id)
        if cached is not None and now - cached[0] < DISPOSITION_TTL_SECONDS:
            return cached[1]
        body = self._get(f"calldispositions/{disposition_id}/")
        if body is None:
            return None
        try:
            found = Disposition.model_validate(body)
        except ValidationError as exc:
            raise PermanentError(f"CallTools disposition {disposition_id}: {_first(exc)}") from exc
        if found.id != disposition_id:
            raise PermanentError(
                f"CallTools disposition {disposition_id}: reply is disposition {found.id}"
            )
        with self._lock:
            self._dispositions[disposition_id] = (now, found)
        return found

    def records_after(
        self, after_id: int, limit: int, since: datetime | None = None
    ) -> list[CallRecord]:
        """The oldest `limit` above `after_id` (recorded at or after `since`), oldest first.
        CallTools pages newest first, so every page down to the first id at or below `after_id`
        (or the first recorded before `since`) is read."""
        found: list[CallRecord] = []
        seen: set[int] = set()
        for page in range(1, MAX_PAGES + 1):
            body = self._page(page, PAGE_SIZE)
            rows = [r for r in body["results"] if isinstance(r, dict)]
            for row in rows:
                record = _record(row, f"CallTools {RECORDS} page {page}")
                if record.id in seen:
                    continue  # newer records pushed it down onto this page as well
                if found and record.id > found[-1].id:
                    # Stopping at the checkpoint is only right newest first.
                    raise ConfigurationError(f"CallTools {RECORDS} ignored ordering=-id")
                if record.id <= after_id or _before(record, since):
                    return found[::-1][:limit]
                seen.add(record.id)
                found.append(record)
            if not rows or not body.get("next"):
                return found[::-1][:limit]
        # So far behind that the checkpoint is out of reach: the oldest reached come first, and
        # what lies between them and the checkpoint is not applied.
        logger.error("call records beyond the pages read are skipped", extra={"pages": MAX_PAGES})
        return found[::-1][:limit]

    def _page(self, page: int, size: int) -> dict[str, Any]:
        params = {"ordering": "-id", "page_size": size, "page": page}
        body = self._request("GET", RECORDS, params=params)
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise TransientError(f"CallTools {RECORDS}: reply has no results list")
        return body

    def ghl_contact_id(self, calltools_contact_id: int) -> str | None:
        if not self._ghl_id_field:
            return None
        body = self._get(f"contacts/{calltools_contact_id}/")
        value = body.get(self._ghl_id_field) if body is not None else None
        # Read back as a top-level key (calltools.md §5; the fixtures guess the same).
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
        return None


def _before(record: CallRecord, since: datetime | None) -> bool:
    at = record.created_at
    return since is not None and at is not None and at < since


def _record(row: dict[str, Any], where: str) -> CallRecord:
    """A record that does not validate is never acted on, nor skipped past unseen: fail closed."""
    try:
        return CallRecord.model_validate(row)
    except ValidationError as exc:
        raise PermanentError(f"{where}: {_first(exc)}") from exc


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
