"""Whose items a key names: the keying plan of docs/locations.md.

The built-in location (the environment's) keeps today's keys exactly, so an existing deployment
needs no migration. A registered location's keys carry its id in front (`loc#<id>#` + today's
key; dedup keys `<id>:<key>`), so nothing in one location can name an item of another, even when
a contact id appears in both. Ids hold no `#` or `:` (domain/location.py), so no key of one
location is a prefix of another's.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.location import is_location_id


@dataclass(frozen=True)
class Keyspace:
    """None: the built-in location, today's keys; else a registered location's id."""

    location_id: str | None = None

    def __post_init__(self) -> None:
        if self.location_id is not None and not is_location_id(self.location_id):
            raise ValueError("a keyspace is named by a location id ([A-Za-z0-9]{1,64})")

    @property
    def builtin(self) -> bool:
        return self.location_id is None

    @property
    def prefix(self) -> str:
        return "" if self.location_id is None else f"loc#{self.location_id}#"

    def key(self, key: str) -> str:
        """A table key of this location: `contact#<id>` → `loc#<loc>#contact#<id>`."""
        return self.prefix + key

    def own(self, stored: str, key_prefix: str) -> str | None:
        """What follows `key_prefix` in `stored` when the key is this location's, else None."""
        full = self.prefix + key_prefix
        return stored[len(full) :] if stored.startswith(full) else None

    def dedup(self, key: str) -> str:
        """A delivery's dedup key of this location (hashed by the dedup store afterwards)."""
        return key if self.location_id is None else f"{self.location_id}:{key}"


BUILTIN = Keyspace()
