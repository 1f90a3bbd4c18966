"""Structured logging (Powertools Logger) that never carries a raw phone number, email or secret."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.domain.phone import mask_phone

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Phone-looking runs: optional +, digits with common separators (checked further in _mask_phone_run).
_PHONE = re.compile(r"\+?\(?\d[\d\-\s().]{5,20}\d")


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


# Captured, so that splitting on it keeps the ids, at the odd places of the result.
_UUID = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})")


def redact(text: str) -> str:
    """Mask emails and phone-like digit runs in free text (e.g. an API error body).

    UUIDs (webhook and message ids) are left whole: their digit groups are not phone numbers.
    """
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    parts = _UUID.split(text)
    return "".join(p if i % 2 else _PHONE.sub(_mask_phone_run, p) for i, p in enumerate(parts))


def _mask_phone_run(match: re.Match[str]) -> str:
    """+ and 8–15 digits, or 10–12 digits: a phone. Shorter runs are ids and dates; longer, epochs."""
    run = match.group(0)
    digits = sum(c.isdigit() for c in run)
    is_phone = 8 <= digits <= 15 if run.startswith("+") else 10 <= digits <= 12
    return mask_phone(run) if is_phone else run


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Last line of defence: whatever a caller logs, PII patterns are masked before output."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            record.args = (
                tuple(_redact_value(a) for a in record.args)
                if isinstance(record.args, tuple)
                else _redact_value(record.args)
            )
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str | dict | list):
                setattr(record, key, _redact_value(value))
        if record.exc_info and record.exc_info[1] is not None:
            # An exception's text may quote what it failed on: format it here, masked, and
            # drop the raw one so no formatter prints it again.
            record.exception = redact(logging.Formatter().formatException(record.exc_info))
            record.exception_name = type(record.exc_info[1]).__name__
            record.exc_info = None
        return True


_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

logger = Logger(service="ghl-calltools-sync")
for _handler in logger.handlers:
    _handler.addFilter(RedactingFilter())

# CloudWatch metrics as EMF log lines, flushed once per invocation by app.py's middleware.
metrics = Metrics(namespace="GhlCallToolsSync", service="ghl-calltools-sync")


_pending = threading.Event()  # set when a metric awaits flushing
# A new contact's phone search runs beside its GHL re-read, records of a batch run side by side,
# and the local stack's consumers share this process: adding and flushing exclude each other.
_adding = threading.Lock()


def count(name: str, value: float = 1) -> None:
    with _adding:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    _pending.set()


def milliseconds(name: str, value: float) -> None:
    with _adding:
        metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=value)
    _pending.set()


def flush_metrics() -> None:
    """Publish what was counted; an invocation that counted nothing prints nothing."""
    with _adding:
        if _pending.is_set():
            _pending.clear()
            metrics.flush_metrics(raise_on_empty_metrics=False)
