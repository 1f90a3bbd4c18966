"""Creates the queue, its DLQ and the state table when missing (the local stack and tests).

In AWS these come from the resources stack (infra/template.yaml, which defines the same table);
Chalice creates no queues or tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeDefinitionTypeDef,
        GlobalSecondaryIndexTypeDef,
    )
    from mypy_boto3_sqs import SQSClient


# The reverse lookup, CallTools contact → GHL contact (DynamoStateStore.contact_for_calltools_id).
# Keys only: the table's key `contact#<id>` names the contact. Same as infra/template.yaml.
CALLTOOLS_ID: AttributeDefinitionTypeDef = {"AttributeName": "calltools_id", "AttributeType": "N"}
BY_CALLTOOLS_ID: GlobalSecondaryIndexTypeDef = {
    "IndexName": "by_calltools_id",
    "KeySchema": [{"AttributeName": "calltools_id", "KeyType": "HASH"}],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}


@dataclass(frozen=True)
class Resources:
    queue_url: str
    queue_arn: str
    dlq_url: str
    table_name: str


def ensure_resources(
    sqs: SQSClient,
    dynamodb: DynamoDBClient,
    *,
    queue_name: str,
    table_name: str,
    visibility_timeout: int = 30,
    max_receive_count: int = 10,
) -> Resources:
    dlq_url = sqs.create_queue(
        QueueName=f"{queue_name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
    queue_url = sqs.create_queue(
        QueueName=queue_name,
        Attributes={"VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": redrive},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    try:
        dynamodb.create_table(
            TableName=table_name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, CALLTOOLS_ID],
            GlobalSecondaryIndexes=[BY_CALLTOOLS_ID],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.get_waiter("table_exists").wait(TableName=table_name)
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
        ensure_index(dynamodb, table_name)
    return Resources(queue_url, queue_arn, dlq_url, table_name)


def ensure_index(dynamodb: DynamoDBClient, table_name: str) -> None:
    """A table made before the index (an AWS_ENDPOINT_URL that keeps its tables) gets it added;
    DynamoDB builds it in the background, and lookups fail until it is ACTIVE."""
    table = dynamodb.describe_table(TableName=table_name)["Table"]
    names = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
    if BY_CALLTOOLS_ID["IndexName"] in names:
        return
    dynamodb.update_table(
        TableName=table_name,
        AttributeDefinitions=[CALLTOOLS_ID],
        GlobalSecondaryIndexUpdates=[{"Create": BY_CALLTOOLS_ID}],
    )
