"""OUTCOME_RULES: the defaults, per-disposition changes, and what the settings refuse."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.domain.outcomes import (
    CallRecord,
    Disposition,
    OutcomeRules,
    calltools_time,
    note_text,
    parse_outcome_rules,
)
from chalicelib.runtime.settings import Settings

RECORD = CallRecord(id=5, contact=1, disposition=2, created_on="2026-07-01 15:00:00")
SALE = Disposition(id=2, name="  Sale ")


def test_by_default_every_disposition_adds_its_tag_and_a_note():
    effect = parse_outcome_rules("").effect(RECORD, SALE, "UTC")
    assert effect.add_tags == ("calltools: sale",) and effect.remove_tags == ()
    assert effect.note is not None and effect.dnd_message is None


def test_either_dnc_flag_makes_calls_dnd():
    for flags in ({"set_contact_dnc": True}, {"set_phone_number_dnc": True}):
        disposition = Disposition(id=3, name="DNC", **flags)
        assert OutcomeRules().effect(RECORD, disposition, "UTC").dnd_message == "CallTools: DNC"


def test_rules_match_dispositions_by_name_in_any_case_and_spacing():
    rules = parse_outcome_rules(
        '{"tag": false, "dispositions": {"SALE": {"add_tags": ["customer"], '
        '"remove_tags": ["Cold Lead"], "dnd": true}}}'
    )
    effect = rules.effect(RECORD, SALE, "UTC")
    assert effect.add_tags == ("customer",) and effect.remove_tags == ("Cold Lead",)
    assert effect.dnd_message == "CallTools: Sale"


@pytest.mark.parametrize(
    "text",
    [
        '{"dispositions": {"x": {"add_tags": ["a"], "remove_tags": ["A "]}}}',
        '{"dispositions": {"Sale": {}, "sale": {}}}',
        '{"dispositions": {"x": {"colour": "red"}}}',
        '{"notes": true}',
    ],
)
def test_contradictory_or_unknown_rules_are_refused_by_the_settings(text: str):
    with pytest.raises(ValidationError):
        Settings(outcome_rules=text)


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ValidationError):
        Settings(ghl_location_timezone="Mars/Olympus")


def test_the_note_tells_the_time_in_the_locations_zone_summer_time_included():
    text = note_text(RECORD, SALE, "America/New_York")
    assert text.startswith("CallTools call on 2026-07-01 11:00 (America/New_York): Sale.")


def test_calltools_times_without_a_zone_are_utc_and_nonsense_is_none():
    assert calltools_time("2026-11-28 18:42:07").isoformat() == "2026-11-28T18:42:07+00:00"  # type: ignore[union-attr]
    assert calltools_time("yesterday") is None and calltools_time(None) is None
