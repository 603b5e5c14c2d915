"""Metrics published into moto's CloudWatch, read with the learner's own boto3 client."""

import datetime as dt

from esmlab.clock import START
from esmlab.metrics import totals

HOUR = dt.timedelta(hours=1)


def fn(name="worker"):
    return [{"Name": "FunctionName", "Value": name}]


def queue(name):
    return [{"Name": "QueueName", "Value": name}]


def statistics(cw, namespace, metric, dims, stat="Sum", period=3600, hours=1):
    """Each datapoint of one metric over the first hours: {minute offset: (value, unit)}."""
    points = cw.get_metric_statistics(Namespace=namespace, MetricName=metric, Dimensions=dims,
                                      StartTime=START, EndTime=START + hours * HOUR, Period=period,
                                      Statistics=[stat])["Datapoints"]
    return {round((p["Timestamp"] - START).total_seconds() / 60): (p[stat], p.get("Unit"))
            for p in points}


def total(cw, namespace, metric, dims, stat="Sum", hours=1):
    points = statistics(cw, namespace, metric, dims, stat, hours=hours)
    return sum(v for v, _ in points.values()) if stat == "Sum" else points


def run_orders(env, good=90, bad=10, metrics_config=True):
    """100 messages, 10 of which fail until SQS moves them to the DLQ after 2 receives."""
    def handler(event, context):
        for record in event["Records"]:
            if record["body"].startswith("bad"):
                raise ValueError(f"cannot process {record['body']}")
    env.lab.function("worker", handler, timeout=10, duration=2.0)
    url, arn = env.queue(VisibilityTimeout=30, dlq_after=2)
    extra = {"MetricsConfig": {"Metrics": ["EventCount"]}} if metrics_config else {}
    uuid = env.mapping(arn, BatchSize=1, **extra)["UUID"]
    env.send(url, *[f"good {n}" for n in range(good)], *[f"bad {n}" for n in range(bad)])
    env.lab.run(until=600)
    return uuid


def test_lambda_metrics_count_every_invocation_and_error(env):
    run_orders(env)
    cw = env.lab.client("cloudwatch")
    assert total(cw, "AWS/Lambda", "Invocations", fn()) == 110  # 90 + 10 bad x 2 receives
    assert total(cw, "AWS/Lambda", "Errors", fn()) == 20
    samples = statistics(cw, "AWS/Lambda", "Errors", fn(), "SampleCount")
    assert sum(v for v, _ in samples.values()) == 110  # one 0-or-1 sample per invocation
    duration = statistics(cw, "AWS/Lambda", "Duration", fn(), "Average")
    assert {v for v, _ in duration.values()} == {2000.0}
    assert {u for _, u in duration.values()} == {"Milliseconds"}
    from esmlab.trace import peak_concurrency

    peak = statistics(cw, "AWS/Lambda", "ConcurrentExecutions", fn(), "Maximum")
    assert max(v for v, _ in peak.values()) == peak_concurrency(env.lab.trace.invocations)
    assert total(cw, "AWS/Lambda", "Throttles", fn()) == 0


def test_sqs_metrics_source_and_dead_letter_queue(env):
    run_orders(env)
    cw = env.lab.client("cloudwatch")
    assert total(cw, "AWS/SQS", "NumberOfMessagesSent", queue("orders")) == 100
    # Messages SQS moves to a dead-letter queue are not counted as sent to it.
    assert total(cw, "AWS/SQS", "NumberOfMessagesSent", queue("orders-dlq")) == 0
    assert total(cw, "AWS/SQS", "NumberOfMessagesReceived", queue("orders")) == 110
    assert total(cw, "AWS/SQS", "NumberOfMessagesDeleted", queue("orders")) == 90
    size = statistics(cw, "AWS/SQS", "SentMessageSize", queue("orders"), "Maximum")
    assert [(v, u) for v, u in size.values()] == [(len("good 10"), "Bytes")]
    visible = statistics(cw, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue("orders-dlq"),
                         "Maximum", period=60)
    assert visible[9] == (10.0, "Count")  # all ten in the DLQ by the tenth minute
    assert visible[0] == (0.0, "Count")
    assert statistics(cw, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue("orders"),
                      "Maximum", period=60)[9][0] == 0


def test_dead_letter_queue_age_counts_from_the_redrive(env):
    run_orders(env)
    cw = env.lab.client("cloudwatch")
    moved = max(e.t for e in env.lab.trace.of("redrive"))
    first = min(e.t for e in env.lab.trace.of("redrive"))
    ages = statistics(cw, "AWS/SQS", "ApproximateAgeOfOldestMessage", queue("orders-dlq"),
                      "Maximum", period=60)
    # Sampled at the end of minute 9 (t = 600 s): the oldest arrived at the first redrive.
    assert ages[9] == (float(int(600 - first)), "Seconds")
    assert moved < 600
    # The source queue is empty at the end: no age is reported for it.
    assert 9 not in statistics(cw, "AWS/SQS", "ApproximateAgeOfOldestMessage", queue("orders"),
                               "Maximum", period=60)


def test_event_counts_only_with_metrics_config_and_agree_with_esmlab_metrics(env):
    uuid = run_orders(env)
    cw = env.lab.client("cloudwatch")
    esm = [{"Name": "EventSourceMappingUUID", "Value": uuid}]
    expected = totals(env.lab.trace, uuid)
    for name in ("PolledEventCount", "InvokedEventCount", "FailedInvokeEventCount",
                 "DeletedEventCount", "FilteredOutEventCount"):
        assert total(cw, "AWS/Lambda", name, esm) == expected[name], name
    assert expected["InvokedEventCount"] == 110 and expected["FailedInvokeEventCount"] == 20
    assert expected["DeletedEventCount"] == 90


def test_no_event_counts_without_metrics_config(env):
    uuid = run_orders(env, metrics_config=False)
    cw = env.lab.client("cloudwatch")
    esm = [{"Name": "EventSourceMappingUUID", "Value": uuid}]
    assert statistics(cw, "AWS/Lambda", "PolledEventCount", esm) == {}
    assert total(cw, "AWS/Lambda", "Invocations", fn()) == 110  # function metrics always


def test_get_metric_data_per_minute(env):
    run_orders(env)
    cw = env.lab.client("cloudwatch")
    result = cw.get_metric_data(
        MetricDataQueries=[{"Id": "inv", "MetricStat": {"Metric": {
            "Namespace": "AWS/Lambda", "MetricName": "Invocations", "Dimensions": fn()},
            "Period": 60, "Stat": "Sum"}}],
        StartTime=START, EndTime=START + HOUR, ScanBy="TimestampAscending")["MetricDataResults"][0]
    assert sum(result["Values"]) == 110
    assert all(t.second == 0 for t in result["Timestamps"])
    assert result["Timestamps"][0] == START


def test_throttles_and_iterator_age(streams):
    streams.lab.function("fn", lambda e, c: None, timeout=10, duration=1.0)
    arn = streams.stream()
    streams.put("telemetry", {"n": 1}, {"n": 2}, key="k")
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON")["UUID"]
    streams.lab.run(until=120)
    cw = streams.lab.client("cloudwatch")
    ages = statistics(cw, "AWS/Lambda", "IteratorAge", fn("fn"), "Maximum")
    expected = totals(streams.lab.trace, uuid)["IteratorAge"]
    assert [(v, u) for v, u in ages.values()] == [(float(expected), "Milliseconds")]
    assert expected > 0


def test_throttled_invocations_are_counted(env):
    env.lab.function("worker", lambda e, c: None, timeout=10, duration=30.0,
                     reserved_concurrency=1)
    url, arn = env.queue(VisibilityTimeout=60)
    env.mapping(arn, BatchSize=1)
    env.send(url, *[str(n) for n in range(20)])
    env.lab.run(until=300)
    cw = env.lab.client("cloudwatch")
    throttles = env.lab.trace.count("throttle")
    assert throttles > 0
    assert total(cw, "AWS/Lambda", "Throttles", fn()) == throttles
    peak = statistics(cw, "AWS/Lambda", "ConcurrentExecutions", fn(), "Maximum")
    assert max(v for v, _ in peak.values()) == 1


def test_idle_day_is_cheap(env):
    """Publishing a simulated idle day's metrics costs well under a second of CPU (the day's
    polling itself is the simulator's cost, with or without metrics)."""
    import time

    env.lab.function("worker", lambda e, c: None)
    _url, arn = env.queue()
    env.mapping(arn, MetricsConfig={"Metrics": ["EventCount"]})
    env.lab.run(until=86400)
    cw = env.lab.client("cloudwatch")
    empty = total(cw, "AWS/SQS", "NumberOfEmptyReceives", queue("orders"), hours=24)
    publisher = env.lab.cloudwatch.publisher
    began = time.process_time()
    publisher._seen = 0  # the whole day's trace again, and a day of queue samples
    publisher.flush()
    for minute in range(1440):
        publisher.sample_queues(minute * 60.0)
    publisher._buckets.clear()
    assert time.process_time() - began < 1.0
    assert empty == sum(1 for e in env.lab.trace.of("poll") if not e.records)
    assert len(statistics(cw, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue("orders"),
                          period=60)) == 60  # the first hour, one sample a minute


def test_kinesis_stream_metrics(streams):
    streams.lab.function("fn", lambda e, c: None, timeout=10, duration=1.0)
    arn = streams.stream()
    items = [{"n": n} for n in range(5)]
    streams.put("telemetry", *items, key="k")
    streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON")
    streams.lab.run(until=120)
    cw = streams.lab.client("cloudwatch")
    dims = [{"Name": "StreamName", "Value": "telemetry"}]
    assert total(cw, "AWS/Kinesis", "IncomingRecords", dims) == 5
    import json

    written = sum(len(json.dumps(i).encode()) + len("k") for i in items)
    assert total(cw, "AWS/Kinesis", "IncomingBytes", dims) == written
    assert total(cw, "AWS/Kinesis", "GetRecords.Records", dims) == 5
    ages = statistics(cw, "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", dims, "Maximum")
    first_read = min(e.t for e in streams.lab.trace.of("poll") if e.records)
    assert [v for v, _ in ages.values()] == [first_read * 1000]  # written at t = 0


def test_throughput_exceeded_hook(streams):
    """The hook the shard throughput limits call (tests/test_kinesis_throughput.py)."""
    import pytest

    publisher = streams.lab.cloudwatch.publisher
    publisher.throughput_exceeded("telemetry", "Write")
    with pytest.raises(ValueError, match="direction must be 'Write' or 'Read'"):
        publisher.throughput_exceeded("telemetry", "write")
    cw = streams.lab.client("cloudwatch")
    dims = [{"Name": "StreamName", "Value": "telemetry"}]
    assert total(cw, "AWS/Kinesis", "WriteProvisionedThroughputExceeded", dims) == 1


def test_only_the_listed_metrics_are_published(env):
    from esmlab.cloudwatch import PUBLISHED

    run_orders(env)
    listed = {(ns, name, dim, unit) for ns, name, dim, unit, _when, _src in PUBLISHED}
    cw = env.lab.client("cloudwatch")
    found = set()
    for metric in cw.list_metrics()["Metrics"]:
        dim = ", ".join(sorted(d["Name"] for d in metric["Dimensions"]))
        found.add((metric["Namespace"], metric["MetricName"], dim))
    assert found <= {(ns, name, dim) for ns, name, dim, _ in listed}
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName") in found
    for datum in env.lab.cloudwatch.publisher.backend().metric_data:
        dim = ", ".join(sorted(d.name for d in datum.dimensions))
        assert (datum.namespace, datum.name, dim, datum.unit) in listed


def test_dynamodb_stream_returned_records(streams):
    streams.lab.function("fn", lambda e, c: None, timeout=10, duration=1.0)
    arn = streams.table()
    for n in range(3):
        streams.ddb.put_item(TableName="orders", Item={"id": {"S": str(n)}})
    streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON")
    streams.lab.run(until=120)
    cw = streams.lab.client("cloudwatch")
    dims = [{"Name": "Operation", "Value": "GetRecords"},
            {"Name": "StreamLabel", "Value": arn.rsplit("/", 1)[-1]},
            {"Name": "TableName", "Value": "orders"}]
    assert total(cw, "AWS/DynamoDB", "ReturnedRecordsCount", dims) == 3
    assert total(cw, "AWS/Lambda", "Invocations", fn("fn")) >= 1
    assert statistics(cw, "AWS/Lambda", "IteratorAge", fn("fn"), "Maximum")


def test_metrics_outlive_a_deleted_mapping(env):
    env.lab.function("worker", lambda e, c: None, timeout=10, duration=1.0)
    url, arn = env.queue()
    env.send(url, "a", "b")
    uuid = env.mapping(arn, BatchSize=1, MetricsConfig={"Metrics": ["EventCount"]})["UUID"]
    env.lab.run(until=30)
    env.lam.delete_event_source_mapping(UUID=uuid)
    env.lab.run(until=50)
    assert uuid not in env.lab.mappings
    cw = env.lab.client("cloudwatch")
    assert total(cw, "AWS/Lambda", "Invocations", fn()) == 2
    esm = [{"Name": "EventSourceMappingUUID", "Value": uuid}]
    assert total(cw, "AWS/Lambda", "InvokedEventCount", esm) == 2


def test_sent_message_size_counts_the_attributes(env):
    url, _arn = env.queue()
    env.sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes={
        "Channel": {"DataType": "String", "StringValue": "web"},
        "Bin": {"DataType": "Binary", "BinaryValue": b"\x01\x02"}})
    cw = env.lab.client("cloudwatch")
    size = statistics(cw, "AWS/SQS", "SentMessageSize", queue("orders"), "Maximum")
    body, channel, binary = len("hello"), len("Channel" "String" "web"), len("Bin" "Binary") + 2
    assert [v for v, _ in size.values()] == [float(body + channel + binary)]


def test_queue_gauges_follow_a_learner_receive_and_its_visibility_timeout(env):
    url, _arn = env.queue(VisibilityTimeout=100)
    env.send(url, *[str(n) for n in range(10)])
    env.lab.run(until=61)
    env.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)
    env.lab.run(until=240)
    cw = env.lab.client("cloudwatch")
    visible = statistics(cw, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue("orders"),
                         "Maximum", period=60)
    hidden = statistics(cw, "AWS/SQS", "ApproximateNumberOfMessagesNotVisible", queue("orders"),
                        "Maximum", period=60)
    # Sampled at t = 60, 120, 180, 240: received at 61, visible again at 161.
    assert [visible[m][0] for m in range(4)] == [10, 7, 10, 10]
    assert [hidden[m][0] for m in range(4)] == [0, 3, 0, 0]
    ages = statistics(cw, "AWS/SQS", "ApproximateAgeOfOldestMessage", queue("orders"),
                      "Maximum", period=60)
    assert [ages[m][0] for m in range(4)] == [60, 120, 180, 240]


def test_a_day_of_a_standing_backlog_is_cheap(env):
    import time

    url, _arn = env.queue()
    for _ in range(200):
        env.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(k), "MessageBody": "x"} for k in range(10)])
    began = time.process_time()
    env.lab.run(until=86400)
    assert time.process_time() - began < 2.0
    cw = env.lab.client("cloudwatch")
    visible = statistics(cw, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue("orders"),
                         "Maximum", period=3600, hours=24)
    assert {v for v, _ in visible.values()} == {2000.0}
