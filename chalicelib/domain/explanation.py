"""One sentence that answers "why is this contact (not) in the dialler?" from what we stored."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from chalicelib.domain.history import Decision
from chalicelib.domain.state import ContactState

NEVER_SEEN = "Never seen: no webhook or reconciliation has named this contact."

# The exclusion reasons of sync_plan (and removals_only), as a person reads them.
EXCLUSIONS = {
    "dnd": "DND for calls",
    "no_matching_tag": "no rule's tag (or an excluding tag)",
    "no_dialable_phone": "no dialable phone",
    "deleted": "deleted in GHL",
    "removed_unconfirmed": "taken out on the event alone while GHL was unavailable",
}


def when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "an unknown time"


def bucket_list(ids: Sequence[int] | frozenset[int], names: Mapping[int, str]) -> str:
    return ", ".join(names.get(b, f"bucket {b}") for b in sorted(ids))


def _since(history: Sequence[Decision], started: Callable[[Decision], bool]) -> str:
    """ " since <time> (<cause>)" of the newest decision that started the current situation."""
    for decision in reversed(history):
        if started(decision):
            return f" since {when(decision.at)} ({decision.cause})"
    return ""


def _since_run(history: Sequence[Decision], same: Callable[[Decision], bool]) -> str:
    """The oldest decision of the newest unbroken run of decisions matching `same`."""
    first = None
    for decision in reversed(history):
        if not same(decision):
            break
        first = decision
    return f" since {when(first.at)} ({first.cause})" if first else ""


def _pending(state: ContactState, names: Mapping[int, str]) -> str:
    parts = []
    if state.create_unresolved:
        parts.append(f"a CallTools create sent at {when(state.pending_since)}")
    if state.pending_buckets:
        parts.append(f"an add to {bucket_list(state.pending_buckets, names)}")
    return (
        f"A write is pending: {' and '.join(parts)}, its outcome not yet heard; "
        "the next sync verifies it."
    )


def explain(state: ContactState | None, names: Mapping[int, str]) -> str:
    """The sentence for `state` (None: never stored); bucket names by id, where known."""
    if state is None:
        return NEVER_SEEN
    if state.create_unresolved or state.pending_buckets:
        return _pending(state, names)
    where = f"in {bucket_list(state.buckets, names)}" if state.buckets else "in no bucket"
    if state.status == "failed":
        since = _since_run(state.history, lambda d: d.result == "failed")
        return f"The last sync failed{since}: {state.reason or 'no reason recorded'}; {where}."
    if state.status == "excluded" or (state.reason and not state.buckets):
        label = EXCLUSIONS.get(state.reason or "", state.reason or "excluded")
        since = _since_run(state.history, lambda d: d.exclusion == state.reason)
        return f"Out of every bucket: {label}{since}."
    if state.buckets:
        since = _since(state.history, lambda d: bool(set(d.added) & state.buckets))
        return f"In {bucket_list(state.buckets, names)}{since}."
    if state.status == "new":
        return "Seen but not synced yet: its first sync has not finished."
    return "In no bucket: no rule wants it."
