"""A first import (issue 13): 2,000 tagged contacts in GHL, nothing in CallTools or the state table.

The world: 50 ms on every API call, GHL's documented limit (100 requests / 10 s per location),
CallTools' sandbox throttling at 100/s. The product: pacing on, CALLTOOLS_MAX_RPS=100 and
CONSUMER_MAX_CONCURRENCY=4, and the local poller running 4 consumers, each with a container of its
own. One reconciliation run, started as `POST /sync/trigger` starts it, drained to the end.

Measured: API calls per contact on each side, the wall time against the floor the slowest paced
API sets, how long the contacts the walk found waited in the queue (a hit carries `received_at`,
when the walk read it: past SNAPSHOT_TRUST_SECONDS its snapshot is no longer trusted and the
consumer re-reads the contact from GHL, one call per contact), the re-reads themselves, and when
the first contact reached the bucket. The ages are read here, from each SQS record as a consumer
picks it up, not by the product.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from bench.events import Signer
from bench.product import AwsTimer, configure, consumer_poller, reconcile, warmed
from bench.report import Row, ScenarioResult, percentile, row, seconds
from bench.world import QUEUE_NAME, World, WorldConfig, total_calls
from chalicelib.runtime.settings_groups import QueueSettings

CONTACTS = 2_000
LATENCY_MS = 50.0
GHL_LIMIT = (100, 10.0)  # requests per window seconds, as GHL documents it
CALLTOOLS_RPS = 100.0  # the sandbox's limit, and what the product is told it may use
CONSUMERS = 4
RECORDS_AT_ONCE = QueueSettings().records_at_once  # the deployed default
GOAL_GHL_PER_CONTACT, GOAL_CT_PER_CONTACT, GOAL_FLOOR_RATIO = 0.01, 2.0, 1.5
REREAD_ROUTE = "GET /contacts/{id}"
SAMPLE_SECONDS = 0.5  # how often the bucket is counted during the run


class PickupAges:
    """How old each reconciliation hit was (now − received_at) when a consumer picked it up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ages: list[float] = []  # every pickup, deferred copies included
        self.first: dict[str, float] = {}  # each contact's first pickup

    def observe(self, event: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        for record in event["Records"]:
            body = json.loads(record["body"])
            if body.get("kind") != "contact" or body.get("origin") != "reconciliation":
                continue
            age = (now - datetime.fromisoformat(body["received_at"])).total_seconds()
            with self._lock:
                self.ages.append(age)
                self.first.setdefault(body["contact_id"], age)


class BucketWatch:
    """Counts the bucket's members every SAMPLE_SECONDS from a thread of its own (the only user
    of the world's pipe while the run drains)."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._stop = threading.Event()
        self.samples: list[tuple[float, int]] = []
        self._thread = threading.Thread(target=self._watch, name="bucket-watch", daemon=True)

    def start(self, started: float) -> None:
        self._started = started
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            members = self._world.bucket_members()
            self.samples.append((time.perf_counter() - self._started, members))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def first_member_at(self) -> float | None:
        return next((t for t, n in self.samples if n > 0), None)

    def members_at(self, at: float) -> int:
        return max((n for t, n in self.samples if t <= at), default=0)


def run() -> ScenarioResult:
    signer = Signer()
    config = WorldConfig(
        latency_ms=LATENCY_MS, ghl_rate_limit=GHL_LIMIT, calltools_rps=CALLTOOLS_RPS
    )
    with World(config) as world:
        assert world.generate(CONTACTS, CONTACTS) == CONTACTS
        desired = world.desired_members()  # a few generated phones are not dialable
        container = configure(
            world.info,
            signer,
            pacing=True,
            settings={
                "CALLTOOLS_MAX_RPS": str(int(CALLTOOLS_RPS)),
                "CONSUMER_MAX_CONCURRENCY": str(CONSUMERS),
            },
        )
        trust = container.settings.sync.snapshot_trust_seconds
        timer = AwsTimer()
        timer.attach(container)
        ages = PickupAges()
        poller = consumer_poller(world.info, on_container=warmed(timer), on_event=ages.observe)
        assert poller.workers == CONSUMERS
        world.reset_calls()
        timer.reset()
        watch = BucketWatch(world)
        started = time.perf_counter()
        watch.start(started)
        try:
            done = reconcile(container, poller, deadline_seconds=1200)
        finally:
            watch.stop()
        wall = time.perf_counter() - started
        counts = world.counts()
        members = world.bucket_ghl_ids()
        dlq = container.sqs.get_queue_url(QueueName=f"{QUEUE_NAME}-dlq")["QueueUrl"]
        dead = container.sqs.get_queue_attributes(
            QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
    if members != desired:
        raise RuntimeError(
            f"{len(members)} contacts in the bucket, {len(desired)} expected; run {done.public()}"
        )

    ghl_calls, ct_calls = total_calls(counts, "ghl"), total_calls(counts, "calltools")
    rereads = counts.get("ghl", {}).get(REREAD_ROUTE, 0)
    ghl_rate = GHL_LIMIT[0] / GHL_LIMIT[1]
    floor = max(ghl_calls / ghl_rate, ct_calls / CALLTOOLS_RPS)
    ratio = wall / floor if floor else float("inf")
    oldest = max(ages.ages, default=0.0)
    first = list(ages.first.values())
    first_in_bucket = watch.first_member_at()
    # Each consumer works RECORDS_AT_ONCE contacts side by side: that many lanes' time.
    busy_per_contact = CONSUMERS * RECORDS_AT_ONCE * wall / CONTACTS
    aws_per_contact = timer.summed_seconds / CONTACTS
    # calls/s when every call waits its latency
    latency_cap = CONSUMERS * RECORDS_AT_ONCE / (LATENCY_MS / 1000)
    rows = [
        _calls_row("GHL", ghl_calls, GOAL_GHL_PER_CONTACT, counts.get("ghl", {})),
        _calls_row("CallTools", ct_calls, GOAL_CT_PER_CONTACT, counts.get("calltools", {})),
        row(
            "wall time, trigger → queue drained",
            seconds(wall),
            ratio=f"{ratio:.1f}× floor ({seconds(floor)})",
            goal=f"≤ {GOAL_FLOOR_RATIO:g}× floor",
            met=ratio <= GOAL_FLOOR_RATIO,
            data={"wall_s": wall, "floor_s": floor, "ratio": ratio},
        ),
        row(
            "oldest hit when a consumer picked it up",
            seconds(oldest),
            ratio=f"first pickups p50 {seconds(percentile(first, 50))}" if first else "",
            goal=f"≤ {trust:g} s (SNAPSHOT_TRUST_SECONDS)",
            met=oldest <= trust,
            data={
                "max_s": oldest,
                "first_pickup_p50_s": percentile(first, 50) if first else None,
                "first_pickup_p99_s": percentile(first, 99) if first else None,
                "first_pickups_older_than_trust": sum(a > trust for a in first),
                "pickups": len(ages.ages),
            },
        ),
        row(
            "hits re-read from GHL one by one",
            f"{rereads:,}",
            data={"rereads": rereads},
        ),
        row(
            "time to the first contact in the bucket",
            seconds(first_in_bucket) if first_in_bucket is not None else "none",
            data={"s": first_in_bucket},
        ),
        row(
            "consumer lanes' time per contact (lanes × wall ÷ contacts)",
            seconds(busy_per_contact),
            ratio=f"{seconds(aws_per_contact)} of it in AWS (moto) calls",
            data={
                "consumer_s_per_contact": busy_per_contact,
                "aws_s_per_contact": aws_per_contact,
                "aws_calls_per_contact": timer.calls.total() / CONTACTS,
                "aws_union_s": timer.seconds,
                "aws_summed_s": timer.summed_seconds,
                "aws_calls": dict(timer.calls),
            },
        ),
    ]
    progress = ", ".join(f"{at} s: {watch.members_at(at):,}" for at in (60, 120, 240) if at < wall)
    notes = [
        f"floor = max(GHL {ghl_calls} calls / {ghl_rate:g} per s, CallTools {ct_calls} calls / "
        f"{CALLTOOLS_RPS:g} per s) = {seconds(floor)}",
        f"in the bucket after {progress or 'the run'}; {len(members):,} at the end "
        f"({CONTACTS - len(desired)} generated phones are not dialable); {dead} dead-lettered",
        f"latency alone caps {CONSUMERS} consumers × {RECORDS_AT_ONCE} records at once, each "
        f"record with {ct_calls / CONTACTS:.0f} CallTools calls in a row, at {latency_cap:.0f} CallTools "
        f"calls/s (the sandbox allows {CALLTOOLS_RPS:g}), before any AWS call",
        f"run: {done.pages} pages, {done.seen:,} seen, {done.enqueued:,} enqueued; "
        f"{poller.invocations:,} consumer invocations ({poller.failed_invocations} failed), "
        f"{len(ages.ages) - len(ages.first)} hits picked up again (deferred copies)",
    ]
    return ScenarioResult(
        name="firstimport",
        title="First import at the slowest API's pace",
        sizes={
            "tagged contacts": CONTACTS,
            "latency ms": int(LATENCY_MS),
            "consumers": CONSUMERS,
        },
        rows=rows,
        notes=notes,
        details={
            "run": done.public(),
            "api_calls": counts,
            "bucket_samples": watch.samples,
            "dead_lettered": int(dead),
            "invocations": poller.invocations,
            "failed_invocations": poller.failed_invocations,
            "peak_concurrency": poller.peak_concurrency,
        },
    )


def _calls_row(system: str, calls: int, goal: float, routes: dict[str, int]) -> Row:
    return row(
        f"{system} calls per contact",
        f"{calls / CONTACTS:.3f} ({calls:,} calls)",
        goal=f"≤ {goal:g}",
        met=calls / CONTACTS <= goal,
        data={"calls": calls, "routes": routes},
    )
