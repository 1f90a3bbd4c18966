#!/usr/bin/env bash
# `make deploy STAGE=prod`: the resources stack, the app packaged for python3.13, the app stack.
#
#   1. aws cloudformation deploy infra/template.yaml   -> stack ghl-calltools-resources-<stage>
#   2. scripts/package.py --stage <stage>              -> build/<stage>/sam.json + deployment.zip
#      (SYNC_QUEUE_ARN from the resources stack's QueueArn output)
#   3. aws cloudformation package                      -> zip uploaded to the stack's artifact bucket
#   4. aws cloudformation deploy the SAM template      -> stack ghl-calltools-sync-<stage>
#
# Uses the AWS CLI's usual credentials and region (AWS_PROFILE, AWS_REGION, ...). Variables:
# STAGE (dev|prod), ALARM_EMAIL (optional, only applied when set), CONSUMER_MAX_CONCURRENCY,
# RESOURCES_STACK, APP_STACK, OUT (build dir), PYTHON (default .venv/bin/python), AWS (the CLI).
set -euo pipefail
cd "$(dirname "$0")/.."

STAGE="${STAGE:-dev}"
PYTHON="${PYTHON:-.venv/bin/python}"
AWS="${AWS:-aws}"
RESOURCES_STACK="${RESOURCES_STACK:-ghl-calltools-resources-${STAGE}}"
APP_STACK="${APP_STACK:-ghl-calltools-sync-${STAGE}}"
OUT="${OUT:-build/${STAGE}}"

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

queue_arn="$(stack_output "$RESOURCES_STACK" QueueArn)"
bucket="$(stack_output "$RESOURCES_STACK" ArtifactBucketName)"
if [[ -z "$queue_arn" || "$queue_arn" == "None" || -z "$bucket" || "$bucket" == "None" ]]; then
    echo "deploy: $RESOURCES_STACK has no QueueArn/ArtifactBucketName output" >&2
    exit 1
fi

echo "deploy 2/4: package for python3.13 ($queue_arn)"
SYNC_QUEUE_ARN="$queue_arn" CONSUMER_MAX_CONCURRENCY="${CONSUMER_MAX_CONCURRENCY:-}" \
    "$PYTHON" scripts/package.py --stage "$STAGE" --out "$OUT"

echo "deploy 3/4: upload to s3://$bucket/$APP_STACK/"
"$AWS" cloudformation package \
    --template-file "$OUT/sam.json" \
    --s3-bucket "$bucket" \
    --s3-prefix "$APP_STACK" \
    --output-template-file "$OUT/packaged.yaml"

echo "deploy 4/4: app stack $APP_STACK"
"$AWS" cloudformation deploy \
    --stack-name "$APP_STACK" \
    --template-file "$OUT/packaged.yaml" \
    --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
    --tags "app=ghl-calltools-sync" "stage=$STAGE" \
    --no-fail-on-empty-changeset

echo "GHL webhook URL: $(stack_output "$APP_STACK" EndpointURL)webhook/ghl"
