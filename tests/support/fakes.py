"""In-memory fakes of every port, for fast tests of the core."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.domain.contact import Contact
from chalicelib.domain.errors import ConcurrentUpdate, NotFound, PermanentError, TransientError
from chalicelib.domain.messages import QueueMessage
from chalicelib.domain.runs import Run, RunActive
from chalicelib.domain.state import ContactState
from chalicelib.ports import (
    AuthResult,
    BucketResolution,
    CallToolsMatch,
    CreatedContact,
    SearchPage,
)


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[QueueMessage] = []
        self.deleted: list[str] = []
        self.dead: list[tuple[str, str]] = []
        self.requeued: list[tuple[str, int]] = []
        self.delays: list[int] = []  # of each message in `sent`
        self.fail_send = False
        self.backlog = 0  # what depth() reports

    def send(self, message: QueueMessage, delay_seconds: int = 0) -> str:
        if self.fail_send:
            raise RuntimeError("SQS is down")
        self.sent.append(message)
        self.delays.append(delay_seconds)
        return f"msg-{len(self.sent)}"

    def send_many(self, messages: Sequence[QueueMessage]) -> int:
        for message in messages:
            self.send(message)
        return (len(messages) + 9) // 10

    def depth(self) -> int:
        return self.backlog

    def dlq_depth(self) -> int:
        return len(self.dead)

    def delete(self, receipt_handles: Sequence[str]) -> None:
        self.deleted.extend(receipt_handles)

    def dead_letter(self, body: str, reason: str) -> None:
        self.dead.append((body, reason))

    def requeue(self, body: str, delay_seconds: int) -> None:
        if self.fail_send:
            raise RuntimeError("SQS is down")
        self.requeued.append((body, delay_seconds))


class FakeStateStore:
    def __init__(self) -> None:
        self.items: dict[str, ContactState] = {}
        self.writes = 0

    def get(self, contact_id: str) -> ContactState | None:
        return self.items.get(contact_id)

    def _put(self, state: ContactState) -> ContactState:
        current = self.items.get(state.contact_id)
        if (current.version if current else 0) != state.version:
            raise ConcurrentUpdate("version moved")
        new = state.model_copy(update={"version": state.version + 1})
        self.items[state.contact_id] = new
        self.writes += 1
        return new

    def acquire(
        self, state: ContactState, owner: str, lease_until: datetime, now: datetime
    ) -> ContactState:
        return self._put(
            state.model_copy(update={"lease_until": lease_until, "lease_owner": owner})
        )

    def save(self, state: ContactState, *, keep_lease: bool = False) -> ContactState:
        if not keep_lease:
            state = state.model_copy(update={"lease_until": None, "lease_owner": None})
        return self._put(state)


class FakeGhl:
    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}
        self.reads = 0

    def get_contact(self, contact_id: str) -> Contact | None:
        self.reads += 1
        return self.contacts.get(contact_id)


@dataclass
class FakeCallTools:
    buckets: dict[int, str] = field(default_factory=lambda: {70412: "Cold Leads"})
    contacts: dict[int, dict[str, str]] = field(default_factory=dict)
    members: dict[int, set[int]] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    undialable: set[str] = field(default_factory=set)
    # Raise this once from the next call of the named method.
    fail_next: dict[str, Exception] = field(default_factory=dict)
    # Replies to lose once (the write is applied, then the caller times out): "create_reply".
    lose_next: set[str] = field(default_factory=set)
    # Whether a create puts the contact in the buckets it asks for (calltools.md §7: unknown).
    create_takes_buckets: bool = False
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(48000000))

    def _call(self, name: str, arg: Any) -> None:
        self.calls.append((name, arg))
        if name in self.fail_next:
            raise self.fail_next.pop(name)

    def call_count(self, name: str | None = None) -> int:
        return sum(1 for n, _ in self.calls if name is None or n == name)

    def resolve_bucket(self, bucket: str | int) -> tuple[int, str]:
        for bucket_id, name in self.buckets.items():
            if bucket == bucket_id or (
                isinstance(bucket, str) and bucket.casefold() == name.casefold()
            ):
                return bucket_id, name
        raise NotFound(f"bucket {bucket}")

    def find_contacts_by_phone(self, phone_e164: str) -> list[CallToolsMatch]:
        self._call("find", phone_e164)
        return [
            CallToolsMatch(cid, c.get("ghl_contact_id"))
            for cid, c in self.contacts.items()
            if c.get("mobile_phone_number") == phone_e164
        ]

    def create_contact(
        self, fields: Mapping[str, str], buckets: frozenset[int] = frozenset()
    ) -> CreatedContact:
        self._call("create", dict(fields))
        if fields.get("mobile_phone_number") in self.undialable:
            raise PermanentError("CallTools POST contacts/: 400 not dialable")
        cid = next(self._ids)
        self.contacts[cid] = dict(fields)
        placed = buckets if self.create_takes_buckets else frozenset()
        for bucket_id in placed:
            self.members.setdefault(bucket_id, set()).add(cid)
        if "create_reply" in self.lose_next:  # made (and placed), but the reply never came
            self.lose_next.discard("create_reply")
            raise TransientError("CallTools POST contacts/: read timeout")
        return CreatedContact(cid, frozenset(placed))

    def update_contact(self, contact_id: int, fields: Mapping[str, str]) -> None:
        self._call("update", (contact_id, dict(fields)))
        if contact_id not in self.contacts:
            raise NotFound("contact")
        self.contacts[contact_id].update(fields)

    def set_bucket_membership(self, contact_id: int, bucket_id: int, member: bool) -> None:
        self._call("add" if member else "remove", (contact_id, bucket_id))
        if contact_id not in self.contacts:
            raise NotFound("contact")
        group = self.members.setdefault(bucket_id, set())
        if member:
            group.add(contact_id)
        else:
            group.discard(contact_id)

    def bucket_of(self, bucket_id: int = 70412) -> set[int]:
        return set(self.members.get(bucket_id, set()))


class FakeDedup:
    def __init__(self) -> None:
        self.done: dict[str, dict[str, Any]] = {}

    def run_once(self, key: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if key in self.done:
            return {**self.done[key], "duplicate": True}
        result = work()
        self.done[key] = result
        return result


class FakeVerifier:
    """Accepts exactly the signature value "good"."""

    def verify(self, raw_body: bytes, headers: Mapping[str, str]) -> AuthResult:
        sig = {k.lower(): v for k, v in headers.items()}.get("x-ghl-signature")
        if sig == "good":
            return AuthResult(True, "ed25519")
        return AuthResult(False, "ed25519", "bad signature")


class FakeStateIndex(FakeStateStore):
    """The state store with the bulk reads the reconciliation uses."""

    def __init__(self) -> None:
        super().__init__()
        self.webhook_at: datetime | None = None
        self.seen_pages: dict[tuple[str, int], list[str]] = {}

    def get_many(self, contact_ids: Sequence[str]) -> dict[str, ContactState]:
        return {cid: self.items[cid] for cid in contact_ids if cid in self.items}

    def note_seen(self, run_id: str, page: int, contact_ids: Sequence[str]) -> None:
        self.seen_pages[(run_id, page)] = list(contact_ids)

    def seen_by(self, run_id: str, pages: int) -> set[str]:
        return {c for p in range(pages) for c in self.seen_pages.get((run_id, p), [])}

    def scan(
        self, start_key: dict[str, Any] | None, limit: int
    ) -> tuple[list[ContactState], dict[str, Any] | None]:
        keys = sorted(self.items)
        start = int(start_key["i"]) if start_key else 0
        chunk = keys[start : start + limit]
        more = start + limit < len(keys)
        return [self.items[k] for k in chunk], {"i": start + limit} if more else None

    def note_bucket_names(self, names: dict[int, str]) -> None:
        self.names = dict(names)

    def bucket_names(self) -> dict[int, str]:
        return dict(getattr(self, "names", {}))

    def note_webhook(self, received_at: datetime) -> None:
        self.webhook_at = max(filter(None, (self.webhook_at, received_at)))

    def last_webhook_at(self) -> datetime | None:
        return self.webhook_at


class FakeBucketMemory:
    """The shared bucket resolution (BucketMemory), one per table: give two RuleBooks the same."""

    def __init__(self) -> None:
        self.stored: tuple[BucketResolution, datetime] | None = None
        self.broken = False  # recall raises, as a DynamoDB error would
        self.recalls = 0

    def recall(self) -> tuple[BucketResolution, datetime] | None:
        self.recalls += 1
        if self.broken:
            raise RuntimeError("DynamoDB is down")
        return (dict(self.stored[0]), self.stored[1]) if self.stored else None

    def remember(self, resolution: BucketResolution, resolved_at: datetime) -> None:
        self.stored = (dict(resolution), resolved_at)


class FakeRunStore:
    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.active: str | None = None
        self.last: str | None = None

    def start(self, run: Run, stale_before: datetime) -> Run:
        if self.active:
            current = self.runs[self.active]
            if current.heartbeat_at and current.heartbeat_at >= stale_before:
                raise RunActive(self.active)
        self.active = run.id
        self.runs[run.id] = run.model_copy(update={"version": 1})
        return self.runs[run.id]

    def get(self, run_id: str) -> Run | None:
        return self.runs.get(run_id)

    def active_run_id(self) -> str | None:
        return self.active

    def last_run_id(self) -> str | None:
        return self.last

    def save(self, run: Run) -> Run:
        if self.runs[run.id].version != run.version:
            raise ConcurrentUpdate("run moved")
        self.runs[run.id] = run.model_copy(update={"version": run.version + 1})
        return self.runs[run.id]

    def finish(self, run: Run) -> Run:
        saved = self.save(run)
        self.last, self.active = run.id, None if self.active == run.id else self.active
        return saved


class FakeSearch:
    """GHL's tag search over a list of contacts, with an optional cursor that never advances."""

    def __init__(self, contacts: list[Contact], stuck_after: int | None = None) -> None:
        self.contacts = contacts
        self.stuck_after = stuck_after
        self.calls = 0

    def search_contacts(
        self, location_id: str, tag: str, search_after: list[Any] | None, page_limit: int = 500
    ) -> SearchPage:
        self.calls += 1
        start = int(search_after[0]) if search_after else 0
        if self.stuck_after is not None and start >= self.stuck_after:
            start = self.stuck_after  # the cursor stops moving: the same page again and again
        rows = [c for c in self.contacts if tag in c.tags][start : start + page_limit]
        cursor = [start + len(rows), rows[-1].id] if len(rows) == page_limit else None
        if self.stuck_after is not None and start == self.stuck_after:
            cursor = list(search_after) if search_after else cursor
        return SearchPage(contacts=[(c, None) for c in rows], next_cursor=cursor, total=None)


if TYPE_CHECKING:
    from chalicelib.ports import BucketMemory

    _memory: BucketMemory = FakeBucketMemory()
