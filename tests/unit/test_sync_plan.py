"""The pure sync decision."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.contact import Contact, contact_from_ghl
from chalicelib.domain.rules import ResolvedRule, Rule
from chalicelib.domain.state import ContactState
from chalicelib.domain.sync_plan import (
    FieldMapping,
    calltools_fields,
    failed_alike,
    field_hash,
    fingerprint,
    plan_sync,
)

MAPPING = FieldMapping()
COLD = ResolvedRule(
    rule=Rule(tag="cold lead", bucket="Cold Leads"), bucket_id=1, bucket_name="Cold Leads"
)
HOT = ResolvedRule(
    rule=Rule(tag="hot lead", bucket=2, exclude_tags=("customer",)), bucket_id=2, bucket_name="Hot"
)
RULES = [COLD, HOT]
PHONE = "+13125550147"


def contact(**kw: object) -> Contact:
    base: dict[str, object] = {
        "id": "c1",
        "first_name": "Avery",
        "phone": PHONE,
        "tags": ("cold lead",),
    }
    base.update(kw)
    return Contact.model_validate(base)


def applied(plan_state: ContactState, contact_: Contact) -> ContactState:
    """The state after the plan for `contact_` was carried out successfully."""
    plan = plan_sync(contact_, RULES, plan_state, MAPPING)
    buckets = (set(plan_state.buckets) - plan.remove_buckets) | plan.add_buckets
    return plan_state.model_copy(
        update={
            "calltools_id": plan_state.calltools_id or (99 if plan.desired_buckets else None),
            "buckets": frozenset(buckets),
            "pending_buckets": frozenset(),
            "pending_phone": None,
            "field_hashes": dict(plan.field_hashes),
        }
    )


def test_given_new_tagged_contact_when_planned_then_create_and_add():
    plan = plan_sync(contact(), RULES, None, MAPPING)
    assert plan.needs_contact
    assert plan.add_buckets == {1}
    assert plan.fields["mobile_phone_number"] == PHONE
    assert plan.fields["ghl_contact_id"] == "c1"
    assert "email" not in plan.fields  # empty values are left out


def test_given_synced_contact_when_unchanged_then_noop():
    state = applied(ContactState(contact_id="c1"), contact())
    assert plan_sync(contact(), RULES, state, MAPPING).is_noop


def test_given_synced_contact_when_one_field_changes_then_only_that_field_is_patched():
    state = applied(ContactState(contact_id="c1"), contact())
    plan = plan_sync(contact(company_name="Acme"), RULES, state, MAPPING)
    assert plan.changed_fields == {"company_name": "Acme"}
    assert not plan.add_buckets and not plan.needs_contact


def test_given_field_emptied_in_ghl_then_it_is_cleared():
    state = applied(ContactState(contact_id="c1"), contact(company_name="Acme"))
    plan = plan_sync(contact(), RULES, state, MAPPING)
    assert plan.changed_fields == {"company_name": ""}


def test_tags_compare_trimmed_and_case_insensitive():
    plan = plan_sync(contact(tags=("  Cold   LEAD ",)), RULES, None, MAPPING)
    assert plan.desired_buckets == {1}


def test_exclude_tags_keep_contact_out():
    assert plan_sync(contact(tags=("hot lead",)), RULES, None, MAPPING).desired_buckets == {2}
    plan = plan_sync(contact(tags=("hot lead", "Customer")), RULES, None, MAPPING)
    assert plan.desired_buckets == frozenset()


def test_dnd_contact_is_never_added_and_is_removed():
    plan = plan_sync(contact(dnd_calls=True), RULES, None, MAPPING)
    assert plan.is_noop and plan.exclusion == "dnd"
    state = applied(ContactState(contact_id="c1"), contact())
    plan = plan_sync(contact(dnd_calls=True), RULES, state, MAPPING)
    assert plan.remove_buckets == {1} and not plan.add_buckets and not plan.changed_fields


def test_top_level_dnd_flag_alone_keeps_a_new_contact_out_and_takes_a_synced_one_out():
    """A webhook body with `dnd: true` and no dndSettings at all."""
    flagged = contact_from_ghl(
        {"id": "c1", "firstName": "Avery", "phone": PHONE, "tags": ["cold lead"], "dnd": True}
    )
    plan = plan_sync(flagged, RULES, None, MAPPING)
    assert plan.exclusion == "dnd" and plan.is_noop and not plan.desired_buckets
    state = applied(ContactState(contact_id="c1"), contact())
    plan = plan_sync(flagged, RULES, state, MAPPING)
    assert plan.exclusion == "dnd" and plan.remove_buckets == {1} and not plan.add_buckets


def test_deleted_contact_leaves_our_buckets_only():
    state = ContactState(contact_id="c1", calltools_id=5, buckets=frozenset({1}))
    plan = plan_sync(Contact.gone("c1"), RULES, state, MAPPING)
    assert plan.remove_buckets == {1} and plan.exclusion == "deleted"


def test_undialable_phone_is_excluded():
    plan = plan_sync(contact(phone="+12222222222"), RULES, None, MAPPING)
    assert plan.exclusion == "no_dialable_phone" and plan.is_noop


def test_phone_is_normalised_to_e164():
    plan = plan_sync(contact(phone="(312) 555-0147"), RULES, None, MAPPING)
    assert plan.fields["mobile_phone_number"] == PHONE


tag_sets = st.sets(st.sampled_from(["cold lead", "hot lead", "customer", "Cold Lead", "other"]))
contacts = st.builds(
    contact,
    tags=tag_sets.map(tuple),
    dnd_calls=st.booleans(),
    deleted=st.booleans(),
    phone=st.sampled_from([PHONE, "", "+12222222222", "312-555-0147"]),
    company_name=st.sampled_from(["", "Acme", "Lindqvist"]),
)
states = st.builds(
    ContactState,
    contact_id=st.just("c1"),
    calltools_id=st.one_of(st.none(), st.just(7)),
    buckets=st.frozensets(st.sampled_from([1, 2, 3])),
    pending_buckets=st.frozensets(st.sampled_from([1, 2, 3])),
    pending_phone=st.one_of(st.none(), st.just(PHONE)),
).map(
    lambda s: (
        s.model_copy(update={"pending_phone": None})
        if s.calltools_id
        else s.model_copy(update={"buckets": frozenset()})
    )
)


@given(contacts, states)
def test_property_never_adds_an_excluded_contact(c, state):
    plan = plan_sync(c, RULES, state, MAPPING)
    if c.dnd_calls or c.deleted:
        assert not plan.add_buckets and not plan.needs_contact and not plan.desired_buckets


@given(contacts, states)
def test_property_only_removes_buckets_we_placed(c, state):
    plan = plan_sync(c, RULES, state, MAPPING)
    assert plan.remove_buckets <= state.buckets | state.pending_buckets
    assert not (plan.add_buckets & plan.remove_buckets)


@given(contacts, states)
def test_property_applying_a_plan_converges(c, state):
    after = applied(state, c)
    assert plan_sync(c, RULES, after, MAPPING).is_noop


@given(contacts, states)
def test_property_a_create_never_answered_is_resolved_before_anything_else(c, state):
    plan = plan_sync(c, RULES, state, MAPPING)
    assert plan.recover_create == (state.pending_phone is not None)
    if state.pending_phone:
        assert not plan.is_noop


def test_a_bucket_a_write_may_have_reached_is_removed_when_unwanted_and_re_added_when_wanted():
    state = applied(ContactState(contact_id="c1"), contact(tags=("hot lead",)))
    maybe = state.model_copy(update={"pending_buckets": frozenset({1})})
    assert plan_sync(contact(tags=("hot lead",)), RULES, maybe, MAPPING).remove_buckets == {1}
    assert plan_sync(
        contact(tags=("cold lead", "hot lead")), RULES, maybe, MAPPING
    ).add_buckets == {1}


# --- exact values: the CallTools fields, the hashes stored between runs ---------------------------

FULL = Contact(
    id="c1",
    first_name="Avery",
    last_name="Lindqvist",
    email="avery@example.com",
    phone="(312) 555-0147",
    company_name="Lindqvist Landscaping",
    address="100 Example Ave",
    city="Springfield",
    state="IL",
    postal_code="62701",
    tags=("cold lead",),
)


def test_every_ghl_field_maps_to_its_calltools_field():
    assert calltools_fields(FULL, PHONE, MAPPING) == {
        "first_name": "Avery",
        "last_name": "Lindqvist",
        "mobile_phone_number": PHONE,
        "email": "avery@example.com",
        "company_name": "Lindqvist Landscaping",
        "address": "100 Example Ave",
        "city": "Springfield",
        "state": "IL",
        "zip_code": "62701",
        "ghl_contact_id": "c1",
    }


def test_the_phone_and_id_fields_are_the_configured_ones():
    mapping = FieldMapping(phone_field="home_phone_number", ghl_id_field="")
    fields = calltools_fields(FULL, PHONE, mapping)
    assert fields["home_phone_number"] == PHONE
    assert "mobile_phone_number" not in fields and "ghl_contact_id" not in fields


def test_a_field_hash_is_the_first_16_hex_digits_of_its_sha256():
    """Stored in the state table: a change of formula would re-PATCH every contact once."""
    assert field_hash("Avery") == hashlib.sha256(b"Avery").hexdigest()[:16]
    assert len(field_hash("")) == 16


def test_a_plans_fingerprint_covers_its_fields_and_buckets_and_is_stable():
    """Stored with a failed contact: the failure is retried only once the fingerprint changes."""
    plan = plan_sync(FULL, RULES, None, MAPPING)
    parts = sorted(plan.fields.items())
    text = "|".join(f"{k}={v}" for k, v in parts) + "|buckets=1"
    assert fingerprint(plan) == field_hash(text)
    both = plan_sync(
        FULL.model_copy(update={"tags": ("cold lead", "hot lead")}), RULES, None, MAPPING
    )
    assert both.desired_buckets == {1, 2}
    assert fingerprint(both) == field_hash(text.replace("buckets=1", "buckets=1,2"))


def test_the_default_region_reads_national_numbers():
    gb = FieldMapping(default_region="GB")
    plan = plan_sync(contact(phone="020 7946 0958"), RULES, None, gb)
    assert plan.fields["mobile_phone_number"] == "+442079460958"
    assert plan_sync(contact(phone="020 7946 0958"), RULES, None, MAPPING).exclusion == (
        "no_dialable_phone"
    )


def test_a_contact_with_no_matching_tag_is_excluded_for_that_reason():
    plan = plan_sync(contact(tags=("other",)), RULES, None, MAPPING)
    assert plan.exclusion == "no_matching_tag" and plan.contact_id == "c1"
    assert plan.needs_contact is False and plan.is_noop


def test_a_plan_names_its_contact():
    assert plan_sync(contact(), RULES, None, MAPPING).contact_id == "c1"
    assert plan_sync(contact(tags=()), RULES, None, MAPPING).contact_id == "c1"


def test_an_excluded_contact_keeps_its_stored_field_hashes():
    """Its CallTools fields are left as they were: the hashes still describe them."""
    state = applied(ContactState(contact_id="c1"), contact(company_name="Acme"))
    plan = plan_sync(contact(tags=("other",)), RULES, state, MAPPING)
    assert plan.field_hashes == state.field_hashes and plan.remove_buckets == {1}


def test_a_contact_to_be_created_is_added_to_every_wanted_bucket_whatever_the_state_says():
    """With no CallTools contact, nothing is in a bucket yet: remembered buckets do not count."""
    stale_state = ContactState(contact_id="c1", buckets=frozenset({1}))
    plan = plan_sync(contact(), RULES, stale_state, MAPPING)
    assert plan.needs_contact and plan.add_buckets == {1}


# --- a failure is not retried unchanged, but a removal always is ---------------------------------
def failed_with(state: ContactState, fingerprint_: str) -> ContactState:
    return state.model_copy(update={"status": "failed", "failed_fingerprint": fingerprint_})


def test_a_failed_add_plan_is_skipped_only_while_it_is_exactly_the_one_that_failed():
    plan = plan_sync(contact(), RULES, None, MAPPING)
    assert plan.add_buckets == {1} and not plan.remove_buckets and plan.exclusion is None
    fresh = ContactState(contact_id="c1")
    assert failed_alike(failed_with(fresh, fingerprint(plan)), plan)
    # another plan (the contact changed since): tried again
    assert not failed_alike(failed_with(fresh, fingerprint(plan) + "0"), plan)
    # the same plan, but the contact is not failed (it synced since, or is new)
    for status in ("new", "synced", "excluded"):
        state = fresh.model_copy(update={"status": status, "failed_fingerprint": fingerprint(plan)})
        assert not failed_alike(state, plan)


def test_a_failed_plan_that_removes_or_keeps_out_is_never_skipped():
    """Taking a contact out (or keeping it out) is retried until it happens, even unchanged."""
    placed = ContactState(contact_id="c1", calltools_id=9, buckets=frozenset({1, 2}))
    # removes bucket 2, still in bucket 1: a removal without an exclusion
    narrower = plan_sync(contact(), RULES, placed, MAPPING)
    assert narrower.remove_buckets == {2} and narrower.exclusion is None
    assert not failed_alike(failed_with(placed, fingerprint(narrower)), narrower)
    # excluded and in none of our buckets: an exclusion without a removal
    never_placed = ContactState(contact_id="c1")
    kept_out = plan_sync(contact(dnd_calls=True), RULES, never_placed, MAPPING)
    assert kept_out.exclusion == "dnd" and not kept_out.remove_buckets
    assert not failed_alike(failed_with(never_placed, fingerprint(kept_out)), kept_out)
