"""Sync rules: which GHL tag puts a contact into which CallTools bucket."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator


def normalise_tag(tag: str) -> str:
    """GHL's tag case handling is undocumented, so tags are compared trimmed and case-folded."""
    return " ".join(tag.split()).casefold()


class Rule(BaseModel):
    """`tag` → `bucket` (a CallTools bucket name, or its numeric id), minus contacts with `exclude_tags`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tag: str = Field(min_length=1)
    bucket: str | int
    exclude_tags: tuple[str, ...] = ()

    @field_validator("tag")
    @classmethod
    def _tag_not_blank(cls, value: str) -> str:
        if not normalise_tag(value):
            raise ValueError("tag must not be blank")
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket_not_blank(cls, value: str | int) -> str | int:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                raise ValueError("bucket must not be blank")
            if value.isdigit():
                return int(value)
        return value

    @property
    def tag_key(self) -> str:
        return normalise_tag(self.tag)

    @property
    def bucket_key(self) -> str:
        """The bucket as CallTools resolves it: an id, or a name compared trimmed and case-folded.
        Rules whose buckets share a key resolve alike, so a resolution is remembered by it."""
        if isinstance(self.bucket, int):
            return f"id:{self.bucket}"
        return f"name:{self.bucket.strip().casefold()}"

    @property
    def exclude_keys(self) -> frozenset[str]:
        return frozenset(normalise_tag(t) for t in self.exclude_tags)


class ResolvedRule(BaseModel):
    """A rule whose bucket has been looked up in CallTools."""

    model_config = ConfigDict(frozen=True)

    rule: Rule
    bucket_id: int
    bucket_name: str


_RULES = TypeAdapter(list[Rule])


def parse_rules(text: str) -> list[Rule]:
    """Parse SYNC_RULES (a JSON list); raises ValueError with a readable reason."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"SYNC_RULES is not JSON: {exc.msg}") from exc
    rules = _RULES.validate_python(raw)
    if not rules:
        raise ValueError("SYNC_RULES must name at least one rule")
    return rules
