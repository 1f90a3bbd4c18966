"""GHL's phone/email search as scripted candidates, for the contact lookup's tests. mypy checks
it against its Protocol at the bottom of this file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.domain.contact import Contact
from chalicelib.ports import LookupField


class FakeFinder:
    """Returns whatever `hits` holds, near-misses and other locations' contacts included (the
    lookup must drop them), or raises `error`; records each call."""

    def __init__(self, hits: list[Contact] | None = None, error: Exception | None = None) -> None:
        self.hits = list(hits or [])
        self.error = error
        self.calls: list[tuple[str, LookupField, str, int]] = []

    def find_contacts(
        self, location_id: str, field: LookupField, value: str, limit: int
    ) -> list[Contact]:
        self.calls.append((location_id, field, value, limit))
        if self.error is not None:
            raise self.error
        return self.hits[:limit]


if TYPE_CHECKING:
    from chalicelib.ports import GhlContactFinder

    _finder: GhlContactFinder = FakeFinder()
