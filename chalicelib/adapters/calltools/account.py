"""How a CallTools account is used: the calls and fields this client may pick between."""

from __future__ import annotations

from dataclasses import dataclass

BUCKET_METHODS = ("contact_patch", "bucket_patch", "contactbuckets")
PHONE_FIELDS = ("mobile_phone_number", "home_phone_number", "office_phone_number")
# A phone search should find a handful; more suggests the filter was ignored (reference §4).
MAX_SEARCH_PAGES = 3


@dataclass(frozen=True)
class AccountConventions:
    """How this CallTools account is used: which bucket-assignment call (`auto`: probe and
    verify), the custom field holding our GHL id, and the region of phones without a country."""

    bucket_method: str = "auto"
    ghl_id_field: str = "ghl_contact_id"
    default_region: str = "US"


DEFAULT_ACCOUNT = AccountConventions()
