"""AWS list prices (us-east-1, on demand, free tiers excluded) and what a million webhooks cost.

Each price names where it was read and when. AWS's own pricing pages render their figures
client-side, so the stored copies that could be searched hold the rules (1 ms billing, 64 KB
chunks, request units) but not the numbers; a price read only on third-party pages that agree
with each other is marked `uncertain` and says so wherever it is shown. Check them against
https://aws.amazon.com/pricing before quoting a figure to a buyer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

CHALICE_CONFIG = Path(__file__).resolve().parents[1] / ".chalice" / "config.json"
CHALICE_DEFAULT_MEMORY_MB = 128  # Chalice's lambda_memory_size when the config names none
MILLION = 1_000_000
SQS_CHUNK_BYTES = 64 * 1024  # each 64 KB of a request's payload is billed as one request
LOG_GB_BYTES = 1_000_000_000  # decimal GB: the larger count of GB, so the dearer reading


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    sources: tuple[str, ...]
    read_on: str  # when the sources were read
    uncertain: bool  # True: no AWS-owned page showing the figure could be found
    note: str = ""


_READ_ON = "2026-11-29"
# API Gateway REST API, first 333 million requests a month (Chalice deploys a REST API).
API_GATEWAY_REST = Price(
    3.50,
    "million requests",
    (
        "https://docs.aws.amazon.com/pt_br/whitepapers/latest/"
        "best-practices-api-gateway-private-apis-integration/cost-optimization.html",
    ),
    _READ_ON,
    uncertain=False,
    note="AWS whitepaper, Table 4 (English text); aws.amazon.com/api-gateway/pricing/ "
    "stored without figures",
)
# [uncertain]: third-party pages only
LAMBDA_REQUESTS = Price(
    0.20,
    "million invocations",
    (
        "https://cloudchipr.com/blog/aws-lambda-pricing",
        "https://git.mcrn.ar/mariano/lambda_local_runner/src/branch/main/docs/lambdas-md/"
        "lambda-13-cost.md",
    ),
    _READ_ON,
    uncertain=True,
    note="aws.amazon.com/lambda/pricing/ (stored) states 1 ms billing but renders prices "
    "client-side",
)
# x86_64, first 6 billion GB-s a month: scripts/package.py builds for x86_64.
# [uncertain]: third-party pages only
LAMBDA_GB_SECOND_X86 = Price(
    0.0000166667,
    "GB-second",
    (
        "https://cloudchipr.com/blog/aws-lambda-pricing",
        "https://git.mcrn.ar/mariano/lambda_local_runner/src/branch/main/docs/lambdas-md/"
        "lambda-13-cost.md",
        "https://app.unpkg.com/artillery@2.0.28/files/lib/platform/aws-lambda/prices.js",
    ),
    _READ_ON,
    uncertain=True,
)
# [uncertain]: third-party pages only
LAMBDA_GB_SECOND_ARM = Price(  # only for the arm64 comparison in the notes
    0.0000133334,
    "GB-second",
    LAMBDA_GB_SECOND_X86.sources,
    _READ_ON,
    uncertain=True,
)
# [uncertain]: third-party pages only
SQS_STANDARD = Price(
    0.40,
    "million requests",
    (
        "https://cloudburn.io/blog/amazon-sqs-pricing",
        "https://www.factualminds.com/blog/amazon-sqs-pricing-64kb-rule-fifo-vs-standard/",
        "https://unanswered.io/guide/aws-sqs-pricing-and-cost-optimization",
    ),
    _READ_ON,
    uncertain=True,
    note="first 100 billion requests a month; each 64 KB chunk of a payload is one request",
)
# On-demand, Standard table class, after the 50% cut of 1 November 2024.
# [uncertain]: third-party pages only
DYNAMODB_WRU = Price(
    0.625,
    "million write request units",
    (
        "https://airbyte.com/data-engineering-resources/dynamodb-pricing",
        "https://www.jusdb.com/blog/dynamodb-cost-optimization-a-comprehensive-guide-by-jusdb",
    ),
    _READ_ON,
    uncertain=True,
    note="one 2025 page (infratally.com) still quotes the pre-cut $0.25 per million RRU",
)
# [uncertain]: third-party pages only
DYNAMODB_RRU = Price(0.125, "million read request units", DYNAMODB_WRU.sources, _READ_ON, True)
# [uncertain]: third-party pages only
CLOUDWATCH_LOGS_INGEST = Price(
    0.50,
    "GB ingested (Standard log class)",
    (
        "https://www.factualminds.com/blog/amazon-cloudwatch-pricing-metrics-logs-alarms-dashboards/",
        "https://coralogix.com/blog/is-cloudwatch-really-cost-efficient",
    ),
    _READ_ON,
    uncertain=True,
    note="storage ($/GB-month) depends on the retention and is left out",
)
PRICES: dict[str, Price] = {
    "API Gateway": API_GATEWAY_REST,
    "Lambda requests": LAMBDA_REQUESTS,
    "Lambda duration": LAMBDA_GB_SECOND_X86,
    "SQS": SQS_STANDARD,
    "DynamoDB writes": DYNAMODB_WRU,
    "DynamoDB reads": DYNAMODB_RRU,
    "CloudWatch Logs": CLOUDWATCH_LOGS_INGEST,
}

# Lambda writes START, END and REPORT lines per invocation into the function's log group; these
# are their shapes (a request id is 36 characters), measured once here rather than guessed.
_RID = "0" * 36
PLATFORM_LOG_BYTES_PER_INVOCATION = len(
    f"START RequestId: {_RID} Version: $LATEST\n"
    f"END RequestId: {_RID}\n"
    f"REPORT RequestId: {_RID}\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
    "Memory Size: 512 MB\tMax Memory Used: 123 MB\t\n"
)
# An event source mapping invocation costs SQS one ReceiveMessage and, when the function
# succeeds, one DeleteMessageBatch; its empty long polls while idle are a fixed monthly cost.
ESM_SQS_REQUESTS_PER_INVOCATION = 2


def billed_ms(seconds: float) -> int:
    """Lambda bills each invocation's duration rounded up to the next millisecond."""
    return max(1, math.ceil(seconds * 1000))


def sqs_billed_requests(payload_bytes: int) -> int:
    return max(1, math.ceil(payload_bytes / SQS_CHUNK_BYTES))


def lambda_memory_mb(
    stage: str = "prod", config: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """Each function's memory in the stage, with Chalice's precedence: function, stage, top."""
    cfg = config if config is not None else json.loads(CHALICE_CONFIG.read_text())
    staged = cfg["stages"][stage]
    default = staged.get("lambda_memory_size", cfg.get("lambda_memory_size"))
    return {
        name: int(fn.get("lambda_memory_size", default or CHALICE_DEFAULT_MEMORY_MB))
        for name, fn in staged.get("lambda_functions", {}).items()
    }


@dataclass(frozen=True)
class Usage:
    """What one webhook (or one contact) asks of AWS, in the units AWS bills."""

    api_requests: float = 0.0
    lambda_invocations: Mapping[str, float] = field(default_factory=dict)  # by function
    lambda_billed_ms: Mapping[str, float] = field(default_factory=dict)  # by function
    sqs_requests: float = 0.0  # billed requests, 64 KB chunks, our calls and the mapping's
    dynamodb_rru: float = 0.0
    dynamodb_wru: float = 0.0
    log_bytes: float = 0.0


def cost(usage: Usage, memory_mb: Mapping[str, int], times: int = MILLION) -> dict[str, float]:
    """Dollars for `times` of `usage`, by service, and their total (key "total")."""
    gb_seconds = sum(
        ms / 1000 * memory_mb[name] / 1024 for name, ms in usage.lambda_billed_ms.items()
    )
    out = {
        "API Gateway": usage.api_requests * API_GATEWAY_REST.usd / MILLION,
        "Lambda requests": sum(usage.lambda_invocations.values()) * LAMBDA_REQUESTS.usd / MILLION,
        "Lambda duration": gb_seconds * LAMBDA_GB_SECOND_X86.usd,
        "SQS": usage.sqs_requests * SQS_STANDARD.usd / MILLION,
        "DynamoDB": (usage.dynamodb_rru * DYNAMODB_RRU.usd + usage.dynamodb_wru * DYNAMODB_WRU.usd)
        / MILLION,
        "CloudWatch Logs": usage.log_bytes / LOG_GB_BYTES * CLOUDWATCH_LOGS_INGEST.usd,
    }
    out = {service: dollars * times for service, dollars in out.items()}
    out["total"] = sum(out.values())
    return out


def one_per_invocation(
    usage: Usage, function: str, records: float, overhead_ms: float, overhead_log_bytes: float
) -> Usage:
    """`usage` measured in batches, as if each of `function`'s `records` (per contact) had an
    invocation of its own: the added invocations, the event source mapping's SQS requests and
    Lambda's log lines that come with them, and the measured cost of an invocation beyond its
    records (`overhead_ms`, `overhead_log_bytes` each)."""
    batched = usage.lambda_invocations.get(function, 0.0)
    added = max(0.0, records - batched)
    return replace(
        usage,
        lambda_invocations={**usage.lambda_invocations, function: batched + added},
        lambda_billed_ms={
            **usage.lambda_billed_ms,
            function: usage.lambda_billed_ms.get(function, 0.0) + added * overhead_ms,
        },
        sqs_requests=usage.sqs_requests + added * ESM_SQS_REQUESTS_PER_INVOCATION,
        log_bytes=usage.log_bytes
        + added * (PLATFORM_LOG_BYTES_PER_INVOCATION + overhead_log_bytes),
    )


def uncertain_prices() -> list[str]:
    return [name for name, price in PRICES.items() if price.uncertain]
