"""RuleBook over fakes: a resolution another container remembered lately is used without asking
CallTools; a stale, incomplete or unreadable one is not; its own expires after FRESH_FOR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import ConfigurationError, TransientError
from chalicelib.domain.rules import Rule
from chalicelib.ports import BucketResolution
from chalicelib.services.rule_book import CLOCK_SKEW, FRESH_FOR, RETRY_AFTER, RuleBook
from tests.support.fakes import FakeBucketMemory, FakeCallTools

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
RULES = [
    Rule(tag="cold lead", bucket="Cold Leads"),
    Rule(tag="hot lead", bucket=80100),
    Rule(tag="facebook lead", bucket="  COLD leads "),  # the same bucket, spelled otherwise
]
BUCKETS = {70412: "Cold Leads", 80100: "Hot Leads"}


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


def book(
    memory: FakeBucketMemory, clock: Clock, ct: FakeCallTools | None = None
) -> tuple[RuleBook, FakeCallTools]:
    ct = ct or FakeCallTools(buckets=dict(BUCKETS))
    resolve = ct.resolve_bucket

    def counted(bucket: str | int) -> tuple[int, str]:
        ct._call("resolve_bucket", bucket)  # counted, and failing when told to
        return resolve(bucket)

    ct.resolve_bucket = counted  # type: ignore[method-assign]
    return RuleBook(RULES, ct, memory=memory, now=clock), ct


def ids(rulebook: RuleBook) -> list[tuple[str, int, str]]:
    return [(r.rule.tag, r.bucket_id, r.bucket_name) for r in rulebook.resolved()]


EXPECTED = [
    ("cold lead", 70412, "Cold Leads"),
    ("hot lead", 80100, "Hot Leads"),
    ("facebook lead", 70412, "Cold Leads"),
]


def test_a_container_resolves_once_per_bucket_and_remembers_it():
    memory, clock = FakeBucketMemory(), Clock()
    first, ct = book(memory, clock)
    assert ids(first) == EXPECTED
    # Two rules name one bucket (its name spelled otherwise): CallTools is asked once for it.
    assert ct.call_count("resolve_bucket") == 2
    assert memory.stored == (
        {"name:cold leads": (70412, "Cold Leads"), "id:80100": (80100, "Hot Leads")},
        T0,
    )
    assert ids(first) == EXPECTED and ct.call_count("resolve_bucket") == 2  # warm: no call


def test_a_container_that_starts_within_the_window_asks_calltools_nothing():
    memory, clock = FakeBucketMemory(), Clock()
    book(memory, clock)[0].resolved()
    clock.at = T0 + FRESH_FOR - timedelta(seconds=1)
    second, ct = book(memory, clock)
    assert ids(second) == EXPECTED
    assert ct.call_count("resolve_bucket") == 0 and memory.recalls == 2


def test_a_stale_resolution_is_made_again_and_remembered():
    memory, clock = FakeBucketMemory(), Clock()
    book(memory, clock)[0].resolved()
    clock.at = T0 + FRESH_FOR
    second, ct = book(memory, clock)
    assert ids(second) == EXPECTED
    assert ct.call_count("resolve_bucket") == 2
    assert memory.stored is not None and memory.stored[1] == clock.at


def test_a_resolution_missing_a_rule_is_made_again():
    """The rules changed since another container remembered its resolution."""
    memory, clock = FakeBucketMemory(), Clock()
    memory.remember({"name:cold leads": (70412, "Cold Leads")}, T0)
    rulebook, ct = book(memory, clock)
    assert ids(rulebook) == EXPECTED and ct.call_count("resolve_bucket") == 2
    assert memory.stored is not None and set(memory.stored[0]) == {"name:cold leads", "id:80100"}


def test_a_remembered_id_is_used_as_remembered():
    """What the memory says within the window is what the rules get: no CallTools check."""
    memory, clock = FakeBucketMemory(), Clock()
    memory.remember({"name:cold leads": (1, "Old Name"), "id:80100": (80100, "Hot")}, T0)
    rulebook, ct = book(memory, clock)
    assert [r.bucket_id for r in rulebook.resolved()] == [1, 80100, 1]
    assert ct.call_count("resolve_bucket") == 0


def test_a_recall_that_fails_falls_back_to_calltools(caplog: pytest.LogCaptureFixture):
    memory, clock = FakeBucketMemory(), Clock()
    memory.remember({"name:cold leads": (70412, "Cold Leads"), "id:80100": (80100, "H")}, T0)
    memory.broken = True
    rulebook, ct = book(memory, clock)
    assert ids(rulebook) == EXPECTED and ct.call_count("resolve_bucket") == 2
    assert "could not recall" in caplog.text


def test_a_resolution_dated_ahead_is_trusted_within_the_clock_skew_only():
    memory, clock = FakeBucketMemory(), Clock()
    resolution = {"name:cold leads": (70412, "Cold Leads"), "id:80100": (80100, "Hot Leads")}
    memory.remember(resolution, T0 + CLOCK_SKEW - timedelta(seconds=1))
    rulebook, ct = book(memory, clock)
    assert ids(rulebook) == EXPECTED and ct.call_count("resolve_bucket") == 0
    memory.remember(resolution, T0 + timedelta(days=30))
    rulebook, ct = book(memory, clock)
    assert ids(rulebook) == EXPECTED and ct.call_count("resolve_bucket") == 2
    assert memory.stored is not None and memory.stored[1] == T0


def test_a_warm_container_picks_up_a_renamed_bucket_after_the_window():
    memory, clock = FakeBucketMemory(), Clock()
    rulebook, ct = book(memory, clock)
    rulebook.resolved()
    # "Cold Leads" renamed away; another bucket takes the name.
    ct.buckets = {70412: "Old Cold", 90000: "Cold Leads", 80100: "Hot Leads"}
    clock.at = T0 + FRESH_FOR - timedelta(seconds=1)
    assert rulebook.resolved()[0].bucket_id == 70412 and ct.call_count("resolve_bucket") == 2
    clock.at = T0 + FRESH_FOR
    assert rulebook.resolved()[0].bucket_id == 90000 and ct.call_count("resolve_bucket") == 4


def test_a_warm_container_recalls_before_it_asks_calltools_again():
    """Another container re-resolved meanwhile: its resolution is used."""
    memory, clock = FakeBucketMemory(), Clock()
    rulebook, ct = book(memory, clock)
    rulebook.resolved()
    clock.at = T0 + FRESH_FOR
    other, _ = book(memory, clock)
    other.resolved()
    clock.at = T0 + FRESH_FOR + timedelta(minutes=1)
    assert ids(rulebook) == EXPECTED and ct.call_count("resolve_bucket") == 2


def test_calltools_down_at_a_re_resolution_keeps_the_previous_for_a_while():
    memory, clock = FakeBucketMemory(), Clock()
    rulebook, ct = book(memory, clock)
    rulebook.resolved()
    clock.at = T0 + FRESH_FOR
    ct.fail_next["resolve_bucket"] = TransientError("CallTools 503")
    assert ids(rulebook) == EXPECTED and ct.call_count("resolve_bucket") == 3
    clock.at += RETRY_AFTER - timedelta(seconds=1)
    assert ids(rulebook) == EXPECTED and ct.call_count("resolve_bucket") == 3
    clock.at += timedelta(seconds=1)
    assert ids(rulebook) == EXPECTED and ct.call_count("resolve_bucket") == 5


def test_calltools_down_at_the_first_resolution_raises():
    memory, clock = FakeBucketMemory(), Clock()
    rulebook, ct = book(memory, clock)
    ct.fail_next["resolve_bucket"] = TransientError("CallTools 503")
    with pytest.raises(TransientError):
        rulebook.resolved()
    assert memory.stored is None


def test_a_bucket_gone_from_calltools_is_a_configuration_error():
    memory, clock = FakeBucketMemory(), Clock()
    rulebook, _ = book(memory, clock, FakeCallTools(buckets={80100: "Hot Leads"}))
    with pytest.raises(ConfigurationError, match="Cold Leads"):
        rulebook.resolved()
    assert memory.stored is None


def test_names_for_the_stats_are_noted_when_calltools_resolves_only():
    memory, clock = FakeBucketMemory(), Clock()
    noted: list[dict[int, str]] = []
    ct = FakeCallTools(buckets=dict(BUCKETS))
    RuleBook(RULES, ct, noted.append, memory, now=clock).resolved()
    RuleBook(RULES, ct, noted.append, memory, now=clock).resolved()
    assert noted == [BUCKETS]


def test_remembering_that_fails_does_not_stop_the_sync(caplog: pytest.LogCaptureFixture):
    class Unwritable(FakeBucketMemory):
        def remember(self, resolution: BucketResolution, resolved_at: datetime) -> None:
            raise RuntimeError("DynamoDB is down")

    assert ids(book(Unwritable(), Clock())[0]) == EXPECTED
    assert "could not remember" in caplog.text
