"""What the CallTools API does as the Django REST Framework app it is: page-number pagination with
absolute links, and the 400s, shaped {field: [messages]}, for bad primary keys and numbers."""

from __future__ import annotations

import math
from collections.abc import Callable, Container
from typing import Any
from urllib.parse import urlencode

from sandbox.http.messages import HttpError, Request, Response

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 25, 250


def paginate(req: Request, items: list[Any], default_host: Callable[[], str]) -> Response:
    """A page of `items` as DRF's PageNumberPagination renders it; links name the Host asked."""
    size = _int_or(req.arg("page_size"), DEFAULT_PAGE_SIZE)
    size = min(size, MAX_PAGE_SIZE) if size > 0 else DEFAULT_PAGE_SIZE
    pages = max(1, math.ceil(len(items) / size))
    page = _int_or(req.arg("page"), 1)
    if not 1 <= page <= pages:
        raise HttpError(404, "Invalid page.")
    host = req.headers.get("Host") or default_host()

    def link(n: int) -> str:  # as DRF builds them: sorted params, no page param for page 1
        params = {k: v for k, v in req.query.items() if k != "page"}
        params.update({"page": [str(n)]} if n > 1 else {})
        query = urlencode(sorted(params.items()), doseq=True)
        return f"http://{host}{req.path}" + (f"?{query}" if query else "")

    body: dict[str, Any] = {
        "count": len(items),
        "next": link(page + 1) if page < pages else None,
    }
    body["previous"] = link(page - 1) if page > 1 else None
    body["results"] = items[(page - 1) * size : page * size]
    return 200, body, {}


def pk_list(data: dict[str, Any], key: str, known: Container[int] | None = None) -> list[int]:
    """`data[key]` as a list of primary keys (of `known` ones, if given), or DRF's 400."""
    value = data.get(key, [])
    if not isinstance(value, list):
        kind = type(value).__name__
        raise HttpError(400, body={key: [f'Expected a list of items but got type "{kind}".']})
    for item in value:
        if isinstance(item, bool) or not str(item).isdigit():
            raise HttpError(400, body={key: ["Incorrect type. Expected pk value."]})
        if known is not None and int(item) not in known:
            raise HttpError(400, body={key: [f'Invalid pk "{item}" - object does not exist.']})
    return [int(item) for item in value]


def _int_or(value: str | None, default: int) -> int:
    try:
        return int(value or default)
    except ValueError:
        return 0 if value else default  # a bad page is "Invalid page."; a bad size, the default


def whole_number(key: str, value: str) -> int:
    if not value.strip().isdigit():
        raise HttpError(400, body={key: ["Enter a whole number."]})
    return int(value)
