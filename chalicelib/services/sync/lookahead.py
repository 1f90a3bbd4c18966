"""A new contact's phone search, made before its lease is taken: beside GHL's re-read when the
event needs one, so a webhook's create waits for the slower of the two calls, not their sum.

Why a search made outside the lease may decide the create: the contact's state is read before
the search starts, and the lease is taken by a write conditional on that read's version. Another
worker that creates (or adopts) a CallTools contact for it meanwhile writes the state first, so
our acquire fails with ConcurrentUpdate and the message is retried from a fresh read. A create
whose reply was lost is on record as pending, so its plan recovers it and never uses a search
made here. A search older than the state it is used with therefore cannot happen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from chalicelib.domain.sync_plan import SyncPlan
from chalicelib.ports import CallToolsMatch
from chalicelib.runtime.observability import count, logger

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class PhoneLookup:
    """What CallTools holds under `phone`, read after the contact's state was read."""

    phone: str
    matches: Sequence[CallToolsMatch]
    # The acquire wrote the pending create with the lease: `ensure` must not write it again.
    recorded: bool = False

    def creates(self) -> bool:
        """Nothing to adopt: the contact will be created with this phone."""
        return not self.matches


@dataclass(frozen=True)
class SideResult(Generic[U]):
    """The side call's value, or the error it raised (surfaced only if the value is used)."""

    value: U | None = None
    error: Exception | None = None

    def get(self) -> U:
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value


def beside(main: Callable[[], T], side: Callable[[], U] | None) -> tuple[T, SideResult[U] | None]:
    """Run `side` on a thread of its own while `main` runs here; return when both are done.

    `main`'s error is raised once `side` has finished too, so nothing of this contact's sync
    is still in flight when the caller carries on. `side`'s error is kept for the caller, who
    decides whether it needs the value; a BaseException that is not an Exception (the runtime
    dying) is raised at once, as it would have been without the thread."""
    if side is None:
        return main(), None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lookahead") as pool:
        future: Future[U] = pool.submit(side)
        try:
            value = main()
        finally:
            # Leaving the pool waits for `side`; a crash there outranks main's outcome.
            crash = _crash_of(future)
            if crash is not None:
                raise crash
    error = future.exception()
    if error is not None:
        assert isinstance(error, Exception)  # a crash was raised above
        return value, SideResult(error=error)
    return value, SideResult(value=future.result())


def _crash_of(future: Future[U]) -> BaseException | None:
    error = future.exception()  # waits for the call to finish
    return error if error is not None and not isinstance(error, Exception) else None


def usable(
    found: SideResult[PhoneLookup] | None,
    searched: str | None,
    plan: SyncPlan | None,
    phone: str | None,
) -> PhoneLookup | None:
    """The search made beside the re-read (for `searched`), if the plan made from GHL's answer
    creates or adopts a contact with that same phone. Otherwise it was wasted (the contact turned
    out DND, untagged, in another location or with another phone): counted, and dropped."""
    if found is None:
        return None
    if plan and plan.needs_contact and not plan.recover_create and phone == searched:
        return found.get()  # a failed search fails the sync, as it would have under the lease
    count("PhoneSearchesWasted")
    logger.info("phone search beside the re-read not used")
    return None
