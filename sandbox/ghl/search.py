"""The GHL contact search's request language: pageLimit and paging bounds, the sort, the
`searchAfter` cursor, the filter tree and the free-text `query`, compiled to a predicate over
stored contacts.

A sort, field or operator the sandbox does not model is refused with a 422, never pretended to
match.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from sandbox.ghl.store import SORT_FIELDS, Predicate
from sandbox.http.messages import HttpError

MAX_PAGE_LIMIT, MAX_WINDOW = 500, 10_000  # documented pageLimit cap and page-paging reach


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def invalid(message: str) -> HttpError:
    return HttpError(422, message)


def parse_sort(sort: Any) -> tuple[str, bool]:
    if not sort:
        return "dateAdded", False
    if not isinstance(sort, list) or len(sort) > 2 or not all(isinstance(s, dict) for s in sort):
        raise invalid("sort must be a list of at most 2 {field, direction} objects")
    for s in sort:
        if s.get("field") not in SORT_FIELDS:
            raise invalid(f"sort field {s.get('field')!r} is not supported by the sandbox")
        if str(s.get("direction", "asc")).lower() not in ("asc", "desc"):
            raise invalid("sort direction must be asc or desc")
    # Only the first key orders results; ties fall back to the id, as the cursor encodes.
    return sort[0]["field"], str(sort[0].get("direction", "asc")).lower() == "desc"


def parse_cursor(after: Any) -> tuple[int, str]:
    if not isinstance(after, list) or len(after) != 2 or not isinstance(after[1], str):
        raise invalid('searchAfter must be [<sort value>, "<id>"]')
    try:
        return int(after[0]), after[1]
    except (TypeError, ValueError) as exc:
        raise invalid("searchAfter sort value must be epoch milliseconds") from exc


def compile_filters(filters: Any) -> Predicate:
    """The top-level `filters` array: all of them must match."""
    return _compile(filters, "AND")


def _compile(filters: Any, group: str) -> Predicate:
    if not isinstance(filters, list):
        raise invalid("filters must be an array")
    preds = [_compile_node(f) for f in filters]
    if group == "OR" and preds:
        return lambda c, t: any(p(c, t) for p in preds)
    return lambda c, t: all(p(c, t) for p in preds)


def _compile_node(node: Any) -> Predicate:
    if not isinstance(node, dict):
        raise invalid("each filter must be an object")
    if "group" in node:
        if (group := str(node["group"]).upper()) not in ("AND", "OR"):
            raise invalid("group must be AND or OR")
        return _compile(node.get("filters"), group)
    field, op, value = node.get("field"), node.get("operator"), node.get("value")
    negate = op in ("not_eq", "not_contains", "not_exists")
    if op in ("exists", "not_exists") and field in ("tags", "id", "email", "phone", "dnd"):
        if field == "tags":
            return lambda c, t: bool(t) != negate
        return lambda c, t: (c.get(field) not in (None, "")) != negate
    if field == "tags" and op in ("eq", "not_eq", "contains", "not_contains"):
        raw = value if isinstance(value, list) else [value]
        if not raw or not all(isinstance(v, str) and v.strip() for v in raw):
            raise invalid("tags filter needs a non-empty string value")
        values = [str(v).strip().lower() for v in raw]
        if op in ("eq", "not_eq"):
            return lambda c, t: any(v in t for v in values) != negate
        return lambda c, t: any(v in tag for v in values for tag in t) != negate
    if field == "dnd" and op in ("eq", "not_eq"):
        if not isinstance(value, bool):
            raise invalid("dnd filter value must be a boolean")
        return lambda c, t: (bool(c.get("dnd")) == value) != negate
    if field in ("id", "email", "phone") and op in ("eq", "not_eq"):
        if not isinstance(value, str):
            raise invalid(f"{field} filter value must be a string")

        def norm(text: Any) -> str:  # ids are case-sensitive; emails and phones are not
            return str(text or "") if field == "id" else str(text or "").strip().lower()

        wanted = norm(value)
        return lambda c, t: (norm(c.get(field)) == wanted) != negate
    raise invalid(f"filter {field!r} with operator {op!r} is not supported by the sandbox")


MAX_QUERY = 75  # documented length limit of the free-text `query`
# The fields the free-text query is modelled to look in. GHL documents no semantics for it:
# this is a guess (a case-insensitive substring of a name, the email, the phone or the company),
# so a client must verify what it finds, as the contact lookup does.
QUERY_FIELDS = ("firstName", "lastName", "email", "phone", "companyName")


def compile_query(query: Any) -> Predicate:
    """`query`: free text, at most 75 characters; empty or absent matches every contact."""
    if query is None or query == "":
        return lambda c, t: True
    if not isinstance(query, str) or len(query) > MAX_QUERY:
        raise invalid(f"query must be a string of at most {MAX_QUERY} characters")
    wanted = query.strip().lower()
    return lambda c, t: any(wanted in str(c.get(f) or "").lower() for f in QUERY_FIELDS)
