"""All configuration, in one pydantic-settings model. Nothing else in the product reads os.environ."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chalicelib.domain.rules import Rule, parse_rules

DEFAULT_RULES = '[{"tag": "cold lead", "bucket": "Cold Leads"}]'


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, populate_by_name=True
    )

    # --- GoHighLevel ---------------------------------------------------------------------------
    # Required: events of any other location (or of none) are ignored; without it, none are taken.
    ghl_location_id: str = Field(default="", description="Only events of this location are synced")
    ghl_app_id: str = Field(
        default="", description="When set, marketplace events of other apps are ignored"
    )
    ghl_webhook_public_keys: str = Field(
        default="", description="PEM blocks replacing GHL's published webhook keys"
    )
    ghl_workflow_secret: SecretStr = Field(default=SecretStr(""))
    ghl_api_token: SecretStr = Field(default=SecretStr(""))
    ghl_api_base_url: str = "https://services.leadconnectorhq.com"
    ghl_api_version: str = "2021-07-28"

    # --- CallTools -------------------------------------------------------------------------------
    calltools_api_token: SecretStr = Field(default=SecretStr(""))
    calltools_api_base_url: str = "https://east-1.calltools.io/api/"
    # Which of the candidate bucket-assignment calls to use; "auto" probes and verifies at run time.
    calltools_bucket_method: str = "auto"
    calltools_phone_field: str = "mobile_phone_number"
    calltools_ghl_id_field: str = "ghl_contact_id"

    # --- Sync ------------------------------------------------------------------------------------
    sync_rules: str = DEFAULT_RULES
    default_phone_region: str = "US"

    # --- AWS -------------------------------------------------------------------------------------
    aws_region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    aws_endpoint_url: str = ""
    sync_queue_name: str = "ghl-calltools-contacts"
    # Read when `chalice deploy/package` imports app.py: wire the trigger to this queue ARN.
    sync_queue_arn: str = ""
    # Lambda's SQS maximum concurrency (2..1000): with the client limiter, CallTools' pace.
    consumer_max_concurrency: int = Field(default=2, ge=2, le=1000)
    sync_queue_url: str = ""
    sync_dlq_url: str = ""
    state_table_name: str = "ghl-calltools-state"
    dedup_ttl_days: int = Field(default=14, ge=1, le=365)

    # --- Reconciliation and admin ------------------------------------------------------------------
    admin_api_token: SecretStr = Field(default=SecretStr(""))
    # EventBridge schedule of the daily run; read when `chalice deploy/package` imports app.py.
    reconcile_schedule: str = "cron(0 2 * * ? *)"
    reconcile_page_limit: int = Field(default=500, ge=1, le=500)
    # How long one step of a run may walk pages before handing over to the next invocation.
    reconcile_step_seconds: float = Field(default=60.0, gt=0)
    # A step pauses the walk while more contacts than this wait in the queue.
    reconcile_max_backlog: int = Field(default=1000, ge=0)
    ghl_max_rps: float = Field(default=8.0, gt=0)
    calltools_max_rps: float = Field(default=5.0, gt=0)
    # Calls one consumer may start at once after an idle moment, so one contact's few calls need
    # not wait out the spacing; the sustained rates above still hold. Lowered so that every
    # instance bursting at once stays within one second of the total rate (pacing.shared_burst).
    ghl_burst: int = Field(default=2, ge=1, le=10)
    # A new contact's calls: search and create, and an add where the create cannot carry it.
    calltools_burst: int = Field(default=3, ge=1, le=10)

    # --- Secrets Manager (deployed stages): when an id is set, the secret's value replaces the
    # plain setting of the same name, read at run time and cached `secrets_max_age_seconds`.
    ghl_api_token_secret_id: str = ""
    calltools_api_token_secret_id: str = ""
    ghl_workflow_secret_secret_id: str = ""
    admin_api_token_secret_id: str = ""
    secrets_max_age_seconds: int = Field(default=300, ge=0)

    # --- Robustness ------------------------------------------------------------------------------
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    retry_budget_seconds: float = Field(default=20.0, gt=0)
    retry_max_attempts: int = Field(default=5, ge=1)
    contact_lease_seconds: int = Field(default=120, ge=5)
    # How long a CallTools create whose reply was lost may still be applied on the server: until
    # then, finding nothing by its phone does not prove nothing was made.
    calltools_create_settle_seconds: float = Field(default=300.0, ge=0, le=900)
    # A snapshot older than this is re-read from GHL before it may add a contact to a bucket.
    snapshot_trust_seconds: float = Field(default=60.0, ge=0)
    # Stop taking new records when less than this is left of the Lambda's time.
    batch_time_reserve_seconds: float = Field(default=25.0, ge=0)

    # --- Operator CLI: where the admin API is (the local stack by default) ------------------------
    sync_api_url: str = ""

    # --- Local stack only (`make run`) -------------------------------------------------------------
    port: int = Field(default=8000, ge=0, le=65535)
    # Emulate the event source mapping with ReportBatchItemFailures (Chalice deploys it without).
    local_report_batch_item_failures: bool = False
    local_state_dir: str = ".devstack"

    @field_validator("sync_rules")
    @classmethod
    def _rules_are_valid(cls, value: str) -> str:
        parse_rules(value)
        return value

    @field_validator("calltools_bucket_method")
    @classmethod
    def _known_bucket_method(cls, value: str) -> str:
        allowed = {"auto", "contact_patch", "bucket_patch", "contactbuckets"}
        if value not in allowed:
            raise ValueError(f"must be one of {sorted(allowed)}")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_a_call(self) -> Settings:
        # A worker holds a contact's lease across one CallTools call with all its retries; a
        # shorter lease would let a second worker act on the contact while the call runs.
        longest_call = self.retry_budget_seconds + self.http_timeout_seconds
        if self.contact_lease_seconds <= longest_call:
            raise ValueError(
                f"CONTACT_LEASE_SECONDS ({self.contact_lease_seconds}) must exceed "
                f"RETRY_BUDGET_SECONDS + HTTP_TIMEOUT_SECONDS ({longest_call:g})"
            )
        return self

    @property
    def scope_problem(self) -> str | None:
        """Why no webhook may be accepted with these settings (GHL signs every app's events with
        one key, so without our location id anyone's events would pass)."""
        if not self.ghl_location_id.strip():
            return "GHL_LOCATION_ID is not set: refusing every event rather than accepting all"
        return None

    @property
    def rules(self) -> list[Rule]:
        return parse_rules(self.sync_rules)

    @property
    def dedup_ttl_seconds(self) -> int:
        return self.dedup_ttl_days * 86400

    def public_summary(self) -> dict[str, Any]:
        """Settings safe to print: secrets reduced to set/unset."""
        data = self.model_dump()
        for name, value in list(data.items()):
            if isinstance(getattr(self, name), SecretStr):
                data[name] = "set" if value.get_secret_value() else "unset"
        data["sync_rules"] = json.loads(self.sync_rules)
        return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def stage_settings(variables: dict[str, str]) -> Settings:
    """The settings a stage's `environment_variables` (names as in the environment) give, and the
    defaults for the rest, never the environment's: what `chalice deploy` builds the triggers
    from, so that the deploying shell cannot change them."""
    defaults = {
        name: field.get_default(call_default_factory=True)
        for name, field in Settings.model_fields.items()
    }
    given = {name.lower(): value for name, value in variables.items()}
    return Settings.model_validate({**defaults, **given})
