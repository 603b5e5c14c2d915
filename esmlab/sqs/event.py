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


def response_message(message) -> dict:
    """One element of ``Messages`` as boto3's ``receive_message`` (all attributes) returns it,
    built from moto's message object the way moto's own response does (moto 5.2.5,
    ``SQSResponse.receive_message``), so the poller can skip the HTTP round trip."""
    out = {
        "MessageId": message.id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.body_md5,
        "Body": message.body,
    }
    if message.message_attributes:
        out["MessageAttributes"] = message.message_attributes
        out["MD5OfMessageAttributes"] = message.attribute_md5
    attributes = {
        "SenderId": message.sender_id,
        "SentTimestamp": str(message.sent_timestamp),
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if message.deduplication_id is not None:
        attributes["MessageDeduplicationId"] = message.deduplication_id
    if message.group_id is not None:
        attributes["MessageGroupId"] = message.group_id
    if message.sequence_number is not None:
        attributes["SequenceNumber"] = message.sequence_number
    out["Attributes"] = attributes
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
