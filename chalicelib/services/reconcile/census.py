"""The census of the state table: contacts counted by status and bucket.

The scan phase of a reconciliation run takes it page by page and stores it on the run; /sync/stats
takes a live one when the table is small enough, and falls back to the last run's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.domain.state import ContactState


def empty_census() -> dict[str, Any]:
    return {"total": 0, "failed": 0, "dnd_excluded": 0, "in_bucket": {}}


def add_to_census(census: dict[str, Any], states: Iterable[ContactState]) -> dict[str, Any]:
    """A new census with `states` counted in (buckets keyed by id, as text)."""
    out = {**census, "in_bucket": dict(census.get("in_bucket", {}))}
    for state in states:
        out["total"] += 1
        out["failed"] += state.status == "failed"
        out["dnd_excluded"] += state.reason == "dnd"
        for bucket in state.buckets:
            out["in_bucket"][str(bucket)] = out["in_bucket"].get(str(bucket), 0) + 1
    return out
