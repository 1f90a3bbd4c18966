"""Secrets at run time: AWS Secrets Manager through Powertools Parameters (cached `max_age`
seconds), so a rotated token is picked up without a redeploy. Without a secret id, the plain
setting is used (local stack, tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

Provider = Callable[[], str]


class SecretSource:
    def __init__(self, client_factory: Callable[[], Any], max_age: int = 300) -> None:
        self._client_factory = client_factory
        self._max_age = max_age
        self._provider: Any = None

    def _secrets(self) -> Any:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._provider = SecretsProvider(boto3_client=self._client_factory())
        return self._provider

    def provider(self, secret_id: str, plain_value: str) -> Provider:
        if not secret_id:
            plain = plain_value.strip()
            return lambda: plain

        def read() -> str:
            value = self._secrets().get(secret_id, max_age=self._max_age)
            text = value.decode() if isinstance(value, bytes) else str(value or "")
            # Secrets put from a file usually end in a newline, which no header may carry.
            return text.strip()

        return read


def as_provider(value: str | Provider) -> Provider:
    return value if callable(value) else (lambda: value)


class TokenAuth(httpx.Auth):
    """`Authorization: <scheme> <token>`, read for every request (tokens rotate)."""

    def __init__(self, scheme: str, token: str | Provider) -> None:
        self._scheme = scheme
        self._token = as_provider(token)

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"{self._scheme} {self._token()}"
        yield request
