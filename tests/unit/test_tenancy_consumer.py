"""The consumer's routing by location and the schedule's one run per location, over fakes."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.location import Location
from chalicelib.services.tenancy import CachedDirectory, Tenant, Tenants
from tests.support.fake_locations import OTHER, FakeLocationRegistry, StaticDirectory, location
from tests.support.fakes import FakeQueue
from tests.support.helpers import LOCATION_ID

# --- the consumer's routing -------------------------------------------------------------------------


def consumer_parts(directory: StaticDirectory) -> tuple[Any, ...]:
    from chalicelib.domain.scope import Scope
    from chalicelib.domain.sync_plan import FieldMapping
    from chalicelib.services.consumer import BatchConsumer
    from chalicelib.services.rule_book import RuleBook
    from chalicelib.services.sync import ContactSync
    from tests.support.fakes import FakeCallTools, FakeDedup, FakeGhl, FakeStateStore
    from tests.support.worlds import sync_over_fakes

    builtin_ct, other_ct, other_dedup = FakeCallTools(), FakeCallTools(), FakeDedup()

    def build(loc: Location) -> Tenant:
        sync = ContactSync(
            ghl=FakeGhl(),
            calltools=other_ct,
            store=FakeStateStore(),
            rulebook=RuleBook(loc.rules, other_ct),
            mapping=FieldMapping(),
            scope=Scope(loc.location_id),
        )
        return Tenant(loc, sync, other_dedup, object(), object())  # type: ignore[arg-type]

    tenants = Tenants(LOCATION_ID, directory, build)
    queue = FakeQueue()
    consumer = BatchConsumer(
        sync_over_fakes(builtin_ct), FakeDedup(), queue, time_reserve_ms=0, tenants=tenants
    )
    return consumer, queue, builtin_ct, other_ct, other_dedup


def record(location_id: str) -> dict[str, Any]:
    from chalicelib.inbound.ghl_events import parse_marketplace_event
    from tests.support.helpers import sqs_record, tagged

    body = tagged("cold lead", locationId=location_id, dndSettings={"Call": {"status": "inactive"}})
    return sqs_record(parse_marketplace_event(body).model_dump_json())


def test_the_consumer_syncs_a_registered_locations_message_with_its_own_parts():
    consumer, queue, builtin_ct, other_ct, other_dedup = consumer_parts(StaticDirectory(OTHER))
    consumer.handle([record(OTHER), record(LOCATION_ID)], lambda: 60_000)
    assert len(other_ct.bucket_of()) == 1 and len(builtin_ct.bucket_of()) == 1
    assert [key.split(":")[0] for key in other_dedup.done] == ["webhook"]
    assert len(queue.deleted) == 2


def test_the_consumer_ignores_a_message_of_a_location_no_longer_active():
    consumer, queue, builtin_ct, other_ct, _ = consumer_parts(StaticDirectory())
    rec = record(OTHER)
    consumer.handle([rec], lambda: 60_000)
    assert consumer.outcomes[0]["result"] == "ignored"
    assert not other_ct.bucket_of() and not builtin_ct.bucket_of()
    assert queue.deleted == [rec["receiptHandle"]]


def test_the_consumer_retries_when_the_registry_cannot_be_read():
    from chalicelib.services.consumer import BatchIncomplete

    consumer, queue, builtin_ct, other_ct, _ = consumer_parts(StaticDirectory(broken=True))
    rec = record(OTHER)
    with pytest.raises(BatchIncomplete):
        consumer.handle([rec], lambda: 60_000)
    assert not queue.deleted and not other_ct.bucket_of() and not builtin_ct.bucket_of()


def test_the_schedule_starts_every_active_location_and_one_failure_stops_no_other():
    from chalicelib.domain.runs import RunActive
    from chalicelib.services.tenancy import start_every_location

    class Starter:
        def __init__(self, outcome: str) -> None:
            self.outcome = outcome
            self.triggers: list[str] = []

        def start(self, trigger: str) -> Any:
            self.triggers.append(trigger)
            if self.outcome == "busy":
                raise RunActive("run-1")
            if self.outcome == "broken":
                raise RuntimeError("DynamoDB unavailable")
            return type("Run", (), {"id": f"run-of-{self.outcome}"})()

    starters = {"Broken1": Starter("broken"), "Busy1": Starter("busy"), "Fine1": Starter("ok")}
    registry = FakeLocationRegistry()
    for location_id in [*starters, "Stopped1"]:
        registry.put(location(location_id, active=location_id != "Stopped1"))
    registry.put(location(LOCATION_ID))  # cannot be registered; never started twice if it were

    def build(loc: Location) -> Tenant:
        return Tenant(loc, object(), object(), starters[loc.location_id], object())  # type: ignore[arg-type]

    directory = CachedDirectory(lambda: registry)
    tenants = Tenants(LOCATION_ID, directory, build)
    started = start_every_location(registry.list, tenants, "schedule")
    assert started == {
        "Broken1": "failed: RuntimeError",
        "Busy1": "active: run-1",
        "Fine1": "run-of-ok",
    }
    assert all(s.triggers == ["schedule"] for s in starters.values())
