"""Builds a reconciler (services/reconcile) from its parts: the built-in location's
(runtime/wiring.py) and each registered location's (runtime/tenant_wiring.py) are the same
assembly over different search, state, run items and pace."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.adapters.aws.state import DynamoStateStore
    from chalicelib.ports import ContactQueue, GhlSearch, RunStore
    from chalicelib.runtime.settings_groups import ReconcileSettings
    from chalicelib.services.reconcile import Reconciler, WalkScope


def build_reconciler(
    run: ReconcileSettings,
    *,
    search: GhlSearch,
    states: DynamoStateStore,
    runs: RunStore,
    queue: ContactQueue,
    scope: WalkScope,
    calltools_rps: float,
    location_id: str | None = None,
) -> Reconciler:
    """`location_id`: a registered location's (its steps name it); None for the built-in."""
    from chalicelib.services.reconcile import (
        CallMeter,
        FeedPace,
        Leftovers,
        Reconciler,
        RunTimings,
        TagWalk,
        WalkLimits,
    )

    # One meter for both phases: each page reads the state adapter's DynamoDB call counter.
    meter = CallMeter(lambda: states.calls)
    return Reconciler(
        runs=runs,
        queue=queue,
        walk=TagWalk(search, states, queue, scope, WalkLimits(run.page_limit), meter=meter),
        leftovers=Leftovers(states, queue, scope.location_id, meter=meter),
        timings=RunTimings(
            step_seconds=run.step_seconds,
            pace=FeedPace(
                backlog_seconds=run.backlog_seconds,
                # Until measured: a new contact costs two CallTools calls (search, create).
                assumed_rate=calltools_rps / 2,
                max_backlog=run.max_backlog,
            ),
        ),
        location_id=location_id,
    )
