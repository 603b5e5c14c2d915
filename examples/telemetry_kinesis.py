"""Example handler: Kinesis telemetry. It stops at the first record it cannot read and reports it,
so Lambda checkpoints before that record and retries from it."""

import base64
import json

PROCESSED = []  # what a real handler would write somewhere; the test reads it


def handler(event, context):
    for record in event["Records"]:
        try:
            reading = json.loads(base64.b64decode(record["kinesis"]["data"]))
            PROCESSED.append((reading["sensor"], reading["value"]))
        except (ValueError, KeyError):
            return {"batchItemFailures": [{"itemIdentifier": record["kinesis"]["sequenceNumber"]}]}
    return {"batchItemFailures": []}
