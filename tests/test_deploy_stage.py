"""`chalice deploy` from the wrong Python, or of a stage without a location, is refused before
Chalice creates anything (chalicelib/deploy_stage.py; the real command in test_chalice_deploy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib import deploy_stage as guard
from chalicelib.settings import Settings, settings_with

ROOT = Path(__file__).resolve().parent.parent
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


def test_refuse_bad_deploy_exits_only_under_the_chalice_command(monkeypatch, tmp_path):
    (tmp_path / ".chalice").mkdir()
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(CONFIG))
    monkeypatch.setattr("sys.argv", ["/venv/bin/pytest", "-q"])
    guard.refuse_bad_deploy(tmp_path)  # tests, Lambda: nothing checked
    monkeypatch.setattr("sys.argv", ["/venv/bin/chalice", "deploy", "--stage", "dev"])
    with pytest.raises(SystemExit, match="refused: "):
        guard.refuse_bad_deploy(tmp_path)  # no location in the repository's dev stage


def test_under_chalice_the_triggers_take_the_stages_settings(monkeypatch, tmp_path):
    config = with_location("L1")
    config["stages"]["prod"]["environment_variables"].update(
        CONSUMER_MAX_CONCURRENCY="7", RECONCILE_SCHEDULE="cron(0 3 * * ? *)"
    )
    (tmp_path / ".chalice").mkdir()
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    monkeypatch.delenv("CONSUMER_MAX_CONCURRENCY", raising=False)
    monkeypatch.setattr("sys.argv", ["/venv/bin/chalice", "deploy", "--stage", "prod"])
    settings = settings_with(guard.stage_variables(tmp_path))
    assert settings.consumer_max_concurrency == 7
    assert settings.reconcile_schedule == "cron(0 3 * * ? *)"
    assert settings.ghl_location_id == "L1"

    monkeypatch.setattr("sys.argv", ["/venv/bin/pytest"])  # in Lambda: the function's environment
    assert guard.stage_variables(tmp_path) == {}
    assert settings_with({}).consumer_max_concurrency == Settings().consumer_max_concurrency
