"""Settings is grouped (settings.ghl.location_id, ...) and still read from the flat environment
variables the stages and docs/configuration.md name (GHL_LOCATION_ID, ...)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from chalicelib.runtime.settings import (
    ENV_NAMES,
    GROUPS,
    REGION_NAMES,
    Settings,
    SettingsError,
    get_settings,
    stage_settings,
)
from chalicelib.runtime.settings_groups import GhlSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No setting from the developer's shell (in any case) reaches these tests."""
    for name in list(os.environ):
        if name.lower() in ENV_NAMES or name.lower() in REGION_NAMES:
            monkeypatch.delenv(name)


def test_every_field_of_every_group_has_exactly_one_variable():
    assert {name: field.annotation for name, field in Settings.model_fields.items()} == GROUPS
    targets = list(ENV_NAMES.values())
    assert len(targets) == len(set(targets))
    assert set(targets) == {(g, f) for g, model in GROUPS.items() for f in model.model_fields}


def test_the_variables_are_those_the_configuration_doc_names():
    rows = (ROOT / "docs" / "configuration.md").read_text().splitlines()
    first_cells = [row.split("|")[1] for row in rows if row.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z0-9_]+)`", cell)}
    assert documented == {name.upper() for name in (*ENV_NAMES, *REGION_NAMES)}


def test_the_environment_is_read_by_its_flat_names_case_insensitively(monkeypatch):
    monkeypatch.setenv("GHL_LOCATION_ID", "L1")
    monkeypatch.setenv("calltools_api_token", "ct")
    monkeypatch.setenv("Consumer_Max_Concurrency", "7")
    monkeypatch.setenv("SYNC_QUEUE_NAME", "q")
    monkeypatch.setenv("STATE_TABLE_NAME", "t")
    monkeypatch.setenv("RECONCILE_SCHEDULE", "rate(1 day)")
    monkeypatch.setenv("ADMIN_API_TOKEN_SECRET_ID", "admin-id")
    monkeypatch.setenv("HTTP_TIMEOUT_SECONDS", "3.5")
    monkeypatch.setenv("SYNC_API_URL", "http://admin")
    monkeypatch.setenv("LOCAL_REPORT_BATCH_ITEM_FAILURES", "true")
    monkeypatch.setenv("PORT", "9001")
    s = Settings()
    assert s.ghl.location_id == "L1"
    assert s.calltools.api_token.get_secret_value() == "ct"
    assert s.queue.consumer_max_concurrency == 7 and s.queue.name == "q"
    assert s.state.table_name == "t"
    assert s.reconcile.schedule == "rate(1 day)"
    assert s.secrets.admin_api_token_id == "admin-id"
    assert s.http.timeout_seconds == 3.5
    assert s.admin.api_url == "http://admin"
    assert s.local.report_batch_item_failures is True and s.local.port == 9001
    assert s.env_names_set == {
        "ghl_location_id",
        "calltools_api_token",
        "consumer_max_concurrency",
        "sync_queue_name",
        "state_table_name",
        "reconcile_schedule",
        "admin_api_token_secret_id",
        "http_timeout_seconds",
        "sync_api_url",
        "local_report_batch_item_failures",
        "port",
    }


def test_aws_region_prefers_aws_region_to_aws_default_region(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert Settings().aws.region == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert Settings().aws.region == "eu-central-1"
    assert Settings(AWS_DEFAULT_REGION="ap-south-1").aws.region == "ap-south-1"  # arguments win
    assert Settings(aws_region="us-west-2").aws.region == "us-west-2"


def test_flat_arguments_land_in_their_groups_and_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("GHL_LOCATION_ID", "from-env")
    monkeypatch.setenv("GHL_APP_ID", "app-env")
    assert Settings(ghl_location_id="x").ghl.location_id == "x"
    assert Settings(ghl_location_id="x").ghl.app_id == "app-env"
    assert Settings(ghl={"location_id": "y"}).ghl.location_id == "y"
    assert Settings(ghl=GhlSettings(location_id="z")).ghl.location_id == "z"
    validated = Settings.model_validate({"consumer_max_concurrency": "7"})
    assert validated.queue.consumer_max_concurrency == 7
    # A flat name given with its group: the flat name wins, the group's other fields stay.
    both = Settings(ghl={"location_id": "g", "app_id": "a"}, ghl_location_id="flat")
    assert (both.ghl.location_id, both.ghl.app_id) == ("flat", "a")


def test_stage_settings_take_the_stages_names_and_defaults_never_the_environment(monkeypatch):
    monkeypatch.setenv("RECONCILE_PAGE_LIMIT", "5")
    monkeypatch.setenv("GHL_API_TOKEN", "shell")
    s = stage_settings({"SYNC_QUEUE_NAME": "q-prod", "POWERTOOLS_SERVICE_NAME": "x", "HTTP": "y"})
    assert s.queue.name == "q-prod"
    assert s.reconcile.page_limit == 500
    assert s.ghl.api_token.get_secret_value() == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("consumer_max_concurrency", 1),
        ("consumer_max_concurrency", 1001),
        ("reconcile_page_limit", 501),
        ("dedup_ttl_days", 0),
        ("ghl_burst", 11),
        ("calltools_create_settle_seconds", 901),
        ("port", 65536),
        ("calltools_bucket_method", "put"),
        ("sync_rules", "not json"),
        ("http_timeout_seconds", 0),
    ],
)
def test_each_groups_bounds_and_validators_still_hold(name, value):
    with pytest.raises(ValidationError):
        Settings(**{name: value})


def test_the_lease_must_outlast_a_call_across_groups():
    with pytest.raises(ValidationError, match="CONTACT_LEASE_SECONDS"):
        Settings(contact_lease_seconds=40, retry_budget_seconds=30, http_timeout_seconds=10)
    assert Settings(contact_lease_seconds=41, retry_budget_seconds=30, http_timeout_seconds=10)


def test_groups_are_frozen():
    s = Settings()
    with pytest.raises(ValidationError):
        s.ghl.location_id = "x"  # type: ignore[misc]


def test_public_summary_is_flat_by_variable_with_every_secret_masked():
    s = Settings(ghl_api_token="t0ken", admin_api_token="", ghl_location_id="L1")
    summary = s.public_summary()
    assert list(summary) == list(ENV_NAMES)
    assert summary["ghl_api_token"] == "set" and summary["admin_api_token"] == "unset"
    assert summary["ghl_workflow_secret"] == summary["calltools_api_token"] == "unset"
    assert "t0ken" not in repr(summary)
    assert summary["ghl_location_id"] == "L1" and summary["consumer_max_concurrency"] == 2
    assert summary["sync_rules"] == [{"tag": "cold lead", "bucket": "Cold Leads"}]
    secrets = [n for n, f in Settings.env_fields().items() if f.annotation is SecretStr]
    assert sorted(secrets) == sorted(
        [
            "ghl_api_token",
            "calltools_api_token",
            "calltools_webhook_secret",
            "ghl_workflow_secret",
            "admin_api_token",
            "ghl_oauth_client_secret",
        ]
    )


def test_a_secret_setting_is_its_plain_value_and_its_secret_id():
    s = Settings(calltools_api_token="p", calltools_api_token_secret_id="ct-id")
    plain, secret_id = s.secret_setting("calltools_api_token")
    assert (plain.get_secret_value(), secret_id) == ("p", "ct-id")
    assert s.secret_setting("admin_api_token")[1] == ""


def test_the_shortcuts_read_their_groups():
    s = Settings(ghl_location_id=" ", dedup_ttl_days=2, sync_rules='[{"tag": "a", "bucket": 7}]')
    assert s.scope_problem is not None
    assert s.dedup_ttl_seconds == 2 * 86400
    assert [(r.tag, r.bucket) for r in s.rules] == [("a", 7)]


def test_an_invalid_setting_is_named_by_its_environment_variable(monkeypatch):
    # The model's own error says `queue.consumer_max_concurrency`; the operator sets this name.
    monkeypatch.setenv("CONSUMER_MAX_CONCURRENCY", "1")
    monkeypatch.setenv("CALLTOOLS_BUCKET_METHOD", "guess")
    with pytest.raises(SettingsError) as refused:
        get_settings.__wrapped__()
    message = str(refused.value)
    assert "CONSUMER_MAX_CONCURRENCY: " in message and "CALLTOOLS_BUCKET_METHOD: " in message
    assert "queue.consumer_max_concurrency" not in message
    with pytest.raises(SettingsError, match="RECONCILE_PAGE_LIMIT: "):
        stage_settings({"RECONCILE_PAGE_LIMIT": "0"})
