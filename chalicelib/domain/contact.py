"""The GHL contact as the sync sees it, parsed from webhook bodies, GET /contacts/{id} and search."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.rules import normalise_tag

# dndSettings.Call statuses that forbid dialling ("permanent" is stricter than "active").
_DND_BLOCKING = {"active", "permanent"}


class Contact(BaseModel):
    """A snapshot of one GHL contact: only the fields the sync maps or decides on."""

    model_config = ConfigDict(frozen=True)

    id: str
    location_id: str | None = None
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    company_name: str = ""
    address: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    tags: tuple[str, ...] = ()
    dnd_calls: bool = False
    # False when the source could not say whether calls are DND (no dndSettings.Call, dnd false):
    # such a snapshot may take a contact out of a bucket, never put it in.
    dnd_known: bool = True
    deleted: bool = False

    @property
    def tag_keys(self) -> frozenset[str]:
        return frozenset(normalise_tag(t) for t in self.tags)

    @classmethod
    def gone(cls, contact_id: str, location_id: str | None = None) -> Contact:
        """A contact that no longer exists in GHL (deleted or merged away)."""
        return cls(id=contact_id, location_id=location_id, deleted=True)


def _text(data: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return _clean(value)
    return ""


def call_dnd_is_stated(data: Mapping[str, Any]) -> bool:
    """Whether the data says if calls are DND: `dnd` true, or a dndSettings map (search hits send
    `{}` when no channel is DND). Webhooks other than ContactDndUpdate carry no dndSettings."""
    return data.get("dnd") is True or isinstance(data.get("dndSettings"), Mapping)


def is_dnd_for_calls(data: Mapping[str, Any]) -> bool:
    """`dnd` true blocks every channel; otherwise dndSettings.Call decides."""
    if data.get("dnd") is True:
        return True
    settings = data.get("dndSettings")
    if isinstance(settings, Mapping):
        call = settings.get("Call")
        if isinstance(call, Mapping):
            status = call.get("status")
            return isinstance(status, str) and status.strip().lower() in _DND_BLOCKING
    return False


def parse_tags(value: Any) -> tuple[str, ...] | None:
    """A tag list (marketplace) or comma string (workflow); None when it is neither."""
    if isinstance(value, str):
        return tuple(_clean(t) for t in value.split(",") if t.strip())
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return tuple(_clean(t) for t in value if t.strip())
    return None


def _clean(text: str) -> str:
    """Trimmed, with any lone surrogate (valid in JSON, not in UTF-8) replaced: such text could
    not be queued or stored."""
    return text.strip().encode("utf-8", "replace").decode("utf-8")


def contact_from_ghl(data: Mapping[str, Any]) -> Contact:
    """Parse GHL's camelCase contact (webhook body, GET reply or search hit). Absent keys are tolerated."""
    contact_id = _text(data, "id", "contactId")
    if not contact_id:
        raise ValueError("contact has no id")
    raw_tags = data.get("tags", [])
    tags = parse_tags(raw_tags) if isinstance(raw_tags, list) else None
    if tags is None:
        raise ValueError("tags must be a list of strings")
    return Contact(
        id=contact_id,
        location_id=_text(data, "locationId") or None,
        # The search doc says plain firstName may be missing; fall back to the lower-case forms.
        first_name=_text(data, "firstName", "firstNameLowerCase"),
        last_name=_text(data, "lastName", "lastNameLowerCase"),
        email=_text(data, "email", "emailLowerCase"),
        phone=_text(data, "phone"),
        company_name=_text(data, "companyName"),
        address=_text(data, "address1", "address"),
        city=_text(data, "city"),
        state=_text(data, "state"),
        postal_code=_text(data, "postalCode"),
        tags=tags,
        dnd_calls=is_dnd_for_calls(data),
        dnd_known=call_dnd_is_stated(data),
    )
