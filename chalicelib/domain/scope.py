"""Whose contacts this deployment syncs: the webhook intake and the sync both check events
against it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """One GHL location (GHL_LOCATION_ID; "" syncs nothing) and, when set, the one marketplace
    app (GHL_APP_ID) whose events count; "" accepts any app's."""

    location_id: str
    app_id: str = ""
