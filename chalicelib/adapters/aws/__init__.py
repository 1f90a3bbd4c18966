"""AWS: DynamoDB state and runs, the SQS queue, Powertools idempotency, secrets."""
