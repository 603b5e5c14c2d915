"""Example handler: SQS orders, processed with Powertools' BatchProcessor, one row per order in a
DynamoDB table. Its boto3 resource is made at import, as real handlers often do."""

import json
import os

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
table = boto3.resource("dynamodb").Table(os.environ.get("ORDERS_TABLE", "orders"))


def record_handler(record):
    order = json.loads(record.body)  # a body that is not JSON fails this record only
    if order["quantity"] <= 0:
        raise ValueError(f"order {order['id']} has quantity {order['quantity']}")
    table.put_item(Item={"id": order["id"], "quantity": order["quantity"]})


@logger.inject_lambda_context
def handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=processor, context=context)
