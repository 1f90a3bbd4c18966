"""The daily schedule when the built-in location's run cannot start (its settings, SQS, a
catch-up that fails): the registered locations still get theirs, and the tick still fails loudly
so the built-in's error is seen and retried."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.aws.runs import DynamoRunStore
from chalicelib.domain.errors import TransientError
from chalicelib.domain.keyspace import Keyspace
from tests.support.service import Service
from tests.support.tenants import Tenant, hosted_tenants

A_ID, B_ID = "TickAcme000000000001", "TickBeta000000000002"


@pytest.fixture
def tenants(service: Service) -> Iterator[dict[str, Tenant]]:
    with hosted_tenants(service, (A_ID, B_ID), registered=(A_ID, B_ID)) as made:
        yield made


def test_a_builtin_run_that_cannot_start_keeps_no_location_from_its_run(
    service: Service, tenants: dict[str, Tenant], monkeypatch: pytest.MonkeyPatch
):
    def cannot_start(*args: Any, **kwargs: Any) -> Any:
        raise TransientError("SQS unavailable")

    monkeypatch.setattr(service.container.outcomes.runs, "start", cannot_start)
    event = service.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    with pytest.raises(TransientError):
        service.client.lambda_.invoke("daily_reconciliation", event)
    table = service.container.dynamodb.Table(service.container.settings.state.table_name)
    for location_id in (A_ID, B_ID):
        assert DynamoRunStore(table, Keyspace(location_id)).active_run_id(), location_id
