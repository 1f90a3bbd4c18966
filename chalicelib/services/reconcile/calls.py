"""The API calls a run makes, by system, kept on the run (`api_calls`) for /sync/stats and the CLI.

GHL searches and SQS batches are counted where they are made; DynamoDB calls are read from the
state adapter's own counter, before and after a page, since the calls hide inside its methods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


def _no_count() -> int:
    return 0


def bump(counts: dict[str, int], system: str, n: int) -> dict[str, int]:
    return {**counts, system: counts.get(system, 0) + n}


@dataclass(frozen=True)
class CallMeter:
    """Reads how many DynamoDB calls the state adapter has made so far (fakes count none)."""

    dynamodb_calls: Callable[[], int] = _no_count

    def page(self) -> PageCalls:
        """Start counting one page's calls."""
        return PageCalls(self.dynamodb_calls)


# The default where nothing counts DynamoDB calls (fakes in tests).
UNCOUNTED = CallMeter()


class PageCalls:
    def __init__(self, dynamodb_calls: Callable[[], int]) -> None:
        self._dynamodb_calls = dynamodb_calls
        self._before = dynamodb_calls()

    def added_to(self, counts: dict[str, int], **made: int) -> dict[str, int]:
        """`counts` plus the calls `made` by system, then the DynamoDB calls since `page()`."""
        for system, n in made.items():
            counts = bump(counts, system, n)
        return bump(counts, "dynamodb", self._dynamodb_calls() - self._before)
