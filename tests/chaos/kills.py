"""The chaos runs' stand-in for a Lambda runtime dying in the middle of a record."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any


class Killed(BaseException):
    """Stands in for the Lambda runtime dying: not an Exception, so no handler cleans up."""


def mortal_call(
    name: str, call: Callable[..., Any], rng: random.Random, kills: dict[str, int], rate: float
) -> Callable[..., Any]:
    """`call`, except that now and then (`rate` per side) the runtime dies just before or just
    after it; each death is counted in `kills`."""

    def run(*args: Any, **kwargs: Any) -> Any:
        if rng.random() < rate:
            kills[f"before {name}"] = kills.get(f"before {name}", 0) + 1
            raise Killed()
        result = call(*args, **kwargs)
        if rng.random() < rate:
            kills[f"after {name}"] = kills.get(f"after {name}", 0) + 1
            raise Killed()
        return result

    return run


def surviving_kills(
    invoke: Callable[[dict[str, Any]], Any],
) -> Callable[[dict[str, Any], Any], Any]:
    """The poller's handler around `invoke`: a killed runtime is a failed invocation, and its
    batch returns to the queue whole."""

    def handler(event: dict[str, Any], context: Any) -> Any:
        try:
            return invoke(event)
        except Killed as exc:
            raise RuntimeError("consumer killed") from exc

    return handler
