"""A call outcome that made a contact DND takes it out of our buckets at once: the contact is
synced now (GHL re-read, which also reads back the DND we wrote), not when GHL's webhook comes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.domain.messages import SyncMessage
from chalicelib.domain.time import utcnow
from chalicelib.ports import StateStore
from chalicelib.services.sync import ContactSync


class TakeOutNow:
    def __init__(
        self,
        sync: ContactSync,
        states: StateStore,
        location_id: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sync = sync
        self._states = states
        self._location_id = location_id
        self._clock = clock

    def __call__(self, contact_id: str) -> bool:
        """True once the contact is in no bucket of ours (or never was)."""
        message = SyncMessage(
            origin="outcome",
            contact_id=contact_id,
            location_id=self._location_id,
            received_at=self._clock(),
        )
        self._sync.sync(message)
        state = self._states.get(contact_id)
        return state is None or not state.maybe_in
