"""Bisect together with ReportBatchItemFailures: a valid partial response splits the batch at the
returned record and is never halved (
https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html)."""

import base64
import json

import pytest

BOTH = {"BisectBatchOnFunctionError": True, "FunctionResponseTypes": ["ReportBatchItemFailures"]}


def kinesis_n(record):
    return json.loads(base64.b64decode(record["kinesis"]["data"]))["n"]


def ddb_n(record):
    return int(record["dynamodb"]["Keys"]["id"]["S"])


def sequence(record):
    if "kinesis" in record:
        return record["kinesis"]["sequenceNumber"]
    return record["dynamodb"]["SequenceNumber"]


def start(streams, source, handler, **params):
    """Four records with one key (Kinesis) or four items (DynamoDB), read in one batch."""
    streams.lab.function("fn", handler, timeout=10, duration=0.1)
    if source == "kinesis":
        arn = streams.stream()
        streams.put("telemetry", *[{"n": i} for i in range(4)], key="k")
        n_of = kinesis_n
    else:
        arn = streams.table()
        for i in range(4):
            streams.ddb.put_item(TableName="orders", Item={"id": {"S": str(i)}})
        n_of = ddb_n
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=4,
        MaximumBatchingWindowInSeconds=1, **BOTH, **params)["UUID"]
    return uuid, n_of


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_first_record_returned_retries_the_whole_batch_unhalved(streams, source):
    seen = []

    def handler(event, context):
        numbers = [n_of(r) for r in event["Records"]]
        seen.append(numbers)
        if len(seen) == 1:  # the first record fails once, then everything succeeds
            return {"batchItemFailures": [{"itemIdentifier": sequence(event["Records"][0])}]}

    uuid, n_of = start(streams, source, handler)
    streams.lab.run(until=60)
    assert seen == [[0, 1, 2, 3], [0, 1, 2, 3]]
    assert streams.lab.trace.count("bisect") == 0
    assert streams.lab.stream_conservation(uuid) == {"counts": {"processed": 4}, "lost": []}


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_returned_record_is_the_split_point(streams, source):
    seen = []

    def handler(event, context):
        numbers = [n_of(r) for r in event["Records"]]
        seen.append(numbers)
        if len(seen) == 1:
            return {"batchItemFailures": [{"itemIdentifier": sequence(event["Records"][2])}]}

    uuid, n_of = start(streams, source, handler)
    streams.lab.run(until=60)
    assert seen == [[0, 1, 2, 3], [2, 3]]
    assert streams.lab.trace.count("bisect") == 0
    assert streams.lab.stream_conservation(uuid) == {"counts": {"processed": 4}, "lost": []}


@pytest.mark.parametrize("source", ["kinesis", "dynamodb"])
def test_first_record_always_returned_uses_retries_then_discards_the_batch(streams, source):
    url, dlq = streams.queue("failures")
    seen = []

    def handler(event, context):
        seen.append([n_of(r) for r in event["Records"]])
        return {"batchItemFailures": [{"itemIdentifier": sequence(event["Records"][0])}]}

    uuid, n_of = start(streams, source, handler, MaximumRetryAttempts=2,
                       DestinationConfig={"OnFailure": {"Destination": dlq}})
    streams.lab.run(until=60)
    assert seen == [[0, 1, 2, 3]] * 3  # 1 attempt + 2 retries, never halved
    (message,) = streams.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    info = body.get("KinesisBatchInfo") or body["DDBStreamBatchInfo"]
    assert info["batchSize"] == 4
    assert body["requestContext"]["approximateInvokeCount"] == 3
    assert streams.lab.stream_conservation(uuid) == {"counts": {"destination": 4}, "lost": []}


def test_a_thrown_error_still_bisects_with_both_on(streams):
    seen = []

    def handler(event, context):
        numbers = [kinesis_n(r) for r in event["Records"]]
        seen.append(numbers)
        if len(seen) == 1:
            raise RuntimeError("whole batch")

    uuid, _ = start(streams, "kinesis", handler)
    streams.lab.run(until=60)
    assert seen == [[0, 1, 2, 3], [0, 1], [2, 3]]
    assert streams.lab.stream_conservation(uuid)["counts"] == {"processed": 4}
