"""Parts of the records a Kinesis or DynamoDB Streams mapping sends (as recorded from AWS in 2025);
sources.py assembles them.

moto's DynamoDB stream records differ from what Lambda delivers in ways this module corrects:
they carry ``eventVersion`` 1.0 and an over-estimated ``SizeBytes`` (Lambda events: 1.1, and the
size rule of MODELLING CHOICE M7), and moto's region is fixed to us-east-1.
"""

from __future__ import annotations

import base64
import math


def _value_bytes(value: dict) -> int:
    (kind, inner), = value.items()
    if kind in ("S", "N"):
        return len(inner.encode())
    if kind == "B":
        return len(inner) if isinstance(inner, bytes) else len(base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS"):
        return sum(len(v.encode()) for v in inner)
    if kind == "BS":
        return sum(len(v) for v in inner)
    if kind == "L":
        return sum(_value_bytes(v) for v in inner)
    return sum(len(k.encode()) + _value_bytes(v) for k, v in inner.items())  # "M"


def size_bytes(change: dict) -> int:
    """MODELLING CHOICE M7: attribute names plus values over Keys, NewImage and OldImage.

    Reproduces the recorded 20 for an INSERT of ``{"id": {"S": "id_value"}}`` (recorded 2025).
    """
    total = 0
    for part in ("Keys", "NewImage", "OldImage"):
        for name, value in change.get(part, {}).items():
            total += len(name.encode()) + _value_bytes(value)
    return total


def _text(value):
    """boto3 hands binary attributes over as bytes; the Lambda event carries base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


def dynamodb_record(raw: dict, stream_arn: str, region: str) -> dict:
    """One ``Records`` element from a boto3 DynamoDB Streams ``get_records`` record."""
    change = raw["dynamodb"]
    # Stream records time-stamp to the second ("rounded down to the closest second"):
    # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_StreamRecord.html
    created = change["ApproximateCreationDateTime"]
    created = float(math.floor(created.timestamp() if hasattr(created, "timestamp") else created))
    body = {"ApproximateCreationDateTime": created, "Keys": _text(change["Keys"])}
    for image in ("NewImage", "OldImage"):
        if image in change:
            body[image] = _text(change[image])
    body["SequenceNumber"] = change["SequenceNumber"]
    body["SizeBytes"] = size_bytes(change)
    body["StreamViewType"] = change["StreamViewType"]
    return {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }
