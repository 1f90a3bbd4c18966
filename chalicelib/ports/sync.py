"""What syncing a contact needs from the outside world: webhooks, the queue, state, runs, GHL and
CallTools."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from chalicelib.domain.contact import Contact
from chalicelib.domain.messages import QueueMessage
from chalicelib.domain.runs import Mode, Run
from chalicelib.domain.state import ContactState


@dataclass(frozen=True)
class AuthResult:
    ok: bool
    scheme: str  # "ed25519", "rsa", "workflow-secret", or "none"
    reason: str = ""


class WebhookVerifier(Protocol):
    """Checks a marketplace webhook's signature over the raw body bytes."""

    def verify(self, raw_body: bytes, headers: Mapping[str, str]) -> AuthResult: ...


class ContactQueue(Protocol):
    def send(self, message: QueueMessage, delay_seconds: int = 0) -> str:
        """Durably enqueue, visible after `delay_seconds` (at most 900); returns the queue's
        message id. Raises on failure."""
        ...

    def send_many(self, messages: Sequence[QueueMessage]) -> int:
        """Enqueue in batches of ten; returns the number of SQS calls made. Raises on failure."""
        ...

    def depth(self) -> int:
        """Messages waiting (approximate)."""
        ...

    def dlq_depth(self) -> int: ...

    def delete(self, receipt_handles: Sequence[str]) -> None: ...

    def dead_letter(self, body: str, reason: str) -> None: ...

    def requeue(self, body: str, delay_seconds: int) -> None:
        """Send `body` again as a new message, visible after `delay_seconds` (at most 900)."""
        ...


class StateStore(Protocol):
    def get(self, contact_id: str) -> ContactState | None: ...

    def acquire(
        self, state: ContactState, owner: str, lease_until: datetime, now: datetime
    ) -> ContactState:
        """Take the contact's lease if `state.version` is still current; raises ConcurrentUpdate."""
        ...

    def save(self, state: ContactState, *, keep_lease: bool = False) -> ContactState:
        """Write `state` if `state.version` is still current; raises ConcurrentUpdate.

        Returns the stored state (version + 1), with the lease released unless `keep_lease`.
        """
        ...


class StateIndex(Protocol):
    """What the reconciliation and stats need from the state table, in bulk."""

    def get_many(self, contact_ids: Sequence[str]) -> dict[str, ContactState]: ...

    def note_seen(self, run_id: str, page: int, contact_ids: Sequence[str]) -> None:
        """Remember that page `page` of run `run_id` saw these contacts."""
        ...

    def seen_by(self, run_id: str, pages: int) -> set[str]:
        """Every contact noted by pages 0 .. pages-1 of the run."""
        ...

    def scan(
        self, start_key: dict[str, Any] | None, limit: int
    ) -> tuple[list[ContactState], dict[str, Any] | None]: ...

    def note_webhook(self, received_at: datetime) -> None: ...

    def last_webhook_at(self) -> datetime | None: ...

    def note_bucket_names(self, names: dict[int, str]) -> None:
        """Remember the rules' buckets by id, as the consumer resolved them in CallTools."""
        ...

    def bucket_names(self) -> dict[int, str]:
        """What `note_bucket_names` remembered (the API function holds no CallTools token)."""
        ...


# Each rule's bucket key (Rule.bucket_key) → the bucket's CallTools id and name.
BucketResolution = dict[str, tuple[int, str]]


class BucketMemory(Protocol):
    """The rules' buckets as some container last resolved them in CallTools, shared so that a
    container starting soon after need not ask CallTools again."""

    def recall(self) -> tuple[BucketResolution, datetime] | None:
        """The last resolution remembered and when it was made; None when there is none.
        Raises when it cannot be read."""
        ...

    def remember(self, resolution: BucketResolution, resolved_at: datetime) -> None: ...


class ContactDirectory(Protocol):
    """CallTools contact → GHL contact, from our own state (the reverse lookup)."""

    def contact_for_calltools_id(self, calltools_id: int) -> str | None:
        """The GHL contact whose state names this CallTools contact; None when none does.
        Raises when the lookup cannot be made (say, the table's index is missing)."""
        ...


class RunStore(Protocol):
    def start(self, run: Run, stale_before: datetime) -> Run:
        """Store `run` as the active run unless another is active (heartbeat after `stale_before`);
        raises RunActive."""
        ...

    def get(self, run_id: str) -> Run | None: ...

    def active_run_id(self) -> str | None: ...

    def last_run_id(self) -> str | None: ...

    def save(self, run: Run) -> Run:
        """Write `run` if its version is current (raises ConcurrentUpdate); heartbeat the lock."""
        ...

    def finish(self, run: Run) -> Run:
        """Save the final `run`, release the active lock and remember it as the last run."""
        ...


class GhlApi(Protocol):
    def get_contact(self, contact_id: str) -> Contact | None:
        """The contact as GHL has it now; None when it no longer exists."""
        ...


@dataclass(frozen=True)
class SearchPage:
    # Each contact with its raw `dateUpdated` (the version the reconciliation orders by).
    contacts: list[tuple[Contact, Any]]
    next_cursor: list[Any] | None
    total: int | None = None


class GhlSearch(Protocol):
    def search_contacts(
        self, location_id: str, tag: str, search_after: list[Any] | None, page_limit: int = 500
    ) -> SearchPage: ...


# What an operator may look a GHL contact up by, besides its id.
LookupField = Literal["phone", "email"]


class GhlContactFinder(Protocol):
    def find_contacts(
        self, location_id: str, field: LookupField, value: str, limit: int
    ) -> list[Contact]:
        """Candidates from GHL's search for a phone (E.164) or an email (lower-case), at most
        `limit`: unverified, the caller keeps the exact matches of its location. Raises when GHL
        cannot answer."""
        ...


@dataclass(frozen=True)
class CallToolsMatch:
    id: int
    ghl_contact_id: str | None


@dataclass(frozen=True)
class CreatedContact:
    id: int
    # The buckets the create's reply shows the contact in; any others must be added separately.
    buckets: frozenset[int] = frozenset()


class CallToolsApi(Protocol):
    def resolve_bucket(self, bucket: str | int) -> tuple[int, str]: ...

    def find_contacts_by_phone(self, phone_e164: str) -> list[CallToolsMatch]: ...

    def create_contact(
        self, fields: Mapping[str, str], buckets: frozenset[int] = frozenset()
    ) -> CreatedContact:
        """Create, in `buckets` too where this account is known to take them on a create. Never
        resent after a reply that may have been lost: the caller records the pending create
        first and finds what it made by phone on the retry."""
        ...

    def update_contact(self, contact_id: int, fields: Mapping[str, str]) -> None: ...

    def set_bucket_membership(self, contact_id: int, bucket_id: int, member: bool) -> None:
        """Add to / remove from a bucket and confirm it by reading membership back."""


class Dedup(Protocol):
    def run_once(self, key: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run `work` unless `key` already completed; then return the stored result with duplicate=True."""
        ...


class RunStarter(Protocol):
    def start(self, mode: Mode = "reconcile", trigger: str = "manual") -> Run: ...


class StatsSource(Protocol):
    def snapshot(self) -> dict[str, Any]: ...
