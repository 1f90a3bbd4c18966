"""The status page's login throttle against DynamoDB (moto): parallel guesses and a table that
cannot count are the cases a guesser would use."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.aws.throttle import MAX_FAILURES, DynamoLoginThrottle
from chalicelib.services.admin_page.page import PageRequest
from tests.support.service import ADMIN_TOKEN, Service

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table as DynamoTable

SOURCE = "203.0.113.9"


class Table:
    """The state table as DynamoDB serves it to parallel requests: each write to an item is
    atomic (a lock here, since moto does not promise it), and every read happens before any
    of the writes that follow it (a barrier): the worst interleaving for a check-then-count."""

    def __init__(self, table: Any, parties: int, writes_fail: bool = False) -> None:
        self._table = table
        self._barrier = threading.Barrier(parties, timeout=10)
        self._lock = threading.Lock()
        self._writes_fail = writes_fail

    def get_item(self, **kwargs: Any) -> Any:
        item = self._table.get_item(**kwargs)
        self._barrier.wait()
        return item

    def update_item(self, **kwargs: Any) -> Any:
        if self._writes_fail:
            code = "ProvisionedThroughputExceededException"
            raise ClientError({"Error": {"Code": code, "Message": "slow down"}}, "UpdateItem")
        with self._lock:
            return self._table.update_item(**kwargs)


def throttle_on(table: Table) -> DynamoLoginThrottle:
    return DynamoLoginThrottle(cast("DynamoTable", table))  # the methods the throttle uses


def table_of(service: Service) -> Any:
    return service.container.dynamodb.Table(service.container.settings.state.table_name)


def sign_in(service: Service, token: str) -> int:
    request = PageRequest(raw_body=f"token={token}".encode(), source_ip=SOURCE)
    return service.container.operator.admin_page.login(request).status


def test_parallel_wrong_tokens_get_the_limit_of_tries_not_one_each(
    service: Service, monkeypatch: pytest.MonkeyPatch
):
    guesses = 3 * MAX_FAILURES
    table = Table(table_of(service), parties=guesses)
    monkeypatch.setattr(
        service.container.operator.admin_page, "_throttle", lambda: throttle_on(table)
    )
    with ThreadPoolExecutor(guesses) as pool:
        statuses = list(pool.map(lambda i: sign_in(service, f"guess-{i}"), range(guesses)))
    assert statuses.count(401) == MAX_FAILURES and statuses.count(429) == guesses - MAX_FAILURES


def test_a_throttle_that_cannot_count_checks_no_token(
    service: Service, monkeypatch: pytest.MonkeyPatch
):
    table = Table(table_of(service), parties=1, writes_fail=True)
    monkeypatch.setattr(
        service.container.operator.admin_page, "_throttle", lambda: throttle_on(table)
    )
    # Were wrong tokens refused while uncounted, a guesser would go on until one was not.
    statuses = {sign_in(service, f"guess-{i}") for i in range(2 * MAX_FAILURES)}
    statuses.add(sign_in(service, ADMIN_TOKEN))
    assert statuses == {503}


def test_the_right_token_does_not_use_up_the_tries(service: Service):
    for _ in range(MAX_FAILURES - 1):
        assert sign_in(service, "wrong") == 401
    for _ in range(3):
        assert sign_in(service, ADMIN_TOKEN) == 303
    assert sign_in(service, "wrong") == 401
    assert sign_in(service, ADMIN_TOKEN) == 429


def test_ipv6_addresses_of_one_network_share_their_tries(service: Service):
    # Anyone with IPv6 holds a /64: 2^64 addresses would be 2^64 × 5 tries.
    def from_address(address: str, token: str) -> int:
        request = PageRequest(raw_body=f"token={token}".encode(), source_ip=address)
        return service.container.operator.admin_page.login(request).status

    for i in range(MAX_FAILURES):
        assert from_address(f"2001:db8:1:2::{i + 1:x}", "wrong") == 401
    assert from_address("2001:db8:1:2:ffff:1:2:3", ADMIN_TOKEN) == 429
    assert from_address("2001:db8:1:3::1", ADMIN_TOKEN) == 303  # another network
