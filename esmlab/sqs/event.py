"""The event an SQS mapping sends to a function, built from a ``ReceiveMessage`` response.

Shape and key order as recorded from AWS (2025): string attribute values, a new
``receiptHandle`` on every receive, ``md5OfMessageAttributes`` null when there are none.
"""

from __future__ import annotations

import base64

# Recorded key order of a record's "attributes".
ATTRIBUTE_ORDER = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
)


def message_attribute(value: dict) -> dict:
    out = {}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    out["stringListValues"] = list(value.get("StringListValues", []))
    out["binaryListValues"] = [base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])]
    out["dataType"] = value["DataType"]
    return out


def record(message: dict, queue_arn: str, region: str) -> dict:
    """One element of ``Records`` for a message as boto3's ``receive_message`` returns it."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {k: str(attributes[k]) for k in ATTRIBUTE_ORDER if k in attributes},
        "messageAttributes": {
            name: message_attribute(v) for name, v in message.get("MessageAttributes", {}).items()
        },
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
