"""A contact's lease: one worker at a time changes a contact, and what it is about to do in
CallTools is on record before it does it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.errors import Deferred
from chalicelib.domain.state import ContactState
from chalicelib.ports import StateStore
from chalicelib.runtime.observability import logger

# A create's outcome is known (made, or certainly not): its phone and send time go together.
CREATE_RESOLVED: dict[str, Any] = {"pending_phone": None, "pending_since": None}
# Nothing can be in flight: no create unresolved and no bucket maybe joined.
NOTHING_PENDING: dict[str, Any] = {**CREATE_RESOLVED, "pending_buckets": frozenset()}


class Lease:
    """This worker's leases: its owner id, and how long a lease lasts."""

    def __init__(self, store: StateStore, seconds: float, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._length = timedelta(seconds=seconds)
        self._clock = clock
        self._base = uuid.uuid4().hex

    @property
    def owner(self) -> str:
        """This thread's owner id: records synced side by side (services/record_pool.py) each
        hold their own leases, so one never takes another's contact for its own."""
        return f"{self._base}.{threading.get_ident()}"

    def check_free(self, state: ContactState, now: datetime) -> None:
        """Raises Deferred, for as long as it lasts, while another worker holds the contact."""
        if state.lease_until and state.lease_until > now and state.lease_owner != self.owner:
            raise Deferred(
                "another worker holds this contact",
                max(1.0, (state.lease_until - now).total_seconds()),
            )

    def acquire(self, state: ContactState, **changes: Any) -> Held:
        """Take the lease on `state` (raises ConcurrentUpdate if it changed since it was read),
        writing `changes` with it: a create known before the lease is taken goes on record as
        pending in the same write."""
        now = self._clock()
        wanted = state.model_copy(update=changes) if changes else state
        return Held(
            self, self._store, self._store.acquire(wanted, self.owner, now + self._length, now)
        )

    def end(self) -> datetime:
        """Where a lease taken or renewed now ends."""
        return self._clock() + self._length


class Held:
    """The contact's state while we hold its lease.

    Before each write that could put the contact in a bucket, the state is written with the
    bucket pending and the lease renewed: the conditional write proves no other worker took the
    contact meanwhile, and the fresh lease outlasts the call with its retries, so the add cannot
    land after another worker has taken the contact out."""

    def __init__(self, lease: Lease, store: StateStore, state: ContactState) -> None:
        self._lease = lease
        self._store = store
        self.state = state

    def write_now(self, **changes: Any) -> None:
        """Write the changes at once, keeping the lease. Needed before a call that could put the
        contact in a bucket (the bucket or the create pending, the lease renewed); used too for
        each step done that a crash should not make the next sync repeat (a removal, a field
        update, a create settled)."""
        self.state = self._store.save(self.state.model_copy(update=changes), keep_lease=True)

    def remember(self, **changes: Any) -> None:
        """Change the state in memory only, written by the next `write_now`, `finish` or
        `release`: one write fewer per call, for what a crash may lose because what is written
        covers it (an add on record as pending, which the next sync verifies; a contact adopted,
        which the same search finds again)."""
        self.state = self.state.model_copy(update=changes)

    def lease_end(self) -> datetime:
        """Where the lease ends if renewed now (written with the next `write_now`)."""
        return self._lease.end()

    def finish(self, **changes: Any) -> None:
        """The last write: the changes, with the lease released."""
        self.state = self._store.save(self.state.model_copy(update=changes))

    def release(self, **changes: Any) -> None:
        """After a failure, best effort: write what is remembered and the changes, and free the
        lease so the retry need not wait for it to expire."""
        self.remember(**changes)
        try:
            self._store.save(self.state)
        except Exception:  # the lease expires by itself
            logger.warning("could not release lease", extra={"contact_id": self.state.contact_id})
