"""CallTools rest hook subscriptions and their delivery errors (calltools.md §8).

A hook carries no signature; its only secret is the `token` in the subscribed URL, so every URL
shown or logged goes through `mask_token` first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from chalicelib.domain.errors import MaybeApplied, NotFound, TransientError

# CallToolsHttpApi._request: (method, path, *, idempotent=..., **httpx kwargs) → the reply's JSON.
Request = Callable[..., Any]

HOOK_MODEL = "Historical Call Disposition"
HOOK_PATH = "/webhook/calltools"
SUBSCRIPTIONS = "resthooksubscriptions/"
ERROR_LOGS = "resthookerrorlogs/"
MAX_PAGES = 40
SECRET_PARAMS = ("token", "secret")  # one deployment guide puts the secret in `?secret=`

_SECRET_IN_URL = re.compile(r"([?&](?:token|secret)=)[^&#\s\"'<>]*", re.IGNORECASE)


def mask_token(text: str) -> str:
    """`...?token=abc` → `...?token=***`, wherever a URL appears in `text`."""
    return _SECRET_IN_URL.sub(r"\1***", text)


def mask_values(value: Any) -> Any:
    """`mask_token` over every string of a JSON value (an error log entry echoes the URL)."""
    if isinstance(value, str):
        return mask_token(value)
    if isinstance(value, dict):
        return {k: mask_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_values(v) for v in value]
    return value


def hook_url(api_url: str, secret: str) -> str:
    """The stage's CallTools hook endpoint, carrying the secret the route checks."""
    return f"{api_url.rstrip('/')}{HOOK_PATH}?{urlencode({'token': secret})}"


def endpoint(url: str) -> str:
    """`url` without its secret: two subscriptions to one endpoint with different tokens match."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query) if k.lower() not in SECRET_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _model_key(model: str) -> str:
    return re.sub(r"[^a-z0-9]", "", model.lower())


@dataclass(frozen=True)
class Subscription:
    id: int
    model: str
    url: str
    description: str = ""

    @property
    def masked_url(self) -> str:
        return mask_token(self.url)

    def is_for(self, model: str) -> bool:
        return _model_key(self.model) == _model_key(model)


class RestHooks:
    def __init__(self, request: Request) -> None:
        self._request = request

    def _rows(self, path: str, params: dict[str, Any], max_pages: int) -> Iterator[dict[str, Any]]:
        """A DRF list's rows, following `next`; a bare list reply is taken as the whole list."""
        for page in range(1, max_pages + 1):
            body = self._request("GET", path, params={**params, "page": page})
            if isinstance(body, list):
                yield from (r for r in body if isinstance(r, dict))
                return
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise TransientError(f"CallTools {path}: unexpected list reply")
            yield from (r for r in body["results"] if isinstance(r, dict))
            if not body.get("next"):
                return

    def subscriptions(self) -> list[Subscription]:
        found = []
        for row in self._rows(SUBSCRIPTIONS, {"page_size": 250}, MAX_PAGES):
            if isinstance(row.get("id"), int):
                found.append(
                    Subscription(
                        id=row["id"],
                        model=str(row.get("resthook_model") or row.get("model") or ""),
                        url=str(row.get("url") or ""),
                        description=str(row.get("description") or ""),
                    )
                )
        return found

    def subscribe(self, model: str, url: str, description: str) -> int:
        # Not resent after a lost reply: a second POST would subscribe twice (two deliveries of
        # every record); `hooks install` lists first, so running it again finds the first one.
        body = self._request(
            "POST",
            SUBSCRIPTIONS,
            json={"resthook_model": model, "url": url, "description": description},
            idempotent=False,
        )
        if isinstance(body, dict) and isinstance(body.get("id"), int):
            return int(body["id"])
        raise MaybeApplied("CallTools subscribe: reply names no subscription id")

    def remove(self, subscription_id: int) -> bool:
        """False when it was gone already."""
        try:
            self._request("DELETE", f"{SUBSCRIPTIONS}{subscription_id}/")
        except NotFound:
            return False
        return True

    def error_logs(self, limit: int = 5) -> list[dict[str, Any]]:
        """The newest delivery errors, masked. Their shape is undocumented: rows as they come,
        newest first where they carry an id."""
        rows = list(self._rows(ERROR_LOGS, {"ordering": "-id", "page_size": limit}, 1))
        if rows and all(isinstance(r.get("id"), int) for r in rows):
            rows.sort(key=lambda r: int(r["id"]), reverse=True)
        return [mask_values(r) for r in rows[:limit]]
