"""Each location's tokens in Secrets Manager: one secret, `<prefix><locationId>`, holding a JSON
object of that location's tokens. Written with CreateSecret (or PutSecretValue once it exists);
read through Powertools Parameters, cached `max_age` seconds like the deployment's own secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from chalicelib.domain.location import LocationTokens


def _code(exc: BaseException | None) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


class LocationSecretStore:
    def __init__(self, client_factory: Callable[[], Any], prefix: str, max_age: int = 300) -> None:
        self._client_factory = client_factory
        self._prefix = prefix
        self._max_age = max_age
        self._client: Any = None
        self._provider: Any = None

    def secret_id(self, location_id: str) -> str:
        return f"{self._prefix}{location_id}"

    def _boto(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def _secrets(self) -> Any:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._provider = SecretsProvider(boto3_client=self._boto())
        return self._provider

    def put(self, location_id: str, tokens: LocationTokens) -> None:
        name, value = self.secret_id(location_id), json.dumps(tokens.secret_json())
        try:
            self._boto().create_secret(
                Name=name,
                SecretString=value,
                Description="ghl-calltools-sync: the tokens of one GHL location (docs/locations.md)",
            )
        except ClientError as exc:
            if _code(exc) != "ResourceExistsException":
                raise
            self._boto().put_secret_value(SecretId=name, SecretString=value)
        if self._provider is not None:
            # This container reads what it just wrote; others within their max_age.
            self._provider.clear_cache()

    def get(self, location_id: str, *, fresh: bool = False) -> LocationTokens | None:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            value = self._secrets().get(
                self.secret_id(location_id), max_age=self._max_age, force_fetch=fresh
            )
        except GetParameterError as exc:
            # Powertools wraps boto's error; the one it wraps says whether the secret exists.
            if _code(exc.__context__) == "ResourceNotFoundException":
                return None
            raise
        text = value.decode() if isinstance(value, bytes) else str(value or "")
        try:
            return LocationTokens.model_validate(json.loads(text))
        except (ValueError, ValidationError):
            # `from None`: a validation error quotes its input, which is the tokens.
            raise ValueError(
                f"the secret of location {location_id} is not a tokens object"
            ) from None
