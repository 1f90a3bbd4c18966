"""What a sandbox handler sees and returns: the parsed request, the response triple, the error it
may raise, and the JSON encoding of both ends. Standard library only."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, NamedTuple
from urllib.parse import parse_qs

FORM = "application/x-www-form-urlencoded"


class Call(NamedTuple):
    """One API request as received; `body` is the parsed JSON (raw text if it was not JSON)."""

    method: str
    path: str
    query: str
    body: Any = None


@dataclass(frozen=True)
class Raw:
    """A non-JSON response body, e.g. the HTML error page a proxy would serve."""

    text: str
    content_type: str = "text/html; charset=utf-8"


Response = tuple[int, Any, dict[str, str]]


class HttpError(Exception):
    """Raised by handlers to reply with an error; `body` defaults to the server's error shape."""

    def __init__(self, status: int, message: str = "", body: Any = None) -> None:
        super().__init__(status, message)
        self.status, self.message, self.body = status, message, body


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: Message
    body: Any = None
    body_error: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, list[str]] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        """Last value of a query parameter, like Django's QueryDict.get."""
        values = self.query.get(name)
        return values[-1] if values else None

    def json_object(self) -> dict[str, Any]:
        if self.body is None:
            return {}  # an empty body reads as {}, as in DRF
        if isinstance(self.body, dict):
            return self.body
        raise HttpError(400, "Expected a JSON object.")


Handler = Callable[[Request], Response]


def encode(resp: Response) -> tuple[int, bytes, dict[str, str]]:
    """Serialise under the lock, so a reply never reads state another request is changing."""
    status, body, extra = resp
    headers: dict[str, str] = {}
    if isinstance(body, Raw):
        data, headers["Content-Type"] = body.text.encode(), body.content_type
    elif status == 204 or body is None:
        data = b""
    else:
        data, headers["Content-Type"] = json.dumps(body, default=str).encode(), "application/json"
    if status != 204:
        headers["Content-Length"] = str(len(data))
    return status, data, {**headers, **extra}


def parse_body(raw: bytes, content_type: str | None) -> tuple[Any, str | None]:
    """The JSON body, or a form body (GHL's OAuth endpoints) as {name: last value}."""
    if (content_type or "").split(";")[0].strip().lower() == FORM:
        fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in fields.items()}, None
    return parse_json(raw)


def parse_json(raw: bytes) -> tuple[Any, str | None]:
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except ValueError as exc:
        return None, f"JSON parse error - {exc}"
