"""`chalice deploy` from the wrong Python, or of a stage without a location, is refused before
Chalice creates anything (chalicelib/runtime/deploy_stage.py; the real command in test_chalice_deploy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.runtime import deploy_stage as guard
from chalicelib.runtime.settings import Settings, stage_settings
from chalicelib.runtime.settings_groups import QueueSettings

ROOT = Path(__file__).resolve().parents[2]
CONFIG: dict[str, Any] = json.loads((ROOT / ".chalice" / "config.json").read_text())
PY313 = (3, 13)
PY311 = (3, 11)


def with_location(location: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(json.dumps(CONFIG))
    config["stages"]["prod"]["environment_variables"]["GHL_LOCATION_ID"] = location
    return config


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/venv/bin/chalice", "deploy"], ("deploy", "dev")),
        (["/venv/bin/chalice", "deploy", "--stage", "prod"], ("deploy", "prod")),
        (
            ["chalice", "--project-dir", "deploy", "package", "--stage=prod", "out"],
            ("package", "prod"),
        ),
        (
            ["chalice", "--debug", "--profile", "ops", "deploy", "--stage", "prod"],
            ("deploy", "prod"),
        ),
        (["chalice", "local"], ("local", "dev")),
        (["chalice", "--debug"], None),
        (["-c", "package", "--stage", "prod"], None),  # scripts/package.py runs Chalice so
        (["/var/runtime/bootstrap.py"], None),  # Lambda
        (["/venv/bin/pytest", "deploy"], None),
        ([], None),
    ],
)
def test_the_chalice_command_and_stage_are_read_from_argv(argv, expected):
    assert guard.chalice_command(argv) == expected


def test_deploy_under_python_311_is_refused_with_the_way_to_313():
    problem = guard.deploy_problem(
        ["chalice", "deploy", "--stage", "prod"], PY311, with_location("loc")
    )
    assert problem is not None
    assert "Python 3.11" in problem and "python3.13" in problem
    assert "make deploy STAGE=prod" in problem and "pyenv install 3.13" in problem


@pytest.mark.parametrize("version", [(3, 12), (3, 14), PY311])
def test_package_from_another_python_is_refused_too(version):
    problem = guard.deploy_problem(["chalice", "package", "out"], version, CONFIG)
    assert problem is not None and "chalice package" in problem


def test_deploy_under_python_313_with_a_location_goes_ahead():
    assert (
        guard.deploy_problem(["chalice", "deploy", "--stage", "prod"], PY313, with_location("L1"))
        is None
    )


@pytest.mark.parametrize("location", ["", "   "])
def test_deploy_of_a_stage_without_a_location_is_refused(location):
    problem = guard.deploy_problem(
        ["chalice", "deploy", "--stage", "prod"], PY313, with_location(location)
    )
    assert problem is not None and "GHL_LOCATION_ID" in problem and "'prod'" in problem


def test_commands_that_ship_nothing_are_left_alone():
    for argv in (["chalice", "local"], ["chalice", "url"], ["chalice", "logs"]):
        assert guard.deploy_problem(argv, PY311, CONFIG) is None


def test_the_repository_config_leaves_the_location_to_the_operator():
    # Each operator's own location goes in; a deploy of the untouched config is refused.
    problem = guard.deploy_problem(["chalice", "deploy"], PY313, CONFIG)
    assert problem is not None and "GHL_LOCATION_ID" in problem


def _config_dir(tmp_path: Path, config: dict[str, Any]) -> Path:
    (tmp_path / ".chalice").mkdir()
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_refuse_bad_deploy_exits_only_under_the_chalice_command(monkeypatch, tmp_path):
    _config_dir(tmp_path, CONFIG)
    monkeypatch.setattr("sys.argv", ["/venv/bin/pytest", "-q"])
    guard.refuse_bad_deploy(tmp_path, PY313)  # tests, Lambda: nothing checked
    monkeypatch.setattr("sys.argv", ["/venv/bin/chalice", "deploy", "--stage", "dev"])
    with pytest.raises(SystemExit, match="refused: stage 'dev' has no GHL_LOCATION_ID"):
        guard.refuse_bad_deploy(tmp_path, PY313)  # the repository's dev stage names none
    with pytest.raises(SystemExit, match=r"refused: chalice deploy is running under Python 3\.11"):
        guard.refuse_bad_deploy(tmp_path, PY311)


@pytest.mark.parametrize("command", ["deploy", "package"])
def test_a_stage_missing_from_the_config_is_refused(command):
    # Chalice would take it, with no settings and a generated IAM policy.
    problem = guard.deploy_problem(["chalice", command, "--stage", "prdo"], PY313, CONFIG)
    assert problem is not None and "'prdo' is not in .chalice/config.json (dev, prod)" in problem


def test_under_chalice_the_triggers_take_the_stages_settings_and_not_the_shells(
    monkeypatch, tmp_path
):
    config = with_location("L1")
    config["stages"]["prod"]["environment_variables"].update(
        CONSUMER_MAX_CONCURRENCY="7", RECONCILE_SCHEDULE="cron(0 3 * * ? *)"
    )
    project = _config_dir(tmp_path, config)
    # Whatever the deploying shell exports does not reach the triggers.
    monkeypatch.setenv("CONSUMER_MAX_CONCURRENCY", "900")
    monkeypatch.setenv("RECONCILE_SCHEDULE", "rate(1 minute)")
    monkeypatch.setenv("SYNC_QUEUE_ARN", "arn:aws:sqs:us-east-1:111122223333:someone-elses")
    monkeypatch.setattr("sys.argv", ["/venv/bin/chalice", "deploy", "--stage", "prod"])
    variables = guard.stage_variables(project)
    assert variables is not None
    settings = stage_settings(variables)
    assert settings.queue.consumer_max_concurrency == 7
    assert settings.reconcile.schedule == "cron(0 3 * * ? *)"
    assert settings.queue.arn == ""  # the trigger names the stage's queue
    assert settings.queue.name == "ghl-calltools-contacts-prod"
    assert settings.ghl.location_id == "L1"

    # A stage that sets neither gets the defaults, still not the shell's.
    del config["stages"]["prod"]["environment_variables"]["CONSUMER_MAX_CONCURRENCY"]
    unset = stage_settings(config["stages"]["prod"]["environment_variables"])
    assert (
        unset.queue.consumer_max_concurrency
        == QueueSettings.model_fields["consumer_max_concurrency"].default
    )

    # Outside the chalice command (Lambda, tests, the local stack) the environment is the source.
    monkeypatch.setattr("sys.argv", ["/var/runtime/bootstrap.py"])
    assert guard.stage_variables(project) is None
    assert Settings().queue.consumer_max_concurrency == 900
