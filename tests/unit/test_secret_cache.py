"""SecretSource caches a Secrets Manager value for `max_age` seconds: read once per age, then again.

A fake Secrets Manager counts the calls; the cache's clock (Powertools reads `datetime.now()` in
its parameters base module) is replaced by one the test moves. No sleeps, no AWS.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters import base as parameters_base

from chalicelib.adapters.aws.secrets import SecretSource

START = datetime(2026, 3, 1, 12, 0, 0)


class FakeSecretsManager:
    def __init__(self, **values: str | bytes) -> None:
        self.values = dict(values)
        self.calls: list[str] = []

    def get_secret_value(self, SecretId: str, **_: Any) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.calls.append(SecretId)
        value = self.values[SecretId]
        key = "SecretBinary" if isinstance(value, bytes) else "SecretString"
        return {"Name": SecretId, key: value}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()

    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return clock.now

    monkeypatch.setattr(parameters_base, "datetime", ClockDatetime)
    return clock


def source(sm: FakeSecretsManager, max_age: int) -> tuple[SecretSource, list[int]]:
    made: list[int] = []

    def factory() -> FakeSecretsManager:
        made.append(1)
        return sm

    return SecretSource(factory, max_age=max_age), made


def test_a_second_read_within_the_max_age_does_not_call_secrets_manager(clock: Clock):
    sm = FakeSecretsManager(admin="token-1")
    read = source(sm, max_age=300)[0].provider("admin", "plain")
    assert read() == "token-1" and sm.calls == ["admin"]
    clock.advance(299)
    sm.values["admin"] = "token-2"  # rotated, but the cached value is still within its age
    assert read() == "token-1" and sm.calls == ["admin"]


def test_a_read_after_the_max_age_calls_secrets_manager_again_and_sees_a_rotation(clock: Clock):
    sm = FakeSecretsManager(admin="token-1")
    read = source(sm, max_age=300)[0].provider("admin", "plain")
    assert read() == "token-1"
    sm.values["admin"] = "token-2"
    clock.advance(301)
    assert read() == "token-2" and sm.calls == ["admin", "admin"]
    clock.advance(299)
    assert read() == "token-2" and len(sm.calls) == 2  # cached again from the second read


def test_max_age_zero_reads_secrets_manager_every_time(clock: Clock):
    sm = FakeSecretsManager(admin="token-1")
    read = source(sm, max_age=0)[0].provider("admin", "plain")
    read()
    clock.advance(1)
    read()
    assert sm.calls == ["admin", "admin"]


def test_each_secret_is_cached_on_its_own_and_one_client_serves_them_all(clock: Clock):
    sm = FakeSecretsManager(admin="a", workflow="w")
    secrets, made = source(sm, max_age=300)
    admin, workflow = secrets.provider("admin", ""), secrets.provider("workflow", "")
    assert (admin(), workflow(), admin(), workflow()) == ("a", "w", "a", "w")
    assert sorted(sm.calls) == ["admin", "workflow"] and made == [1]


def test_without_a_secret_id_the_plain_setting_is_used_and_no_client_is_made(clock: Clock):
    sm = FakeSecretsManager()
    secrets, made = source(sm, max_age=300)
    assert secrets.provider("", "  plain-token\n")() == "plain-token"
    assert not made and not sm.calls


@pytest.mark.parametrize("stored", ["token-1\n", b"token-1\n", "  token-1  "])
def test_a_secret_is_trimmed_and_decoded(clock: Clock, stored: str | bytes):
    sm = FakeSecretsManager(admin=stored)
    assert source(sm, max_age=300)[0].provider("admin", "")() == "token-1"
