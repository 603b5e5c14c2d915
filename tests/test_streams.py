"""Kinesis and DynamoDB Streams mappings: events, positions, batching, ordering (with-kinesis, with-ddb, and the AWS recordings)."""

import base64
import itertools
import json

import pytest
from botocore.exceptions import ClientError

from esmlab.limits import MESSAGES
from esmlab.trace import peak_concurrency


def data(record):
    return json.loads(base64.b64decode(record["kinesis"]["data"]))


def collect(streams, name="fn", **options):
    seen = []
    streams.lab.function(name, lambda event, context: seen.append(event), timeout=10, **options)
    return seen


def error(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]


def test_kinesis_event_shape(streams):
    seen = collect(streams)
    arn = streams.stream()
    streams.lab.run(until=1.5)
    streams.kinesis.put_record(StreamName="telemetry", PartitionKey="sensor-t-1",
                               Data=b'{"sensor": "t-1", "temp": 21.5}')
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="TRIM_HORIZON")
    streams.lab.run(until=10)
    (record,) = seen[0]["Records"]
    assert list(record) == ["kinesis", "eventSource", "eventVersion", "eventID", "eventName",
                            "invokeIdentityArn", "awsRegion", "eventSourceARN"]
    inner = record["kinesis"]
    assert list(inner) == ["kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data",
                           "approximateArrivalTimestamp"]
    assert base64.b64decode(inner["data"]) == b'{"sensor": "t-1", "temp": 21.5}'
    assert inner["approximateArrivalTimestamp"] == 1735689601.5
    assert len(inner["sequenceNumber"]) == 56
    assert record["eventID"] == f"shardId-000000000000:{inner['sequenceNumber']}"
    assert record["invokeIdentityArn"] == "arn:aws:iam::123456789012:role/fn-role"
    assert (record["eventSource"], record["eventVersion"], record["eventName"]) == (
        "aws:kinesis", "1.0", "aws:kinesis:record")


def test_dynamodb_event_shape_and_size_bytes(streams):
    seen = collect(streams)
    arn = streams.table()
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="TRIM_HORIZON", BatchSize=10)
    streams.ddb.put_item(TableName="orders", Item={"id": {"S": "id_value"}})
    streams.ddb.put_item(TableName="orders", Item={"id": {"S": "id_value"},
                                                   "new_attribute": {"S": "xyz"}})
    streams.ddb.put_item(TableName="orders", Item={"id": {"S": "id_value"},
                                                   "new_attribute": {"S": "xyz"}})  # no change
    streams.lab.run(until=10)
    records = [r for e in seen for r in e["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]  # no record for a no-op
    insert, modify = records
    assert list(insert) == ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion",
                            "dynamodb", "eventSourceARN"]
    assert insert["eventVersion"] == "1.1" and len(insert["eventID"]) == 32
    assert "OldImage" not in insert["dynamodb"] and "OldImage" in modify["dynamodb"]
    assert insert["dynamodb"]["SizeBytes"] == 20 and modify["dynamodb"]["SizeBytes"] == 46
    assert list(modify["dynamodb"]) == ["ApproximateCreationDateTime", "Keys", "NewImage",
                                        "OldImage", "SequenceNumber", "SizeBytes",
                                        "StreamViewType"]
    assert insert["dynamodb"]["ApproximateCreationDateTime"] == 1735689600.0
    assert "invokeIdentityArn" not in insert
    assert insert["eventSourceARN"] == arn


def test_stream_mapping_response_defaults(streams):
    collect(streams)
    arn = streams.stream()
    response = streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                                       StartingPosition="LATEST")
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    expected = {
        "BatchSize": 100, "MaximumBatchingWindowInSeconds": 0, "ParallelizationFactor": 1,
        "StartingPosition": "LATEST", "State": "Creating", "StateTransitionReason": "User action",
        "BisectBatchOnFunctionError": False, "DestinationConfig": {"OnFailure": {}},
        "MaximumRecordAgeInSeconds": -1, "MaximumRetryAttempts": -1,
        "TumblingWindowInSeconds": 0, "FunctionResponseTypes": [],
        "LastProcessingResult": "No records processed",
    }
    assert {k: body[k] for k in expected} == expected
    assert "ScalingConfig" not in body


def test_stream_validation_errors(streams):
    collect(streams)
    arn = streams.stream()
    create = streams.lam.create_event_source_mapping
    assert error(create, FunctionName="fn", EventSourceArn=arn)["Message"] == MESSAGES["V2"]
    bad = error(create, FunctionName="fn", EventSourceArn=arn, StartingPosition="invalid")
    assert bad == {"Code": "ValidationException", "Message": MESSAGES["V3"].format(value="invalid")}
    table = streams.table()
    import datetime as dt
    moment = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert error(create, FunctionName="fn", EventSourceArn=table, StartingPosition="AT_TIMESTAMP",
                 StartingPositionTimestamp=moment)["Message"] == (
        f"Unsupported starting position for arn type: {table}")
    ghost = "arn:aws:kinesis:us-east-1:123456789012:stream/ghost"
    assert error(create, FunctionName="fn", EventSourceArn=ghost,
                 StartingPosition="LATEST")["Message"] == f"Stream not found: {ghost}"
    uuid = create(FunctionName="fn", EventSourceArn=arn, StartingPosition="LATEST")["UUID"]
    conflict = error(create, FunctionName="fn", EventSourceArn=arn, StartingPosition="LATEST")
    assert conflict["Code"] == "ResourceConflictException"
    assert conflict["Message"] == (
        f'The event source arn (" {arn} ") and function (" fn ") provided mapping already '
        f"exists. Please update or delete the existing mapping with UUID {uuid}")
    assert error(create, FunctionName="fn", EventSourceArn=table, StartingPosition="LATEST",
                 DestinationConfig={"OnSuccess": {"Destination": arn}})["Message"] == (
        MESSAGES["V12"])
    assert error(create, FunctionName="fn", EventSourceArn=table, StartingPosition="LATEST",
                 FilterCriteria={"Filters": [{"Pattern": '{"eventSource":"x"}'}]})[
        "Message"] == "Invalid filter pattern definition."


def test_role_without_stream_permissions_is_rejected(streams):
    iam = streams.lab.client("iam")
    role = iam.create_role(RoleName="bare", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    streams.lab.function("fn", lambda e, c: None, role=role)
    arn = streams.stream()
    message = error(streams.lam.create_event_source_mapping, FunctionName="fn",
                    EventSourceArn=arn, StartingPosition="LATEST")["Message"]
    assert message == MESSAGES["V15"].format(arn=arn)
    url = streams.sqs.create_queue(QueueName="q")["QueueUrl"]
    queue = streams.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    assert error(streams.lam.create_event_source_mapping, FunctionName="fn",
                 EventSourceArn=queue)["Message"] == MESSAGES["V14"]


def test_latest_misses_records_written_while_creating(streams):
    seen = collect(streams)
    arn = streams.stream()
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="LATEST")
    streams.put("telemetry", {"n": "during creation"})
    streams.lab.run(until=5)
    streams.put("telemetry", {"n": "after"})
    streams.lab.run(until=10)
    assert [data(r)["n"] for e in seen for r in e["Records"]] == ["after"]


def test_trim_horizon_observed_batches(streams):
    """Recorded in AWS: BatchSize 10, TRIM_HORIZON, 20 records before and 10 after: 3 batches of 10."""
    seen = collect(streams)
    arn = streams.stream()
    streams.put("telemetry", *[{"n": i} for i in range(20)], key="k")
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="TRIM_HORIZON", BatchSize=10)
    streams.lab.run(until=5)
    streams.put("telemetry", *[{"n": i} for i in range(20, 30)], key="k")
    streams.lab.run(until=20)
    assert [[data(r)["n"] for r in e["Records"]] for e in seen] == [
        list(range(10)), list(range(10, 20)), list(range(20, 30))]


def test_one_put_records_one_invocation(streams):
    seen = collect(streams)
    arn = streams.stream()
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="LATEST")
    streams.lab.run(until=5)
    streams.kinesis.put_records(StreamName="telemetry", Records=[
        {"Data": json.dumps({"n": i}).encode(), "PartitionKey": "k"} for i in range(10)])
    streams.lab.run(until=10)
    assert len(seen) == 1 and [data(r)["n"] for r in seen[0]["Records"]] == list(range(10))


def test_at_timestamp(streams):
    import datetime as dt

    seen = collect(streams)
    arn = streams.stream()
    streams.put("telemetry", {"n": "old"})
    streams.lab.run(until=100)
    streams.put("telemetry", {"n": "new"})
    streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp=dt.datetime(2025, 1, 1, 0, 1, tzinfo=dt.UTC))
    streams.lab.run(until=110)
    assert [data(r)["n"] for e in seen for r in e["Records"]] == ["new"]


def test_pf_1_one_batch_at_a_time_in_order(streams):
    streams.lab.function("fn", lambda e, c: None, timeout=10, duration=5.0)
    arn = streams.stream()
    streams.put("telemetry", *[{"n": i} for i in range(30)])
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="TRIM_HORIZON", BatchSize=10)
    streams.lab.run(until=60)
    invocations = streams.lab.trace.invocations
    assert len(invocations) == 3
    assert all(a.end <= b.start for a, b in itertools.pairwise(invocations))


overlap = peak_concurrency

def test_parallelization_factor_keeps_per_key_order(streams):
    order = {}

    def handler(event, context):
        for r in event["Records"]:
            order.setdefault(r["kinesis"]["partitionKey"], []).append(data(r)["n"])

    streams.lab.function("fn", handler, timeout=10, duration=2.0)
    arn = streams.stream(shards=2)
    for i in range(200):
        streams.put("telemetry", {"n": i}, key=f"customer-{i % 17}")
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="TRIM_HORIZON", BatchSize=5,
                                            ParallelizationFactor=4)
    streams.lab.run(until=300)
    for numbers in order.values():
        assert numbers == sorted(numbers)
    assert sum(len(v) for v in order.values()) == 200
    peak = overlap(streams.lab.trace.invocations)
    assert 2 < peak <= 2 * 4  # at most shards x PF


def test_every_mapping_on_a_stream_gets_every_record(streams):
    first = collect(streams, "a")
    second = collect(streams, "b")
    arn = streams.stream()
    for name in ("a", "b"):
        streams.lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn,
                                                StartingPosition="TRIM_HORIZON")
    streams.put("telemetry", {"n": 1})
    streams.lab.run(until=10)
    ids = [[r["eventID"] for e in seen for r in e["Records"]] for seen in (first, second)]
    assert ids[0] == ids[1] and len(ids[0]) == 1


def test_disable_then_enable_resumes_where_it_stopped(streams):
    seen = collect(streams)
    arn = streams.stream()
    uuid = streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                                   StartingPosition="LATEST")["UUID"]
    streams.lab.run(until=5)
    streams.put("telemetry", {"n": 1})
    streams.lab.run(until=10)
    streams.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    streams.lab.run(until=15)
    streams.put("telemetry", {"n": 2}, {"n": 3})
    streams.lab.run(until=60)
    assert [data(r)["n"] for e in seen for r in e["Records"]] == [1]
    assert streams.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"
    streams.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    streams.lab.run(until=70)
    assert [data(r)["n"] for e in seen for r in e["Records"]] == [1, 2, 3]


def test_iterator_age_recorded(streams):
    streams.lab.function("fn", lambda e, c: None, timeout=10)
    arn = streams.stream()
    streams.put("telemetry", {"n": 1})
    streams.lab.run(until=30)
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="TRIM_HORIZON")
    streams.lab.run(until=40)
    (start,) = streams.lab.trace.of("invoke_start")
    assert start.detail["iterator_age_ms"] == 32_000


def test_kinesis_data_filter(streams):
    seen = collect(streams)
    arn = streams.stream()
    streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"temp": [{"numeric": [">", 30]}]}})}]})
    streams.put("telemetry", {"temp": 21}, {"temp": 35})
    streams.lab.run(until=10)
    assert [data(r)["temp"] for e in seen for r in e["Records"]] == [35]
    uuid = next(iter(streams.lab.mappings))
    assert streams.lab.stream_conservation(uuid)["counts"] == {"filtered": 1, "processed": 1}


def test_sqs_filter_deletes_messages_that_match_nothing(streams):
    seen = collect(streams)
    url, arn = streams.queue()
    streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"status": ["NEW"]}})}]})
    streams.send(url, json.dumps({"status": "NEW"}), json.dumps({"status": "OLD"}), "plain text")
    streams.lab.run(until=10)
    assert [r["body"] for e in seen for r in e["Records"]] == ['{"status": "NEW"}']
    counts = streams.lab.conservation().counts[arn]
    assert counts == {"entered": 3, "deleted": 1, "filtered": 2}
    attributes = streams.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_put_record_sequence_number_is_the_one_the_function_sees(streams):
    seen = collect(streams)
    arn = streams.stream(shards=2)
    (written,) = streams.put("telemetry", {"n": 1})
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="TRIM_HORIZON")
    streams.lab.run(until=10)
    (record,) = seen[0]["Records"]
    assert record["kinesis"]["sequenceNumber"] == written and len(written) == 56
    shard = record["eventID"].split(":")[0]
    iterator = streams.kinesis.get_shard_iterator(
        StreamName="telemetry", ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=written)["ShardIterator"]
    assert streams.kinesis.get_records(ShardIterator=iterator)["Records"][0][
        "SequenceNumber"] == written


def test_at_timestamp_in_the_future_is_rejected(streams):
    import datetime as dt

    collect(streams)
    arn = streams.stream()
    message = error(streams.lam.create_event_source_mapping, FunctionName="fn",
                    EventSourceArn=arn, StartingPosition="AT_TIMESTAMP",
                    StartingPositionTimestamp=dt.datetime(2025, 1, 2, tzinfo=dt.UTC))["Message"]
    assert message.startswith("[esmlab]") and "future" in message
