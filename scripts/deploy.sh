#!/usr/bin/env bash
# `make deploy STAGE=prod`: the resources stack, then `chalice deploy` from Python 3.13, with
# Chalice's deployed state kept in the resources stack's artifact bucket.
#
#   1. aws cloudformation deploy infra/template.yaml    -> stack ghl-calltools-resources-<stage>
#   2. s3://<artifact bucket>/chalice/deployed/<stage>.json -> .chalice/deployed/<stage>.json
#   3. chalice deploy --stage <stage>                   (CHALICE, .venv-deploy's: Python 3.13)
#   4. .chalice/deployed/<stage>.json -> the bucket     (after a successful step 3 only: Chalice
#                                                        writes the file only when a deploy succeeds)
#
# The deployed state holds the REST API id and the SQS trigger's UUID; without it `chalice deploy`
# creates a second REST API (a new webhook URL) and a second trigger. In the bucket, the next
# deploy from any machine finds it. Uses the AWS CLI's usual credentials and region (AWS_PROFILE,
# AWS_REGION, ...). Variables: STAGE (dev|prod), ALARM_EMAIL (optional), RESOURCES_STACK,
# CHALICE, PYTHON (reads .chalice/config.json), AWS (the CLI), ALLOW_NEW_API=1 (see step 2).
set -euo pipefail
cd "$(dirname "$0")/.."

STAGE="${STAGE:-dev}"
CHALICE="${CHALICE:-.venv-deploy/bin/chalice}"
PYTHON="${PYTHON:-$(dirname "$CHALICE")/python}"
AWS="${AWS:-aws}"
RESOURCES_STACK="${RESOURCES_STACK:-ghl-calltools-resources-${STAGE}}"
STATE=".chalice/deployed/${STAGE}.json"
STATE_KEY="chalice/deployed/${STAGE}.json"

case "$STAGE" in
dev | prod) ;;
*)
    echo "deploy: STAGE must be dev or prod, not '$STAGE'" >&2
    exit 2
    ;;
esac

stack_output() { # stack key
    "$AWS" cloudformation describe-stacks --stack-name "$1" \
        --query "Stacks[0].Outputs[?OutputKey=='$2'].OutputValue" --output text
}

# The queue's visibility timeout is derived from the consumer's timeout in .chalice/config.json.
consumer_timeout="$("$PYTHON" -c '
import json, sys
config = json.load(open(".chalice/config.json"))
print(config["stages"][sys.argv[1]]["lambda_functions"]["sync_contacts"]["lambda_timeout"])
' "$STAGE")"

params=("Stage=$STAGE" "ConsumerTimeoutSeconds=$consumer_timeout")
if [[ -n "${ALARM_EMAIL:-}" ]]; then
    params+=("AlarmEmail=$ALARM_EMAIL")
fi

echo "deploy 1/4: resources stack $RESOURCES_STACK"
"$AWS" cloudformation deploy \
    --stack-name "$RESOURCES_STACK" \
    --template-file infra/template.yaml \
    --parameter-overrides "${params[@]}" \
    --tags "app=ghl-calltools-sync" "stage=$STAGE" \
    --no-fail-on-empty-changeset

bucket="$(stack_output "$RESOURCES_STACK" ArtifactBucketName)"
if [[ -z "$bucket" || "$bucket" == "None" ]]; then
    echo "deploy: $RESOURCES_STACK has no ArtifactBucketName output" >&2
    exit 1
fi

echo "deploy 2/4: deployed state from s3://$bucket/$STATE_KEY"
stored="$("$AWS" s3api list-objects-v2 --bucket "$bucket" --prefix "$STATE_KEY" \
    --query "length(Contents[?Key=='$STATE_KEY'] || \`[]\`)" --output text)"
mkdir -p .chalice/deployed
if [[ "$stored" == "1" ]]; then
    "$AWS" s3 cp --only-show-errors "s3://$bucket/$STATE_KEY" "$STATE.stored"
    if [[ -f "$STATE" ]] && ! cmp -s "$STATE" "$STATE.stored"; then
        # The bucket's is the last one stored; keep this checkout's in case it is newer (a deploy
        # whose upload failed), for the operator to compare.
        kept="$STATE.replaced-$(date -u +%Y%m%dT%H%M%SZ)"
        mv "$STATE" "$kept"
        echo "deploy: this checkout's $STATE differed from the stored one; kept as $kept" >&2
    fi
    mv "$STATE.stored" "$STATE"
elif [[ -f "$STATE" ]]; then
    echo "deploy: none stored yet; using this checkout's $STATE"
elif [[ "${ALLOW_NEW_API:-}" != "1" ]]; then
    # Fail closed: deploying a stage whose functions exist without its state would give GHL's
    # webhook a new URL and add a second trigger. Only "not found" means there is none.
    if err="$("$AWS" lambda get-function --function-name "ghl-calltools-sync-$STAGE" 2>&1 >/dev/null)"; then
        echo "deploy: stage $STAGE has functions, but its deployed state is neither in the" \
            "bucket nor here. Restore $STATE (earlier versions: aws s3api list-object-versions" \
            "--bucket $bucket --prefix $STATE_KEY). If no deploy of it ever succeeded (a first" \
            "deploy failed part-way), delete what that deploy made (the SQS trigger: aws lambda" \
            "list-event-source-mappings --function-name ghl-calltools-sync-$STAGE-sync_contacts;" \
            "REST APIs named ghl-calltools-sync) and run again with ALLOW_NEW_API=1." >&2
        exit 1
    elif [[ "$err" != *ResourceNotFoundException* ]]; then
        echo "deploy: cannot tell whether stage $STAGE is deployed: $err" >&2
        exit 1
    fi
fi

echo "deploy 3/4: chalice deploy --stage $STAGE"
if ! "$CHALICE" deploy --stage "$STAGE"; then
    echo "deploy: chalice deploy failed. Chalice records nothing of a failed deploy, so the" \
        "stored state is unchanged: fix the cause and run make deploy again." >&2
    exit 1
fi

echo "deploy 4/4: deployed state to s3://$bucket/$STATE_KEY"
if ! "$AWS" s3 cp --only-show-errors "$STATE" "s3://$bucket/$STATE_KEY"; then
    echo "deploy: deployed, but storing $STATE failed. Store it before anyone deploys again:" \
        "aws s3 cp $STATE s3://$bucket/$STATE_KEY" >&2
    exit 1
fi

url="$("$CHALICE" url --stage "$STAGE")"
echo "GHL webhook URL: ${url}webhook/ghl"
# Call outcomes: CallTools is subscribed by the operator, with the stage's secret (docs/deploy.md).
echo "CallTools outcome hook: python -m ops.cli hooks install --url ${url%/}"
