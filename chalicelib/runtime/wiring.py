"""Builds the real adapters from Settings, once per Lambda container.

Imports happen inside each builder: the webhook Lambda never loads the consumer's libraries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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
    from chalicelib.adapters.http.retry import RetryPolicy
    from chalicelib.domain.sync_plan import FieldMapping
    from chalicelib.services.admin import AdminApi
    from chalicelib.services.consumer import BatchConsumer
    from chalicelib.services.intake import WebhookIntake
    from chalicelib.services.reconcile import Reconciler
    from chalicelib.services.rule_book import RuleBook
    from chalicelib.services.stats import StatsService
    from chalicelib.services.sync import ContactSync


class Container:
    """Holds one instance of each adapter and service for the given settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _boto_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"region_name": self.settings.aws_region}
        if self.settings.aws_endpoint_url:
            kwargs["endpoint_url"] = self.settings.aws_endpoint_url
        return kwargs

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

        return SecretSource(client, max_age=self.settings.secrets_max_age_seconds)

    def secret(self, name: str) -> Callable[[], str]:
        """The setting `name`, or the Secrets Manager secret named by `<name>_secret_id`."""
        plain = getattr(self.settings, name).get_secret_value()
        return self.secrets.provider(getattr(self.settings, f"{name}_secret_id"), plain)

    @cached_property
    def queue(self) -> SqsContactQueue:
        from chalicelib.adapters.aws.queue import SqsContactQueue

        s = self.settings
        url = s.sync_queue_url or self.sqs.get_queue_url(QueueName=s.sync_queue_name)["QueueUrl"]
        dlq = s.sync_dlq_url
        if not dlq:
            dlq = self.sqs.get_queue_url(QueueName=f"{s.sync_queue_name}-dlq")["QueueUrl"]
        return SqsContactQueue(self.sqs, url, dlq)

    @cached_property
    def state_store(self) -> DynamoStateStore:
        from chalicelib.adapters.aws.state import DynamoStateStore

        return DynamoStateStore(self.dynamodb.Table(self.settings.state_table_name))

    @cached_property
    def dedup(self) -> PowertoolsDedup:
        from chalicelib.adapters.aws.idempotency import PowertoolsDedup

        s = self.settings
        return PowertoolsDedup(self.dynamodb_client, s.state_table_name, s.dedup_ttl_seconds)

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        from chalicelib.adapters.http.retry import RetryPolicy

        s = self.settings
        return RetryPolicy(budget_seconds=s.retry_budget_seconds, max_attempts=s.retry_max_attempts)

    @cached_property
    def ghl(self) -> GhlHttpApi:
        from chalicelib.adapters.ghl.api import GhlHttpApi
        from chalicelib.adapters.http.pacing import shared_burst

        s = self.settings
        return GhlHttpApi(
            s.ghl_api_base_url,
            self.secret("ghl_api_token"),
            version=s.ghl_api_version,
            timeout=s.http_timeout_seconds,
            retry=self.retry_policy,
            # Every consumer instance (and the API function) shares GHL's per-location budget.
            max_rps=s.ghl_max_rps / s.consumer_max_concurrency,
            burst=shared_burst(s.ghl_burst, s.ghl_max_rps, s.consumer_max_concurrency),
        )

    @cached_property
    def calltools(self) -> CallToolsHttpApi:
        from chalicelib.adapters.calltools.api import CallToolsHttpApi
        from chalicelib.adapters.http.pacing import shared_burst

        s = self.settings
        return CallToolsHttpApi(
            s.calltools_api_base_url,
            self.secret("calltools_api_token"),
            bucket_method=s.calltools_bucket_method,
            ghl_id_field=s.calltools_ghl_id_field,
            default_region=s.default_phone_region,
            timeout=s.http_timeout_seconds,
            retry=self.retry_policy,
            # The limit is per account; each concurrent consumer takes its share.
            max_rps=s.calltools_max_rps / s.consumer_max_concurrency,
            burst=shared_burst(s.calltools_burst, s.calltools_max_rps, s.consumer_max_concurrency),
        )

    @cached_property
    def webhook_intake(self) -> WebhookIntake:
        from chalicelib.adapters.ghl.signature import GhlSignatureVerifier
        from chalicelib.services.intake import WebhookIntake

        s = self.settings
        return WebhookIntake(
            GhlSignatureVerifier.from_pem(s.ghl_webhook_public_keys),
            self.queue,
            workflow_secret=self.secret("ghl_workflow_secret"),
            location_id=s.ghl_location_id,
            app_id=s.ghl_app_id,
            replay_after=timedelta(days=s.dedup_ttl_days),
        )

    @cached_property
    def rulebook(self) -> RuleBook:
        from chalicelib.services.rule_book import RuleBook

        return RuleBook(
            self.settings.rules, self.calltools, on_resolved=self.state_store.note_bucket_names
        )

    @cached_property
    def field_mapping(self) -> FieldMapping:
        from chalicelib.domain.sync_plan import FieldMapping

        s = self.settings
        return FieldMapping(
            phone_field=s.calltools_phone_field,
            ghl_id_field=s.calltools_ghl_id_field,
            default_region=s.default_phone_region,
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
            scope=Scope(s.ghl_location_id, s.ghl_app_id),
            timings=SyncTimings(
                lease_seconds=s.contact_lease_seconds,
                snapshot_trust_seconds=s.snapshot_trust_seconds,
                create_settle_seconds=s.calltools_create_settle_seconds,
            ),
        )

    @cached_property
    def batch_consumer(self) -> BatchConsumer:
        from chalicelib.services.consumer import BatchConsumer

        return BatchConsumer(
            self.contact_sync,
            self.dedup,
            self.queue,
            time_reserve_ms=int(self.settings.batch_time_reserve_seconds * 1000),
            run_step=self.reconciler.step,
            webhook_clock=self.state_store.note_webhook,
        )

    @cached_property
    def run_store(self) -> DynamoRunStore:
        from chalicelib.adapters.aws.runs import DynamoRunStore

        return DynamoRunStore(self.dynamodb.Table(self.settings.state_table_name))

    @cached_property
    def reconciler(self) -> Reconciler:
        from chalicelib.services.reconcile import (
            CallMeter,
            Leftovers,
            Reconciler,
            RunTimings,
            TagWalk,
            WalkLimits,
            WalkScope,
        )

        s = self.settings
        ghl, states, runs, queue = self.ghl, self.state_store, self.run_store, self.queue
        scope = WalkScope(s.ghl_location_id, self.rulebook, self.field_mapping)
        # One meter for both phases: each page reads the state adapter's DynamoDB call counter.
        meter = CallMeter(lambda: states.calls)
        return Reconciler(
            runs=runs,
            queue=queue,
            walk=TagWalk(
                ghl, states, queue, scope, WalkLimits(s.reconcile_page_limit), meter=meter
            ),
            leftovers=Leftovers(states, queue, s.ghl_location_id, meter=meter),
            timings=RunTimings(
                step_seconds=s.reconcile_step_seconds, max_backlog=s.reconcile_max_backlog
            ),
        )

    @cached_property
    def stats(self) -> StatsService:
        from chalicelib.services.stats import StatsService

        # Bucket names as the consumer resolved them: this function holds no CallTools token.
        return StatsService(
            states=self.state_store,
            runs=self.run_store,
            queue=self.queue,
            bucket_names=self.state_store.bucket_names,
        )

    @cached_property
    def admin_api(self) -> AdminApi:
        from chalicelib.services.admin import AdminApi

        return AdminApi(
            self.secret("admin_api_token"),
            reconciler=lambda: self.reconciler,
            stats=lambda: self.stats,
        )


_lock = threading.Lock()
_container: Container | None = None


def container() -> Container:
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
