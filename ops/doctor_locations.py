"""`doctor`'s checks of the registered locations: marketplace installs whose GHL grant was refused
(docs/locations.md, "Marketplace install (OAuth)"), and installs still awaiting CallTools."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from chalicelib.domain.location import Location

Status = Literal["ok", "warn", "fail"]


def location_auth(locations: Sequence[Location]) -> tuple[Status, str]:
    """fail: a location's OAuth refresh was refused (nothing of it syncs until reinstalled);
    warn: an installed location waits for its CallTools side (PUT /locations/{id})."""
    failed = [loc.location_id for loc in locations if loc.ghl_auth_failed and loc.active]
    waiting = [loc.location_id for loc in locations if loc.awaiting_calltools]
    if failed:
        return "fail", "GHL refused the OAuth grant of " + ", ".join(failed) + ": reinstall the app"
    if waiting:
        return "warn", "installed, awaiting CallTools (PUT /locations/{id}): " + ", ".join(waiting)
    oauth = sum(loc.ghl_auth == "oauth" for loc in locations)
    return "ok", f"{len(locations)} registered, {oauth} by OAuth"
