"""A real `chalice deploy --stage dev`, twice, from Python 3.13 (.venv-deploy, built by `make
test`), against an in-process moto server holding the resources stack of infra/template.yaml.

The shim: Chalice sends API Gateway a Swagger 2.0 document (ImportRestApi, then PutRestApi in
overwrite mode on a redeploy), and moto 5 reads only OpenAPI 3: it refuses a `swagger` key and
requires `info.description`. Both read the same `paths` and `x-amazon-apigateway-integration`
entries, so the shim relabels the document and defaults the description; routes and integrations
pass through as Chalice wrote them. It patches moto's backend, so the server runs in this process.

Only the package step leaves loopback: Chalice downloads the cp313 wheels of requirements.txt (as
`make package` does). On a machine with no Python 3.13 the module is skipped, naming it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.apigateway.models import APIGatewayBackend
from moto.server import ThreadedMotoServer

from tests.support.helpers import LOCATION_ID

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_CHALICE = ROOT / ".venv-deploy" / "bin" / "chalice"
LOCAL_CHALICE = Path(sys.executable).parent / "chalice"  # the test venv's, not Python 3.13
APP = "ghl-calltools-sync"
FUNCTIONS = {
    f"{APP}-dev": "api",
    f"{APP}-dev-sync_contacts": "consumer",
    f"{APP}-dev-daily_reconciliation": "schedule",
}
# In the staged config: the trigger and the schedule must take the stage's, not the defaults.
MAX_CONCURRENCY = "3"
SCHEDULE = "cron(0 3 * * ? *)"
# The developer's shell reaches nothing (credentials, endpoints, settings) ...
NOT_PASSED = re.compile(r"^(AWS_|GHL_|CALLTOOLS_|SYNC_|CONSUMER_|RECONCILE_)")
# ... and a deploying shell that exports these does not change the triggers either.
HOSTILE_SHELL = {
    "CONSUMER_MAX_CONCURRENCY": "900",
    "RECONCILE_SCHEDULE": "rate(1 minute)",
    "SYNC_QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:someone-elses-queue",
}
RUNNING = (sys.version_info.major, sys.version_info.minor)
NOT_AN_IAM_VARIABLE = re.compile(r"\$\{(?!aws:(PrincipalAccount|RequestedRegion)\})")


def _python313_missing() -> str | None:
    if DEPLOY_CHALICE.exists():
        return None
    finder = subprocess.run(  # noqa: S603 - our own script
        [str(ROOT / "scripts" / "python313.sh")], capture_output=True, text=True, check=False
    )
    if finder.returncode != 0:
        return "no Python 3.13 interpreter (python3.13, pyenv, uv): " + finder.stderr.strip()
    return "Python 3.13 found but .venv-deploy is not built: run `make deploy-venv`"


pytestmark = [
    pytest.mark.skipif(_python313_missing() is not None, reason=str(_python313_missing())),
    # moto's CloudFormation skips these types of the resources stack (test_deploy_artifacts).
    pytest.mark.filterwarnings("ignore:Tried to parse AWS::"),
]


def _as_openapi3(doc: dict[str, Any]) -> dict[str, Any]:
    relabelled = {key: value for key, value in doc.items() if key != "swagger"}
    relabelled["openapi"] = "3.0.1"
    relabelled["info"] = {"description": "", **doc.get("info", {})}
    return relabelled


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    importer, putter = APIGatewayBackend.import_rest_api, APIGatewayBackend.put_rest_api

    def import_rest_api(self: Any, api_doc: Any, fail_on_warnings: bool) -> Any:
        return importer(self, _as_openapi3(api_doc), False)

    def put_rest_api(
        self: Any, function_id: str, api_doc: Any, fail_on_warnings: bool, mode: str = "merge"
    ) -> Any:
        return putter(self, function_id, _as_openapi3(api_doc), False, mode)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(APIGatewayBackend, "import_rest_api", import_rest_api)
        patch.setattr(APIGatewayBackend, "put_rest_api", put_rest_api)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def _aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }


def _stage_project(project: Path, location: str) -> None:
    """The repository's app and .chalice, with the operator's location and a trigger setting."""
    (project / ".chalice").mkdir(parents=True)
    shutil.copy2(ROOT / "app.py", project / "app.py")
    shutil.copy2(ROOT / "requirements.txt", project / "requirements.txt")
    shutil.copytree(
        ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__")
    )
    for policy in (ROOT / ".chalice").glob("policy-*.json"):
        shutil.copy2(policy, project / ".chalice" / policy.name)
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    variables = config["stages"]["dev"]["environment_variables"]
    variables.update(
        GHL_LOCATION_ID=location,
        CONSUMER_MAX_CONCURRENCY=MAX_CONCURRENCY,
        RECONCILE_SCHEDULE=SCHEDULE,
    )
    (project / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))


@dataclass
class Deploy:
    returncode: int
    output: str


def _chalice(chalice: Path, project: Path, endpoint: str, *args: str) -> Deploy:
    env = {k: v for k, v in os.environ.items() if not NOT_PASSED.match(k)}
    env.update(_aws_env(endpoint), **HOSTILE_SHELL)
    result = subprocess.run(  # noqa: S603 - chalice, on our staged project
        [str(chalice), "--project-dir", str(project), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    return Deploy(result.returncode, result.stdout + result.stderr)


@dataclass
class Account:
    """What the moto account holds, read through boto3."""

    functions: dict[str, dict[str, Any]]
    environments: dict[str, dict[str, str]]
    policies: dict[str, list[dict[str, Any]]]  # function name -> its role's inline policies
    mappings: list[dict[str, Any]]
    apis: list[dict[str, Any]]
    routes: set[tuple[str, str]]
    rules: dict[str, dict[str, Any]]  # schedule expression -> rule and its targets
    log_groups: dict[str, int | None]


def _read(session: boto3.Session) -> Account:
    lam, iam = session.client("lambda"), session.client("iam")
    gateway, events = session.client("apigateway"), session.client("events")
    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    policies = {}
    for name, function in functions.items():
        role = function["Role"].rsplit("/", 1)[-1]
        policies[name] = [
            iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"]
            for p in iam.list_role_policies(RoleName=role)["PolicyNames"]
        ]
    apis = gateway.get_rest_apis()["items"]
    routes = {
        (resource["path"], method)
        for api in apis
        for resource in gateway.get_resources(restApiId=api["id"])["items"]
        for method in resource.get("resourceMethods", {})
    }
    rules = {
        rule.get("ScheduleExpression", ""): {
            **rule,
            "Targets": events.list_targets_by_rule(Rule=rule["Name"])["Targets"],
        }
        for rule in events.list_rules()["Rules"]
    }
    groups = session.client("logs").describe_log_groups()["logGroups"]
    return Account(
        functions=functions,
        environments={
            n: f.get("Environment", {}).get("Variables", {}) for n, f in functions.items()
        },
        policies=policies,
        mappings=lam.list_event_source_mappings()["EventSourceMappings"],
        apis=apis,
        routes=routes,
        rules=rules,
        log_groups={g["logGroupName"]: g.get("retentionInDays") for g in groups},
    )


@dataclass
class Deployment:
    stack: dict[str, str]  # the resources stack's outputs
    refused_python: Deploy | None  # None when this test itself runs on Python 3.13
    refused_location: Deploy
    after_refusals: Account
    first: Deploy
    after_first: Account
    second: Deploy
    after_second: Account


@pytest.fixture(scope="module")
def deployment(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    # boto3 in this process talks to the server too.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        cloudformation = session.client("cloudformation")
        cloudformation.create_stack(
            StackName="ghl-calltools-resources-dev",
            TemplateBody=(ROOT / "infra" / "template.yaml").read_text(),
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
        )
        (stack,) = cloudformation.describe_stacks(StackName="ghl-calltools-resources-dev")["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

        base = tmp_path_factory.mktemp("chalice-deploy")
        unlocated = base / "no-location"
        _stage_project(unlocated, location="")
        project = base / "project"
        _stage_project(project, location=LOCATION_ID)

        refused_python = (
            None
            if RUNNING == (3, 13)
            else _chalice(LOCAL_CHALICE, project, endpoint, "deploy", "--stage", "dev")
        )
        refused_location = _chalice(DEPLOY_CHALICE, unlocated, endpoint, "deploy", "--stage", "dev")
        after_refusals = _read(session)

        first = _chalice(DEPLOY_CHALICE, project, endpoint, "deploy", "--stage", "dev")
        assert first.returncode == 0, first.output[-4000:]
        after_first = _read(session)
        # The optional one-liner of docs/deploy.md; the next deploy must keep it.
        (mapping,) = after_first.mappings
        session.client("lambda").update_event_source_mapping(
            UUID=mapping["UUID"], FunctionResponseTypes=["ReportBatchItemFailures"]
        )

        second = _chalice(DEPLOY_CHALICE, project, endpoint, "deploy", "--stage", "dev")
        assert second.returncode == 0, second.output[-4000:]
        return Deployment(
            stack=outputs,
            refused_python=refused_python,
            refused_location=refused_location,
            after_refusals=after_refusals,
            first=first,
            after_first=after_first,
            second=second,
            after_second=_read(session),
        )


def test_a_deploy_from_another_python_creates_nothing(deployment):
    refused = deployment.refused_python
    if refused is None:
        pytest.skip("the test environment is Python 3.13 itself: no other Python's chalice here")
    assert refused.returncode != 0
    assert f"refused: chalice deploy is running under Python {RUNNING[0]}.{RUNNING[1]}" in (
        refused.output
    )
    assert "make deploy STAGE=dev" in refused.output
    nothing = deployment.after_refusals
    assert nothing.functions == {} and nothing.apis == [] and nothing.mappings == []


def test_a_deploy_of_a_stage_without_a_location_creates_nothing(deployment):
    assert deployment.refused_location.returncode != 0
    assert "refused: stage 'dev' has no GHL_LOCATION_ID" in deployment.refused_location.output
    nothing = deployment.after_refusals
    assert nothing.functions == {} and nothing.apis == [] and nothing.mappings == []


@pytest.mark.parametrize("after", ["after_first", "after_second"])
def test_every_function_runs_python313_with_its_own_policy_and_no_placeholder(deployment, after):
    account: Account = getattr(deployment, after)
    assert set(account.functions) == set(FUNCTIONS)
    for name, function in account.functions.items():
        assert function["Runtime"] == "python3.13", name
        environment = account.environments[name]
        assert not [v for v in environment.values() if "${" in v], environment
        assert environment["GHL_LOCATION_ID"] == LOCATION_ID
        assert environment["SYNC_QUEUE_NAME"] == deployment.stack["QueueName"]
        (document,) = account.policies[name]
        text = json.dumps(document)
        # IAM resolves its own policy variables on each request; nothing else may be left.
        assert "${AWS::" not in text and not NOT_AN_IAM_VARIABLE.search(text), text
        short = FUNCTIONS[name]
        assert document == json.loads((ROOT / ".chalice" / f"policy-dev-{short}.json").read_text())


@pytest.mark.parametrize("after", ["after_first", "after_second"])
def test_one_trigger_on_the_stacks_queue_with_the_stages_concurrency(deployment, after):
    account: Account = getattr(deployment, after)
    (mapping,) = account.mappings
    assert mapping["EventSourceArn"] == deployment.stack["QueueArn"]
    assert mapping["FunctionArn"].endswith(f":function:{APP}-dev-sync_contacts")
    assert mapping["BatchSize"] == 10
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": int(MAX_CONCURRENCY)}


def test_the_schedule_and_the_routes(deployment):
    account = deployment.after_second
    assert set(account.rules) == {SCHEDULE}  # the stage's, not the default nor the shell's
    rule = account.rules[SCHEDULE]
    assert rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    assert target["Arn"].endswith(f":function:{APP}-dev-daily_reconciliation")
    assert {
        ("/webhook/ghl", "POST"),
        ("/webhook/calltools", "POST"),
        ("/sync/trigger", "POST"),
        ("/sync/stats", "GET"),
        ("/sync/contacts/{contact_id}", "GET"),
        ("/sync/contacts", "GET"),
        ("/locations", "GET"),
        ("/locations/{location_id}", "GET"),
        ("/locations/{location_id}", "PUT"),
        ("/locations/{location_id}", "DELETE"),
        ("/oauth/callback", "GET"),
    } <= account.routes
    assert {path for path, _ in account.routes} == {
        "/webhook/ghl",
        "/webhook/calltools",
        "/sync/trigger",
        "/sync/stats",
        "/sync/contacts/{contact_id}",
        "/sync/contacts",
        "/admin",
        "/admin/contact",
        "/admin/login",
        "/admin/logout",
        "/admin/run",
        "/admin/redrive",
        "/locations",
        "/locations/{location_id}",
        "/oauth/callback",
    }


def test_a_redeploy_updates_in_place(deployment):
    first, second = deployment.after_first, deployment.after_second
    assert [api["id"] for api in second.apis] == [api["id"] for api in first.apis]
    assert len(second.apis) == 1  # the same webhook URL
    url = f"https://{first.apis[0]['id']}.execute-api.us-east-1.amazonaws.com/api/"
    assert url in deployment.first.output and url in deployment.second.output
    assert [m["UUID"] for m in second.mappings] == [m["UUID"] for m in first.mappings]
    # Chalice's update of the trigger sends no FunctionResponseTypes: the setting stays.
    assert second.mappings[0].get("FunctionResponseTypes") == ["ReportBatchItemFailures"]


def test_the_functions_log_to_the_stacks_groups_and_chalice_makes_none(deployment):
    groups = deployment.after_second.log_groups
    assert {f"/aws/lambda/{name}": 14 for name in FUNCTIONS}.items() <= groups.items()
    assert not [g for g in groups if g.endswith("api_handler")]
