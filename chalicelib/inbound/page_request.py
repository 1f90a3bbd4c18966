"""One request to the status page, as the page needs it: headers, query, form and source address.

Parsing is strict and small: a form over 8 KB or with too many fields is treated as empty, so a
state-changing POST fails its CSRF check instead of being half-read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from chalicelib.inbound.webhook_auth import header_value

MAX_FORM_BYTES = 8 * 1024
_MAX_FIELDS = 20
_BASE = re.compile(r"(/[A-Za-z0-9._~-]+){0,4}")


def url_base(path: str | None, resource_path: str | None) -> str:
    """What API Gateway puts before our routes (a stage such as `/api`, a custom domain's base
    path), so the page's links, redirects and cookie path work wherever it is mounted."""
    if not path or not resource_path or not path.endswith(resource_path):
        return ""
    base = path[: len(path) - len(resource_path)]
    return base if _BASE.fullmatch(base) else ""


@dataclass(frozen=True)
class PageRequest:
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    raw_body: bytes | str | None = None
    source_ip: str = "unknown"
    base: str = ""  # see url_base

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
