"""Example handler: SQS payments made idempotent with Powertools' idempotency utility (a DynamoDB
persistence table), so a payment a standard queue delivers twice is charged once."""

import json
import os

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

persistence = DynamoDBPersistenceLayer(table_name=os.environ.get("IDEMPOTENCY_TABLE", "idem"))
config = IdempotencyConfig(event_key_jmespath="messageId")
ledger = boto3.resource("dynamodb").Table(os.environ.get("LEDGER_TABLE", "ledger"))


@idempotent_function(data_keyword_argument="record", persistence_store=persistence, config=config)
def charge(record):
    payment = json.loads(record["body"])
    ledger.update_item(Key={"account": payment["account"]}, UpdateExpression="ADD #t :a",
                       ExpressionAttributeNames={"#t": "total"},
                       ExpressionAttributeValues={":a": payment["amount"]})
    return payment["id"]


def handler(event, context):
    config.register_lambda_context(context)
    for record in event["Records"]:
        charge(record=record)
