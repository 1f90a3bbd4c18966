"""Which stage the operator CLI talks to: the environment's settings, or the local stack's.

The local stack writes what it is (URLs, tokens) to .devstack/stack.json; a deployed stage is
configured by the environment, and then the local stack is never mixed in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from chalicelib.runtime.settings import Settings

# Any of these set in the environment means a stage is configured.
STAGE_SETTINGS = frozenset(
    {
        "ghl_api_token",
        "ghl_api_token_secret_id",
        "calltools_api_token",
        "calltools_api_token_secret_id",
        "aws_endpoint_url",
        "sync_queue_url",
        "ghl_api_base_url",
        "calltools_api_base_url",
    }
)


def local_stack() -> dict[str, Any]:
    """What the local stack wrote about itself, if it runs here."""
    path = Path(Settings().local.state_dir) / "stack.json"
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return data


def stage_settings() -> Settings:
    """Settings from the environment; what is unset there comes from the local stack."""
    settings, stack = Settings(), local_stack()
    if not stack or settings.env_names_set & STAGE_SETTINGS:
        return settings  # a stage is configured: never mix in the local stack
    fallback = {
        "ghl_api_base_url": stack.get("ghl_url"),
        "ghl_api_token": stack.get("ghl_token"),
        "calltools_api_base_url": stack.get("calltools_url"),
        "calltools_api_token": stack.get("calltools_token"),
        "calltools_webhook_secret": stack.get("calltools_webhook_secret"),
        "ghl_location_id": stack.get("location_id"),
        "aws_endpoint_url": stack.get("aws_endpoint_url"),
        "sync_queue_url": stack.get("queue_url"),
        "sync_dlq_url": stack.get("dlq_url"),
        "admin_api_token": stack.get("admin_token"),
        "ghl_workflow_secret": stack.get("workflow_secret"),
    }
    explicit = settings.env_names_set
    updates = {k: v for k, v in fallback.items() if v and k not in explicit}
    if updates.get("aws_endpoint_url"):
        # The embedded moto server takes any credentials; boto3 still wants some.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return Settings(**{**settings.env_values(), **updates})


def api_url(url: str | None, settings: Settings) -> str:
    """The stage's API base URL: `--url`, SYNC_API_URL, or the local stack's when no stage is
    configured; "" when none is known."""
    chosen = url or settings.admin.api_url
    if not chosen and not Settings().env_names_set & STAGE_SETTINGS:
        chosen = str(local_stack().get("url") or "")
    return chosen.rstrip("/")
