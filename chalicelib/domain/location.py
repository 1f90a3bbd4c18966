"""A location (tenant): one GHL sub-account synced into one CallTools account by its own rules.

What is stored about it (the registry) and the tokens it is reached with are apart: the tokens
live in a secret of their own (docs/locations.md) and never in a Location.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from chalicelib.domain.oauth import OAuthGrant
from chalicelib.domain.rules import Rule

# GHL ids are plain alphanumeric tokens; anything else is refused before it reaches a key.
LOCATION_ID = re.compile(r"[A-Za-z0-9]{1,64}")
# A token goes into an Authorization header: visible ASCII only, no spaces or line breaks.
TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")
GhlAuth = Literal["pit", "oauth"]


def is_location_id(value: str) -> bool:
    return bool(LOCATION_ID.fullmatch(value or ""))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_calltools_base_url(url: str) -> str:
    """A CallTools API base URL: https (calltools.md §1), or http on loopback for the sandbox.
    Raises ValueError; no credentials or query may ride in it (it is shown in replies)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a port that is no number
    except ValueError as exc:
        raise ValueError("calltools_api_base_url is not a URL") from exc
    if not host:
        raise ValueError("calltools_api_base_url has no host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("calltools_api_base_url must carry no credentials, query or fragment")
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(host)):
        return url
    raise ValueError("calltools_api_base_url must be https (http only on loopback)")


# A public DNS name: dotted labels, the top-level one starting with a letter (IDN: xn--). Digits-only forms
# ("2130706433", "127.1", "0x7f.1") are addresses to the resolver, so they are no names here.
PUBLIC_NAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]")


def check_deployed_calltools_url(url: str) -> str:
    """A deployed stage's rule for a registered location's CallTools base URL: https to a public
    name. Loopback (Lambda's runtime API listens there), private and link-local addresses are
    the admin's to reach only in the local stack. Raises ValueError naming the field.

    A name that resolves to an internal address is not caught here (it would take resolving and
    pinning the address); CallTools' silos are public names, so nothing lawful is refused."""
    url = check_calltools_base_url(url)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme != "https":
        raise ValueError("calltools_api_base_url must be https")
    if not PUBLIC_NAME.fullmatch(host) or host.endswith(".localhost"):
        raise ValueError("calltools_api_base_url must name a public host, not an address")
    return url


def same_origin(a: str, b: str) -> bool:
    """Whether two base URLs reach the same server (scheme, host, port): a stored token may be
    sent again only there."""

    def origin(url: str) -> tuple[str, str, int | None]:
        parts = urlsplit(url.strip())
        default = {"https": 443, "http": 80}.get(parts.scheme.lower())
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default

    return origin(a) == origin(b)


def _name(value: str) -> str:
    if not value.strip():
        raise ValueError("name must not be blank")
    return value.strip()


def _token(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    text = value.get_secret_value().strip()  # a token read from a file ends in a newline
    if not TOKEN.fullmatch(text):
        # Never the value itself: validation messages reach replies.
        raise ValueError("must be 1 to 4096 visible ASCII characters, no spaces")
    return SecretStr(text)


# The fields a stored Location and a PUT body share, checked the same way in both.
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_name)]
CallToolsBaseUrl = Annotated[str, AfterValidator(check_calltools_base_url)]


class Pacing(BaseModel):
    """This location's share of the APIs; None: the deployment's setting (GHL_MAX_RPS, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # GHL allows 100 requests per 10 s per location (gohighlevel.md §5).
    ghl_max_rps: float | None = Field(default=None, gt=0, le=10)
    calltools_max_rps: float | None = Field(default=None, gt=0, le=100)


class LocationFields(BaseModel):
    """Where this location's contacts land in CallTools; None: the deployment's setting."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phone_field: str | None = Field(default=None, min_length=1, max_length=64)
    ghl_id_field: str | None = Field(default=None, min_length=1, max_length=64)


class Location(BaseModel):
    """A registered location, as the registry stores it: no token.

    A marketplace install registers a location before its CallTools side is known: then it has
    no base URL and no rules, and is inactive until `PUT /locations/{id}` gives them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    location_id: str
    name: Name
    ghl_auth: GhlAuth = "pit"
    # "": awaiting CallTools (an OAuth install not completed by PUT /locations yet).
    calltools_api_base_url: CallToolsBaseUrl | Literal[""] = ""
    rules: tuple[Rule, ...] = Field(default=(), max_length=100)
    pacing: Pacing = Pacing()
    fields: LocationFields = LocationFields()
    active: bool = True
    # OAuth: the agency the location belongs to (its UNINSTALL stops every location of it), and
    # whether GHL refused the grant's refresh (no GHL call works until the app is reinstalled).
    company_id: str | None = None
    ghl_auth_failed: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @model_validator(mode="after")
    def _active_means_complete(self) -> Location:
        if self.active and not (self.calltools_api_base_url and self.rules):
            raise ValueError("an active location needs calltools_api_base_url and rules")
        return self

    @property
    def awaiting_calltools(self) -> bool:
        return not self.calltools_api_base_url

    @field_validator("location_id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if not is_location_id(value):
            raise ValueError("location id must match [A-Za-z0-9]{1,64}")
        return value

    def public(self) -> dict[str, Any]:
        """What a reply shows: everything stored, which holds no token."""
        shown = {**self.model_dump(mode="json"), "builtin": False}
        return shown | {"awaiting_calltools": self.awaiting_calltools}


class LocationRequest(BaseModel):
    """The body of `PUT /locations/{id}`. Tokens are optional: an update keeps the stored ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    ghl_api_token: SecretStr | None = None
    calltools_api_base_url: CallToolsBaseUrl
    calltools_api_token: SecretStr | None = None
    rules: tuple[Rule, ...] = Field(min_length=1, max_length=100)
    pacing: Pacing = Pacing()
    fields: LocationFields = LocationFields()

    @field_validator("ghl_api_token", "calltools_api_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        return _token(value)


class LocationTokens(BaseModel):
    """A location's tokens: the JSON of its secret, one secret per location."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # A Private Integration Token, or the grant of a marketplace install (OAuth).
    ghl_api_token: SecretStr | None = None
    calltools_api_token: SecretStr | None = None
    ghl_oauth: OAuthGrant | None = None

    @field_validator("ghl_api_token", "calltools_api_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        return _token(value)

    def secret_json(self) -> dict[str, Any]:
        """The secret's value (only the secrets adapter calls this)."""
        fields = {
            "ghl_api_token": self.ghl_api_token,
            "calltools_api_token": self.calltools_api_token,
        }
        data: dict[str, Any] = {k: v.get_secret_value() for k, v in fields.items() if v is not None}
        if self.ghl_oauth is not None:
            data["ghl_oauth"] = self.ghl_oauth.secret_json()
        return data


@dataclass(frozen=True)
class BuiltinLocation:
    """The location the environment configures (GHL_LOCATION_ID, its tokens, SYNC_RULES): not in
    the registry, and changed only by changing the environment."""

    location_id: str
    calltools_api_base_url: str
    rules: tuple[Rule, ...]

    def public(self) -> dict[str, Any]:
        return {
            "location_id": self.location_id,
            "name": "(environment)",
            "ghl_auth": "pit",
            "calltools_api_base_url": self.calltools_api_base_url,
            "rules": [r.model_dump(mode="json") for r in self.rules],
            "active": True,
            "builtin": True,
        }
