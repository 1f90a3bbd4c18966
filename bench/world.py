"""The outside world in its own process: sandbox GHL and CallTools servers and a moto server.

Why a separate process: the product's peak memory (ru_maxrss of the scenario process) must not
include moto's items or the sandboxes' contacts, and the servers must not share the product's GIL
(a Lambda does not share its interpreter with DynamoDB or CallTools either). The parent drives the
world over a pipe; only small values cross it (counts, never the 100,000 contact ids).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import re
import traceback
from collections import Counter
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qs

from bench.constants import BUCKET_ID, BUCKET_NAME, LOCATION_ID, TAG
from bench.world_outcomes import OutcomeCalls, OutcomeWorld

QUEUE_NAME = "ghl-calltools-contacts"
TABLE_NAME = "ghl-calltools-state"
REGION = "us-east-1"
# What infra/template.yaml gives the queue: 6 × the consumer's 120 s timeout. The default 30 s
# would let a 60 s reconciliation step's message reappear while the step still runs.
VISIBILITY_TIMEOUT = 720
AWS_TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto's dummy credentials
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass(frozen=True)
class WorldConfig:
    latency_ms: float = 0.0
    # (requests, window seconds) as GHL documents it: (100, 10.0). None: unlimited.
    ghl_rate_limit: tuple[int, float] | None = None
    # Requests per second the CallTools sandbox allows before answering 429. None: unlimited.
    calltools_rps: float | None = None


@dataclass(frozen=True)
class WorldInfo:
    ghl_url: str
    ghl_token: str
    calltools_url: str  # the API base, ending in /api/
    calltools_token: str
    aws_endpoint: str
    queue_url: str


def route_of(system: str, method: str, path: str, query: str, body: Any) -> str:
    """`GET /api/contacts/?phone_number`, `PATCH /api/contacts/{id}/ add_buckets`: ids folded
    away, and a bucket change told apart from a field update (both PATCH the contact)."""
    if system == "calltools":
        path = re.sub(r"/\d+/", "/{id}/", path)
    elif path.startswith("/contacts/") and path.rstrip("/") != "/contacts/search":
        # A contact's tags and notes (call outcomes' writes) stay apart from the contact itself.
        sub = re.fullmatch(r"/contacts/[^/]+/(\w+)/?", path)
        path = "/contacts/{id}" + (f"/{sub.group(1)}" if sub else "")
    keys = sorted(
        k for k in parse_qs(query, keep_blank_values=True) if k not in ("page", "page_size")
    )
    route = f"{method} {path}" + (f"?{'&'.join(keys)}" if keys else "")
    if method == "PATCH" and isinstance(body, dict):
        membership = sorted(k for k in body if k.endswith(("_buckets", "_contacts")))
        route += " " + (",".join(membership) if membership else "fields")
    return route


class _World(OutcomeWorld):
    """Lives in the child process; every public method is a command the parent may send."""

    def __init__(self, config: WorldConfig) -> None:
        os.environ.update(AWS_TEST_CREDENTIALS)
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            os.environ.pop(name, None)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

        import boto3
        from moto.server import ThreadedMotoServer

        from sandbox import moto_sqs
        from sandbox.aws import ensure_resources
        from sandbox.calltools import CallToolsSandbox
        from sandbox.ghl import GhlSandbox

        # Real SQS costs no more with a long queue; moto 5.2.5's does (sandbox/moto_sqs.py).
        moto_sqs.apply()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.ghl = GhlSandbox(
            location_id=LOCATION_ID, rate_limit=config.ghl_rate_limit, latency_ms=config.latency_ms
        ).start()
        self.calltools = CallToolsSandbox(
            buckets=[{"id": BUCKET_ID, "name": BUCKET_NAME}],
            rate_limit_per_second=config.calltools_rps,
            latency_ms=config.latency_ms,
        ).start()
        kwargs: dict[str, Any] = {"endpoint_url": self.endpoint, "region_name": REGION}
        self.resources = ensure_resources(
            boto3.client("sqs", **kwargs),
            boto3.client("dynamodb", **kwargs),
            queue_name=QUEUE_NAME,
            table_name=TABLE_NAME,
            visibility_timeout=VISIBILITY_TIMEOUT,
        )
        self.tagged: list[str] = []

    def info(self) -> dict[str, str]:
        return asdict(
            WorldInfo(
                ghl_url=self.ghl.url,
                ghl_token=self.ghl.token,
                calltools_url=self.calltools.base_url,
                calltools_token=self.calltools.token,
                aws_endpoint=self.endpoint,
                queue_url=self.resources.queue_url,
            )
        )

    # --- GHL data ------------------------------------------------------------------------------
    def generate(self, total: int, tagged: int) -> int:
        """`total` invented GHL contacts, `tagged` of them (evenly spread) carrying the rule's tag."""
        if tagged == total:
            self.tagged = self.ghl.generate_contacts(total, tag=TAG)
            return len(self.tagged)
        ids = self.ghl.generate_contacts(total, tag=None)
        step = total // tagged
        self.tagged = ids[::step][:tagged]
        for cid in self.tagged:
            contact = self.ghl.contact(cid)
            assert contact is not None
            self.ghl.set_tags(cid, [*contact.get("tags", []), TAG])
        return len(self.tagged)

    def change_tagged(self, every: int, limit: int, company: str = "Changed Co") -> int:
        """Change the company of every `every`-th tagged contact (GHL bumps dateUpdated)."""
        changed = self.tagged[::every][:limit]
        for cid in changed:
            self.ghl.upsert_contact({"id": cid, "companyName": company})
        return len(changed)

    def upsert(self, contact: dict[str, Any]) -> None:
        self.ghl.upsert_contact(contact)

    def seed_in_sync(self) -> int:
        """Make CallTools and the state table look as if every tagged contact had been synced.

        Setup, not measured: items go straight into moto's backend, which is ~10× faster than
        4,000 BatchWriteItem requests for 100,000 contacts.
        """
        from boto3.dynamodb.types import TypeSerializer
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        from chalicelib.adapters.aws.state import to_item
        from chalicelib.domain.rules import ResolvedRule, Rule
        from chalicelib.domain.sync_plan import FieldMapping
        from sandbox.seed import synced_state

        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
        serializer = TypeSerializer()
        rules = [
            ResolvedRule(
                rule=Rule(tag=TAG, bucket=BUCKET_NAME), bucket_id=BUCKET_ID, bucket_name=BUCKET_NAME
            )
        ]
        mapping = FieldMapping()
        seeded = 0
        for cid in self.tagged:
            state = synced_state(self.ghl, self.calltools, cid, rules, mapping)
            if state is None:
                continue
            item = {k: serializer.serialize(v) for k, v in to_item(state, 1).items()}
            backend.put_item(TABLE_NAME, item)
            seeded += 1
        return seeded

    def desired_members(self) -> list[str]:
        """The tagged contacts a sync must put in the bucket (dialable, not DND), sorted."""
        from chalicelib.domain.contact import contact_from_ghl
        from chalicelib.domain.rules import ResolvedRule, Rule
        from chalicelib.domain.sync_plan import FieldMapping, plan_sync

        rule = Rule(tag=TAG, bucket=BUCKET_NAME)
        rules = [ResolvedRule(rule=rule, bucket_id=BUCKET_ID, bucket_name=BUCKET_NAME)]
        desired = []
        for cid in self.tagged:
            data = self.ghl.contact(cid)
            if (
                data
                and plan_sync(contact_from_ghl(data), rules, None, FieldMapping()).desired_buckets
            ):
                desired.append(cid)
        return sorted(desired)

    # --- observation and control ---------------------------------------------------------------
    def counts(self) -> dict[str, dict[str, int]]:
        """API calls received since the last reset_calls, by system and route."""
        out: dict[str, dict[str, int]] = {}
        for system, server in (("ghl", self.ghl), ("calltools", self.calltools)):
            routes = Counter(
                route_of(system, c.method, c.path, c.query, c.body) for c in server.calls()
            )
            out[system] = dict(routes)
        return out

    def reset_calls(self) -> None:
        self.ghl.reset_calls()
        self.calltools.reset_calls()

    def reset_data(self) -> None:
        """Empty both sandboxes (moto is left alone: only the product uses it)."""
        self.ghl.reset()
        self.calltools.reset()
        self.tagged = []

    def bucket_members(self) -> int:
        return len(self.calltools.bucket_members(BUCKET_ID))

    def bucket_ghl_ids(self) -> list[str]:
        members = self.calltools.bucket_members(BUCKET_ID)
        return sorted(
            str(c["ghl_contact_id"])
            for c in self.calltools.contacts()
            if c["id"] in members and c.get("ghl_contact_id")
        )

    def stop(self) -> None:
        self.ghl.stop()
        self.calltools.stop()
        self.moto.stop()


def _serve(conn: Connection, config: WorldConfig) -> None:
    """The child's command loop: (name, args) in, ("ok", value) or ("error", traceback) out."""
    try:
        world = _World(config)
        conn.send(("ok", world.info()))
    except Exception:
        conn.send(("error", traceback.format_exc()))
        return
    while True:
        try:
            name, args = conn.recv()
        except EOFError:  # the parent went away
            break
        try:
            conn.send(("ok", getattr(world, name)(*args)))
        except Exception:
            conn.send(("error", traceback.format_exc()))
        if name == "stop":
            break


class WorldError(RuntimeError):
    pass


class World(OutcomeCalls):
    """The parent's handle on a world process (a context manager)."""

    def __init__(self, config: WorldConfig | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")  # a clean interpreter: no product imports
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve, args=(child, config or WorldConfig()), name="bench-world", daemon=True
        )
        self._proc.start()
        child.close()
        self.info = WorldInfo(**cast(dict[str, str], self._reply()))

    def _reply(self) -> Any:
        status, value = self._conn.recv()
        if status != "ok":
            raise WorldError(f"world process failed:\n{value}")
        return value

    def _call(self, name: str, *args: Any) -> Any:
        self._conn.send((name, args))
        return self._reply()

    def generate(self, total: int, tagged: int) -> int:
        return int(self._call("generate", total, tagged))

    def change_tagged(self, every: int, limit: int) -> int:
        return int(self._call("change_tagged", every, limit))

    def upsert(self, contact: dict[str, Any]) -> None:
        self._call("upsert", contact)

    def seed_in_sync(self) -> int:
        return int(self._call("seed_in_sync"))

    def desired_members(self) -> list[str]:
        return cast(list[str], self._call("desired_members"))

    def counts(self) -> dict[str, dict[str, int]]:
        return cast(dict[str, dict[str, int]], self._call("counts"))

    def reset_calls(self) -> None:
        self._call("reset_calls")

    def reset_data(self) -> None:
        self._call("reset_data")

    def bucket_members(self) -> int:
        return int(self._call("bucket_members"))

    def bucket_ghl_ids(self) -> list[str]:
        return cast(list[str], self._call("bucket_ghl_ids"))

    def close(self) -> None:
        if self._proc.is_alive():
            with contextlib.suppress(WorldError, EOFError, OSError):  # it is going anyway
                self._call("stop")
            self._proc.join(timeout=10)
            if self._proc.is_alive():
                self._proc.kill()
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def total_calls(counts: dict[str, dict[str, int]], system: str | None = None) -> int:
    systems = [system] if system else list(counts)
    return sum(sum(counts.get(s, {}).values()) for s in systems)
