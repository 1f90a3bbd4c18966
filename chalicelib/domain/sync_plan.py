"""The sync decision: desired CallTools state from a contact and the rules, diffed against stored state.

Pure: no I/O, no clock. Everything it needs is passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from chalicelib.domain.contact import Contact
from chalicelib.domain.phone import to_e164
from chalicelib.domain.rules import ResolvedRule
from chalicelib.domain.state import ContactState


@dataclass(frozen=True)
class FieldMapping:
    """Which CallTools fields receive the phone and the GHL id (both account-specific)."""

    phone_field: str = "mobile_phone_number"
    ghl_id_field: str = "ghl_contact_id"
    default_region: str = "US"


@dataclass(frozen=True)
class SyncPlan:
    contact_id: str
    desired_buckets: frozenset[int]
    add_buckets: frozenset[int]
    remove_buckets: frozenset[int]
    # We want the contact in a bucket but have no CallTools contact for it yet.
    needs_contact: bool
    # Every mapped field (for a create) and the subset that changed (for a PATCH).
    fields: Mapping[str, str] = field(default_factory=dict)
    changed_fields: Mapping[str, str] = field(default_factory=dict)
    field_hashes: Mapping[str, str] = field(default_factory=dict)
    # Why the contact belongs in no bucket, when it doesn't.
    exclusion: str | None = None
    # A create's outcome never reached us: find what it made before deciding anything else.
    recover_create: bool = False

    @property
    def is_noop(self) -> bool:
        return not (
            self.add_buckets
            or self.remove_buckets
            or self.needs_contact
            or self.changed_fields
            or self.recover_create
        )


def removals_only(plan: SyncPlan, state: ContactState) -> SyncPlan:
    """`plan`'s removals and nothing else: no add, no create, no field (what a signed event that
    takes the contact out may do while GHL cannot confirm it)."""
    return replace(
        plan,
        desired_buckets=frozenset(),
        add_buckets=frozenset(),
        needs_contact=False,
        fields={},
        changed_fields={},
        field_hashes=dict(state.field_hashes),
        exclusion=plan.exclusion or "removed_unconfirmed",
        recover_create=False,
    )


def field_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def fingerprint(plan: SyncPlan) -> str:
    """What a plan would write, in one hash: a failure is retried only once this changes."""
    buckets = ",".join(map(str, sorted(plan.desired_buckets)))
    parts = [*sorted(plan.fields.items()), ("buckets", buckets)]
    return field_hash("|".join(f"{k}={v}" for k, v in parts))


def failed_alike(state: ContactState, plan: SyncPlan) -> bool:
    """The contact failed before with exactly this plan, so running it again is pointless. Never
    true for a plan that takes the contact out of a bucket or keeps it out: a removal is retried
    until it happens, and every removal plan would share one fingerprint."""
    if plan.remove_buckets or plan.exclusion is not None:
        return False
    return state.status == "failed" and state.failed_fingerprint == fingerprint(plan)


def calltools_fields(contact: Contact, phone_e164: str, mapping: FieldMapping) -> dict[str, str]:
    """GHL contact → CallTools contact fields. Empty values are left out (merge mode blanks them)."""
    fields = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        mapping.phone_field: phone_e164,
        "email": contact.email,
        "company_name": contact.company_name,
        "address": contact.address,
        "city": contact.city,
        "state": contact.state,
        "zip_code": contact.postal_code,
    }
    if mapping.ghl_id_field:
        fields[mapping.ghl_id_field] = contact.id
    return {k: v for k, v in fields.items() if v}


def exclusion_reason(contact: Contact, phone_e164: str | None) -> str | None:
    """Reasons that keep a contact out of every bucket, whatever its tags."""
    if contact.deleted:
        return "deleted"
    if contact.dnd_calls:
        return "dnd"
    if phone_e164 is None:
        return "no_dialable_phone"
    return None


def desired_buckets(contact: Contact, rules: Sequence[ResolvedRule]) -> frozenset[int]:
    tags = contact.tag_keys
    return frozenset(
        r.bucket_id for r in rules if r.rule.tag_key in tags and not (r.rule.exclude_keys & tags)
    )


def plan_sync(
    contact: Contact,
    rules: Sequence[ResolvedRule],
    state: ContactState | None,
    mapping: FieldMapping,
) -> SyncPlan:
    state = state or ContactState(contact_id=contact.id)
    phone = None if contact.deleted else to_e164(contact.phone, mapping.default_region)
    exclusion = exclusion_reason(contact, phone)
    wanted = frozenset() if exclusion else desired_buckets(contact, rules)
    if not wanted and exclusion is None:
        exclusion = "no_matching_tag"

    remove = state.maybe_in - wanted
    recover = state.create_unresolved
    if not wanted:
        # Out of every bucket: only take it out of ours; its CallTools fields no longer matter.
        return SyncPlan(
            contact_id=contact.id,
            desired_buckets=wanted,
            add_buckets=frozenset(),
            remove_buckets=remove,
            needs_contact=False,
            field_hashes=dict(state.field_hashes),
            exclusion=exclusion,
            recover_create=recover,
        )

    assert phone is not None  # no exclusion means a dialable phone
    fields = calltools_fields(contact, phone, mapping)
    hashes = {k: field_hash(v) for k, v in fields.items()}
    needs_contact = state.calltools_id is None
    if needs_contact:
        changed: dict[str, str] = {}
    else:
        changed = {k: v for k, v in fields.items() if state.field_hashes.get(k) != hashes[k]}
        # A field emptied in GHL is cleared in CallTools too.
        changed.update({k: "" for k in state.field_hashes if k not in fields})
    return SyncPlan(
        contact_id=contact.id,
        desired_buckets=wanted,
        add_buckets=wanted if needs_contact else wanted - state.buckets,
        remove_buckets=remove,
        needs_contact=needs_contact,
        fields=fields,
        changed_fields=changed,
        field_hashes=hashes,
        exclusion=None,
        recover_create=recover,
    )
