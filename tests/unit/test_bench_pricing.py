"""The bench's AWS cost arithmetic (bench/pricing.py) and DynamoDB request units
(bench/ddbunits.py): known counts give known dollars, so a slip in a formula fails here."""

from __future__ import annotations

import math

import pytest

from bench import pricing
from bench.ddbunits import UnitCounter, item_bytes, read_units, write_units

MEMORY = {"api_handler": 256, "sync_contacts": 512}


def test_a_million_of_a_known_usage_costs_known_dollars_per_service():
    usage = pricing.Usage(
        api_requests=1,
        lambda_invocations={"api_handler": 1, "sync_contacts": 0.1},
        lambda_billed_ms={"api_handler": 20, "sync_contacts": 10},
        sqs_requests=3,
        dynamodb_rru=1,
        dynamodb_wru=2,
        log_bytes=1000,
    )
    dollars = pricing.cost(usage, MEMORY)
    # 20 ms × ¼ GB + 10 ms × ½ GB = 0.01 GB-s per webhook: 10,000 GB-s per million.
    expected = {
        "API Gateway": 3.50,
        "Lambda requests": 1.1 * 0.20,
        "Lambda duration": 10_000 * 0.0000166667,
        "SQS": 3 * 0.40,
        "DynamoDB": 1 * 0.125 + 2 * 0.625,
        "CloudWatch Logs": 1.0 * 0.50,  # 1,000 bytes × 1M = 1 GB
    }
    for service, usd in expected.items():
        assert dollars[service] == pytest.approx(usd), service
    assert dollars["total"] == pytest.approx(sum(expected.values()))
    assert dollars["total"] == pytest.approx(6.961667, abs=1e-6)


def test_cost_scales_with_the_count_and_an_empty_usage_costs_nothing():
    usage = pricing.Usage(api_requests=1, sqs_requests=2)
    assert pricing.cost(usage, MEMORY, times=2_000_000)["total"] == pytest.approx(2 * (3.5 + 0.8))
    assert pricing.cost(pricing.Usage(), MEMORY)["total"] == 0


@pytest.mark.parametrize(
    ("seconds", "ms"), [(0.0, 1), (0.0001, 1), (0.012, 12), (0.0121, 13), (1.0, 1000)]
)
def test_lambda_bills_each_invocation_rounded_up_to_the_millisecond(seconds, ms):
    assert pricing.billed_ms(seconds) == ms


@pytest.mark.parametrize(("size", "requests"), [(0, 1), (65_536, 1), (65_537, 2), (200_000, 4)])
def test_sqs_bills_a_request_per_64_kb_chunk(size, requests):
    assert pricing.sqs_billed_requests(size) == requests


def test_one_record_per_invocation_adds_invocations_mapping_requests_and_overhead():
    batched = pricing.Usage(
        api_requests=1,
        lambda_invocations={"api_handler": 1, "sync_contacts": 0.1},
        lambda_billed_ms={"api_handler": 7, "sync_contacts": 80},
        sqs_requests=2.2,
        log_bytes=1000,
    )
    single = pricing.one_per_invocation(
        batched, "sync_contacts", records=1.0, overhead_ms=5, overhead_log_bytes=100
    )
    assert single.lambda_invocations == {"api_handler": 1, "sync_contacts": 1.0}
    assert single.lambda_billed_ms["sync_contacts"] == pytest.approx(80 + 0.9 * 5)
    assert single.sqs_requests == pytest.approx(2.2 + 0.9 * 2)
    assert single.log_bytes == pytest.approx(
        1000 + 0.9 * (pricing.PLATFORM_LOG_BYTES_PER_INVOCATION + 100)
    )
    assert single.api_requests == 1  # the webhook side is unchanged


def test_memory_follows_chalice_precedence_function_then_stage_then_top():
    config = {
        "lambda_memory_size": 1024,
        "stages": {
            "prod": {
                "lambda_memory_size": 384,
                "lambda_functions": {"a": {"lambda_memory_size": 256}, "b": {}},
            },
            "bare": {"lambda_functions": {"c": {}}},
        },
    }
    assert pricing.lambda_memory_mb("prod", config) == {"a": 256, "b": 384}
    assert pricing.lambda_memory_mb("bare", config) == {"c": 1024}
    assert pricing.lambda_memory_mb("bare", {"stages": config["stages"]}) == {"c": 128}


def test_the_project_config_gives_the_two_sized_functions_their_memory():
    memory = pricing.lambda_memory_mb()
    assert memory["api_handler"] == 256
    assert memory["sync_contacts"] == 512


def test_every_price_names_a_source_and_uncertain_ones_are_listed():
    for name, price in pricing.PRICES.items():
        assert price.usd > 0 and price.sources, name
        assert all(s.startswith("https://") for s in price.sources), name
    assert "API Gateway" not in pricing.uncertain_prices()  # read on an AWS page
    assert "DynamoDB writes" in pricing.uncertain_prices()


# --- DynamoDB units ----------------------------------------------------------------------------------
def test_item_size_counts_names_values_numbers_and_nesting():
    assert item_bytes({"pk": {"S": "abc"}}) == 2 + 3
    assert item_bytes({"n": {"N": "123.45"}}) == 1 + 4  # 5 digits → 3 bytes + 1
    assert item_bytes({"n": {"N": "1000"}}) == 1 + 2  # trailing zeros do not count
    assert item_bytes({"b": {"BOOL": True}, "z": {"NULL": True}}) == 2 + 2
    assert item_bytes({"l": {"L": [{"S": "ab"}, {"S": "c"}]}}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_bytes({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_bytes({"ss": {"SS": ["a", "bc"]}}) == 2 + 3
    assert item_bytes({"b": {"B": "AAEC"}}) == 1 + 3  # base64 of 3 bytes


def test_units_round_up_to_4_kb_reads_and_1_kb_writes():
    assert read_units(0, consistent=True) == 1
    assert read_units(4096, consistent=False) == 0.5
    assert read_units(4097, consistent=True) == 2
    assert read_units(100, consistent=True, transactional=True) == 2
    assert write_units(0) == 1
    assert write_units(1024) == 1
    assert write_units(1025) == 2
    assert write_units(3000, transactional=True) == 6


def _item(size_of_blob: int) -> dict[str, dict[str, str]]:
    return {"pk": {"S": "contact#1"}, "blob": {"S": "x" * size_of_blob}}


def test_counter_bills_consistent_reads_whole_and_missing_items_the_minimum():
    units = UnitCounter()
    key = {"pk": {"S": "contact#1"}}
    units.call(
        "GetItem", {"TableName": "t", "Key": key, "ConsistentRead": True}, {"Item": _item(10)}
    )
    units.call("GetItem", {"TableName": "t", "Key": key}, {})
    units.call(
        "BatchGetItem",
        {"RequestItems": {"t": {"Keys": [key, {"pk": {"S": "x"}}], "ConsistentRead": True}}},
        {"Responses": {"t": [_item(5000)]}},
    )
    assert units.rru == 1 + 0.5 + 2 + 1  # 5 KB item → 2 units; the key not found → 1
    assert units.wru == 0
    assert units.largest_item == item_bytes(_item(5000))


def test_counter_bills_an_update_on_the_larger_of_the_item_before_and_its_request():
    units = UnitCounter()
    key = {"pk": {"S": "contact#1"}}
    units.call("PutItem", {"TableName": "t", "Item": _item(1500)}, {})  # 2 WRU
    units.call(
        "UpdateItem",
        {"TableName": "t", "Key": key, "ExpressionAttributeValues": {":v": {"N": "1"}}},
        {},
    )
    units.call("DeleteItem", {"TableName": "t", "Key": key}, {})
    units.call("DeleteItem", {"TableName": "t", "Key": key}, {})  # gone: the key alone
    units.call("DescribeTable", {"TableName": "t"}, {})  # no units
    assert units.wru == 2 + 2 + 2 + 1


def test_counter_bills_transactions_twice_and_batched_writes_per_item():
    units = UnitCounter()
    key = {"pk": {"S": "contact#2"}}
    units.call(
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": _item(10)}},
                {"Update": {"TableName": "t", "Key": key}},
                {"ConditionCheck": {"TableName": "t", "Key": key}},
            ]
        },
        {},
    )
    units.call(
        "BatchWriteItem",
        {
            "RequestItems": {
                "t": [{"PutRequest": {"Item": _item(10)}}, {"DeleteRequest": {"Key": key}}]
            }
        },
        {},
    )
    assert units.wru == 2 + 2 + 2 + 1 + 1
    units.call(
        "Scan",
        {"TableName": "t"},
        {"Items": [_item(3000), _item(3000)]},
    )
    assert units.rru == 1  # ~6 KB returned, eventually consistent: 2 × ½
    assert units.partial_reads == 1
    assert math.isclose(units.rru, 1.0)
