"""All configuration, in one pydantic model. Nothing else in the product reads os.environ.

The model is grouped (settings_groups.py: `settings.ghl.location_id`, `settings.queue.name`, ...);
the environment keeps its flat names (GHL_LOCATION_ID, SYNC_QUEUE_NAME, ...), mapped by ENV_NAMES.
Flat names are also what `Settings(...)`, `Settings.model_validate` and `stage_settings` take.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo

from chalicelib.domain.rules import Rule
from chalicelib.runtime.settings_groups import (
    AdminSettings,
    AwsSettings,
    CallToolsSettings,
    GhlSettings,
    Group,
    HttpSettings,
    LocalSettings,
    OutcomeSettings,
    QueueSettings,
    ReconcileSettings,
    SecretsSettings,
    StateSettings,
    SyncSettings,
)

# Environment variable (lower case) → (group, field). The names are those the deployed stages and
# docs/configuration.md use; their order is public_summary's.
ENV_NAMES: dict[str, tuple[str, str]] = {
    "ghl_location_id": ("ghl", "location_id"),
    "ghl_app_id": ("ghl", "app_id"),
    "ghl_webhook_public_keys": ("ghl", "webhook_public_keys"),
    "ghl_workflow_secret": ("ghl", "workflow_secret"),
    "ghl_api_token": ("ghl", "api_token"),
    "ghl_api_base_url": ("ghl", "api_base_url"),
    "ghl_api_version": ("ghl", "api_version"),
    "ghl_oauth_client_id": ("ghl", "oauth_client_id"),
    "ghl_oauth_client_secret": ("ghl", "oauth_client_secret"),
    "ghl_oauth_redirect_uri": ("ghl", "oauth_redirect_uri"),
    "calltools_api_token": ("calltools", "api_token"),
    "calltools_webhook_secret": ("calltools", "webhook_secret"),
    "calltools_api_base_url": ("calltools", "api_base_url"),
    "calltools_bucket_method": ("calltools", "bucket_method"),
    "calltools_phone_field": ("calltools", "phone_field"),
    "calltools_ghl_id_field": ("calltools", "ghl_id_field"),
    "sync_rules": ("sync", "rules_json"),
    "default_phone_region": ("sync", "default_phone_region"),
    "outcome_rules": ("outcomes", "rules_json"),
    "ghl_location_timezone": ("outcomes", "location_timezone"),
    "outcome_catchup_limit": ("outcomes", "catchup_limit"),
    "aws_region": ("aws", "region"),
    "aws_endpoint_url": ("aws", "endpoint_url"),
    "aws_lambda_function_name": ("aws", "lambda_function_name"),
    "sync_queue_name": ("queue", "name"),
    "sync_queue_arn": ("queue", "arn"),
    "consumer_max_concurrency": ("queue", "consumer_max_concurrency"),
    "sync_queue_url": ("queue", "url"),
    "sync_dlq_url": ("queue", "dlq_url"),
    "state_table_name": ("state", "table_name"),
    "dedup_ttl_days": ("state", "dedup_ttl_days"),
    "admin_api_token": ("admin", "api_token"),
    "reconcile_schedule": ("reconcile", "schedule"),
    "reconcile_page_limit": ("reconcile", "page_limit"),
    "reconcile_step_seconds": ("reconcile", "step_seconds"),
    "reconcile_max_backlog": ("reconcile", "max_backlog"),
    "reconcile_backlog_seconds": ("reconcile", "backlog_seconds"),
    "ghl_max_rps": ("ghl", "max_rps"),
    "calltools_max_rps": ("calltools", "max_rps"),
    "ghl_burst": ("ghl", "burst"),
    "calltools_burst": ("calltools", "burst"),
    "ghl_api_token_secret_id": ("secrets", "ghl_api_token_id"),
    "calltools_api_token_secret_id": ("secrets", "calltools_api_token_id"),
    "ghl_workflow_secret_secret_id": ("secrets", "ghl_workflow_secret_id"),
    "admin_api_token_secret_id": ("secrets", "admin_api_token_id"),
    "calltools_webhook_secret_secret_id": ("secrets", "calltools_webhook_secret_id"),
    "ghl_oauth_client_secret_secret_id": ("secrets", "ghl_oauth_client_secret_id"),
    "secrets_max_age_seconds": ("secrets", "max_age_seconds"),
    "location_secrets_prefix": ("secrets", "location_prefix"),
    "http_timeout_seconds": ("http", "timeout_seconds"),
    "retry_budget_seconds": ("http", "retry_budget_seconds"),
    "retry_max_attempts": ("http", "retry_max_attempts"),
    "contact_lease_seconds": ("state", "contact_lease_seconds"),
    "calltools_create_settle_seconds": ("calltools", "create_settle_seconds"),
    "snapshot_trust_seconds": ("sync", "snapshot_trust_seconds"),
    "batch_time_reserve_seconds": ("queue", "batch_time_reserve_seconds"),
    "consumer_records_at_once": ("queue", "records_at_once"),
    "sync_api_url": ("admin", "api_url"),
    "port": ("local", "port"),
    "local_report_batch_item_failures": ("local", "report_batch_item_failures"),
    "local_state_dir": ("local", "state_dir"),
}
# aws_region's names, first found first: AWS_REGION (Lambda's), then AWS_DEFAULT_REGION.
REGION_NAMES = ("aws_region", "aws_default_region")

GROUPS: dict[str, type[Group]] = {
    "ghl": GhlSettings,
    "calltools": CallToolsSettings,
    "sync": SyncSettings,
    "outcomes": OutcomeSettings,
    "aws": AwsSettings,
    "queue": QueueSettings,
    "state": StateSettings,
    "reconcile": ReconcileSettings,
    "secrets": SecretsSettings,
    "http": HttpSettings,
    "admin": AdminSettings,
    "local": LocalSettings,
}


def _grouped(flat: Mapping[str, Any]) -> dict[str, Any]:
    """`flat` with its flat names (ENV_NAMES, REGION_NAMES; in any case) moved into their groups;
    a flat name wins over the same field given in its group. Other keys are kept as they are."""
    data: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    regions: dict[str, Any] = {}
    for key, value in flat.items():
        name = key.lower() if isinstance(key, str) else key
        if name in REGION_NAMES:
            regions[name] = value
        elif name in ENV_NAMES:
            group, field = ENV_NAMES[name]
            groups.setdefault(group, {})[field] = value
        else:
            data[key] = value
    for name in REGION_NAMES:
        if name in regions:
            groups.setdefault("aws", {}).setdefault("region", regions[name])
    for group, fields in groups.items():
        current = data.get(group, {})
        if isinstance(current, BaseModel):
            current = current.model_dump(exclude_unset=True)
        if isinstance(current, Mapping):  # anything else is left for validation to refuse
            data[group] = {**current, **fields}
    return data


def _environment() -> dict[str, Any]:
    """The environment under the names of ENV_NAMES and REGION_NAMES, case-insensitively, grouped."""
    env = {name.lower(): value for name, value in os.environ.items()}
    return _grouped({k: v for k, v in env.items() if k in ENV_NAMES or k in REGION_NAMES})


def _deep_update(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """`update` over `base`, dicts in both merged key by key (as pydantic-settings merges sources)."""
    merged = dict(base)
    for key, value in update.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _deep_update(current, value)
        else:
            merged[key] = value
    return merged


class Settings(BaseModel):
    # A plain model reading the environment in __init__, not pydantic-settings' BaseSettings: that
    # package's import (its CLI source pulls in asyncio) was a sixth of `import app`, for two
    # sources this class replaced anyway.
    model_config = ConfigDict(extra="ignore", validate_default=True)

    ghl: GhlSettings = Field(default_factory=GhlSettings)
    calltools: CallToolsSettings = Field(default_factory=CallToolsSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    outcomes: OutcomeSettings = Field(default_factory=OutcomeSettings)
    aws: AwsSettings = Field(default_factory=AwsSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    reconcile: ReconcileSettings = Field(default_factory=ReconcileSettings)
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    local: LocalSettings = Field(default_factory=LocalSettings)

    def __init__(self, **values: Any) -> None:
        # Arguments first, then the environment's flat names; no .env file, no secrets directory.
        # pydantic runs this for model_validate too, as it did BaseSettings'.
        super().__init__(**_deep_update(_environment(), values))

    @model_validator(mode="before")
    @classmethod
    def _group_flat_names(cls, data: Any) -> Any:
        return _grouped(data) if isinstance(data, Mapping) else data

    @model_validator(mode="after")
    def _lease_outlasts_a_call(self) -> Settings:
        # A worker holds a contact's lease across one CallTools call with all its retries; a
        # shorter lease would let a second worker act on the contact while the call runs.
        longest_call = self.http.retry_budget_seconds + self.http.timeout_seconds
        if self.state.contact_lease_seconds <= longest_call:
            raise ValueError(
                f"CONTACT_LEASE_SECONDS ({self.state.contact_lease_seconds}) must exceed "
                f"RETRY_BUDGET_SECONDS + HTTP_TIMEOUT_SECONDS ({longest_call:g})"
            )
        return self

    @model_validator(mode="after")
    def _hits_fresh_when_taken(self) -> Settings:
        # The walk keeps at most RECONCILE_BACKLOG_SECONDS of work queued so its hits are taken
        # while fresh enough to add without a re-read; a bound past the trust window defeats it.
        trust = self.sync.snapshot_trust_seconds
        if self.reconcile.backlog_seconds >= trust:
            raise ValueError(
                f"RECONCILE_BACKLOG_SECONDS ({self.reconcile.backlog_seconds:g}) must be less "
                f"than SNAPSHOT_TRUST_SECONDS ({trust:g})"
            )
        return self

    @property
    def scope_problem(self) -> str | None:
        """Why no webhook may be accepted with these settings (GHL signs every app's events with
        one key, so without our location id anyone's events would pass)."""
        if not self.ghl.location_id.strip():
            return "GHL_LOCATION_ID is not set: refusing every event rather than accepting all"
        return None

    @property
    def rules(self) -> list[Rule]:
        return self.sync.rules

    @property
    def dedup_ttl_seconds(self) -> int:
        return self.state.dedup_ttl_seconds

    @classmethod
    def env_fields(cls) -> dict[str, FieldInfo]:
        """Each environment variable's field (type, default, bounds), by its lower-case name."""
        return {env: GROUPS[group].model_fields[name] for env, (group, name) in ENV_NAMES.items()}

    def env_values(self) -> dict[str, Any]:
        """Each environment variable's value (secrets as SecretStr), by its lower-case name."""
        return {
            env: getattr(getattr(self, group), name) for env, (group, name) in ENV_NAMES.items()
        }

    @property
    def env_names_set(self) -> set[str]:
        """The variables given (in the environment or as arguments) rather than left at default."""
        return {
            env
            for env, (group, name) in ENV_NAMES.items()
            if name in getattr(self, group).model_fields_set
        }

    def secret_setting(self, name: str) -> tuple[SecretStr, str]:
        """A secret setting (e.g. "ghl_api_token"): its plain value, and the id of the Secrets
        Manager secret whose value replaces it (`<name>_secret_id`; empty when none)."""
        values = self.env_values()
        plain, secret_id = values[name], values[f"{name}_secret_id"]
        assert isinstance(plain, SecretStr) and isinstance(secret_id, str), name
        return plain, secret_id

    def public_summary(self) -> dict[str, Any]:
        """Settings safe to print, by variable: secrets reduced to set/unset."""
        data = {
            env: ("set" if value.get_secret_value() else "unset")
            if isinstance(value, SecretStr)
            else value
            for env, value in self.env_values().items()
        }
        data["sync_rules"] = json.loads(self.sync.rules_json)
        data["outcome_rules"] = self.outcomes.rules.model_dump(mode="json")
        return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError.of(exc) from exc


class SettingsError(ValueError):
    """Invalid settings, each named by the environment variable the operator sets (the model's
    own errors name group fields, such as `queue.consumer_max_concurrency`)."""

    @classmethod
    def of(cls, error: ValidationError) -> SettingsError:
        variables = {place: name.upper() for name, place in ENV_NAMES.items()}
        problems = []
        for item in error.errors():
            place = tuple(str(part) for part in item["loc"][:2])
            name = variables.get(place) if len(place) == 2 else None
            problems.append(f"{name or '.'.join(place) or 'settings'}: {item['msg']}")
        return cls("invalid settings: " + "; ".join(problems))


def stage_settings(variables: dict[str, str]) -> Settings:
    """The settings a stage's `environment_variables` (names as in the environment) give, and the
    defaults for the rest, never the environment's: what `chalice deploy` builds the triggers
    from, so that the deploying shell cannot change them."""
    # Every variable is given (validation runs __init__, whose arguments win over the environment).
    defaults = {
        name: field.get_default(call_default_factory=True)
        for name, field in Settings.env_fields().items()
    }
    given = {
        name.lower(): value
        for name, value in variables.items()
        if name.lower() in ENV_NAMES or name.lower() in REGION_NAMES
    }
    try:
        return Settings.model_validate({**defaults, **given})
    except ValidationError as exc:
        raise SettingsError.of(exc) from exc
