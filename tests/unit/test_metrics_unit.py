"""count / milliseconds / flush_metrics, with the Powertools Metrics object replaced by a recorder."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.runtime import observability


class Recorder:
    def __init__(self) -> None:
        self.added: list[dict[str, Any]] = []
        self.flushes: list[dict[str, Any]] = []

    def add_metric(self, **kwargs: Any) -> None:
        self.added.append(kwargs)

    def flush_metrics(self, **kwargs: Any) -> None:
        self.flushes.append(kwargs)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(observability, "metrics", recorder)
    observability._pending.clear()
    return recorder


def test_count_adds_one_by_default(recorder: Recorder):
    observability.count("WebhooksAccepted")
    observability.count("BucketAdds", 3)
    assert recorder.added == [
        {"name": "WebhooksAccepted", "unit": MetricUnit.Count, "value": 1},
        {"name": "BucketAdds", "unit": MetricUnit.Count, "value": 3},
    ]


def test_milliseconds_are_recorded_in_milliseconds(recorder: Recorder):
    observability.milliseconds("EndToEndLag", 12.5)
    assert recorder.added == [
        {"name": "EndToEndLag", "unit": MetricUnit.Milliseconds, "value": 12.5}
    ]


def test_flush_publishes_once_and_only_when_something_was_counted(recorder: Recorder):
    observability.flush_metrics()
    assert recorder.flushes == []
    observability.milliseconds("EndToEndLag", 1)
    observability.flush_metrics()
    observability.flush_metrics()
    assert recorder.flushes == [{"raise_on_empty_metrics": False}]
    observability.count("X")
    observability.flush_metrics()
    assert len(recorder.flushes) == 2
