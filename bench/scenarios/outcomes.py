"""Call outcomes (issue 14): CallTools dispositions flowing back into GHL as tags and notes.

The world: 50 ms on every API call, GHL's documented limit (100 requests / 10 s per location),
CONTACTS tagged contacts already synced (in the bucket, in the state table). The product: its
default pacing and CONSUMER_MAX_CONCURRENCY (2 consumers, each a container of its own), and the
CallTools hook route's work (`HookIntake`) behind a loopback HTTP server, which the CallTools
sandbox's own rest hook delivery POSTs each record to, as CallTools would.

Two phases, counted apart: CONTACTS dispositions that write a tag and a note (one per contact,
the kinds in turn, RATE a second), then DNC_CALLS "Do Not Call" dispositions on contacts in the
bucket, which also make calls DND in GHL and take the contact out of the bucket. Hook → GHL is
from the hook's arrival at the route to the note's `dateAdded` in GHL's sandbox (one machine,
one clock).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import boto3

from bench.events import Signer
from bench.product import AwsTimer, configure, consumer_poller, warmed
from bench.report import Row, ScenarioResult, percentile, row, seconds
from bench.world import REGION, World, WorldConfig, total_calls
from sandbox.poller import PENDING_COUNTS

if TYPE_CHECKING:
    from chalicelib.runtime.wiring import Container

CONTACTS = 200
DNC_CALLS = 20
LATENCY_MS = 50.0
GHL_LIMIT = (100, 10.0)
# Dispositions a second: a busy floor, under the default pacing (GHL 8/s, CallTools 5/s) at the
# 2 GHL and ~1 CallTools calls of each; a Do Not Call costs twice that, so those come slower.
RATE, DNC_RATE = 3.0, 1.0
SECRET = "bench-hook-secret"  # noqa: S105 - invented
KINDS = ("Interested", "No Answer", "Not Interested", "Sale", "Answering Machine")
GOAL_GHL_PER_DISPOSITION = 2.0  # a tag and a note
EXPECTED_GHL_PER_DNC = 4  # + the DND PUT and the GET that reads it back before the take-out
DEADLINE = 300.0


class HookRoute:
    """POST /webhook/calltools on loopback: the route's work, and when each record's hook came."""

    def __init__(self, container: Container) -> None:
        self.arrived: dict[int, float] = {}
        self.refused = 0
        route = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query = dict(parse_qsl(urlsplit(self.path).query))
                reply = container.outcomes.hook_intake.handle(body, dict(self.headers), query)
                if reply.status == 200:
                    route.arrived.setdefault(int(json.loads(body)["id"]), at)
                else:
                    route.refused += 1
                raw = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per hook otherwise

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/webhook/calltools?token={SECRET}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _pending(sqs: Any, queue_url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(PENDING_COUNTS))[
        "Attributes"
    ]
    return sum(int(attrs.get(name, "0")) for name in PENDING_COUNTS)


@dataclass(frozen=True)
class Watch:
    world: World
    timer: AwsTimer  # the product's AWS calls
    sqs: Any  # the bench's own client, to see the queue empty (not counted)
    queue_url: str


def _phase(watch: Watch, calls: list[tuple[str, str]], rate: float) -> dict[str, Any]:
    """Record `calls` (GHL id, disposition) at `rate` a second, then wait for every note and an
    empty queue; the API calls and AWS calls the phase cost."""
    world, timer = watch.world, watch.timer
    world.reset_calls()
    timer.reset()
    ids = sorted({cid for cid, _ in calls})
    before = world.note_count(ids)
    started = time.perf_counter()
    records = []
    for i, (cid, name) in enumerate(calls):
        time.sleep(max(0.0, started + i / rate - time.perf_counter()))  # the agents' pace
        records.append(world.record_call(cid, name))
    end = time.monotonic() + DEADLINE
    quiet = 0
    while quiet < 2:  # twice in a row: a deferred copy may be between queues at one reading
        if time.monotonic() > end:
            raise RuntimeError(f"phase not done in {DEADLINE:g} s")
        done = (
            world.note_count(ids) - before >= len(calls)
            and _pending(watch.sqs, watch.queue_url) == 0
        )
        quiet = quiet + 1 if done else 0
        time.sleep(0.2)
    return {
        "records": records,
        "ids": ids,
        "counts": world.counts(),
        "aws": dict(timer.calls),
        "wall_s": time.perf_counter() - started,
    }


def run() -> ScenarioResult:
    signer = Signer()
    config = WorldConfig(latency_ms=LATENCY_MS, ghl_rate_limit=GHL_LIMIT)
    with World(config) as world:
        assert world.generate(CONTACTS, CONTACTS) == CONTACTS
        assert world.seed_in_sync() == CONTACTS
        in_bucket = world.bucket_ghl_ids()
        container = configure(
            world.info, signer, pacing=True, settings={"CALLTOOLS_WEBHOOK_SECRET": SECRET}
        )
        timer = AwsTimer()
        timer.attach(container)
        route = HookRoute(container)
        world.subscribe_outcomes(route.url)
        poller = consumer_poller(world.info, on_container=warmed(timer)).start()
        sqs = boto3.client("sqs", endpoint_url=world.info.aws_endpoint, region_name=REGION)
        watch = Watch(world, timer, sqs, world.info.queue_url)
        try:
            kinds = [(c, KINDS[i % len(KINDS)]) for i, c in enumerate(in_bucket)]
            plain = _phase(watch, kinds, RATE)
            dnc_ids = in_bucket[:: len(in_bucket) // DNC_CALLS][:DNC_CALLS]
            dnc = _phase(watch, [(c, "Do Not Call") for c in dnc_ids], DNC_RATE)
        finally:
            poller.stop()
            route.close()
        notes = world.outcome_notes(in_bucket)
        dnd = world.call_dnd(in_bucket)
        left = world.bucket_ghl_ids()
        replacements = world.tag_replacements()
    if sorted(dnd) != sorted(dnc_ids) or set(left) & set(dnc_ids) or replacements:
        raise RuntimeError(f"DND {len(dnd)}, left in bucket {len(left)}, PUT tags {replacements}")

    def lags(phase: dict[str, Any]) -> list[float]:
        return [notes[r] - route.arrived[r] for r in phase["records"]]

    plain_lags, dnc_lags = lags(plain), lags(dnc)
    rows = [
        _per(
            "GHL calls per disposition without DND",
            plain,
            "ghl",
            CONTACTS,
            goal=GOAL_GHL_PER_DISPOSITION,
        ),
        _per(
            "GHL calls per Do Not Call disposition",
            dnc,
            "ghl",
            DNC_CALLS,
            expected=EXPECTED_GHL_PER_DNC,
        ),
        _per("CallTools calls per disposition without DND", plain, "calltools", CONTACTS),
        _per("CallTools calls per Do Not Call disposition", dnc, "calltools", DNC_CALLS),
        *(
            row(
                f"hook → note in GHL p{q}",
                seconds(percentile(plain_lags, q)),
                ratio=f"Do Not Call p{q} {seconds(percentile(dnc_lags, q))}",
                data={"s": percentile(plain_lags, q), "dnc_s": percentile(dnc_lags, q)},
            )
            for q in (50, 99)
        ),
        row(
            "AWS requests per disposition without DND",
            f"{sum(plain['aws'].values()) / CONTACTS:.1f}",
            ratio=f"Do Not Call {sum(dnc['aws'].values()) / DNC_CALLS:.1f}",
            data={"plain": plain["aws"], "dnc": dnc["aws"]},
        ),
    ]
    notes_text = [
        f"{CONTACTS} dispositions ({', '.join(KINDS)} in turn) then {DNC_CALLS} Do Not Call, "
        f"recorded {RATE:g} and {DNC_RATE:g} a second; each hook POSTed by the CallTools "
        f"sandbox to the route ({route.refused} refused); {len(notes)} notes in GHL",
        "CallTools per disposition: the record read back by id, and its disposition definition "
        "once per consumer container (cached 10 min); a Do Not Call also syncs the contact "
        "(its bucket removal)",
        "AWS requests: the product's boto3 calls (the hook's SendMessage, the consumer's "
        "DynamoDB reads and writes and its DeleteMessageBatch), not the poller's receives",
        f"phases took {plain['wall_s']:.0f} s and {dnc['wall_s']:.0f} s; the world's GHL "
        "sandbox sends no webhooks back, so the tag's echo (0 CallTools calls) is not in here",
    ]
    return ScenarioResult(
        name="outcomes",
        title="Call outcomes, CallTools → GHL",
        sizes={"dispositions": CONTACTS + DNC_CALLS, "latency ms": int(LATENCY_MS)},
        rows=rows,
        notes=notes_text,
        details={
            "api_calls": {"plain": plain["counts"], "dnc": dnc["counts"]},
            "hook_to_note_s": {"plain": plain_lags, "dnc": dnc_lags},
            "invocations": poller.invocations,
            "failed_invocations": poller.failed_invocations,
        },
    )


def _per(
    measure: str,
    phase: dict[str, Any],
    system: str,
    dispositions: int,
    *,
    goal: float | None = None,
    expected: int | None = None,
) -> Row:
    calls = total_calls(phase["counts"], system)
    per = calls / dispositions
    routes = Counter(phase["counts"].get(system, {}))
    return row(
        measure,
        f"{per:.2f} ({calls:,} calls)",
        ratio=f"expected {expected}" if expected is not None else "",
        goal=f"≤ {goal:g}" if goal is not None else "",
        met=per <= goal if goal is not None else None,
        data={"calls": calls, "per_disposition": per, "routes": dict(routes)},
    )
