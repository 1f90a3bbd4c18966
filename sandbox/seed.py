"""Seed a world that is already in sync: the CallTools contact in its bucket and the state the
consumer would have stored. Used by the reconciliation tests and the bench (setup, not measured)."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.domain.contact import contact_from_ghl
from chalicelib.domain.rules import ResolvedRule
from chalicelib.domain.state import ContactState
from chalicelib.domain.sync_plan import FieldMapping, plan_sync
from chalicelib.domain.time import parse_time
from sandbox.calltools import CallToolsSandbox
from sandbox.ghl import GhlSandbox


def synced_state(
    ghl: GhlSandbox,
    calltools: CallToolsSandbox,
    contact_id: str,
    rules: Sequence[ResolvedRule],
    mapping: FieldMapping,
) -> ContactState | None:
    """Put GHL contact `contact_id` in CallTools as a sync would have; None if it belongs nowhere."""
    data = ghl.contact(contact_id)
    if data is None:
        return None
    plan = plan_sync(contact_from_ghl(data), rules, None, mapping)
    if not plan.desired_buckets:
        return None
    buckets = sorted(plan.desired_buckets)
    ct = calltools.seed_contact({**plan.fields, "buckets": buckets})
    return ContactState(
        contact_id=contact_id,
        calltools_id=ct["id"],
        buckets=frozenset(buckets),
        field_hashes=dict(plan.field_hashes),
        source_time=parse_time(data["dateUpdated"]),
        status="synced",
    )
