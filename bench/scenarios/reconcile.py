"""A reconciliation of 10,000 tagged contacts among 100,000, 1% of them changed in GHL.

Both sides start from the same world: CallTools and the state table already in step with GHL (as
after earlier syncs), then 100 tagged contacts get a new company in GHL. Ours: one reconciliation
run (walk, enqueue what differs, consume, scan for contacts that left) through the deployed SQS
handler. Baseline: one seed-style batch run. No simulated latency and no rate limits, and our client
pacing lifted: the wall times measure each design's own work (B's calls at real latency and limits
are what scenario "scale" is about).
"""

from __future__ import annotations

import time

from bench.baseline import seed_style_sync
from bench.events import Signer
from bench.product import AwsTimer, configure, consumer_poller, reconcile, warmed
from bench.report import ScenarioResult, fewer, row, seconds, times
from bench.world import World, total_calls

TOTAL, TAGGED, CHANGED = 100_000, 10_000, 100
GOAL_RATIO = 50.0


def run() -> ScenarioResult:
    signer = Signer()
    with World() as world:
        assert world.generate(TOTAL, TAGGED) == TAGGED
        # A few generated phones are not dialable: those contacts belong in no bucket.
        in_bucket = world.seed_in_sync()
        assert world.change_tagged(TAGGED // CHANGED, CHANGED) == CHANGED

        container = configure(world.info, signer, pacing=False)
        timer = AwsTimer()
        timer.attach(container)
        # Each consumer container's bucket lookup happens once, outside the count.
        poller = consumer_poller(world.info, on_container=warmed(timer))
        world.reset_calls()
        started = time.perf_counter()  # until the queue is drained: the run and its contacts
        done = reconcile(container, poller, deadline_seconds=900)
        ours_wall = time.perf_counter() - started
        ours_counts = world.counts()
        ours_calls = total_calls(ours_counts)
        members = world.bucket_members()
        if done.enqueued > CHANGED or members != in_bucket:
            raise RuntimeError(f"unexpected run: {done.public()}, {members} bucket members")

        world.reset_calls()
        base = seed_style_sync(
            ghl_url=world.info.ghl_url,
            ghl_token=world.info.ghl_token,
            calltools_url=world.info.calltools_url,
            calltools_token=world.info.calltools_token,
        )
        base_counts = world.counts()
        base_calls = total_calls(base_counts)
        assert base.finished and base.tagged == TAGGED, base

    ratio = base_calls / ours_calls
    rows = [
        row(
            "API calls (GHL + CallTools)",
            f"{ours_calls:,}",
            f"{base_calls:,}",
            fewer(base_calls, ours_calls),
            f"≥ {GOAL_RATIO:g}× fewer",
            ratio >= GOAL_RATIO,
            {"ours": ours_counts, "baseline": base_counts},
        ),
        row(
            "wall time, 0 ms latency, no limits",
            seconds(ours_wall),
            seconds(base.seconds),
            times(ours_wall, base.seconds, "baseline's"),
            data={"ours_s": ours_wall, "baseline_s": base.seconds},
        ),
        row(
            "  of which waiting on AWS (moto)",
            f"{seconds(timer.seconds)} ({timer.seconds / ours_wall:.0%})",
            "0 (no state)",
            data={"aws_s": timer.seconds, "aws_calls": dict(timer.calls)},
        ),
    ]
    lookups = base.request_seconds["lookup"]
    notes = [
        f"ours: {done.pages} search pages, {done.seen:,} seen, {done.enqueued} enqueued and "
        f"patched; AWS calls {dict(sorted(timer.calls.items()))}",
        f"baseline: {base.requests.total():,} requests in {seconds(base.seconds)}, of which "
        f"{base.requests['lookup']:,} phone lookups took {seconds(lookups)} (the CallTools "
        "sandbox answers a phone filter by scanning its contacts)",
    ]
    return ScenarioResult(
        name="reconcile",
        title="Reconciliation, 1% changed",
        sizes={"contacts": TOTAL, "tagged": TAGGED, "changed": CHANGED, "dialable": in_bucket},
        rows=rows,
        notes=notes,
        details={
            "ours_run": done.public(),
            "ours_aws_seconds": timer.seconds,
            "ours_aws_calls": dict(timer.calls),
            "baseline": base.as_dict(),
        },
    )
