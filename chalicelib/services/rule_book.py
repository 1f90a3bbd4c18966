"""The configured rules with their CallTools buckets resolved, for the sync and reconciliation;
the names it resolves are recorded for the stats, and the resolution is shared between containers
(BucketMemory) so that a container that starts soon after another asks CallTools nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from chalicelib.domain.errors import ConfigurationError, NotFound, TransientError
from chalicelib.domain.rules import ResolvedRule, Rule
from chalicelib.domain.time import utcnow
from chalicelib.ports import BucketMemory, BucketResolution, CallToolsApi
from chalicelib.runtime.observability import logger

# How long a resolution is used, whichever container made it. A bucket renamed or re-created in
# CallTools is picked up within this; until then writes go to the id resolved before, which is
# what every warm container did until its end before resolutions expired.
FRESH_FOR = timedelta(minutes=15)
# How far apart two containers' clocks may be.
CLOCK_SKEW = timedelta(minutes=1)
# CallTools could not resolve again: the previous resolution is kept, and asked again after this.
RETRY_AFTER = timedelta(minutes=1)


class RuleBook:
    """The configured rules with bucket names resolved to CallTools ids, for FRESH_FOR at a time."""

    def __init__(
        self,
        rules: Sequence[Rule],
        calltools: CallToolsApi,
        on_resolved: Callable[[dict[int, str]], None] | None = None,
        memory: BucketMemory | None = None,
        *,
        fresh_for: timedelta = FRESH_FOR,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._rules = list(rules)
        self._calltools = calltools
        self._on_resolved = on_resolved
        self._memory = memory if self._rules else None  # no rules: nothing worth sharing
        self._fresh_for = fresh_for
        self._now = now
        self._resolved: list[ResolvedRule] | None = None
        self._expires_at: datetime | None = None
        self._lock = threading.Lock()

    def resolved(self) -> list[ResolvedRule]:
        with self._lock:
            now = self._now()
            if self._resolved is None or self._expires_at is None or now >= self._expires_at:
                self._refresh(now)
            assert self._resolved is not None
            return self._resolved

    def _refresh(self, now: datetime) -> None:
        recalled = self._recall(now)
        if recalled is not None:
            resolution, resolved_at = recalled
            self._resolved = self._apply(resolution)
            self._expires_at = resolved_at + self._fresh_for
            return
        try:
            resolution = self._ask_calltools()
        except TransientError:
            if self._resolved is None:
                raise
            # Still the buckets CallTools named a moment ago: better than stopping the sync.
            logger.warning("could not resolve the rules' buckets again; keeping the previous")
            self._expires_at = now + RETRY_AFTER
            return
        self._resolved = self._apply(resolution)
        self._expires_at = now + self._fresh_for
        self._record(resolution, now)

    def _recall(self, now: datetime) -> tuple[BucketResolution, datetime] | None:
        """A resolution another container (or this one) made lately that covers every rule."""
        if self._memory is None:
            return None
        try:
            recalled = self._memory.recall()
        except Exception:
            logger.warning("could not recall the rules' buckets; asking CallTools")
            return None
        if recalled is None:
            return None
        resolution, resolved_at = recalled
        # Further ahead of our clock than containers' clocks drift apart: a damaged item, never
        # trusted (it would be for as long as it stays ahead).
        if not -CLOCK_SKEW < now - resolved_at < self._fresh_for:
            return None
        if any(rule.bucket_key not in resolution for rule in self._rules):
            return None  # the rules changed since
        return resolution, resolved_at

    def _ask_calltools(self) -> BucketResolution:
        resolution: BucketResolution = {}
        for rule in self._rules:
            if rule.bucket_key in resolution:
                continue
            try:
                resolution[rule.bucket_key] = self._calltools.resolve_bucket(rule.bucket)
            except NotFound as exc:
                raise ConfigurationError(
                    f"bucket {rule.bucket!r} of rule {rule.tag!r} not found in CallTools"
                ) from exc
        return resolution

    def _apply(self, resolution: BucketResolution) -> list[ResolvedRule]:
        return [
            ResolvedRule(rule=rule, bucket_id=bucket_id, bucket_name=name)
            for rule in self._rules
            for bucket_id, name in [resolution[rule.bucket_key]]
        ]

    def _record(self, resolution: BucketResolution, now: datetime) -> None:
        """Neither record is a reason to stop syncing."""
        if self._on_resolved is not None:
            try:  # for the stats' names
                self._on_resolved(dict(resolution.values()))
            except Exception:
                logger.warning("could not record bucket names")
        if self._memory is not None:
            try:
                self._memory.remember(resolution, now)
            except Exception:
                logger.warning("could not remember the rules' buckets")


class AccountMemory:
    """A registered location's BucketMemory, its entries marked with the location's version
    (`updated_at`, moved by every `PUT`): a location moved to another CallTools account never
    takes the ids the old account resolved, though both share the location's one item."""

    def __init__(self, memory: BucketMemory, version: str) -> None:
        self._memory = memory
        self._mark = f"{version}|"

    def recall(self) -> tuple[BucketResolution, datetime] | None:
        recalled = self._memory.recall()
        if recalled is None:
            return None
        resolution, resolved_at = recalled
        mine = {
            key.removeprefix(self._mark): entry
            for key, entry in resolution.items()
            if key.startswith(self._mark)
        }
        return (mine, resolved_at) if mine else None

    def remember(self, resolution: BucketResolution, resolved_at: datetime) -> None:
        marked = {f"{self._mark}{key}": entry for key, entry in resolution.items()}
        self._memory.remember(marked, resolved_at)
