"""The groups of Settings (settings.py): one frozen model per part of the system a value configures.

Each field's environment variable is in settings.ENV_NAMES; only Settings reads the environment.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from chalicelib.domain.location import check_calltools_base_url
from chalicelib.domain.outcomes import OutcomeRules, parse_outcome_rules
from chalicelib.domain.rules import Rule, parse_rules

DEFAULT_RULES = '[{"tag": "cold lead", "bucket": "Cold Leads"}]'
BUCKET_METHODS = frozenset({"auto", "contact_patch", "bucket_patch", "contactbuckets"})


class Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GhlSettings(Group):
    """GoHighLevel: which events are ours, and its API with our pace towards it."""

    # Required: events of any other location (or of none) are ignored; without it, none are taken.
    location_id: str = Field(default="", description="Only events of this location are synced")
    app_id: str = Field(
        default="", description="When set, marketplace events of other apps are ignored"
    )
    webhook_public_keys: str = Field(
        default="", description="PEM blocks replacing GHL's published webhook keys"
    )
    workflow_secret: SecretStr = Field(default=SecretStr(""))
    api_token: SecretStr = Field(default=SecretStr(""))
    api_base_url: str = "https://services.leadconnectorhq.com"
    api_version: str = "2021-07-28"
    max_rps: float = Field(default=8.0, gt=0)
    # Calls one consumer may start at once after an idle moment, so one contact's few calls need
    # not wait out the spacing; the sustained rate still holds. Lowered so that every instance
    # bursting at once stays within one second of the total rate (pacing.shared_burst).
    burst: int = Field(default=2, ge=1, le=10)
    # The marketplace app's OAuth (docs/locations.md): off until the client id and secret and
    # GHL_APP_ID are all set.
    oauth_client_id: str = ""
    oauth_client_secret: SecretStr = Field(default=SecretStr(""))
    oauth_redirect_uri: str = Field(default="", pattern=r"^(https?://[^\s]+)?$")

    @property
    def oauth_configured(self) -> bool:
        """Client id and app id set; the secret is checked with its secret id (Settings)."""
        return bool(self.oauth_client_id.strip() and self.app_id.strip())


class CallToolsSettings(Group):
    """CallTools: its API, how a contact is written there, and our pace towards it."""

    api_token: SecretStr = Field(default=SecretStr(""))
    # The secret CallTools' rest hooks carry (`?token=` on the subscribed URL): unset refuses them.
    webhook_secret: SecretStr = Field(default=SecretStr(""))
    api_base_url: str = "https://east-1.calltools.io/api/"
    # Which of the candidate bucket-assignment calls to use; "auto" probes and verifies at run time.
    bucket_method: str = "auto"
    phone_field: str = "mobile_phone_number"
    ghl_id_field: str = "ghl_contact_id"
    max_rps: float = Field(default=5.0, gt=0)
    # A new contact's calls: search and create, and an add where the create cannot carry it.
    burst: int = Field(default=3, ge=1, le=10)
    # How long a create whose reply was lost may still be applied on the server: until then,
    # finding nothing by its phone does not prove nothing was made.
    create_settle_seconds: float = Field(default=300.0, ge=0, le=900)

    @field_validator("api_base_url")
    @classmethod
    def _https_base_url(cls, value: str) -> str:
        # The same rule as a registered location's (https; http on loopback for the sandbox).
        return check_calltools_base_url(value)

    @field_validator("bucket_method")
    @classmethod
    def _known_bucket_method(cls, value: str) -> str:
        if value not in BUCKET_METHODS:
            raise ValueError(f"must be one of {sorted(BUCKET_METHODS)}")
        return value


class SyncSettings(Group):
    """What a contact's sync decides from: the rules, phone parsing, and how fresh data must be."""

    rules_json: str = DEFAULT_RULES
    default_phone_region: str = "US"
    # A snapshot older than this is re-read from GHL before it may add a contact to a bucket.
    snapshot_trust_seconds: float = Field(default=60.0, ge=0)

    @field_validator("rules_json")
    @classmethod
    def _rules_are_valid(cls, value: str) -> str:
        parse_rules(value)
        return value

    @property
    def rules(self) -> list[Rule]:
        return parse_rules(self.rules_json)


class OutcomeSettings(Group):
    """Call outcomes, CallTools → GHL: what a disposition writes, and how notes tell the time."""

    rules_json: str = ""  # OUTCOME_RULES; empty: the defaults (domain/outcomes.py)
    # Notes give the call's time in the location's zone (an IANA name).
    location_timezone: str = "UTC"
    # The catch-up (daily run, /sync/trigger) queues at most this many outcomes a run.
    catchup_limit: int = Field(default=5000, ge=1, le=100_000)

    @field_validator("rules_json")
    @classmethod
    def _rules_are_valid(cls, value: str) -> str:
        parse_outcome_rules(value)
        return value

    @field_validator("location_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def rules(self) -> OutcomeRules:
        return parse_outcome_rules(self.rules_json)


class AwsSettings(Group):
    """Where the queue, the table and the secrets are (another endpoint: e.g. a moto server)."""

    region: str = "us-east-1"
    endpoint_url: str = ""
    # Set by Lambda itself: a deployed stage, where loopback is Lambda's own runtime API.
    lambda_function_name: str = ""

    @property
    def in_lambda(self) -> bool:
        return bool(self.lambda_function_name)


class QueueSettings(Group):
    """The contact queue, its DLQ and its consumer (the Lambda's SQS trigger)."""

    name: str = "ghl-calltools-contacts"
    # Read when `chalice deploy/package` imports app.py: wire the trigger to this queue ARN.
    arn: str = ""
    url: str = ""
    dlq_url: str = ""
    # Lambda's SQS maximum concurrency (2..1000): with the client limiter, CallTools' pace.
    consumer_max_concurrency: int = Field(default=2, ge=2, le=1000)
    # Stop taking new records when less than this is left of the Lambda's time.
    batch_time_reserve_seconds: float = Field(default=25.0, ge=0)
    # Records of one batch synced side by side in an invocation: their API waits overlap
    # (services/record_pool.py), while each instance keeps to its share of every API's rate.
    records_at_once: int = Field(default=4, ge=1, le=10)


class StateSettings(Group):
    """The DynamoDB state table: what it remembers, and for how long a contact is held in it."""

    table_name: str = "ghl-calltools-state"
    dedup_ttl_days: int = Field(default=14, ge=1, le=365)
    # Must outlast one CallTools call with its retries (checked by Settings).
    contact_lease_seconds: int = Field(default=120, ge=5)

    @property
    def dedup_ttl_seconds(self) -> int:
        return self.dedup_ttl_days * 86400


class ReconcileSettings(Group):
    """The daily reconciliation run."""

    # EventBridge schedule of the daily run; read when `chalice deploy/package` imports app.py.
    schedule: str = "cron(0 2 * * ? *)"
    page_limit: int = Field(default=500, ge=1, le=500)
    # How long one step of a run may walk pages before handing over to the next invocation.
    step_seconds: float = Field(default=60.0, gt=0)
    # The walk feeds the queue at most this many seconds of the consumers' work, measured as the
    # queue's depth over its drain rate, so its hits are taken while fresh (less than
    # SNAPSHOT_TRUST_SECONDS).
    backlog_seconds: float = Field(default=30.0, gt=0)
    # And at most this many contacts waiting in the queue (0: no cap in messages).
    max_backlog: int = Field(default=1000, ge=0)


class SecretsSettings(Group):
    """Secrets Manager (deployed stages): when an id is set, the secret's value replaces the plain
    setting it names, read at run time and cached `max_age_seconds`."""

    ghl_api_token_id: str = ""
    calltools_api_token_id: str = ""
    ghl_workflow_secret_id: str = ""
    admin_api_token_id: str = ""
    calltools_webhook_secret_id: str = ""
    ghl_oauth_client_secret_id: str = ""
    max_age_seconds: int = Field(default=300, ge=0)
    # Each registered location's tokens: the secret `<prefix><locationId>` (docs/locations.md).
    location_prefix: str = Field(
        default="ghl-calltools/local/locations/", pattern=r"^[A-Za-z0-9/_+=.@-]{1,400}/$"
    )


class HttpSettings(Group):
    """Every call to GHL and CallTools: its timeout, and the retries it may make."""

    timeout_seconds: float = Field(default=10.0, gt=0)
    retry_budget_seconds: float = Field(default=20.0, gt=0)
    retry_max_attempts: int = Field(default=5, ge=1)


class AdminSettings(Group):
    """The admin API: its token, and where the operator CLI finds it (the local stack by default)."""

    api_token: SecretStr = Field(default=SecretStr(""))
    api_url: str = ""


class LocalSettings(Group):
    """The local stack only (`make run`)."""

    port: int = Field(default=8000, ge=0, le=65535)
    # Emulate the event source mapping with ReportBatchItemFailures (Chalice deploys it without).
    report_batch_item_failures: bool = False
    state_dir: str = ".devstack"
