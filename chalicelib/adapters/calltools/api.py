"""CallTools REST client (reference: calltools.md). Every path ends in a slash.

The one open question of the public docs — how a contact is put in a bucket — lives in
`set_bucket_membership` alone, which also reads membership back: a 2xx without membership is a failure.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from chalicelib.adapters.aws.secrets import Provider, TokenAuth
from chalicelib.adapters.calltools.account import (
    BUCKET_METHODS,
    DEFAULT_ACCOUNT,
    MAX_SEARCH_PAGES,
    PHONE_FIELDS,
    AccountConventions,
)
from chalicelib.adapters.calltools.hooks import RestHooks
from chalicelib.adapters.calltools.outcomes import CallToolsOutcomes
from chalicelib.adapters.http.client import ClientOptions
from chalicelib.adapters.http.retry import (
    body_excerpt,
    json_body,
    retry_after_seconds,
)
from chalicelib.domain.errors import (
    ConfigurationError,
    MaybeApplied,
    NotFound,
    PermanentError,
    TransientError,
)
from chalicelib.domain.phone import to_e164
from chalicelib.ports import CallToolsMatch, CreatedContact
from chalicelib.runtime.observability import logger


class CallToolsHttpApi:
    def __init__(
        self,
        base_url: str,
        token: str | Provider,
        *,
        account: AccountConventions = DEFAULT_ACCOUNT,
        options: ClientOptions | None = None,
    ) -> None:
        options = options or ClientOptions(max_rps=5.0)  # a retry policy of its own
        self._pacer = options.pacer()
        self._http = options.client(
            base_url.rstrip("/") + "/", {"Accept": "application/json"}, TokenAuth("Token", token)
        )
        self._retry = options.retry
        method = account.bucket_method
        self._configured_method = method
        self._working_method: str | None = None if method == "auto" else method
        self._ghl_id_field = account.ghl_id_field
        self._create_takes_buckets = True
        self._region = account.default_region
        self._lock = threading.Lock()

    @property
    def bucket_method(self) -> str | None:
        """The bucket-assignment call in use: configured, or found to work on this account."""
        return self._working_method

    def outcomes(self) -> CallToolsOutcomes:
        """Call results read back by id, paced and retried with this client's calls."""
        return CallToolsOutcomes(self._request, ghl_id_field=self._ghl_id_field)

    def rest_hooks(self) -> RestHooks:
        return RestHooks(self._request)

    # --- plumbing --------------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any) -> Any:
        def send() -> httpx.Response:
            self._pacer.wait()
            response = self._http.request(method, path, **kwargs)
            if response.status_code == 429:
                self._pacer.hold_off(retry_after_seconds(response) or 1.0)
            return response

        response = self._retry.send("calltools", send, idempotent=idempotent)
        status = response.status_code
        if status in (401, 403):
            raise ConfigurationError(f"CallTools rejected the API key ({status})")
        if status == 404:
            raise NotFound(f"CallTools {method} {path}: not found")
        if status >= 400:
            raise PermanentError(f"CallTools {method} {path}: {status} {body_excerpt(response)}")
        return json_body(response) if status != 204 else None

    def _pages(
        self, path: str, params: Mapping[str, Any], max_pages: int, *, complete: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Follow a DRF list's pages (`next`) up to `max_pages`; with `complete`, running out of
        pages is an error rather than a truncated answer."""
        page = 1
        while page <= max_pages:
            body = self._request("GET", path, params={**params, "page": page})
            if not isinstance(body, dict):
                raise TransientError(f"CallTools {path}: unexpected list reply")
            yield from (r for r in body.get("results", []) if isinstance(r, dict))
            if not body.get("next"):
                return
            page += 1
        if complete:
            raise ConfigurationError(
                f"CallTools {path} returned over {max_pages} pages; its filter seems ignored"
            )
        logger.warning("CallTools list truncated", extra={"path": path, "pages": max_pages})

    # --- buckets ---------------------------------------------------------------------------------
    def probe(self) -> None:
        """One page of one bucket: raises ConfigurationError when the key is refused, NotFound
        when the base URL serves no CallTools API."""
        self._request("GET", "buckets/", params={"page_size": 1})

    def list_buckets(self) -> list[dict[str, Any]]:
        return list(self._pages("buckets/", {"page_size": 250}, max_pages=40))

    def resolve_bucket(self, bucket: str | int) -> tuple[int, str]:
        if isinstance(bucket, int):
            body = self._request("GET", f"buckets/{bucket}/")
            return bucket, str(body.get("name", bucket)) if isinstance(body, dict) else str(bucket)
        wanted = bucket.strip().casefold()
        matches = [
            b for b in self.list_buckets() if str(b.get("name", "")).strip().casefold() == wanted
        ]
        if len(matches) > 1:
            raise ConfigurationError(f"several CallTools buckets are named {bucket!r}; use its id")
        if not matches:
            raise NotFound(f"no CallTools bucket named {bucket!r}")
        return int(matches[0]["id"]), str(matches[0]["name"])

    def is_member(self, contact_id: int, bucket_id: int) -> bool:
        """Read back from the contact. A reply that does not list its buckets says nothing: it is
        never taken for "not a member" (that would count a removal as done)."""
        body = self._request("GET", f"contacts/{contact_id}/")
        member = _holds(body, contact_id, bucket_id, same_id=False)
        if member is None:
            raise TransientError("CallTools did not say which buckets the contact is in")
        return member

    def set_bucket_membership(self, contact_id: int, bucket_id: int, member: bool) -> None:
        """The only place that writes bucket membership. See calltools.md §7 for the candidates.

        With method "auto", candidates are tried in order and the first whose effect is read back
        is kept for the life of the process. A write is verified from its reply when the reply is
        the contact with its `buckets` (contact_patch), otherwise by reading the contact back.
        """
        known = self._working_method
        if known:
            if not self._write_verified(known, contact_id, bucket_id, member):
                self._unverified(known, contact_id, bucket_id)
                raise ConfigurationError(f"bucket method {known!r} changed nothing")
            return
        # A probe only proves something if membership has to change: check first.
        if self.is_member(contact_id, bucket_id) == member:
            return
        for method in BUCKET_METHODS:
            try:
                verified = self._write_verified(method, contact_id, bucket_id, member)
            except (PermanentError, NotFound) as exc:  # this account lacks that call: next one
                logger.info("bucket method refused", extra={"method": method, "error": str(exc)})
                continue
            if verified:
                logger.info("CallTools bucket method verified", extra={"method": method})
                with self._lock:
                    self._working_method = method
                return
            self._unverified(method, contact_id, bucket_id)
        raise ConfigurationError(
            "no bucket-assignment call changed membership; see docs/configuration.md, CALLTOOLS_BUCKET_METHOD"
        )

    def _write_verified(self, method: str, contact_id: int, bucket_id: int, member: bool) -> bool:
        """Write, then verify: a reply that shows the contact as wanted is enough; any other
        reply (none, another shape, or one that disagrees) is checked by reading the contact."""
        try:
            reply = self._write_membership(method, contact_id, bucket_id, member)
        except PermanentError:
            # Refused, perhaps because the change exists already (the row a lost reply's write
            # made): that counts as done. A refusal that changed nothing is reported as one.
            if self.is_member(contact_id, bucket_id) == member:
                return True
            raise
        if _holds(reply, contact_id, bucket_id) == member:
            return True
        return self.is_member(contact_id, bucket_id) == member

    @staticmethod
    def _unverified(method: str, contact_id: int, bucket_id: int) -> None:
        logger.error(
            "CallTools accepted a bucket change that did not happen",
            extra={"method": method, "contact_id": contact_id, "bucket_id": bucket_id},
        )

    def _write_membership(self, method: str, contact_id: int, bucket_id: int, member: bool) -> Any:
        """The write; returns its reply (None when it has none worth reading)."""
        if method == "contact_patch":
            key = "add_buckets" if member else "remove_buckets"
            return self._request("PATCH", f"contacts/{contact_id}/", json={key: [bucket_id]})
        try:
            return self._write_membership_row(method, contact_id, bucket_id, member)
        except NotFound as exc:
            # A 404 here names the bucket or the endpoint, not the contact: it must not make the
            # caller forget the contact (NotFound means "contact gone, recreate").
            raise PermanentError(str(exc)) from exc

    def _write_membership_row(
        self, method: str, contact_id: int, bucket_id: int, member: bool
    ) -> None:
        if method == "bucket_patch":
            key = "add_contacts" if member else "remove_contacts"
            self._request("PATCH", f"buckets/{bucket_id}/", json={key: [contact_id]})
        elif member:
            # A resent POST after a lost reply would meet the row it made: not resent here, and
            # a refusal is judged by reading membership back (`_write_verified`).
            self._request(
                "POST",
                "contactbuckets/",
                json={"contact": contact_id, "bucket": bucket_id},
                idempotent=False,
            )
        else:
            rows = self._pages(
                "contactbuckets/",
                {"contact_id": contact_id, "bucket_id": bucket_id, "page_size": 250},
                max_pages=MAX_SEARCH_PAGES,
            )
            for row in rows:
                if row.get("contact") == contact_id and row.get("bucket") == bucket_id:
                    with contextlib.suppress(NotFound):  # gone already (a lost reply's retry)
                        self._request("DELETE", f"contactbuckets/{row['id']}/")
        return None

    # --- contacts --------------------------------------------------------------------------------
    def find_contacts_by_phone(self, phone_e164: str) -> list[CallToolsMatch]:
        """Contacts whose phone is exactly this number. Search hits are never trusted unchecked."""
        matches = []
        # A truncated search could miss the contact and make us create a duplicate: all or error.
        for row in self._pages(
            "contacts/",
            {"phone_number": phone_e164, "page_size": 100},
            MAX_SEARCH_PAGES,
            complete=True,
        ):
            phones = [row.get(f) for f in PHONE_FIELDS]
            phones += [
                p.get("phone_number")
                for p in row.get("_phone_numbers") or []
                if isinstance(p, dict)
            ]
            if any(isinstance(p, str) and to_e164(p, self._region) == phone_e164 for p in phones):
                ghl_id = row.get(self._ghl_id_field) if self._ghl_id_field else None
                matches.append(CallToolsMatch(int(row["id"]), str(ghl_id) if ghl_id else None))
        return matches

    def create_contact(
        self, fields: Mapping[str, str], buckets: frozenset[int] = frozenset()
    ) -> CreatedContact:
        # Not resent after a timeout or 5xx: the contact may exist already, and a second POST would
        # duplicate it. The caller's retry searches by phone first and adopts it.
        carry = sorted(buckets) if self._creates_into_buckets() else []
        payload = {**fields, "add_buckets": carry} if carry else dict(fields)
        try:
            body = self._request("POST", "contacts/", json=payload, idempotent=False)
        except PermanentError:
            # A refusal made nothing, so a create without the unproven field is safe to send.
            if not carry or self._working_method is not None:
                raise
            self._create_ignored_buckets()
            carry = []
            body = self._request("POST", "contacts/", json=dict(fields), idempotent=False)
        if isinstance(body, dict):
            if isinstance(body.get("id"), int):
                created = int(body["id"])
                confirmed = frozenset(b for b in carry if _holds(body, created, b))
                if len(confirmed) < len(carry):
                    self._create_ignored_buckets()
                return CreatedContact(created, confirmed)
            # The account merges duplicates: the reply names the contact it merged into, and
            # says nothing of its buckets.
            merged = body.get("duplicate_contacts")
            if isinstance(merged, list) and merged and isinstance(merged[0], int):
                logger.info("CallTools merged the new contact into an existing one")
                return CreatedContact(int(merged[0]))
        # A 2xx that names no contact may still have made one: leave it to the retry's search.
        logger.error("CallTools create: reply has neither id nor duplicate_contacts")
        raise MaybeApplied("CallTools create: reply has neither id nor duplicate_contacts")

    def _creates_into_buckets(self) -> bool:
        """Whether a create carries `add_buckets`: where PATCH `add_buckets` is the working bucket
        call (calltools.md §7 candidate 1), or with "auto" before any call is proven, and no create
        has been seen to ignore or refuse it. Each create's reply is checked (see `create_contact`);
        what it does not show is added separately, by `set_bucket_membership`. Trying it on an
        unproven account costs nothing: a create that ignores the field is a create, and one that
        refuses it is sent again without."""
        method = self._working_method
        return method in ("contact_patch", None) and self._create_takes_buckets

    def _create_ignored_buckets(self) -> None:
        if self._create_takes_buckets:
            logger.warning("CallTools create ignored add_buckets; buckets are added separately")
        self._create_takes_buckets = False

    def update_contact(self, contact_id: int, fields: Mapping[str, str]) -> None:
        self._request("PATCH", f"contacts/{contact_id}/", json=dict(fields))


def _holds(reply: Any, contact_id: int, bucket_id: int, *, same_id: bool = True) -> bool | None:
    """Whether a contact object lists the bucket; None when `reply` is not that contact (a write's
    reply must name the contact; a read of /contacts/{id}/ is that contact)."""
    if not isinstance(reply, dict) or (same_id and reply.get("id") != contact_id):
        return None
    buckets = reply.get("buckets")
    if not isinstance(buckets, list):
        return None
    return str(bucket_id) in {str(b.get("id") if isinstance(b, dict) else b) for b in buckets}
