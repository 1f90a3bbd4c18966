"""The configured rules with their CallTools buckets resolved, for the sync and reconciliation;
the names it resolves are recorded for the stats."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from chalicelib.domain.errors import ConfigurationError, NotFound
from chalicelib.domain.rules import ResolvedRule, Rule
from chalicelib.ports import CallToolsApi
from chalicelib.runtime.observability import logger


class RuleBook:
    """The configured rules with bucket names resolved to CallTools ids (once per process)."""

    def __init__(
        self,
        rules: Sequence[Rule],
        calltools: CallToolsApi,
        on_resolved: Callable[[dict[int, str]], None] | None = None,
    ) -> None:
        self._rules = list(rules)
        self._calltools = calltools
        self._on_resolved = on_resolved
        self._resolved: list[ResolvedRule] | None = None
        self._lock = threading.Lock()

    def resolved(self) -> list[ResolvedRule]:
        with self._lock:
            if self._resolved is None:
                resolved = []
                for rule in self._rules:
                    try:
                        bucket_id, name = self._calltools.resolve_bucket(rule.bucket)
                    except NotFound as exc:
                        raise ConfigurationError(
                            f"bucket {rule.bucket!r} of rule {rule.tag!r} not found in CallTools"
                        ) from exc
                    resolved.append(ResolvedRule(rule=rule, bucket_id=bucket_id, bucket_name=name))
                if self._on_resolved is not None:
                    try:  # for the stats' names only: never a reason to stop syncing
                        self._on_resolved({r.bucket_id: r.bucket_name for r in resolved})
                    except Exception:
                        logger.warning("could not record bucket names")
                self._resolved = resolved
            return self._resolved
