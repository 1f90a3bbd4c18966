"""One request to the status page, as the page needs it: headers, query, form and source address.

Parsing is strict and small: a form over 8 KB or with too many fields is treated as empty, so a
state-changing POST fails its CSRF check instead of being half-read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from chalicelib.inbound.webhook_auth import header_value

MAX_FORM_BYTES = 8 * 1024
_MAX_FIELDS = 20


@dataclass(frozen=True)
class PageRequest:
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    raw_body: bytes | str | None = None
    source_ip: str = "unknown"

    def cookie(self, name: str) -> str | None:
        """The first cookie called `name` (browsers send ours once: its Path is /admin)."""
        for part in (header_value(self.headers, "cookie") or "").split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key == name:
                return value.strip().strip('"')
        return None

    def form(self) -> dict[str, str]:
        """An urlencoded body's fields (the first value of each); {} for anything else."""
        raw = self.raw_body or b""
        if len(raw) > MAX_FORM_BYTES:
            return {}
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            fields = parse_qs(text, max_num_fields=_MAX_FIELDS, errors="replace")
        except ValueError:  # over max_num_fields
            return {}
        return {k: v[0] for k, v in fields.items() if v}

    def param(self, name: str) -> str:
        return (self.query.get(name) or "").strip()
