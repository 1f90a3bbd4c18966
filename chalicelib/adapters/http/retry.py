"""One retry policy for both APIs: 429 (honouring Retry-After), 5xx (HTML bodies too) and
network errors/timeouts are retried with jittered backoff inside a time budget; then TransientError.
A request that is not idempotent (a create) is resent only after a failure proving it did nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from chalicelib.domain.errors import MaybeApplied, TransientError
from chalicelib.runtime.observability import count, logger, redact

# 501 and 505 say the server will never do it; every other 5xx (Cloudflare's 52x too) may pass.
PERMANENT_5XX = frozenset({501, 505})


def is_transient(status: int) -> bool:
    return status == 429 or (status >= 500 and status not in PERMANENT_5XX)


_METRIC_NAMES = {"ghl": "Ghl", "calltools": "CallTools"}


class RetryableResponse(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def body_excerpt(response: httpx.Response, limit: int = 300) -> str:
    """A short, redacted copy of a reply body; 5xx bodies may be HTML pages."""
    try:
        text = response.text
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        return "<unreadable body>"
    # Redact before cutting: a cut email or phone would no longer look like one.
    return redact(" ".join(text.split()))[:limit]


@dataclass
class RetryPolicy:
    budget_seconds: float = 20.0
    max_attempts: int = 5
    initial_wait: float = 0.4
    max_wait: float = 8.0
    sleep: Callable[[float], None] = time.sleep

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_exponential_jitter(multiplier=self.initial_wait, max=self.max_wait)(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableResponse):
            hinted = retry_after_seconds(exc.response)
            if hinted is not None:
                return hinted
        return float(backoff)

    def send(
        self, system: str, request: Callable[[], httpx.Response], *, idempotent: bool = True
    ) -> httpx.Response:
        """With `idempotent` False, only failures that prove the server did nothing are retried
        here (429, connection refused or timed out); a 5xx or a read timeout may hide work done,
        so it becomes TransientError at once and the caller decides how to find out.
        """

        def retry_status(status: int) -> bool:
            return status == 429 if not idempotent else is_transient(status)

        # A refused or timed-out connection never carried the request.
        unsent: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout)
        retry_errors = (httpx.TransportError,) if idempotent else unsent

        def attempt() -> httpx.Response:
            count(f"{_METRIC_NAMES.get(system, system)}ApiCalls")
            response = request()
            if retry_status(response.status_code):
                raise RetryableResponse(response)
            return response

        def before_sleep(state: RetryCallState) -> None:
            count(f"{_METRIC_NAMES.get(system, system)}ApiRetries")
            exc = state.outcome.exception() if state.outcome else None
            logger.info(
                "retrying",
                extra={"system": system, "attempt": state.attempt_number, "error": str(exc)},
            )

        retrying = Retrying(
            retry=retry_if_exception_type((*retry_errors, RetryableResponse)),
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.budget_seconds),
            wait=self._wait,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            response = retrying(attempt)
        except RetryableResponse as exc:
            raise TransientError(
                f"{system} answered {exc.response.status_code}: {body_excerpt(exc.response)}"
            ) from exc
        except httpx.TransportError as exc:
            error = TransientError if idempotent or isinstance(exc, unsent) else MaybeApplied
            raise error(f"{system} unreachable: {type(exc).__name__}") from exc
        if is_transient(response.status_code):  # only a non-idempotent request gets here
            raise MaybeApplied(
                f"{system} answered {response.status_code}; it may have acted, so not resent here"
            )
        return response


def json_body(response: httpx.Response) -> Any:
    """The reply's JSON, or None when it is not JSON (e.g. an HTML error page)."""
    try:
        return response.json()
    except ValueError:
        return None
