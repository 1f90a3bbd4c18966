"""The status and JSON body a route answers with; app.py turns it into a Chalice Response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def reply(status: int, result: str, **extra: Any) -> HttpReply:
    return HttpReply(status, {"status": result, **extra})


@dataclass(frozen=True)
class PageReply:
    """An HTML page (or a redirect) for the status page's routes."""

    status: int
    html: str = ""
    headers: dict[str, str] = field(default_factory=dict)
