"""100,000 tagged contacts at 50 ms simulated latency with the rate limits on.

The world: GHL's documented limit (100 requests / 10 s per location) and CallTools throttling at 5/s
(it publishes no limit; 5/s is what the product is configured to share), 50 ms on every API call.
Ours: one reconciliation run with the product's default pacing, all contacts already in step (the
daily run's steady state), in this process, whose peak RSS is what a consumer Lambda would need.
The rate-limit floor: the fewest seconds the limits allow for the API calls the run needed.
Baseline: the seed's batch run in its own process, stopped after a time box (it would need
~300,000 sequential calls), to show how far it gets and what it holds in memory.
"""

from __future__ import annotations

import os
import time

from bench.baseline import in_own_process
from bench.events import Signer
from bench.procinfo import peak_rss_bytes
from bench.product import AwsTimer, configure, consumer_poller, reconcile, warmed
from bench.report import ScenarioResult, megabytes, row, seconds
from bench.world import World, WorldConfig, total_calls

# BENCH_SCALE_CONTACTS lets a developer try a smaller run; `make bench` measures 100,000.
CONTACTS = int(os.environ.get("BENCH_SCALE_CONTACTS", "100000"))
LATENCY_MS = 50.0
GHL_LIMIT = (100, 10.0)  # requests per window seconds, as GHL documents it
CALLTOOLS_RPS = 5.0
BASELINE_TIME_BOX = 20.0
GOAL_FLOOR_RATIO, GOAL_PEAK_MB = 1.5, 150.0


def run() -> ScenarioResult:
    signer = Signer()
    config = WorldConfig(
        latency_ms=LATENCY_MS, ghl_rate_limit=GHL_LIMIT, calltools_rps=CALLTOOLS_RPS
    )
    with World(config) as world:
        setup_started = time.perf_counter()
        world.generate(CONTACTS, CONTACTS)
        in_bucket = world.seed_in_sync()
        setup_seconds = time.perf_counter() - setup_started

        container = configure(world.info, signer, pacing=True)  # the product's defaults
        timer = AwsTimer()
        timer.attach(container)
        # Each consumer container's bucket lookup: once per container; its call is not the run's.
        poller = consumer_poller(world.info, on_container=warmed(timer))
        rss_before = peak_rss_bytes()
        world.reset_calls()
        started = time.perf_counter()
        done = reconcile(container, poller, deadline_seconds=1200)
        wall = time.perf_counter() - started
        peak = peak_rss_bytes()
        counts = world.counts()

        base, base_peak_mb = in_own_process(
            ghl_url=world.info.ghl_url,
            ghl_token=world.info.ghl_token,
            calltools_url=world.info.calltools_url,
            calltools_token=world.info.calltools_token,
            time_box_seconds=BASELINE_TIME_BOX,
        )

    ghl_calls, ct_calls = total_calls(counts, "ghl"), total_calls(counts, "calltools")
    ghl_rate = GHL_LIMIT[0] / GHL_LIMIT[1]
    floor = max(ghl_calls / ghl_rate, ct_calls / CALLTOOLS_RPS)
    ratio = wall / floor if floor else float("inf")
    not_aws = wall - timer.seconds
    batch_gets = timer.calls["DynamoDB.BatchGetItem"]
    base_progress = (
        f"{BASELINE_TIME_BOX:g} s box: {base['listed']:,} listed, {base['synced']:,} synced"
    )
    rows = [
        row(
            "wall time, start → queue drained",
            seconds(wall),
            base_progress,
            f"{ratio:.1f}× floor ({seconds(floor)})",
            f"≤ {GOAL_FLOOR_RATIO:g}× floor",
            ratio <= GOAL_FLOOR_RATIO,
            {"wall_s": wall, "floor_s": floor, "ratio": ratio, "baseline": base},
        ),
        row(
            "  of which waiting on AWS (moto)",
            f"{seconds(timer.seconds)} ({timer.seconds / wall:.0%})",
            data={"aws_s": timer.seconds, "aws_calls": dict(timer.calls)},
        ),
        row(
            "  wall time less the moto time",
            seconds(not_aws),
            ratio=f"{not_aws / floor:.1f}× floor" if floor else "",
            data={"s": not_aws},
        ),
        row(
            "peak memory (RSS)",
            megabytes(peak),
            f"{base_peak_mb:.1f} MB (in its box)",
            goal=f"≤ {GOAL_PEAK_MB:g} MB",
            met=peak / 2**20 <= GOAL_PEAK_MB,
            data={
                "peak_mb": peak / 2**20,
                "before_run_mb": rss_before / 2**20,
                "baseline_peak_mb": base_peak_mb,
            },
        ),
    ]
    notes = [
        f"floor = max(GHL {ghl_calls} calls / {ghl_rate:g} per s, CallTools {ct_calls} calls / "
        f"{CALLTOOLS_RPS:g} per s) = {seconds(floor)}; our GHL client paces itself at 8/s "
        "(GHL_MAX_RPS), which alone is 1.25× the floor",
        f"ours: {done.pages} pages, {done.seen:,} seen, {done.enqueued} enqueued; AWS calls "
        f"{dict(sorted(timer.calls.items()))}: reading each page's states (BatchGetItem, 100 keys "
        f"a call: {batch_gets:,} of {timer.calls.total():,}) and the table scan dominate",
        f"peak RSS was {megabytes(rss_before)} before the run started (interpreter, boto3, "
        "pydantic, chalice, Powertools)",
        f"setup (not measured): {CONTACTS:,} GHL contacts, {in_bucket:,} seeded in step in "
        f"CallTools and DynamoDB in {seconds(setup_seconds)}",
    ]
    return ScenarioResult(
        name="scale",
        title="Daily run at scale, rate limits on",
        sizes={"tagged contacts": CONTACTS, "in step": in_bucket, "latency ms": int(LATENCY_MS)},
        rows=rows,
        notes=notes,
        details={
            "ours_run": done.public(),
            "api_calls": counts,
            "aws_seconds": timer.seconds,
            "aws_calls": dict(timer.calls),
            "baseline": base,
            "baseline_peak_rss_mb": base_peak_mb,
            "setup_seconds": setup_seconds,
        },
    )
