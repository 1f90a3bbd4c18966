"""A GHL OAuth grant (gohighlevel.md §2, §13): the tokens a marketplace install gives, for a
location or for an agency (company), and when they must be refreshed.

Refresh tokens rotate: each refresh spends the one it used. So a grant is only ever replaced as a
whole, and the one stored is the only one that still works.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from chalicelib.domain.errors import ConfigurationError, SyncError

UserType = Literal["Location", "Company"]
# A token handed out must stay good for the calls made with it (a consumer's batch, a page walk).
REFRESH_MARGIN = timedelta(minutes=5)


class OAuthRefused(SyncError):
    """GHL answered an OAuth request with a refusal (4xx): a spent code, a spent or revoked
    refresh token, an app no longer installed. `reason` is GHL's error code and description,
    never a token."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class GhlAuthFailed(ConfigurationError):
    """A location's OAuth grant no longer works (its refresh was refused): reinstall the app."""


class OAuthGrant(BaseModel):
    """What one `POST /oauth/token` (or `/oauth/locationToken`) answered, as stored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: datetime
    user_type: UserType
    company_id: str = ""
    location_id: str = ""
    # Set when GHL refused to refresh it: no worker asks again until an install replaces it.
    refused_at: datetime | None = None

    def good_until(self, when: datetime) -> bool:
        """Is the access token still good at `when` plus the margin?"""
        return self.expires_at - REFRESH_MARGIN > when

    def secret_json(self) -> dict[str, Any]:
        """The grant as its secret holds it (only the secrets adapter writes this)."""
        data = self.model_dump(mode="json", exclude={"access_token", "refresh_token"})
        data["access_token"] = self.access_token.get_secret_value()
        if self.refresh_token is not None:
            data["refresh_token"] = self.refresh_token.get_secret_value()
        return data


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    return value.strip() if isinstance(value, str) else ""


def grant_from_reply(body: Any, now: datetime) -> OAuthGrant:
    """GHL's token reply → a grant; ValueError naming what is missing (never a value)."""
    if not isinstance(body, Mapping):
        raise ValueError("token reply is not a JSON object")
    access = _text(body, "access_token")
    if not access:
        raise ValueError("token reply has no access_token")
    expires_in = body.get("expires_in")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        raise ValueError("token reply has no positive expires_in")
    user_type = _text(body, "userType") or ("Location" if _text(body, "locationId") else "")
    try:
        return OAuthGrant(
            access_token=SecretStr(access),
            refresh_token=SecretStr(_text(body, "refresh_token"))
            if body.get("refresh_token")
            else None,
            expires_at=now + timedelta(seconds=float(expires_in)),
            user_type=user_type,  # validated here
            company_id=_text(body, "companyId"),
            location_id=_text(body, "locationId"),
        )
    except ValidationError:
        # `from None`: the error would quote its input, which holds the tokens.
        raise ValueError("token reply has no userType Location or Company") from None
