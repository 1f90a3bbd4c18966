"""Call outcomes: what an agent recorded in CallTools, and what that writes to the GHL contact.

A historical call disposition (calltools.md §8a) names the call's contact, disposition, agent,
campaign and number by id. `OutcomeRules` turns its disposition into an `OutcomeEffect`: tags to
add and remove in GHL, a note, and whether calls become DND. Pure: the service applies it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.domain.rules import normalise_tag
from chalicelib.domain.time import parse_time


class CallRecord(BaseModel):
    """A historical call disposition, as CallTools' API returns it (never as a hook's body says)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int = Field(gt=0)
    call_uuid: str | None = None
    contact: int | None = None
    app_user: int | None = None
    campaign: int | None = None
    disposition: int | None = None
    phone_number: str | None = None
    created_on: str | None = None
    # Seconds; not in the observed record, so shown only when an account sends it.
    duration: int | None = None

    @property
    def created_at(self) -> datetime | None:
        return calltools_time(self.created_on)


def calltools_time(value: Any) -> datetime | None:
    """CallTools writes `created_on` as "2026-11-28 18:42:07" with no zone. Taken as UTC: the
    account's zone is not documented [uncertain, calltools.md §8a]; an ISO value with a zone
    keeps it. The one place to change once the zone is known."""
    return parse_time(value)


class Disposition(BaseModel):
    """A disposition definition (`GET /api/calldispositions/{id}/`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int
    name: str = Field(min_length=1)
    set_contact_dnc: bool = False
    set_phone_number_dnc: bool = False
    no_contact: bool = False
    hang_up_call: bool = False
    indicate_answering_machine: bool = False

    @property
    def key(self) -> str:
        return normalise_tag(self.name)

    @property
    def do_not_call(self) -> bool:
        return self.set_contact_dnc or self.set_phone_number_dnc


class DispositionRule(BaseModel):
    """What one disposition (by name, any case) writes beyond the defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    note: bool | None = None  # None: OutcomeRules.note
    # True makes calls DND in GHL. A disposition CallTools marks do-not-call always does: a rule
    # cannot turn that off.
    dnd: bool = False

    @model_validator(mode="after")
    def _no_tag_both_ways(self) -> DispositionRule:
        both = {normalise_tag(t) for t in self.add_tags} & {
            normalise_tag(t) for t in self.remove_tags
        }
        if both:
            raise ValueError(f"tags both added and removed: {sorted(both)}")
        return self


class OutcomeRules(BaseModel):
    """`OUTCOME_RULES`: the defaults, and per disposition name what to add, remove or skip."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Every disposition adds the tag `<prefix><disposition name in lower case>`.
    tag_prefix: str = "calltools: "
    tag: bool = True
    note: bool = True
    dispositions: dict[str, DispositionRule] = Field(default_factory=dict)

    @field_validator("dispositions")
    @classmethod
    def _by_name(cls, value: dict[str, DispositionRule]) -> dict[str, DispositionRule]:
        keyed = {normalise_tag(name): rule for name, rule in value.items()}
        if len(keyed) != len(value) or "" in keyed:
            raise ValueError("disposition names must be distinct and not blank")
        return keyed

    def effect(self, record: CallRecord, disposition: Disposition, zone: str) -> OutcomeEffect:
        rule = self.dispositions.get(disposition.key, DispositionRule())
        add = [f"{self.tag_prefix}{disposition.name.strip().lower()}"] if self.tag else []
        add += [t.strip() for t in rule.add_tags]
        removed = {normalise_tag(t) for t in rule.remove_tags}
        dnd = disposition.do_not_call or rule.dnd
        return OutcomeEffect(
            add_tags=_distinct(t for t in add if normalise_tag(t) not in removed),
            remove_tags=_distinct(t.strip() for t in rule.remove_tags),
            note=note_text(record, disposition, zone)
            if (self.note if rule.note is None else rule.note)
            else None,
            dnd_message=f"CallTools: {disposition.name.strip()}" if dnd else None,
        )


def parse_outcome_rules(text: str) -> OutcomeRules:
    """OUTCOME_RULES as JSON; empty means the defaults."""
    if not text.strip():
        return OutcomeRules()
    return OutcomeRules.model_validate(json.loads(text))


@dataclass(frozen=True)
class OutcomeEffect:
    add_tags: tuple[str, ...]
    remove_tags: tuple[str, ...]
    note: str | None
    dnd_message: str | None  # None: calls do not become DND


def note_marker(record_id: int) -> str:
    """Ends every note we write: how a retry finds the note a lost reply made."""
    return f"[CallTools disposition {record_id}]"


def note_text(record: CallRecord, disposition: Disposition, zone: str) -> str:
    when = record.created_at
    if when is not None:
        local = when.astimezone(_zone(zone))
        at = f" on {local:%Y-%m-%d %H:%M} ({local.tzname() if zone == 'UTC' else zone})"
    else:
        at = ""
    parts = [f"CallTools call{at}: {disposition.name.strip()}."]
    details = []
    if record.campaign is not None:
        details.append(f"Campaign {record.campaign}")
    if record.app_user is not None:
        details.append(f"agent {record.app_user}")
    if record.phone_number:
        details.append(f"dialled {record.phone_number}")
    if record.duration is not None:
        details.append(f"{record.duration // 60} min {record.duration % 60} s")
    if details:
        parts.append(", ".join(details) + ".")
    parts.append(note_marker(record.id))
    return " ".join(parts)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _distinct(tags: Any) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for tag in tags:
        if tag and normalise_tag(tag) not in seen:
            seen[normalise_tag(tag)] = tag
    return tuple(seen.values())
