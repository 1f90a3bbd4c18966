"""What a `chalice deploy` (or `chalice package`) of a stage needs before Chalice reads the app:
the stage's own settings for the triggers, and a refusal when it would ship something AWS rejects
or that fails closed on its first event.

Chalice builds the SQS trigger and the schedule from app.py's decorators, evaluated in the
deploying process, and gives that process none of the stage's environment_variables. So
`stage_variables` reads them from .chalice/config.json, and app.py builds the triggers from them
alone (settings.stage_settings): CONSUMER_MAX_CONCURRENCY and RECONCILE_SCHEDULE are configured per
stage there, and a redeploy from any shell, whatever it exports, builds the same triggers.

Chalice takes the Lambda runtime, and the wheels it bundles, from the Python running it; there is
no setting. AWS no longer creates python3.11 functions, and a cp311 wheel does not load on
python3.13, so only Python 3.13 may deploy. A stage without GHL_LOCATION_ID would deploy functions
that refuse every event, so that is refused too, before anything is created.

app.py calls both at import, which is when Chalice reads the app. In Lambda, in
tests and in `scripts/package.py` (which runs Chalice as `python -c …` and vendors cp313 wheels
itself) the program is not the `chalice` command, and nothing is checked.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LAMBDA_PYTHON = (3, 13)
CHECKED_COMMANDS = ("deploy", "package")
# Options of the `chalice` group that take a value before the command.
_GROUP_OPTIONS_WITH_VALUE = ("--project-dir", "--profile")
DEFAULT_STAGE = "dev"  # Chalice's


def chalice_command(argv: Sequence[str]) -> tuple[str, str] | None:
    """(command, stage) when this process is `chalice <command> …`, else None."""
    if not argv or not Path(argv[0]).name.startswith("chalice"):
        return None
    words = list(argv[1:])
    command = None
    index = 0
    while index < len(words):
        word = words[index]
        if word in _GROUP_OPTIONS_WITH_VALUE:
            index += 2
            continue
        if not word.startswith("-"):
            command = word
            break
        index += 1
    if command is None:
        return None
    stage = DEFAULT_STAGE
    rest = words[index + 1 :]
    for position, word in enumerate(rest):
        if word == "--stage" and position + 1 < len(rest):
            stage = rest[position + 1]
        elif word.startswith("--stage="):
            stage = word.split("=", 1)[1]
    return command, stage


def python_problem(command: str, stage: str, version: tuple[int, int]) -> str | None:
    if version == LAMBDA_PYTHON:
        return None
    running = ".".join(str(part) for part in version)
    wanted = ".".join(str(part) for part in LAMBDA_PYTHON)
    return (
        f"chalice {command} is running under Python {running}, and Chalice gives the Lambda "
        f"functions the runtime of the Python that runs it (python{running}, with wheels built "
        f"for it). This app deploys to python{wanted}. Use `make deploy STAGE={stage}`, which "
        f"finds a Python {wanted} (on PATH, under pyenv or uv) and deploys from .venv-deploy, or "
        f"run `make deploy-venv` and then `.venv-deploy/bin/chalice {command} --stage {stage}`. "
        f"No Python {wanted} on this machine: `pyenv install {wanted}` or "
        f"`uv python install {wanted}`."
    )


def stage_problem(command: str, stage: str, config: dict[str, Any]) -> str | None:
    stages = config.get("stages", {})
    if stage in stages:
        return None
    # Chalice takes any name: it would ship the app with no settings and a generated IAM policy.
    return (
        f"stage {stage!r} is not in .chalice/config.json ({', '.join(sorted(stages))}): "
        f"chalice {command} would ship it with no settings and a policy Chalice generates"
    )


def location_problem(stage: str, config: dict[str, Any]) -> str | None:
    variables = config["stages"][stage].get("environment_variables", {})
    if str(variables.get("GHL_LOCATION_ID", "")).strip():
        return None
    return (
        f"stage {stage!r} has no GHL_LOCATION_ID in .chalice/config.json: the deployed functions "
        "would refuse every event. Put the sub-account's location id (from its URL, "
        "app.gohighlevel.com/v2/location/<id>/…) in the stage's environment_variables."
    )


def deploy_problem(
    argv: Sequence[str], version: tuple[int, int], config: dict[str, Any]
) -> str | None:
    found = chalice_command(argv)
    if found is None or found[0] not in CHECKED_COMMANDS:
        return None
    command, stage = found
    problem = python_problem(command, stage, version) or stage_problem(command, stage, config)
    if problem is None and command == "deploy":
        problem = location_problem(stage, config)
    return problem


def _config(project_dir: Path) -> dict[str, Any]:
    path = project_dir / ".chalice" / "config.json"
    config: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return config


def stage_variables(project_dir: Path) -> dict[str, str] | None:
    """The stage's environment_variables under `chalice <command> --stage S`; else None (in
    Lambda the function's environment already holds them)."""
    found = chalice_command(sys.argv)
    if found is None:
        return None
    stage_config = _config(project_dir).get("stages", {}).get(found[1], {})
    variables = stage_config.get("environment_variables", {})
    return {str(name): str(value) for name, value in variables.items()}


def refuse_bad_deploy(project_dir: Path, version: tuple[int, int] | None = None) -> None:
    """Exit with the reason when this process is a `chalice deploy/package` that must not run."""
    if chalice_command(sys.argv) is None:
        return
    running = version or (sys.version_info.major, sys.version_info.minor)
    problem = deploy_problem(sys.argv, running, _config(project_dir))
    if problem:
        raise SystemExit(f"refused: {problem}")
