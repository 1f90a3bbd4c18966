"""The percontact scenario's AWS rows and notes: requests per contact and what a million
webhooks cost at list prices (bench.pricing), by service.

Two deliveries bound the consumer's share. In batches: as measured, webhooks posted first and
then drained, so the poller hands the consumer full batches (a burst, e.g. a bulk edit in GHL).
One at a time: a steady trickle (a million webhooks a month is 0.4 a second) gives each record
an invocation of its own; what such an invocation costs beyond its record is measured on a few
unchanged contacts delivered singly ("unchanged_one_by_one") and added to the batched figures.
"""

from __future__ import annotations

from typing import Any

from bench import pricing
from bench.invocations import CONSUMER, WEBHOOK
from bench.report import Row, row

# Kind → how the rows name it. Only webhooks get a cost row: a reconciliation run's share per
# contact depends on the run's size (its search pages, scans and step invocations).
LABELS = {
    "new": "new contact (webhook)",
    "new_reconciled": "new contact (found by reconciliation)",
    "changed": "changed contact",
    "unchanged": "unchanged contact",
}
WEBHOOK_KINDS = ("new", "changed", "unchanged")
SINGLE = "unchanged_one_by_one"
# The webhook scenario's simulated latency per GHL or CallTools call, for the sensitivity note.
API_LATENCY_MS = 100


def one_at_a_time(aws: dict[str, dict[str, Any]], kind: str) -> pricing.Usage:
    """`kind`'s usage had each of its records reached the consumer alone."""
    single, batched = aws[SINGLE], aws["unchanged"]
    extra_ms = _ms(single) - _ms(batched)  # both per contact: the invocation's own cost
    extra_logs = single["product_log_bytes"] - batched["product_log_bytes"]
    added = (
        single["usage"].lambda_invocations[CONSUMER] - batched["usage"].lambda_invocations[CONSUMER]
    )
    return pricing.one_per_invocation(
        aws[kind]["usage"],
        CONSUMER,
        aws[kind]["consumer_records"],
        overhead_ms=max(0.0, extra_ms / added),
        overhead_log_bytes=max(0.0, extra_logs / added),
    )


def _ms(a: dict[str, Any]) -> float:
    return float(a["usage"].lambda_billed_ms[CONSUMER])


def costs(aws: dict[str, dict[str, Any]], memory_mb: dict[str, int]) -> dict[str, Any]:
    return {
        kind: {
            "in_batches": pricing.cost(aws[kind]["usage"], memory_mb),
            "one_at_a_time": pricing.cost(one_at_a_time(aws, kind), memory_mb),
        }
        for kind in WEBHOOK_KINDS
    } | {"new_reconciled": {"run": pricing.cost(aws["new_reconciled"]["usage"], memory_mb)}}


def rows(aws: dict[str, dict[str, Any]], memory_mb: dict[str, int]) -> list[Row]:
    out = [_usage_row(kind, aws[kind]) for kind in LABELS]
    dollars = costs(aws, memory_mb)
    batch = aws["new"]["records_per_consumer_invocation"]
    for kind in WEBHOOK_KINDS:
        single, batched = dollars[kind]["one_at_a_time"], dollars[kind]["in_batches"]
        parts = [
            f"API GW {single['API Gateway']:.2f}",
            f"Lambda {single['Lambda requests'] + single['Lambda duration']:.2f}",
            f"SQS {single['SQS']:.2f}",
            f"DynamoDB {single['DynamoDB']:.2f}",
            f"logs {single['CloudWatch Logs']:.2f}",
        ]
        out.append(
            row(
                f"AWS cost per 1M webhooks of {kind} contacts (us-east-1 list prices)",
                f"${single['total']:.2f} one at a time ({' + '.join(parts)});"
                f" ${batched['total']:.2f} in batches of {batch:.0f}",
                "n/a (no AWS)",
                data={"usd": dollars[kind]},
            )
        )
    return out


def _usage_row(kind: str, a: dict[str, Any]) -> Row:
    u: pricing.Usage = a["usage"]
    lambdas = " + ".join(
        f"{name} {inv:.2f} × {a['ms_per_invocation_median'][name]:.0f} ms"
        for name, inv in u.lambda_invocations.items()
    )
    ours = (
        f"SQS {u.sqs_requests:.2f} req · DynamoDB {a['dynamodb_reads']:.2f} reads "
        f"({u.dynamodb_rru:.2f} RRU), {a['dynamodb_writes']:.2f} writes ({u.dynamodb_wru:.2f} WRU)"
        f" · Lambda {lambdas} (median), {sum(u.lambda_billed_ms.values()):.0f} billed ms"
    )
    data = {k: v for k, v in a.items() if k != "usage"} | {"usage": u.__dict__}
    return row(f"AWS requests per {LABELS[kind]}", ours, "n/a (no AWS)", data=data)


def notes(
    aws: dict[str, dict[str, Any]], memory_mb: dict[str, int], api_calls: dict[str, float]
) -> list[str]:
    """`api_calls`: GHL + CallTools calls per contact of each kind, for the latency note."""
    largest = max(a["dynamodb_largest_item_bytes"] for a in aws.values())
    single, batched = aws[SINGLE], aws["unchanged"]
    gb = memory_mb[CONSUMER] / 1024
    latency = {
        kind: api_calls[kind] * API_LATENCY_MS / 1000 * gb * pricing.LAMBDA_GB_SECOND_X86.usd * 1e6
        for kind in WEBHOOK_KINDS
    }
    reconciled = costs(aws, memory_mb)["new_reconciled"]["run"]["total"]
    waits = ", ".join(f"{name} {share:.0%}" for name, share in aws["new"]["aws_wait_share"].items())
    return [
        "AWS counted: the product's own SQS and DynamoDB calls on its botocore clients (the bench's"
        " poller has its own client and is not counted), SQS billed per 64 KB chunk; modelled:"
        " the event source mapping's ReceiveMessage + DeleteMessageBatch"
        f" ({pricing.ESM_SQS_REQUESTS_PER_INVOCATION} requests) per consumer invocation",
        "DynamoDB units from the items on the wire (writes ≤ 1 KB = 1 WRU, reads ≤ 4 KB = 1 RRU"
        f" strongly consistent, ½ eventually; largest item seen {largest:,} bytes); a failed"
        " conditional write is billed like a done one",
        f"Lambda: {WEBHOOK} timed around Chalice's entry point per webhook, {CONSUMER} per SQS"
        " batch, each rounded up to 1 ms; memory from .chalice/config.json"
        f" ({', '.join(f'{n} {m} MB' for n, m in memory_mb.items())}), x86_64 prices; measured"
        f" here against moto and latency-free sandboxes (share of the time waiting on moto, new"
        f" contacts: {waits}); arm64 would bill the duration"
        f" {1 - pricing.LAMBDA_GB_SECOND_ARM.usd / pricing.LAMBDA_GB_SECOND_X86.usd:.0%} cheaper",
        f"in batches: {aws['new']['records_per_consumer_invocation']:.1f} records per"
        " invocation (webhooks posted, then drained); one at a time: each record its own"
        f" invocation, which costs {_ms(single) / single['consumer_records']:.0f} ms alone vs"
        f" {_ms(batched) / batched['consumer_records']:.0f} ms per record in batches"
        f" (billed; measured on {single['contacts']} unchanged contacts delivered singly)",
        f"with {API_LATENCY_MS} ms per GHL/CallTools call the consumer waits longer: + "
        + ", ".join(f"${latency[k]:.2f}" for k in WEBHOOK_KINDS)
        + " per million new / changed / unchanged contacts",
        f"a new contact found by reconciliation: ${reconciled:.2f} per million (a 50-contact run:"
        " its search pages, scans and steps shared by its contacts)",
        "not counted: free tiers, cold starts (INIT billed since 1 Aug 2025), the mapping's idle"
        " long polls, the daily run's fixed cost, log storage, EMF custom metrics (billed per"
        " metric-month), data transfer",
        f"prices: bench/pricing.py (read {pricing.API_GATEWAY_REST.read_on}, with sources);"
        f" uncertain, read on third-party pages only (AWS's pricing pages render their figures"
        f" client-side): {', '.join(pricing.uncertain_prices())}",
    ]
