"""Builds the real adapters from Settings, once per Lambda container.

Imports happen inside each builder: the webhook Lambda never loads the consumer's libraries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.runtime.settings import Settings, get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient, DynamoDBServiceResource
    from mypy_boto3_sqs import SQSClient

    from chalicelib.adapters.aws.idempotency import PowertoolsDedup
    from chalicelib.adapters.aws.queue import SqsContactQueue
    from chalicelib.adapters.aws.runs import DynamoRunStore
    from chalicelib.adapters.aws.secrets import SecretSource
    from chalicelib.adapters.aws.state import DynamoStateStore
    from chalicelib.adapters.calltools.api import CallToolsHttpApi
    from chalicelib.adapters.ghl.api import GhlHttpApi
    from chalicelib.adapters.http.client import ClientOptions
    from chalicelib.adapters.http.retry import RetryPolicy
    from chalicelib.domain.sync_plan import FieldMapping
    from chalicelib.runtime.location_wiring import LocationWiring
    from chalicelib.runtime.oauth_wiring import OAuthWiring
    from chalicelib.runtime.operator_wiring import OperatorWiring
    from chalicelib.runtime.outcome_wiring import OutcomeWiring
    from chalicelib.services.consumer import BatchConsumer
    from chalicelib.services.intake import WebhookIntake
    from chalicelib.services.reconcile import Reconciler
    from chalicelib.services.rule_book import RuleBook
    from chalicelib.services.sync import ContactSync


class Container:
    """Holds one instance of each adapter and service for the given settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _boto_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"region_name": self.settings.aws.region}
        if self.settings.aws.endpoint_url:
            kwargs["endpoint_url"] = self.settings.aws.endpoint_url
        return kwargs

    def boto_client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, **self._boto_kwargs())  # type: ignore[call-overload]

    @cached_property
    def sqs(self) -> SQSClient:
        import boto3

        return boto3.client("sqs", **self._boto_kwargs())

    @cached_property
    def dynamodb_client(self) -> DynamoDBClient:
        import boto3

        return boto3.client("dynamodb", **self._boto_kwargs())

    @cached_property
    def dynamodb(self) -> DynamoDBServiceResource:
        import boto3

        return boto3.resource("dynamodb", **self._boto_kwargs())

    @cached_property
    def secrets(self) -> SecretSource:
        from chalicelib.adapters.aws.secrets import SecretSource

        def client() -> Any:
            import boto3

            return boto3.client("secretsmanager", **self._boto_kwargs())

        return SecretSource(client, max_age=self.settings.secrets.max_age_seconds)

    def secret(self, name: str) -> Callable[[], str]:
        """The setting `name`, or the Secrets Manager secret named by `<name>_secret_id`."""
        plain, secret_id = self.settings.secret_setting(name)
        return self.secrets.provider(secret_id, plain.get_secret_value())

    @cached_property
    def queue(self) -> SqsContactQueue:
        from chalicelib.adapters.aws.queue import SqsContactQueue

        q = self.settings.queue
        url = q.url or self.sqs.get_queue_url(QueueName=q.name)["QueueUrl"]
        dlq = q.dlq_url
        if not dlq:
            dlq = self.sqs.get_queue_url(QueueName=f"{q.name}-dlq")["QueueUrl"]
        return SqsContactQueue(self.sqs, url, dlq)

    @cached_property
    def state_store(self) -> DynamoStateStore:
        from chalicelib.adapters.aws.state import DynamoStateStore

        return DynamoStateStore(self.dynamodb.Table(self.settings.state.table_name))

    @cached_property
    def dedup(self) -> PowertoolsDedup:
        from chalicelib.adapters.aws.idempotency import PowertoolsDedup

        state = self.settings.state
        return PowertoolsDedup(self.dynamodb_client, state.table_name, state.dedup_ttl_seconds)

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        from chalicelib.adapters.http.retry import RetryPolicy

        http = self.settings.http
        return RetryPolicy(
            budget_seconds=http.retry_budget_seconds, max_attempts=http.retry_max_attempts
        )

    def _client_options(self, max_rps: float, burst: int) -> ClientOptions:
        """One instance's share of an API's rate: up to `consumer_max_concurrency` instances
        call it at once, so each paces itself at its part of the limit."""
        from chalicelib.adapters.http.client import ClientOptions
        from chalicelib.adapters.http.pacing import shared_burst

        instances = self.settings.queue.consumer_max_concurrency
        return ClientOptions(
            timeout=self.settings.http.timeout_seconds,
            retry=self.retry_policy,
            max_rps=max_rps / instances,
            burst=shared_burst(burst, max_rps, instances),
        )

    @cached_property
    def ghl(self) -> GhlHttpApi:
        from chalicelib.adapters.ghl.api import GhlHttpApi

        ghl = self.settings.ghl
        return GhlHttpApi(
            ghl.api_base_url,
            self.secret("ghl_api_token"),
            version=ghl.api_version,
            # Every consumer instance (and the API function) shares GHL's per-location budget.
            options=self._client_options(ghl.max_rps, ghl.burst),
        )

    @cached_property
    def calltools(self) -> CallToolsHttpApi:
        from chalicelib.adapters.calltools.account import AccountConventions
        from chalicelib.adapters.calltools.api import CallToolsHttpApi

        ct = self.settings.calltools
        return CallToolsHttpApi(
            ct.api_base_url,
            self.secret("calltools_api_token"),
            account=AccountConventions(
                bucket_method=ct.bucket_method,
                ghl_id_field=ct.ghl_id_field,
                default_region=self.settings.sync.default_phone_region,
            ),
            # The limit is per account; each concurrent consumer takes its share.
            options=self._client_options(ct.max_rps, ct.burst),
        )

    @cached_property
    def webhook_intake(self) -> WebhookIntake:
        from chalicelib.adapters.ghl.signature import GhlSignatureVerifier
        from chalicelib.services.intake import WebhookIntake

        ghl = self.settings.ghl
        return WebhookIntake(
            GhlSignatureVerifier.from_pem(ghl.webhook_public_keys),
            self.queue,
            workflow_secret=self.secret("ghl_workflow_secret"),
            location_id=ghl.location_id,
            app_id=ghl.app_id,
            replay_after=timedelta(days=self.settings.state.dedup_ttl_days),
            locations=self.locations.tenancy.directory,  # registered locations' events
            app_events=lambda body: self.oauth.app_events.handle_install_event(body),
        )

    @cached_property
    def rulebook(self) -> RuleBook:
        from chalicelib.services.rule_book import RuleBook

        return RuleBook(
            self.settings.rules,
            self.calltools,
            on_resolved=self.state_store.note_bucket_names,
            memory=self.state_store,
        )

    @cached_property
    def field_mapping(self) -> FieldMapping:
        from chalicelib.domain.sync_plan import FieldMapping

        s = self.settings
        return FieldMapping(
            phone_field=s.calltools.phone_field,
            ghl_id_field=s.calltools.ghl_id_field,
            default_region=s.sync.default_phone_region,
        )

    @cached_property
    def contact_sync(self) -> ContactSync:
        from chalicelib.domain.scope import Scope
        from chalicelib.services.sync import ContactSync, SyncTimings

        s = self.settings
        return ContactSync(
            ghl=self.ghl,
            calltools=self.calltools,
            store=self.state_store,
            rulebook=self.rulebook,
            mapping=self.field_mapping,
            scope=Scope(s.ghl.location_id, s.ghl.app_id),
            timings=SyncTimings(
                lease_seconds=s.state.contact_lease_seconds,
                snapshot_trust_seconds=s.sync.snapshot_trust_seconds,
                create_settle_seconds=s.calltools.create_settle_seconds,
            ),
            search=self.ghl,
        )

    @cached_property
    def batch_consumer(self) -> BatchConsumer:
        from chalicelib.services.consumer import BatchConsumer
        from chalicelib.services.outcomes.handlers import outcome_handlers

        return BatchConsumer(
            self.contact_sync,
            self.dedup,
            self.queue,
            time_reserve_ms=int(self.settings.queue.batch_time_reserve_seconds * 1000),
            records_at_once=self.settings.queue.records_at_once,
            run_step=self.reconciler.step,
            webhook_clock=self.state_store.note_webhook,
            # Built when first used: a contact's sync never loads the outcome adapters.
            more_handlers=outcome_handlers(
                lambda message: self.outcomes.sync.apply(message),
                lambda: self.outcomes.catch_up.run(),
                self.queue,
            ),
            tenants=self.locations.tenancy.tenants,  # registered locations' own syncs
        )

    @cached_property
    def outcomes(self) -> OutcomeWiring:
        """Call outcomes, CallTools → GHL (runtime/outcome_wiring.py)."""
        from chalicelib.runtime.outcome_wiring import OutcomeWiring

        return OutcomeWiring(self)

    @cached_property
    def locations(self) -> LocationWiring:
        """The location registry and its admin API (runtime/location_wiring.py)."""
        from chalicelib.runtime.location_wiring import LocationWiring

        return LocationWiring(self)

    @cached_property
    def oauth(self) -> OAuthWiring:
        """GHL's OAuth: marketplace installs and their tokens (runtime/oauth_wiring.py)."""
        from chalicelib.runtime.oauth_wiring import OAuthWiring

        return OAuthWiring(self)

    @cached_property
    def run_store(self) -> DynamoRunStore:
        from chalicelib.adapters.aws.runs import DynamoRunStore

        return DynamoRunStore(self.dynamodb.Table(self.settings.state.table_name))

    @cached_property
    def reconciler(self) -> Reconciler:
        from chalicelib.runtime.run_wiring import build_reconciler
        from chalicelib.services.reconcile import WalkScope

        return build_reconciler(
            self.settings.reconcile,
            search=self.ghl,
            states=self.state_store,
            runs=self.run_store,
            queue=self.queue,
            scope=WalkScope(self.settings.ghl.location_id, self.rulebook, self.field_mapping),
            calltools_rps=self.settings.calltools.max_rps,
        )

    @cached_property
    def operator(self) -> OperatorWiring:
        """What operators use: stats, the admin API, the status page, the contact explanation
        and lookup (runtime/operator_wiring.py)."""
        from chalicelib.runtime.operator_wiring import OperatorWiring

        return OperatorWiring(self)


_lock = threading.Lock()
_container: Container | None = None
_this_thread = threading.local()


def container() -> Container:
    own: Container | None = getattr(_this_thread, "container", None)
    if own is not None:
        return own
    global _container
    with _lock:
        if _container is None:
            _container = Container(get_settings())
        return _container


def reset(settings: Settings | None = None) -> Container:
    """Start over with fresh adapters (tests, and the local stack after it set its environment)."""
    global _container
    with _lock:
        get_settings.cache_clear()
        _container = Container(settings or get_settings())
        return _container


@contextmanager
def thread_container(own: Container) -> Iterator[Container]:
    """Within the block, `container()` in this thread answers `own`.

    For the local stack's SQS poller only (sandbox/poller.py): its worker threads stand in for
    concurrent Lambda containers, each with its own clients, pacers and lease owner. In Lambda one
    container runs one invocation at a time, and nothing calls this.
    """
    previous = getattr(_this_thread, "container", None)
    _this_thread.container = own
    try:
        yield own
    finally:
        _this_thread.container = previous
