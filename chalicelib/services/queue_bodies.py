"""What the consumer reads off a queue record's body without validating it, and how a deferred
copy's body is written: apart from consumer.py, which is about the batch."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def deferred_once_more(body: str, counter: str | None = None) -> str:
    """The body with its deferral counts raised (contact messages; others go back as they are)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict) or data.get("kind", "contact") not in ("contact", "outcome"):
        return body
    for name in ("deferrals", counter):
        if name:
            count = data.get(name)
            data[name] = (count if isinstance(count, int) else 0) + 1
    return json.dumps(data, ensure_ascii=True, separators=(",", ":"))


def kind_of(body: str) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def raw_record(record: object) -> dict[str, Any]:
    """Powertools keeps successes as Lambda's dicts and failures as SQSRecord wrappers."""
    if isinstance(record, SQSRecord):
        return dict(record.raw_event)
    assert isinstance(record, dict)
    return record
