"""The production deploy artifacts: infra/template.yaml, .chalice/config.json and its IAM policies,
and the python3.13 package from scripts/package.py (built once per test session).

Nothing here reaches AWS. Packaging downloads the cp313 wheels from the package registry (pip);
infra/template.yaml is deployed into moto's CloudFormation, which creates the queues, table, bucket
and dashboard but skips (with a warning) types it does not implement: AWS::SecretsManager::Secret,
AWS::CloudWatch::Alarm, AWS::SQS::QueuePolicy, AWS::S3::BucketPolicy. Those are checked statically
here and by cfn-lint.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.adapters.aws.state import BY_CALLTOOLS_ID as STATE_INDEX
from chalicelib.runtime import wiring
from chalicelib.runtime.settings import Settings
from scripts import package as packaging
from tests.support.helpers import CONTACT_ID, LOCATION_ID, Signer, dumps, tagged, use_moto_env
from tests.support.service import WORKFLOW_SECRET, body_json

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra" / "template.yaml"
CONFIG = ROOT / ".chalice" / "config.json"
STAGES = ("dev", "prod")
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
BASH = shutil.which("bash") or "/bin/bash"


def _load_yaml_template(path: Path) -> dict[str, Any]:
    from cfnlint.decode.decode import decode_str  # type: ignore[import-untyped]

    template, problems = decode_str(path.read_text())
    assert not problems, problems
    result: dict[str, Any] = json.loads(json.dumps(template))  # plain dicts and strings
    return result


@pytest.fixture(scope="module")
def infra() -> dict[str, Any]:
    return _load_yaml_template(INFRA)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CONFIG.read_text())
    return data


# Each function has a role of its own (Chalice's per-function iam_policy_file).
FUNCTIONS = {"api_handler": "api", "sync_contacts": "consumer", "daily_reconciliation": "schedule"}


def policy(stage: str, function: str) -> dict[str, Any]:
    path = ROOT / ".chalice" / f"policy-{stage}-{function}.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def sub(value: Any, stage: str) -> Any:
    """Resolve `Fn::Sub` over the Stage parameter (enough for names)."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"].replace("${Stage}", stage)
    return value


def names(infra: dict[str, Any], stage: str) -> dict[str, str]:
    r = infra["Resources"]
    secrets = resources_of(infra, "AWS::SecretsManager::Secret")
    return {
        "queue": sub(r["ContactQueue"]["Properties"]["QueueName"], stage),
        "dlq": sub(r["ContactDlq"]["Properties"]["QueueName"], stage),
        "table": sub(r["StateTable"]["Properties"]["TableName"], stage),
        **{k: sub(v["Properties"]["Name"], stage) for k, v in secrets.items()},
    }


def consumer_timeout(config: dict[str, Any], stage: str) -> int:
    return int(config["stages"][stage]["lambda_functions"]["sync_contacts"]["lambda_timeout"])


def cfn_lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the venv's cfn-lint on our own files
        [str(CFN_LINT), *map(str, paths)], capture_output=True, text=True, check=False
    )


# --- infra/template.yaml ----------------------------------------------------------------------------


def test_infra_template_passes_cfn_lint():
    result = cfn_lint(INFRA)
    assert result.returncode == 0, result.stdout + result.stderr


def test_queue_redrive_retention_and_encryption(infra, config):
    queue = infra["Resources"]["ContactQueue"]["Properties"]
    dlq = infra["Resources"]["ContactDlq"]["Properties"]
    params = infra["Parameters"]
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["MessageRetentionPeriod"] < dlq["MessageRetentionPeriod"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["ContactDlq", "Arn"]}
    max_receive = queue["RedrivePolicy"]["maxReceiveCount"]
    assert max_receive == {"Ref": "MaxReceiveCount"}
    assert params["MaxReceiveCount"]["Default"] >= 5 and params["MaxReceiveCount"]["MinValue"] >= 5
    assert queue["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True


def test_visibility_timeout_is_six_times_the_consumer_timeout(infra, config):
    visibility = infra["Resources"]["ContactQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility == {
        "Fn::FindInMap": ["VisibilityTimeout", {"Ref": "ConsumerTimeoutSeconds"}, "Seconds"]
    }
    table = infra["Mappings"]["VisibilityTimeout"]
    param = infra["Parameters"]["ConsumerTimeoutSeconds"]
    assert set(param["AllowedValues"]) == set(table)
    for timeout, row in table.items():
        assert row["Seconds"] >= 6 * int(timeout)
    for stage in STAGES:  # what make deploy passes, and the default
        assert str(consumer_timeout(config, stage)) in table
    assert int(param["Default"]) == consumer_timeout(config, "prod") == 120
    assert table[param["Default"]]["Seconds"] >= 720


def test_state_table_has_pitr_ttl_and_encryption(infra):
    table = infra["Resources"]["StateTable"]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "calltools_id", "AttributeType": "N"},
    ]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_state_table_has_the_reverse_lookup_index_the_sandbox_creates(infra):
    # One definition in two places: the deployed stack and sandbox/aws.py (local stack, tests).
    from sandbox.aws import BY_CALLTOOLS_ID, CALLTOOLS_ID

    props = infra["Resources"]["StateTable"]["Properties"]
    assert props["GlobalSecondaryIndexes"] == [BY_CALLTOOLS_ID]
    assert CALLTOOLS_ID in props["AttributeDefinitions"]
    assert BY_CALLTOOLS_ID["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert BY_CALLTOOLS_ID["IndexName"] == STATE_INDEX  # the one the consumer queries


def test_the_functions_log_groups_have_their_names_and_a_retention(infra):
    # Not Chalice's log_retention_in_days: it names the API handler's group after
    # `<app>-<stage>-api_handler`, while the function is `<app>-<stage>`.
    groups = resources_of(infra, "AWS::Logs::LogGroup").values()
    handlers = ("app.app", "app.sync_contacts", "app.daily_reconciliation")
    for stage in STAGES:
        assert {sub(g["Properties"]["LogGroupName"], stage) for g in groups} == {
            f"/aws/lambda/{packaging.function_name('ghl-calltools-sync', stage, h)}"
            for h in handlers
        }
    assert [g["Properties"]["RetentionInDays"] for g in groups] == [
        {"Fn::If": ["IsProd", 90, 14]}
    ] * len(handlers)


def test_the_deployed_state_in_the_artifact_bucket_never_expires(infra):
    bucket = infra["Resources"]["ArtifactBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    for rule in bucket["LifecycleConfiguration"]["Rules"]:
        if "ExpirationInDays" in rule:  # current objects expire under packages/ only
            assert rule["Prefix"] == "packages/"


def test_six_secrets_are_generated_never_written_in_the_repo(infra, config):
    secrets = resources_of(infra, "AWS::SecretsManager::Secret")
    assert len(secrets) == 6
    for secret in secrets.values():
        assert "SecretString" not in secret["Properties"]
        assert "GenerateSecretString" in secret["Properties"]
    for stage in STAGES:
        env = config["stages"][stage]["environment_variables"]
        secret_ids = {k: v for k, v in env.items() if k.endswith("_SECRET_ID")}
        expected = {sub(s["Properties"]["Name"], stage) for s in secrets.values()}
        assert set(secret_ids.values()) == expected
        # Each points at a secret setting of the app; no secret value is in the config.
        fields = Settings.env_fields()
        for var in secret_ids:
            field = var.removesuffix("_SECRET_ID").lower()
            assert field in fields and "SecretStr" in str(fields[field].annotation), var
            assert var.removesuffix("_SECRET_ID") not in env


def test_alarms_watch_the_dlq_the_backlog_the_consumer_and_the_api(infra, config):
    alarms = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
        for a in resources_of(infra, "AWS::CloudWatch::Alarm").values()
    }
    dims = {k: {d["Name"]: d["Value"] for d in v["Dimensions"]} for k, v in alarms.items()}

    dlq = alarms["AWS/SQS", "ApproximateNumberOfMessagesVisible"]
    assert dims["AWS/SQS", "ApproximateNumberOfMessagesVisible"] == {
        "QueueName": {"Fn::GetAtt": ["ContactDlq", "QueueName"]}
    }
    assert dlq["Threshold"] == 0 and dlq["ComparisonOperator"] == "GreaterThanThreshold"

    age = alarms["AWS/SQS", "ApproximateAgeOfOldestMessage"]
    assert dims["AWS/SQS", "ApproximateAgeOfOldestMessage"] == {
        "QueueName": {"Fn::GetAtt": ["ContactQueue", "QueueName"]}
    }
    assert age["Threshold"] == {"Ref": "QueueAgeAlarmSeconds"}
    assert infra["Parameters"]["QueueAgeAlarmSeconds"]["Default"] == 300

    errors = alarms["AWS/Lambda", "Errors"]
    assert errors["Threshold"] == 0 and errors["ComparisonOperator"] == "GreaterThanThreshold"
    app_name = config["app_name"]
    for stage in STAGES:  # the name scripts/package.py gives the consumer
        alarm_function = sub(dims["AWS/Lambda", "Errors"]["FunctionName"], stage)
        assert alarm_function == packaging.function_name(app_name, stage, "app.sync_contacts")
        assert alarm_function == f"ghl-calltools-sync-{stage}-sync_contacts"

    for metric in ("4XXError", "5XXError"):
        assert dims["AWS/ApiGateway", metric] == {
            "ApiName": app_name,
            "Stage": config["stages"]["prod"]["api_gateway_stage"],
        }
        assert alarms["AWS/ApiGateway", metric]["ComparisonOperator"] == "GreaterThanThreshold"

    # A location whose OAuth refresh GHL refused (services/oauth/tokens.py counts it).
    refused = alarms["GhlCallToolsSync", "GhlOAuthRefreshRefused"]
    assert dims["GhlCallToolsSync", "GhlOAuthRefreshRefused"] == {"service": "ghl-calltools-sync"}
    assert refused["Threshold"] == 0 and refused["Statistic"] == "Sum"

    for alarm in alarms.values():  # all notify the optional topic
        assert alarm["AlarmActions"]["Fn::If"][0] == "HasAlarmEmail"
    assert infra["Resources"]["AlarmTopic"]["Condition"] == "HasAlarmEmail"


def test_dashboard_body_is_json(infra):
    body = infra["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    assert {w["properties"]["title"] for w in widgets} >= {"Contact queue", "sync_contacts"}


def test_outputs_feed_the_chalice_stage(infra):
    assert set(infra["Outputs"]) >= {
        "QueueUrl",
        "QueueArn",
        "DlqUrl",
        "DlqArn",
        "TableName",
        "TableArn",
        "GhlApiTokenSecretArn",
        "CallToolsApiTokenSecretArn",
        "GhlWorkflowSecretArn",
        "AdminApiTokenSecretArn",
        "CallToolsWebhookSecretArn",
        "GhlOAuthClientSecretArn",
        "ArtifactBucketName",
    }


# --- .chalice/config.json and the IAM policies ------------------------------------------------------


def test_stage_config_matches_the_resources_stack(infra, config):
    for stage in STAGES:
        cfg = config["stages"][stage]
        n = names(infra, stage)
        assert cfg["autogen_policy"] is False
        assert (
            "iam_policy_file" not in cfg
        )  # one per function (test_each_function_has_its_own_policy_file)
        env = cfg["environment_variables"]
        assert env["SYNC_QUEUE_NAME"] == n["queue"] == f"ghl-calltools-contacts-{stage}"
        assert env["STATE_TABLE_NAME"] == n["table"] == f"ghl-calltools-state-{stage}"
        # Names only: the functions resolve the queue URLs by name at run time, and nothing in
        # the environment waits for CloudFormation to fill it in (`chalice deploy` would not).
        assert not {k for k in env if k.endswith(("_URL", "_ARN"))}
        assert not [v for v in env.values() if "${" in v or "arn:" in v]
        assert "log_retention_in_days" not in cfg  # the resources stack's log groups have it
        functions = cfg["lambda_functions"]
        assert functions["sync_contacts"]["lambda_timeout"] == 120
        assert functions["api_handler"]["lambda_timeout"] == 10  # the webhook's Lambda


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# The one secret wildcard: registered locations' secrets, created at run time under one prefix.
LOCATION_SECRETS = re.compile(
    r"arn:aws:secretsmanager:\$\{aws:RequestedRegion\}:\$\{aws:PrincipalAccount\}:"
    r"secret:ghl-calltools/[a-z]+/locations/\*"
)


def _location_secrets_only(actions: list[Any], resources: list[Any]) -> bool:
    return all(str(a).startswith("secretsmanager:") for a in actions) and all(
        LOCATION_SECRETS.fullmatch(str(r)) for r in resources
    )


def wildcard_violations(document: dict[str, Any]) -> list[str]:
    """Statements granting a wildcard: any `*` in an action, or in a resource of a statement that
    is not logs-only. Logs actions are one exception (log groups are created by name on first
    write); Secrets Manager actions on `ghl-calltools/<stage>/locations/*` the other (one secret
    per registered location, docs/locations.md). No cloudwatch:PutMetricData exception is needed:
    the app publishes no metrics (Powertools metrics would go through logs, as EMF)."""
    found = []
    for index, statement in enumerate(document["Statement"]):
        sid = statement.get("Sid", f"#{index}")
        if "NotAction" in statement or "NotResource" in statement:
            found.append(f"{sid}: NotAction/NotResource")
        actions = _as_list(statement.get("Action", []))
        resources = _as_list(statement.get("Resource", []))
        if any("*" in action for action in actions):
            found.append(f"{sid}: wildcard action")
        logs_only = all(action.startswith("logs:") for action in actions)
        exempt = logs_only or _location_secrets_only(actions, resources)
        if not exempt and any("*" in str(resource) for resource in resources):
            found.append(f"{sid}: wildcard resource")
    return found


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("function", FUNCTIONS.values())
def test_policy_has_no_wildcard_outside_logs(stage, function):
    assert wildcard_violations(policy(stage, function)) == []


def test_each_function_has_its_own_policy_file(config):
    for stage in STAGES:
        functions = config["stages"][stage]["lambda_functions"]
        assert "iam_policy_file" not in config["stages"][stage]
        for name, short in FUNCTIONS.items():
            assert functions[name]["iam_policy_file"] == f"policy-{stage}-{short}.json"


def test_wildcard_check_catches_every_widening():
    base = policy("prod", "consumer")
    assert wildcard_violations(base) == []

    def mutated(change: Any) -> dict[str, Any]:
        doc = copy.deepcopy(base)
        change(doc["Statement"])
        return doc

    def by_sid(statements: list[dict[str, Any]], sid: str) -> dict[str, Any]:
        return next(s for s in statements if s.get("Sid") == sid)

    mutations = [
        lambda st: by_sid(st, "ContactQueue")["Resource"].append("*"),
        lambda st: by_sid(st, "StateTable").update(
            Resource=["arn:aws:dynamodb:${aws:RequestedRegion}:${aws:PrincipalAccount}:table/*"]
        ),
        lambda st: st.append({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}),
        lambda st: by_sid(st, "Logs")["Action"].append("sqs:SendMessage"),
        lambda st: by_sid(st, "Secrets").update(Action=["secretsmanager:*"]),
        lambda st: by_sid(st, "DeadLetterQueue").update(NotResource="arn:aws:sqs:::x"),
        lambda st: st.append(
            {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}
        ),
        # The location secrets' wildcard, widened past its prefix or to another service.
        lambda st: st.append(
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "arn:aws:secretsmanager:${aws:RequestedRegion}:"
                "${aws:PrincipalAccount}:secret:ghl-calltools/prod/*",
            }
        ),
        lambda st: st.append(
            {
                "Effect": "Allow",
                "Action": "dynamodb:GetItem",
                "Resource": "arn:aws:secretsmanager:${aws:RequestedRegion}:"
                "${aws:PrincipalAccount}:secret:ghl-calltools/prod/locations/*",
            }
        ),
    ]
    for change in mutations:
        assert wildcard_violations(mutated(change)), change


def _valid_iam_actions() -> set[str]:
    import cfnlint  # type: ignore[import-untyped]

    specs = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    services = json.loads(specs.read_text())
    return {
        f"{prefix}:{action}"
        for prefix in ("sqs", "dynamodb", "secretsmanager", "logs")
        for action in services[prefix]["Actions"]
    }


# What each function calls, and nothing more. The internet-facing API function (webhook and
# admin routes) enqueues (contacts, call outcomes, the catch-up), reads queue depths and the run,
# state and outcome-tally items (stats scans the table for a live census), and reads only the
# workflow, admin and CallTools hook secrets and the GHL token (the admin lookup searches GHL by
# phone or email), never the CallTools token; the consumer does the sync and applies call outcomes
# (its GHL and CallTools tokens; Query on the reverse-lookup index only, never on the table); the
# schedule only queues the catch-up and starts a run. IAM has no sqs:DeleteMessageBatch (batch
# deletes are authorized by sqs:DeleteMessage).
LEAST = {
    "api": {
        "ContactQueue": {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
        # The status page shows dead letters and sends them back (ReceiveMessage, DeleteMessage).
        "DeadLetterQueue": {
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
        },
        "StateTable": {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Scan",
        },
        "Secrets": {"secretsmanager:GetSecretValue"},
        # PUT /locations/{id}: the location's tokens, written and read back (docs/locations.md).
        "LocationSecrets": {
            "secretsmanager:CreateSecret",
            "secretsmanager:PutSecretValue",
            "secretsmanager:GetSecretValue",
        },
    },
    "consumer": {
        "ContactQueue": {
            "sqs:SendMessage",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
        },
        "DeadLetterQueue": {"sqs:SendMessage", "sqs:GetQueueUrl"},
        "StateTable": {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Scan",
        },
        "StateIndex": {"dynamodb:Query"},
        "Secrets": {"secretsmanager:GetSecretValue"},
        # A registered location's tokens; an OAuth grant refreshed here is stored back at once.
        "LocationSecrets": {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"},
    },
    "schedule": {
        "ContactQueue": {"sqs:SendMessage", "sqs:GetQueueUrl"},
        "DeadLetterQueue": {"sqs:GetQueueUrl"},
        "StateTable": {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        },
    },
}
SECRETS = {
    # The GHL token: the admin lookup by phone or email searches GHL (services/lookup.py). The
    # OAuth client secret: the install callback's code exchange, and refreshes (consumer too).
    "api": {
        "ghl-api-token",
        "ghl-workflow-secret",
        "admin-api-token",
        "calltools-webhook-secret",
        "ghl-oauth-client-secret",
    },
    "consumer": {"ghl-api-token", "calltools-api-token", "ghl-oauth-client-secret"},
    "schedule": set[str](),
}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("function", FUNCTIONS.values())
def test_policy_is_scoped_to_the_stage_resources_and_the_function(stage, function, infra, config):
    n = names(infra, stage)
    other = next(s for s in STAGES if s != stage)
    # IAM policy variables, resolved by IAM on each request to the caller's region and account:
    # IAM accepts the file as it is, and it grants nothing in another account or region.
    prefix = "arn:aws:{svc}:${aws:RequestedRegion}:${aws:PrincipalAccount}:"
    statements = {s["Sid"]: s for s in policy(stage, function)["Statement"]}
    assert all(s["Effect"] == "Allow" for s in statements.values())

    def arns(svc: str, *rest: str) -> list[str]:
        return [prefix.replace("{svc}", svc) + r for r in rest]

    assert statements["ContactQueue"]["Resource"] == arns("sqs", n["queue"])
    assert statements["DeadLetterQueue"]["Resource"] == arns("sqs", n["dlq"])
    assert statements["StateTable"]["Resource"] == arns("dynamodb", f"table/{n['table']}")
    # The consumer's one Query: the contact of a CallTools id, on the index the adapter names.
    index = arns("dynamodb", f"table/{n['table']}/index/{STATE_INDEX}")
    assert statements.get("StateIndex", {}).get("Resource") == (
        index if function == "consumer" else None
    )
    secret_names = {v for k, v in n.items() if k.endswith("Secret")}
    assert len(secret_names) == 6
    wanted = {name for name in secret_names if name.rsplit("/", 1)[-1] in SECRETS[function]}
    assert len(wanted) == len(SECRETS[function])
    # Secrets Manager appends six random characters to a secret's ARN.
    granted = statements.get("Secrets", {}).get("Resource", [])
    assert sorted(granted) == sorted(
        arns("secretsmanager", *(f"secret:{w}-??????" for w in wanted))
    )
    # Registered locations' secrets: only under the stage's prefix, which the stage configures.
    prefix_setting = config["stages"][stage]["environment_variables"]["LOCATION_SECRETS_PREFIX"]
    assert prefix_setting == f"ghl-calltools/{stage}/locations/"
    assert statements.get("LocationSecrets", {}).get("Resource") == (
        arns("secretsmanager", f"secret:{prefix_setting}*")
        if function in ("api", "consumer")
        else None
    )
    for statement in statements.values():
        for resource in statement["Resource"]:
            assert (
                stage in resource and f"-{other}" not in resource and f"/{other}/" not in resource
            )

    actions = {s: set(_as_list(st["Action"])) for s, st in statements.items()}
    logs = actions.pop("Logs")
    assert logs == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    assert actions == LEAST[function]
    valid = _valid_iam_actions()
    unknown = {a for acts in actions.values() for a in acts if a.lower() not in valid}
    assert not unknown


def test_build_outputs_are_git_ignored():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "vendor/" in ignored and "build/" in ignored


# --- the python3.13 package -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """scripts/package.py --stage dev, once per session even across xdist workers."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    out = shared / "package-dev"
    with open(shared / "package-dev.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "done").exists():
            env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("SYNC_QUEUE_ARN", "CONSUMER_MAX_CONCURRENCY")
            }
            env["GHL_LOCATION_ID"] = LOCATION_ID  # the stage's location, from the environment
            result = subprocess.run(  # noqa: S603 - our packaging script
                [
                    sys.executable,
                    str(ROOT / "scripts" / "package.py"),
                    "--stage=dev",
                    f"--out={out}",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            (out / "done").write_text("ok")
    return out


@pytest.fixture(scope="session")
def sam(packaged: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((packaged / "sam.json").read_text())
    return data


def _functions(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources_of(sam, "AWS::Serverless::Function").items()}


def test_zip_holds_cp313_binaries_and_none_for_another_python(packaged):
    with zipfile.ZipFile(packaged / "deployment.zip") as archive:
        zipped = archive.namelist()
    assert "pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so" in zipped
    assert any(re.fullmatch(r"cryptography/.*\.abi3\.so", n) for n in zipped)
    assert "app.py" in zipped and "chalicelib/runtime/wiring.py" in zipped
    binaries = [n for n in zipped if re.search(r"cpython-\d+", n)]
    assert binaries and all("cpython-313" in n for n in binaries)
    assert not [n for n in zipped if "cpython-311" in n or "__pycache__" in n]
    assert not any(n.startswith("bin/") for n in zipped)


def test_zip_holds_every_layer_of_chalicelib_and_no_operator_tools(packaged):
    """The operator CLI (ops/) and its typer and rich, from requirements-dev.txt, stay out."""
    with zipfile.ZipFile(packaged / "deployment.zip") as archive:
        zipped = set(archive.namelist())
    ours = {str(p.relative_to(ROOT)) for p in (ROOT / "chalicelib").rglob("*.py")}
    assert "chalicelib/domain/contact.py" in ours and "chalicelib/adapters/aws/state.py" in ours
    assert not ours - zipped
    for package in ("ops", "typer", "rich"):
        assert not [n for n in zipped if n.startswith(f"{package}/")], package
    assert not [n for n in zipped if n.endswith(("/cli.py", "/doctor.py")) and "chalicelib" in n]


def test_foreign_binary_check_flags_other_pythons():
    assert packaging.foreign_binaries(
        ["a/x.cpython-313-x86_64-linux-gnu.so", "b/y.abi3.so", "c/__pycache__/z.cpython-311.pyc"]
    ) == ["c/__pycache__/z.cpython-311.pyc"]


def test_every_function_runs_python313_under_its_chalice_name(sam, config):
    functions = _functions(sam)
    assert {"APIHandler", "SyncContacts"} <= set(functions)
    for props in functions.values():
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["x86_64"]
        assert props["FunctionName"].startswith("ghl-calltools-sync-dev")
    api, consumer = functions["APIHandler"], functions["SyncContacts"]
    assert api["FunctionName"] == "ghl-calltools-sync-dev"
    assert consumer["FunctionName"] == "ghl-calltools-sync-dev-sync_contacts"
    limits = config["stages"]["dev"]["lambda_functions"]
    assert consumer["Timeout"] == limits["sync_contacts"]["lambda_timeout"] == 120
    assert api["Timeout"] == limits["api_handler"]["lambda_timeout"] == 10
    assert resources_of(sam, "AWS::Logs::LogGroup") == {}  # the resources stack's


def test_consumer_sqs_event_reports_batch_item_failures(sam):
    events = _functions(sam)["SyncContacts"]["Events"]
    sqs = [e["Properties"] for e in events.values() if e["Type"] == "SQS"]
    assert len(sqs) == 1
    assert sqs[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sqs[0]["Queue"] == {
        "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}"
        ":ghl-calltools-contacts-dev"
    }
    assert sqs[0]["BatchSize"] == 10
    assert (
        sqs[0]["ScalingConfig"]["MaximumConcurrency"] == Settings().queue.consumer_max_concurrency
    )


# `${…}` that is not one of the IAM policy variables the policy files use.
NOT_AN_IAM_VARIABLE = re.compile(r"\$\{(?!aws:(PrincipalAccount|RequestedRegion)\})")


def _bare_placeholders(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            return []
        return [p for k, v in value.items() for p in _bare_placeholders(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _bare_placeholders(v, f"{path}/{i}")]
    return [path] if isinstance(value, str) and NOT_AN_IAM_VARIABLE.search(value) else []


def test_each_packaged_function_has_a_role_with_its_own_policy_filled_in(sam):
    assert _bare_placeholders(sam) == []
    roles = resources_of(sam, "AWS::IAM::Role")
    functions = _functions(sam)
    assert len(roles) == len(functions) == len(FUNCTIONS)
    by_handler = {
        props["Handler"].rsplit(".", 1)[-1]: props["Role"]["Fn::GetAtt"][0]
        for props in functions.values()
    }
    handlers = {"app": "api_handler"}  # Chalice's API handler is `app.app`
    for handler, role_name in by_handler.items():
        short = FUNCTIONS[handlers.get(handler, handler)]
        (inline,) = roles[role_name]["Properties"]["Policies"]
        assert inline["PolicyDocument"] == packaging.fn_sub(
            packaging.pin_to_stack(policy("dev", short))
        )
        assert "ManagedPolicyArns" not in roles[role_name]["Properties"]
    assert len(set(by_handler.values())) == len(FUNCTIONS)  # no role shared


def test_packaged_template_passes_cfn_lint(packaged):
    result = cfn_lint(packaged / "sam.json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_packaged_functions_carry_the_stage_location(sam):
    for props in _functions(sam).values():
        assert props["Environment"]["Variables"]["GHL_LOCATION_ID"] == LOCATION_ID


def test_package_refuses_a_stage_without_a_location(tmp_path, monkeypatch):
    """Without GHL_LOCATION_ID the deployed functions would refuse every event: say so now."""
    monkeypatch.delenv("GHL_LOCATION_ID", raising=False)
    with pytest.raises(packaging.PackagingError, match="GHL_LOCATION_ID"):
        packaging.package("dev", tmp_path)


def test_package_refuses_another_stages_queue(tmp_path):
    with pytest.raises(packaging.PackagingError, match="not stage 'dev'"):
        packaging.package(
            "dev",
            tmp_path,
            queue_arn="arn:aws:sqs:us-east-1:111122223333:ghl-calltools-contacts-prod",
        )
    assert not (tmp_path / "project").exists()


# --- the resources stack in moto, with the app pointed at it ----------------------------------------


def _create_resources_stack() -> dict[str, str]:
    """infra/template.yaml as stage dev in moto (inside mock_aws); the stack's outputs."""
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    cloudformation.create_stack(
        StackName="ghl-calltools-resources-dev",
        TemplateBody=INFRA.read_text(),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
    )
    stack = cloudformation.describe_stacks(StackName="ghl-calltools-resources-dev")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")
def test_webhook_lands_in_the_queue_created_by_the_stack(monkeypatch, signer: Signer):
    use_moto_env(monkeypatch)
    monkeypatch.delenv("CALLTOOLS_WEBHOOK_SECRET", raising=False)

    with mock_aws():
        outputs = _create_resources_stack()
        sqs = boto3.client("sqs", region_name="us-east-1")
        attrs = sqs.get_queue_attributes(QueueUrl=outputs["QueueUrl"], AttributeNames=["All"])[
            "Attributes"
        ]
        assert int(attrs["VisibilityTimeout"]) == 720
        assert json.loads(attrs["RedrivePolicy"]) == {
            "deadLetterTargetArn": outputs["DlqArn"],
            "maxReceiveCount": 10,
        }
        assert outputs["QueueArn"].endswith(":ghl-calltools-contacts-dev")
        table = boto3.client("dynamodb", region_name="us-east-1").describe_table(
            TableName=outputs["TableName"]
        )["Table"]
        assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
        indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
        assert indexes["by_calltools_id"]["KeySchema"] == [
            {"AttributeName": "calltools_id", "KeyType": "HASH"}
        ]

        env = {
            # What .chalice/config.json gives the functions: names, no URLs (resolved by name).
            "SYNC_QUEUE_NAME": outputs["QueueName"],
            "STATE_TABLE_NAME": outputs["TableName"],
            "GHL_LOCATION_ID": LOCATION_ID,
            "GHL_WEBHOOK_PUBLIC_KEYS": signer.public_pem,
            "GHL_WORKFLOW_SECRET": WORKFLOW_SECRET,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        try:
            wiring.reset()
            from app import app

            raw = dumps(tagged("cold lead"))
            with Client(app) as client:
                response = client.http.post("/webhook/ghl", headers=signer.headers(raw), body=raw)
            assert response.status_code == 200, response.body
            assert body_json(response)["status"] == "accepted"
            # No CallTools hook secret: its hooks are refused, and nothing else changes.
            with Client(app) as client:
                hook = client.http.post(
                    "/webhook/calltools?token=guess",
                    headers={"Content-Type": "application/json"},
                    body=json.dumps({"id": 4242}),
                )
            assert hook.status_code == 401, hook.body

            messages = sqs.receive_message(
                QueueUrl=outputs["QueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            assert len(messages) == 1 and CONTACT_ID in messages[0]["Body"]
            dead = sqs.receive_message(QueueUrl=outputs["DlqUrl"]).get("Messages", [])
            assert dead == []
        finally:
            wiring.reset()


@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")
def test_calltools_hook_is_checked_against_the_stages_secret_and_lands_in_the_queue(
    monkeypatch, infra, config
):
    """The API function reads the hook's token from the secret the stage config names (what its
    policy grants), and only the record id is queued."""
    use_moto_env(monkeypatch)
    monkeypatch.delenv("CALLTOOLS_WEBHOOK_SECRET", raising=False)
    stage_env = config["stages"]["dev"]["environment_variables"]
    with mock_aws():
        outputs = _create_resources_stack()
        # moto's CloudFormation skips AWS::SecretsManager::Secret: made here, under the stack's name.
        secret_name = names(infra, "dev")["CallToolsWebhookSecret"]
        assert stage_env["CALLTOOLS_WEBHOOK_SECRET_SECRET_ID"] == secret_name
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=secret_name, SecretString="generatedHookToken48chars\n"
        )
        for name in ("SYNC_QUEUE_NAME", "STATE_TABLE_NAME", "CALLTOOLS_WEBHOOK_SECRET_SECRET_ID"):
            monkeypatch.setenv(name, stage_env[name])
        monkeypatch.setenv("GHL_LOCATION_ID", LOCATION_ID)
        try:
            wiring.reset()
            from app import app

            def post(token: str) -> Any:
                with Client(app) as client:
                    return client.http.post(
                        f"/webhook/calltools?token={token}",
                        headers={"Content-Type": "application/json"},
                        body=json.dumps({"id": 4242, "contact": 77}),
                    )

            assert post("wrong").status_code == 401
            accepted = post("generatedHookToken48chars")
            assert accepted.status_code == 200, accepted.body
            assert body_json(accepted)["record_id"] == 4242

            sqs = boto3.client("sqs", region_name="us-east-1")
            (message,) = sqs.receive_message(
                QueueUrl=outputs["QueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=0
            )["Messages"]
            body = json.loads(message["Body"])
            assert (body["kind"], body["record_id"], body["origin"]) == ("outcome", 4242, "hook")
        finally:
            wiring.reset()


# --- scripts/deploy.sh against stand-ins for the AWS CLI and chalice ---------------------------------
# (the real `chalice deploy` of the stage is tests/deploy/test_chalice_deploy.py)

FAKE_AWS = """#!{python}
import json, os, shutil, sys
args = sys.argv[1:]
bucket = os.environ["FAKE_BUCKET_DIR"]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
def local(path):
    return path.replace("s3://artifact-bucket/", bucket + "/")
if args[:2] == ["cloudformation", "describe-stacks"]:
    print("artifact-bucket")
elif args[:2] == ["s3api", "list-objects-v2"]:
    print(int(os.path.exists(os.path.join(bucket, args[args.index("--prefix") + 1]))))
elif args[:2] == ["s3", "cp"]:
    src, dst = (local(a) for a in args[-2:])
    if dst.startswith(bucket) and os.environ.get("FAKE_UPLOAD_FAILS"):
        sys.exit(1)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy(src, dst)
elif args[:2] == ["lambda", "get-function"]:
    if os.environ.get("FAKE_FUNCTION_EXISTS"):
        sys.exit(0)
    error = os.environ.get("FAKE_LAMBDA_ERROR", "ResourceNotFoundException")
    print(f"An error occurred ({{error}}) when calling the GetFunction operation", file=sys.stderr)
    sys.exit(254)
"""

# Records the deployed state it finds, then, as Chalice does, writes the state of what it deployed
# only when the deploy succeeds.
FAKE_CHALICE = """#!{python}
import json, os, sys
args = sys.argv[1:]
state = os.path.join(".chalice", "deployed", "dev.json")
with open(os.environ["FAKE_LOG"], "a") as log:
    found = open(state).read() if os.path.exists(state) else None
    log.write(json.dumps(["chalice", *args, found]) + "\\n")
if args[0] == "deploy":
    if os.environ.get("FAKE_CHALICE_FAILS"):
        sys.exit(2)
    with open(state, "w") as f:
        f.write("deployed-by-this-run")
print("https://abc123.execute-api.eu-west-1.amazonaws.com/api/")
"""


def run_deploy_script(
    tmp_path: Path, *, stored: str | None, local: str | None, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[list[Any]], Path]:
    """scripts/deploy.sh in a copy of the project, the bucket holding `stored` and the checkout
    `local` as .chalice/deployed/dev.json; returns its result, the calls, the bucket's copy."""
    project, bucket, log = tmp_path / "project", tmp_path / "bucket", tmp_path / "calls.log"
    for relative in ("scripts/deploy.sh", ".chalice/config.json", "infra/template.yaml"):
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, project / relative)
    state_key = bucket / "chalice" / "deployed" / "dev.json"
    if stored is not None:
        state_key.parent.mkdir(parents=True)
        state_key.write_text(stored)
    if local is not None:
        (project / ".chalice" / "deployed").mkdir()
        (project / ".chalice" / "deployed" / "dev.json").write_text(local)
    tools = {"aws": FAKE_AWS, "chalice": FAKE_CHALICE}
    for name, source in tools.items():
        (tmp_path / name).write_text(source.format(python=sys.executable))
        (tmp_path / name).chmod(0o755)
    result = subprocess.run(  # noqa: S603 - our deploy script, with stand-in tools
        [BASH, str(project / "scripts" / "deploy.sh")],
        env={
            **{k: v for k, v in os.environ.items() if k != "ALARM_EMAIL"},
            "STAGE": "dev",
            "AWS": str(tmp_path / "aws"),
            "CHALICE": str(tmp_path / "chalice"),
            "PYTHON": sys.executable,
            "FAKE_BUCKET_DIR": str(bucket),
            "FAKE_LOG": str(log),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls, state_key


def _steps(calls: list[list[Any]]) -> list[list[Any]]:
    return [c[:2] for c in calls if c[1] != "describe-stacks"]


def test_deploy_script_brings_the_stored_state_to_chalice_and_back(tmp_path):
    result, calls, stored = run_deploy_script(tmp_path, stored="from-the-bucket", local="older")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert _steps(calls) == [
        ["cloudformation", "deploy"],
        ["s3api", "list-objects-v2"],
        ["s3", "cp"],
        ["chalice", "deploy"],
        ["s3", "cp"],
        ["chalice", "url"],
    ]
    infra_deploy = calls[0]
    assert infra_deploy[infra_deploy.index("--stack-name") + 1] == "ghl-calltools-resources-dev"
    assert infra_deploy[infra_deploy.index("--template-file") + 1] == "infra/template.yaml"
    overrides = infra_deploy[infra_deploy.index("--parameter-overrides") + 1 :]
    assert overrides[:2] == ["Stage=dev", "ConsumerTimeoutSeconds=120"]
    assert not any(o.startswith("AlarmEmail=") for o in overrides)
    deploy = next(c for c in calls if c[:2] == ["chalice", "deploy"])
    assert deploy == ["chalice", "deploy", "--stage", "dev", "from-the-bucket"]  # not "older"
    assert stored.read_text() == "deployed-by-this-run"
    # The checkout's differing copy is set aside, not lost (it could be the newer one).
    (kept,) = (tmp_path / "project" / ".chalice" / "deployed").glob("dev.json.replaced-*")
    assert kept.read_text() == "older" and "kept as" in result.stderr
    api = "https://abc123.execute-api.eu-west-1.amazonaws.com/api"
    assert f"GHL webhook URL: {api}/webhook/ghl" in result.stdout
    # What docs/deploy.md (Call outcomes) runs next, with the stage's secret.
    assert f"CallTools outcome hook: python -m ops.cli hooks install --url {api}\n" in result.stdout


def test_deploy_script_keeps_the_checkouts_state_when_none_is_stored(tmp_path):
    result, calls, stored = run_deploy_script(tmp_path, stored=None, local="from-this-checkout")
    assert result.returncode == 0, result.stderr[-3000:]
    deploy = next(c for c in calls if c[:2] == ["chalice", "deploy"])
    assert deploy[-1] == "from-this-checkout"
    assert stored.read_text() == "deployed-by-this-run"


def test_deploy_script_leaves_the_stored_state_alone_when_chalice_fails(tmp_path):
    result, calls, stored = run_deploy_script(
        tmp_path, stored="from-the-bucket", local=None, FAKE_CHALICE_FAILS="1"
    )
    assert result.returncode == 1 and "chalice deploy failed" in result.stderr
    assert stored.read_text() == "from-the-bucket"
    assert _steps(calls)[-1] == ["chalice", "deploy"]  # no upload, no url


def test_deploy_script_says_how_to_store_the_state_when_the_upload_fails(tmp_path):
    result, _, stored = run_deploy_script(
        tmp_path, stored="from-the-bucket", local=None, FAKE_UPLOAD_FAILS="1"
    )
    assert result.returncode == 1
    assert "aws s3 cp .chalice/deployed/dev.json s3://artifact-bucket/" in result.stderr
    assert stored.read_text() == "from-the-bucket"


def test_deploy_script_refuses_to_lose_a_deployed_stages_webhook_url(tmp_path):
    result, calls, stored = run_deploy_script(
        tmp_path, stored=None, local=None, FAKE_FUNCTION_EXISTS="1"
    )
    assert result.returncode == 1
    assert "ALLOW_NEW_API=1" in result.stderr and "list-object-versions" in result.stderr
    assert not [c for c in calls if c[0] == "chalice"] and not stored.exists()

    result, calls, stored = run_deploy_script(
        tmp_path / "allowed", stored=None, local=None, FAKE_FUNCTION_EXISTS="1", ALLOW_NEW_API="1"
    )
    assert result.returncode == 0 and stored.read_text() == "deployed-by-this-run"


def test_deploy_script_stops_when_it_cannot_tell_whether_the_stage_exists(tmp_path):
    result, calls, stored = run_deploy_script(
        tmp_path, stored=None, local=None, FAKE_LAMBDA_ERROR="AccessDeniedException"
    )
    assert result.returncode == 1 and "cannot tell whether stage dev is deployed" in result.stderr
    assert not [c for c in calls if c[0] == "chalice"] and not stored.exists()


def test_deploy_script_deploys_a_new_stage_from_nothing(tmp_path):
    result, calls, stored = run_deploy_script(tmp_path, stored=None, local=None)
    assert result.returncode == 0, result.stderr[-3000:]
    assert next(c for c in calls if c[:2] == ["chalice", "deploy"])[-1] is None
    assert stored.read_text() == "deployed-by-this-run"


def test_deploy_script_refuses_an_unknown_stage():
    result = subprocess.run(  # noqa: S603 - our deploy script
        [BASH, str(ROOT / "scripts" / "deploy.sh")],
        env={**os.environ, "STAGE": "staging", "AWS": "/bin/false"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "dev or prod" in result.stderr
