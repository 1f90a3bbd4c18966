"""Stale reconciliation hits refreshed in bulk: one search page read again serves all its hits.

A hit older than SNAPSHOT_TRUST_SECONDS may not add a contact from its own data (calls may have
become DND since the search). The walk feeds the queue so that this is rare; when it happens (a
consumer outage, a webhook storm), re-reading each contact would cost one GHL call per contact.
Instead the hit's search page is read again (its tag, cursor and size travel with the hit) and
kept for a short while, so the other hits of that page, taken by this worker, need no call at all.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.contact import Contact
from chalicelib.domain.messages import HitPage, SyncMessage
from chalicelib.domain.rules import ResolvedRule
from chalicelib.domain.state import ContactState
from chalicelib.domain.sync_plan import FieldMapping, plan_sync
from chalicelib.domain.time import parse_time
from chalicelib.ports import GhlSearch
from chalicelib.runtime.observability import logger

# Pages kept per worker: a page holds at most 500 contacts.
KEPT_PAGES = 4


@dataclass(frozen=True)
class _ReadPage:
    read_at: datetime  # when the search was sent: its data is at least this fresh
    contacts: dict[str, tuple[Contact, datetime | None]]


class HitRefresh:
    """This worker's re-read search pages, each used while it is fresh."""

    def __init__(
        self,
        search: GhlSearch,
        location_id: str,
        mapping: FieldMapping,
        *,
        snapshot_trust: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._search = search
        self._location_id = location_id
        self._mapping = mapping
        self._trust = snapshot_trust
        # Half the trust window: a refreshed hit is then well within it when it is applied.
        self._fresh_for = snapshot_trust / 2
        self._clock = clock
        self._pages: OrderedDict[str, _ReadPage] = OrderedDict()
        self._lock = threading.Lock()

    def fresh(
        self, message: SyncMessage, rules: list[ResolvedRule], state: ContactState, now: datetime
    ) -> SyncMessage:
        """A stale hit that would add, refreshed from its search page; any other message as it
        came. A hit that only removes never waits for GHL: it is applied as read."""
        hit = message.snapshot
        if (
            message.origin != "reconciliation"
            or hit is None
            or now - message.received_at <= self._trust
        ):
            return message
        plan = plan_sync(hit, rules, state, self._mapping)
        if not (plan.add_buckets or plan.needs_contact):
            return message
        return self.refreshed(message) or message

    def refreshed(self, message: SyncMessage) -> SyncMessage | None:
        """The hit with its page's current data, or None when the page no longer holds the
        contact (untagged or deleted since, or no dateUpdated): then GHL is asked for it alone."""
        if message.page is None:
            return None
        try:
            page = self._page(message.page)
        except Exception:
            # GHL busy or refusing: the hit takes the path it had before, a re-read of its own
            # (whose failure still lets a removal through on the event alone).
            logger.warning("could not refresh a stale hit's page", exc_info=True)
            return None
        found = page.contacts.get(message.contact_id)
        if found is None or found[1] is None:
            return None
        contact, date_updated = found
        return message.model_copy(
            update={"snapshot": contact, "event_time": date_updated, "received_at": page.read_at}
        )

    def _page(self, where: HitPage) -> _ReadPage:
        key = json.dumps([where.tag, where.after, where.size], default=str)
        with self._lock:
            kept = self._pages.get(key)
            if kept is not None and self._clock() - kept.read_at < self._fresh_for:
                return kept
        sent = self._clock()
        result = self._search.search_contacts(self._location_id, where.tag, where.after, where.size)
        page = _ReadPage(
            read_at=sent,
            contacts={c.id: (c, parse_time(updated)) for c, updated in result.contacts},
        )
        logger.info(
            "stale hits refreshed from their search page", extra={"hits": len(page.contacts)}
        )
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > KEPT_PAGES:
                self._pages.popitem(last=False)
        return page
