"""Dedup of deliveries with Powertools Idempotency, stored in the state table.

Records live `dedup_ttl_seconds` (days, beyond GHL's retry horizon). A record stays IN_PROGRESS
only for the invoking Lambda's remaining time, so a crashed attempt never blocks its retry for long.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.keyspace import Keyspace

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _mark_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    if isinstance(response, dict):
        return {**response, "duplicate": True}
    return response


class PowertoolsDedup:
    def __init__(self, client: DynamoDBClient, table_name: str, ttl_seconds: int) -> None:
        layer = DynamoDBPersistenceLayer(
            table_name=table_name, key_attr="pk", expiry_attr="ttl", boto3_client=client
        )
        self._config = IdempotencyConfig(
            event_key_jmespath="key",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=ttl_seconds,
            response_hook=_mark_duplicate,
        )
        self._work = threading.local()

        @idempotent_function(  # type: ignore[untyped-decorator]
            data_keyword_argument="delivery", persistence_store=layer, config=self._config
        )
        def run(delivery: dict[str, str]) -> dict[str, Any]:
            work: Callable[[], dict[str, Any]] = self._work.current
            return work()

        self._run = run

    def register_context(self, context: Any) -> None:
        """Any object with get_remaining_time_in_millis (Lambda's, Chalice's or the local stack's)."""
        if context is not None:
            self._config.register_lambda_context(cast(LambdaContext, context))

    def run_once(self, key: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        self._work.current = work
        try:
            result: dict[str, Any] = self._run(delivery={"key": key})
            return result
        except IdempotencyAlreadyInProgressError as exc:
            raise ConcurrentUpdate("the same delivery is being processed elsewhere") from exc
        finally:
            self._work.current = None


class LocationDedup:
    """A registered location's dedup: its keys `<locationId>:<key>` before the store hashes them,
    so the same webhookId (or SQS message id) in two locations is two deliveries. Shares the one
    Powertools store (and the Lambda context registered on it)."""

    def __init__(self, store: PowertoolsDedup, keys: Keyspace) -> None:
        self._store = store
        self._keys = keys

    def run_once(self, key: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return self._store.run_once(self._keys.dedup(key), work)
