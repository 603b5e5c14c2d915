"""Stream error handling: retries, limits, bisect, partial responses, destinations (kinesis-on-failure-destination, services-kinesis-batchfailurereporting)."""

import base64
import json


def n_of(record):
    return json.loads(base64.b64decode(record["kinesis"]["data"]))["n"]


def failure_queue(streams, name="failures"):
    url, arn = streams.queue(name)
    return url, arn


def failure_records(streams, url):
    messages = streams.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def kinesis_mapping(streams, handler, records, shards=1, **params):
    streams.lab.function("fn", handler, timeout=10, duration=0.1)
    arn = streams.stream(shards=shards)
    streams.put("telemetry", *[{"n": i} for i in range(records)], key="k")
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON", **params)["UUID"]
    return arn, uuid


def test_retry_attempts_exhausted_payload(streams):
    url, dlq = failure_queue(streams)

    def handler(event, context):
        raise RuntimeError("always")

    arn, uuid = kinesis_mapping(streams, handler, 1, MaximumRetryAttempts=1,
                                DestinationConfig={"OnFailure": {"Destination": dlq}})
    streams.lab.run(until=60)
    assert len(streams.lab.trace.invocations) == 2  # 1 attempt + 1 retry
    (record,) = failure_records(streams, url)
    assert list(record) == ["requestContext", "responseContext", "version", "timestamp",
                            "KinesisBatchInfo"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # MRA + 1
    assert record["requestContext"]["requestId"] == streams.lab.trace.invocations[-1].request_id
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    info = record["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == arn
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert streams.lab.stream_conservation(uuid) == {"counts": {"destination": 1}, "lost": []}


def test_invalid_partial_response_has_null_function_error(streams):
    url, dlq = failure_queue(streams)
    _arn, _uuid = kinesis_mapping(
        streams, lambda e, c: {"batchItemFailures": [{"itemIdentifier": ""}]}, 1,
        MaximumRetryAttempts=2, FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": dlq}})
    streams.lab.run(until=60)
    (record,) = failure_records(streams, url)
    assert record["responseContext"]["functionError"] is None
    assert record["requestContext"]["approximateInvokeCount"] == 3


def test_observed_partial_response_invoke_counting(streams):
    """Recorded in AWS: 6 records, BatchSize 3, window 1 s, MRA 3, record 5 always reported."""
    url, dlq = failure_queue(streams)
    deliveries = {}

    def handler(event, context):
        for r in event["Records"]:
            deliveries[n_of(r)] = deliveries.get(n_of(r), 0) + 1
        return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]}
                                      for r in event["Records"] if n_of(r) == 5]}

    _arn, _uuid = kinesis_mapping(
        streams, handler, 6, BatchSize=3, MaximumBatchingWindowInSeconds=1,
        MaximumRetryAttempts=3, FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": dlq}})
    streams.lab.run(until=200)
    assert deliveries == {0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 5}
    (record,) = failure_records(streams, url)
    info = record["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
    assert record["requestContext"]["approximateInvokeCount"] == 4
    assert record["responseContext"]["functionError"] is None


def test_record_age_exceeded(streams):
    url, dlq = failure_queue(streams)

    def handler(event, context):
        raise RuntimeError("always")

    _arn, _uuid = kinesis_mapping(streams, handler, 1, MaximumRecordAgeInSeconds=60,
                                DestinationConfig={"OnFailure": {"Destination": dlq}})
    streams.lab.run(until=200)
    invocations = streams.lab.trace.invocations
    assert len(invocations) == 8  # M5 waits 1, 2, 4, 8, 12... before the 60 s age limit
    (record,) = failure_records(streams, url)
    assert "responseContext" not in record
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 8


def test_record_too_old_at_first_read(streams):
    url, dlq = failure_queue(streams)
    streams.lab.function("fn", lambda e, c: None, timeout=10)
    arn = streams.stream()
    streams.put("telemetry", {"n": "old"})
    streams.lab.run(until=120)
    streams.put("telemetry", {"n": "fresh"})
    streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        MaximumRecordAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": dlq}})
    streams.lab.run(until=130)
    assert len(streams.lab.trace.invocations) == 1  # the fresh record still goes through
    (record,) = failure_records(streams, url)
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_failing_record_blocks_its_shard_until_retention(streams):
    """M11: with -1/-1 the shard waits until the record leaves the stream (24 h)."""

    def handler(event, context):
        if any(n_of(r) == 0 for r in event["Records"]):
            raise RuntimeError("poison")

    _arn, uuid = kinesis_mapping(streams, handler, 1, BatchSize=1)
    streams.lab.run(until=3600)
    streams.put("telemetry", {"n": 1}, {"n": 2}, key="k")
    assert {tuple(n for n in i.records) for i in streams.lab.trace.invocations} == {
        streams.lab.trace.invocations[0].records}  # only the poison record, again and again
    streams.lab.run(until=25 * 3600)
    counts = streams.lab.stream_conservation(uuid)["counts"]
    assert counts == {"expired": 1, "processed": 2}


def test_bisect_splits_without_using_retries_and_never_skips(streams):
    url, dlq = failure_queue(streams)
    seen = []

    def handler(event, context):
        numbers = [n_of(r) for r in event["Records"]]
        seen.append(numbers)
        if 5 in numbers:
            raise RuntimeError("five")

    _arn, uuid = kinesis_mapping(streams, handler, 8, BatchSize=8, MaximumRetryAttempts=0,
                                BisectBatchOnFunctionError=True,
                                DestinationConfig={"OnFailure": {"Destination": dlq}})
    streams.lab.run(until=200)
    assert seen == [list(range(8)), [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], [5], [6, 7]]
    (record,) = failure_records(streams, url)
    assert record["KinesisBatchInfo"]["batchSize"] == 1
    assert streams.lab.stream_conservation(uuid)["counts"] == {"processed": 7, "destination": 1}


def test_failure_blocks_only_its_lane_with_parallelization(streams):
    streams.lab.function("fn", lambda e, c: 1 / 0 if any(
        r["kinesis"]["partitionKey"] == "bad" for r in e["Records"]) else None, timeout=10)
    arn = streams.stream()
    streams.put("telemetry", {"n": 0}, key="bad")
    for i in range(1, 20):
        streams.put("telemetry", {"n": i}, key=f"good-{i}")
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="TRIM_HORIZON", BatchSize=1,
                                            ParallelizationFactor=10)
    streams.lab.run(until=120)
    ok = {n for i in streams.lab.trace.invocations if i.outcome == "success" for n in i.records}
    assert len(ok) >= 10  # other lanes went on while the bad key's lane retried


def test_throttles_do_not_use_retries(streams):
    streams.lab.function("fn", lambda e, c: None, timeout=10, reserved_concurrency=0)
    arn = streams.stream()
    streams.put("telemetry", {"n": 1})
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=1)["UUID"]
    streams.lab.run(until=30)
    assert streams.lab.trace.count("throttle") > 5
    assert streams.lab.stream_conservation(uuid)["counts"] == {"in_flight": 1}
    streams.lam.delete_function_concurrency(FunctionName="fn")
    streams.lab.run(until=40)
    assert streams.lab.stream_conservation(uuid)["counts"] == {"processed": 1}


def test_dynamodb_destination_and_sns_and_s3(streams):
    sns = streams.lab.client("sns")
    s3 = streams.lab.client("s3")
    topic = sns.create_topic(Name="esm-failures")["TopicArn"]
    url, queue = failure_queue(streams, "subscriber")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)
    s3.create_bucket(Bucket="failures")

    def handler(event, context):
        raise RuntimeError("always")

    streams.lab.function("a", handler, timeout=10)
    streams.lab.function("b", handler, timeout=10)
    table = streams.table()
    for name, target in (("a", topic), ("b", "arn:aws:s3:::failures")):
        streams.lam.create_event_source_mapping(
            FunctionName=name, EventSourceArn=table, StartingPosition="TRIM_HORIZON",
            MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": target}})
    streams.ddb.put_item(TableName="orders", Item={"id": {"S": "x"}})
    streams.lab.run(until=30)
    envelope = json.loads(streams.sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic
    record = json.loads(envelope["Message"])
    info = record["DDBStreamBatchInfo"]
    assert info["streamArn"] == table
    assert info["approximateArrivalOfFirstRecord"] == "2025-01-01T00:00:00Z"  # no milliseconds
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket="failures")["Contents"]]
    assert key.startswith("aws/lambda/")
    body = json.loads(s3.get_object(Bucket="failures", Key=key)["Body"].read())
    assert body["payload"]["Records"][0]["eventName"] == "INSERT"


def test_destination_without_permission_fails_delivery(streams):
    iam = streams.lab.client("iam")
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    iam.attach_role_policy(
        RoleName="reader",
        PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole")
    url, dlq = failure_queue(streams)
    streams.lab.function("fn", lambda e, c: 1 / 0, timeout=10, role=role)
    arn = streams.stream()
    streams.put("telemetry", {"n": 1})
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": dlq}})["UUID"]
    streams.lab.run(until=30)
    assert failure_records(streams, url) == []
    (event,) = streams.lab.trace.of("destination")
    assert event.outcome == "failed" and "AccessDenied" in event.detail["reason"]
    assert streams.lab.stream_conservation(uuid)["counts"] == {"dropped": 1}
