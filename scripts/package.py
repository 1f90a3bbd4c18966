"""Package the Chalice app for the python3.13 Lambda runtime, whatever Python runs this script.

Chalice derives the Lambda runtime and the wheels it bundles from the interpreter running it (and
its manylinux download passes no --python-version), so `chalice package` on Python 3.11 would ship
cp311 binaries to a python3.11 function. Instead this script:

1. copies app.py, chalicelib/ and the stage's .chalice files into a staging project (no
   requirements.txt there, so Chalice resolves nothing for the local interpreter);
2. installs requirements.txt into the staging project's vendor/ with pip for CPython 3.13 on
   manylinux x86_64, binary wheels only (Chalice bundles vendor/ as-is);
3. runs `chalice package --stage STAGE --merge-template infra/chalice-merge.json` (the merge adds
   ReportBatchItemFailures to the consumer's SQS event), with SYNC_QUEUE_ARN and
   CONSUMER_MAX_CONCURRENCY set for app.py's SQS trigger;
4. finishes the SAM template: Runtime python3.13 on every function, FunctionName
   `<app>-<stage>[-<function>]` (what the alarms and the resources stack's log groups name), and
   `Fn::Sub` around the default queue ARN and the IAM policies, whose partition and IAM variables
   `${aws:RequestedRegion}`/`${aws:PrincipalAccount}` become the stack's own (the
   environment and the policy files stay valid for `chalice deploy`, so a CloudFormation
   placeholder in them is an error);
5. checks the zip: cp313 extension modules present, none built for another Python.

Output in --out (default build/<stage>): sam.json, deployment.zip, and project/ (the staging copy).

    python scripts/package.py --stage prod [--out DIR] [--queue-arn ARN] [--max-concurrency N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_PYTHON = "3.13"
RUNTIME = f"python{LAMBDA_PYTHON}"
CPYTHON_TAG = "cpython-" + LAMBDA_PYTHON.replace(".", "")
ARCHITECTURE = "x86_64"
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): any of these wheels loads there.
PLATFORMS = (
    "manylinux2014_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_34_x86_64",
)
MERGE_TEMPLATE = ROOT / "infra" / "chalice-merge.json"
# The consumer's SQS event, which must report batch item failures once merged.
CONSUMER_EVENT = ("SyncContacts", "SyncContactsSqsEventSource")
PLACEHOLDER = "${AWS::"
FOREIGN_BINARY = re.compile(r"cpython-3\d+")


class PackagingError(RuntimeError):
    pass


def _run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    # Our own fixed commands: the interpreter running this script, pip and chalice.
    result = subprocess.run(cmd, env=env, cwd=cwd, check=False)  # noqa: S603
    if result.returncode != 0:
        raise PackagingError(f"command failed ({result.returncode}): {' '.join(cmd)}")


def load_config(root: Path = ROOT) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((root / ".chalice" / "config.json").read_text())
    return config


def stage_config(config: dict[str, Any], stage: str) -> dict[str, Any]:
    stages: dict[str, Any] = config.get("stages", {})
    if stage not in stages:
        raise PackagingError(f"stage {stage!r} is not in .chalice/config.json ({sorted(stages)})")
    result: dict[str, Any] = stages[stage]
    return result


def default_queue_arn(queue_name: str) -> str:
    """The stage queue's ARN in the account and region the template is deployed to."""
    return f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{queue_name}"


TENANCY_SETTINGS = ("GHL_LOCATION_ID", "GHL_APP_ID")

# --- 1. staging project -----------------------------------------------------------------------------


def policy_files(config: dict[str, Any], stage: str) -> list[str]:
    """The stage's IAM policy files: its own and each function's (one role per function)."""
    settings = stage_config(config, stage)
    files = [settings.get("iam_policy_file")]
    files += [f.get("iam_policy_file") for f in settings.get("lambda_functions", {}).values()]
    return sorted({f for f in files if f})


def stage_project(project: Path, stage: str, config: dict[str, Any], root: Path = ROOT) -> None:
    if project.exists():
        shutil.rmtree(project)
    (project / ".chalice").mkdir(parents=True)
    shutil.copy2(root / "app.py", project / "app.py")
    shutil.copytree(
        root / "chalicelib",
        project / "chalicelib",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    # The stage's location may come from the deploying environment instead of config.json.
    staged = json.loads(json.dumps(config))
    variables = stage_config(staged, stage).setdefault("environment_variables", {})
    for name in TENANCY_SETTINGS:
        if os.environ.get(name):
            variables[name] = os.environ[name]
    if not variables.get("GHL_LOCATION_ID"):
        raise PackagingError(
            f"stage {stage!r} has no GHL_LOCATION_ID: set it in .chalice/config.json or the "
            "environment (without it the deployed functions refuse every event)"
        )
    (project / ".chalice" / "config.json").write_text(json.dumps(staged, indent=2))
    for policy_file in policy_files(config, stage):
        shutil.copy2(root / ".chalice" / policy_file, project / ".chalice" / policy_file)


# --- 2. dependencies for the Lambda runtime ---------------------------------------------------------


def vendor_dependencies(requirements: Path, vendor: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        "--no-compile",  # no .pyc of the local interpreter in the zip
        "--target",
        str(vendor),
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON,
        "--only-binary=:all:",
    ]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    _run([*cmd, "-r", str(requirements)])
    # Console scripts point at the local interpreter; Lambda never runs them.
    shutil.rmtree(vendor / "bin", ignore_errors=True)
    for cache in list(vendor.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)


# --- 3. chalice package -----------------------------------------------------------------------------


def chalice_package(
    project: Path,
    stage: str,
    out: Path,
    *,
    queue_arn: str,
    max_concurrency: str | None,
    schedule: str | None,
) -> None:
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # Chalice wants a region; nothing is called
    env["SYNC_QUEUE_ARN"] = queue_arn
    env.pop("CONSUMER_MAX_CONCURRENCY", None)  # an empty value would fail the settings
    if max_concurrency:
        env["CONSUMER_MAX_CONCURRENCY"] = max_concurrency
    if schedule:
        env["RECONCILE_SCHEDULE"] = schedule
    _run(
        [
            sys.executable,
            "-c",
            "import sys; from chalice.cli import main; sys.exit(main())",
            "--project-dir",
            str(project),
            "package",
            "--stage",
            stage,
            "--merge-template",
            str(MERGE_TEMPLATE),
            str(out),
        ],
        env=env,
    )


# --- 4. the SAM template ----------------------------------------------------------------------------


def fn_sub(value: Any) -> Any:
    """`Fn::Sub` around strings carrying ${AWS::...} placeholders, anywhere inside `value`."""
    if isinstance(value, str):
        return {"Fn::Sub": value} if PLACEHOLDER in value else value
    if isinstance(value, list):
        return [fn_sub(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            return value
        return {key: fn_sub(item) for key, item in value.items()}
    return value


# A stack knows its partition, region and account: the policies' become the stack's own (cfn-lint's
# ARN check cannot parse a `${aws:…}` variable, whose name holds a colon).
STACK_VALUES = {
    "arn:aws:": "arn:${AWS::Partition}:",
    "${aws:RequestedRegion}": "${AWS::Region}",
    "${aws:PrincipalAccount}": "${AWS::AccountId}",
}


def pin_to_stack(value: Any) -> Any:
    if isinstance(value, str):
        for variable, pseudo in STACK_VALUES.items():
            value = value.replace(variable, pseudo)
        return value
    if isinstance(value, list):
        return [pin_to_stack(item) for item in value]
    if isinstance(value, dict):
        return {key: pin_to_stack(item) for key, item in value.items()}
    return value


def _functions(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            yield logical_id, resource["Properties"]


def function_name(app_name: str, stage: str, handler: str) -> str:
    """Chalice's naming: `<app>-<stage>` for the API handler, `<app>-<stage>-<function>` otherwise."""
    python_name = handler.rsplit(".", 1)[-1]
    if python_name == "app":
        return f"{app_name}-{stage}"
    return f"{app_name}-{stage}-{python_name}"


def finish_template(template: dict[str, Any], app_name: str, stage: str) -> dict[str, Any]:
    for logical_id, props in _functions(template):
        props["Runtime"] = RUNTIME
        props["FunctionName"] = function_name(app_name, stage, props["Handler"])
        if props.get("Architectures", [ARCHITECTURE]) != [ARCHITECTURE]:
            raise PackagingError(f"{logical_id}: vendor/ holds {ARCHITECTURE} wheels only")
        if PLACEHOLDER in json.dumps(props.get("Environment", {})):
            raise PackagingError(f"{logical_id}: a CloudFormation placeholder in its environment")
        for event in props.get("Events", {}).values():
            if event.get("Type") == "SQS":
                event["Properties"]["Queue"] = fn_sub(event["Properties"]["Queue"])

    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::IAM::Role":
            if PLACEHOLDER in json.dumps(resource):
                raise PackagingError(f"{logical_id}: a CloudFormation placeholder in its policy")
            for policy in resource["Properties"].get("Policies", []):
                policy["PolicyDocument"] = fn_sub(pin_to_stack(policy["PolicyDocument"]))
        if resource.get("Type") == "AWS::Logs::LogGroup":
            raise PackagingError(
                f"{logical_id}: the resources stack owns the log groups (no log_retention_in_days)"
            )

    function_id, event_id = CONSUMER_EVENT
    consumer = template["Resources"].get(function_id, {}).get("Properties", {})
    event = consumer.get("Events", {}).get(event_id, {})
    if event.get("Type") != "SQS":
        raise PackagingError(f"no SQS event {event_id} on {function_id}: check {MERGE_TEMPLATE}")
    if event["Properties"].get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
        raise PackagingError(f"{MERGE_TEMPLATE} did not add ReportBatchItemFailures")

    template["Description"] = (
        f"{app_name} ({stage}): Chalice app for {RUNTIME}, from scripts/package.py. "
        f"Needs the resources stack of infra/template.yaml with Stage={stage}."
    )
    return template


# --- 5. the zip -------------------------------------------------------------------------------------


def foreign_binaries(names: list[str]) -> list[str]:
    """Files built for another CPython than the Lambda runtime's (extension modules, bytecode)."""
    return [n for n in names if any(t != CPYTHON_TAG for t in FOREIGN_BINARY.findall(n))]


def check_zip(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    foreign = foreign_binaries(names)
    if foreign:
        raise PackagingError(f"{path} holds binaries for another Python: {foreign[:5]}")
    if not any(f"{CPYTHON_TAG}-x86_64-linux-gnu.so" in n for n in names):
        raise PackagingError(f"{path} holds no {CPYTHON_TAG} extension module")
    return names


# --- the whole thing --------------------------------------------------------------------------------


def package(
    stage: str,
    out: Path,
    *,
    queue_arn: str | None = None,
    max_concurrency: str | None = None,
    root: Path = ROOT,
) -> Path:
    config = load_config(root)
    app_name: str = config["app_name"]
    env_vars: dict[str, str] = stage_config(config, stage).get("environment_variables", {})
    queue_name = env_vars.get("SYNC_QUEUE_NAME", "")
    if not queue_name:
        raise PackagingError(f"stage {stage!r} sets no SYNC_QUEUE_NAME")
    queue_arn = queue_arn or default_queue_arn(queue_name)
    if queue_arn.rsplit(":", 1)[-1] != queue_name:
        raise PackagingError(f"queue ARN {queue_arn} is not stage {stage!r}'s queue {queue_name}")

    # As under `chalice deploy`: the stage's own trigger settings, unless given here.
    max_concurrency = max_concurrency or env_vars.get("CONSUMER_MAX_CONCURRENCY") or None
    if max_concurrency and not (max_concurrency.isdigit() and 2 <= int(max_concurrency) <= 1000):
        raise PackagingError(f"max concurrency must be 2..1000, not {max_concurrency!r}")

    out = out.resolve()  # Chalice runs in the staging project
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("sam.json", "deployment.zip"):
        (out / stale).unlink(missing_ok=True)
    project = out / "project"
    stage_project(project, stage, config, root)
    vendor_dependencies(root / "requirements.txt", project / "vendor")
    chalice_package(
        project,
        stage,
        out,
        queue_arn=queue_arn,
        max_concurrency=max_concurrency,
        schedule=env_vars.get("RECONCILE_SCHEDULE"),
    )

    template_path = out / "sam.json"
    template = json.loads(template_path.read_text())
    template_path.write_text(
        json.dumps(finish_template(template, app_name, stage), indent=2) + "\n"
    )
    check_zip(out / "deployment.zip")
    return template_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--out", type=Path, help="output directory (default: build/<stage>)")
    parser.add_argument(
        "--queue-arn",
        default=os.environ.get("SYNC_QUEUE_ARN") or None,
        help="the consumer's queue (default: $SYNC_QUEUE_ARN, else the stage queue's ARN "
        "in the deploying account, as Fn::Sub)",
    )
    parser.add_argument(
        "--max-concurrency",
        default=os.environ.get("CONSUMER_MAX_CONCURRENCY") or None,
        help="SQS maximum concurrency of the consumer (default: $CONSUMER_MAX_CONCURRENCY, else "
        "the settings default)",
    )
    args = parser.parse_args(argv)
    out: Path = args.out or ROOT / "build" / args.stage
    try:
        template = package(
            args.stage, out, queue_arn=args.queue_arn, max_concurrency=args.max_concurrency
        )
    except PackagingError as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    print(f"package: {template} and {out / 'deployment.zip'} ({RUNTIME}, {ARCHITECTURE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
