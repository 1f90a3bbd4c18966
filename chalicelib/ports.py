"""The small interfaces the core needs from the outside world. Adapters implement them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.contact import Contact
from chalicelib.events import SyncMessage
from chalicelib.state import ContactState


@dataclass(frozen=True)
class AuthResult:
    ok: bool
    scheme: str  # "ed25519", "rsa", "workflow-secret", or "none"
    reason: str = ""


class WebhookVerifier(Protocol):
    """Checks a marketplace webhook's signature over the raw body bytes."""

    def verify(self, raw_body: bytes, headers: Mapping[str, str]) -> AuthResult: ...


class ContactQueue(Protocol):
    def send(self, message: SyncMessage) -> str:
        """Durably enqueue; returns the queue's message id. Raises on failure."""
        ...

    def delete(self, receipt_handles: Sequence[str]) -> None: ...

    def dead_letter(self, body: str, reason: str) -> None: ...


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


class GhlApi(Protocol):
    def get_contact(self, contact_id: str) -> Contact | None:
        """The contact as GHL has it now; None when it no longer exists."""
        ...


@dataclass(frozen=True)
class CallToolsMatch:
    id: int
    ghl_contact_id: str | None


class CallToolsApi(Protocol):
    def resolve_bucket(self, bucket: str | int) -> tuple[int, str]: ...

    def find_contacts_by_phone(self, phone_e164: str) -> list[CallToolsMatch]: ...

    def create_contact(self, fields: Mapping[str, str]) -> int: ...

    def update_contact(self, contact_id: int, fields: Mapping[str, str]) -> None: ...

    def set_bucket_membership(self, contact_id: int, bucket_id: int, member: bool) -> None:
        """Add to / remove from a bucket and confirm it by reading membership back."""
        ...


class Dedup(Protocol):
    def run_once(self, key: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run `work` unless `key` already completed; then return the stored result with duplicate=True."""
        ...
