"""Kinesis shard throughput: write and read limits in simulated time
(https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html)."""

import json

import pytest
from botocore.exceptions import ClientError

THROTTLED = "ProvisionedThroughputExceededException"


def one_kb(n):
    return json.dumps({"n": n, "pad": "x" * 1000}).encode()


def fill(streams, records=1000):
    """Write ``records`` small records in PutRecords calls of 500 (all accepted)."""
    for start in range(0, records, 500):
        response = streams.kinesis.put_records(StreamName="telemetry", Records=[
            {"Data": b"{}", "PartitionKey": f"k{n}"} for n in range(start, min(records,
                                                                               start + 500))])
        assert response["FailedRecordCount"] == 0


def test_put_record_over_1000_records_a_second_raises(streams):
    streams.stream()
    fill(streams)
    with pytest.raises(ClientError) as caught:
        streams.kinesis.put_record(StreamName="telemetry", Data=b"{}", PartitionKey="late")
    error = caught.value.response["Error"]
    assert error["Code"] == THROTTLED
    # the documented content (account, stream, shard); the exact text is esmlab's
    assert error["Message"] == ("[esmlab] Rate exceeded for shard shardId-000000000000 in stream "
                                "telemetry under account 123456789012.")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    streams.lab.run(until=1.0)  # the next one-second window
    streams.kinesis.put_record(StreamName="telemetry", Data=b"{}", PartitionKey="late")


def test_put_record_over_1_mb_a_second_raises(streams):
    streams.stream()
    big = b"x" * (512 * 1024 - 1)  # with its 1-byte partition key: half a MiB
    streams.kinesis.put_record(StreamName="telemetry", Data=big, PartitionKey="a")
    streams.kinesis.put_record(StreamName="telemetry", Data=big, PartitionKey="b")
    with pytest.raises(streams.kinesis.exceptions.ProvisionedThroughputExceededException):
        streams.kinesis.put_record(StreamName="telemetry", Data=b"1", PartitionKey="c")
    streams.lab.run(until=0.999)
    with pytest.raises(streams.kinesis.exceptions.ProvisionedThroughputExceededException):
        streams.kinesis.put_record(StreamName="telemetry", Data=b"1", PartitionKey="c")
    streams.lab.run(until=1.0)
    streams.kinesis.put_record(StreamName="telemetry", Data=b"1", PartitionKey="c")


def test_put_records_reports_each_refused_entry(streams):
    streams.stream()
    for prefix in "ab":
        response = streams.kinesis.put_records(StreamName="telemetry", Records=[
            {"Data": b"{}", "PartitionKey": f"{prefix}{n}"} for n in range(500)])
        assert response["FailedRecordCount"] == 0
    third = streams.kinesis.put_records(StreamName="telemetry", Records=[
        {"Data": b"{}", "PartitionKey": f"c{n}"} for n in range(10)])
    assert third["FailedRecordCount"] == 10
    assert third["Records"] == 10 * [{"ErrorCode": THROTTLED, "ErrorMessage": (
        "[esmlab] Rate exceeded for shard shardId-000000000000 in stream telemetry under "
        "account 123456789012.")}]


def test_put_records_throttles_only_the_full_shard(streams):
    """Two shards: the entries routed to the full one fail, the others are written."""
    streams.stream(shards=2)
    keys = ["hot"] * 1200 + [f"k{n}" for n in range(300)]  # one key: one shard
    written, refused = {}, {}
    for start in range(0, 1500, 500):
        response = streams.kinesis.put_records(StreamName="telemetry", Records=[
            {"Data": b"x", "PartitionKey": key} for key in keys[start:start + 500]])
        for entry in response["Records"]:
            if "ShardId" in entry:
                written[entry["ShardId"]] = written.get(entry["ShardId"], 0) + 1
            else:
                shard = entry["ErrorMessage"].split()[5]
                refused[shard] = refused.get(shard, 0) + 1
    (full,) = refused  # only one shard refused anything ...
    assert written[full] == 1000  # ... once it had taken its 1,000 records of this second
    (other,) = set(written) - {full}
    assert written[other] + written[full] + refused[full] == 1500


def test_a_retrying_producer_writes_everything_and_nothing_twice(streams):
    """The producer a learner writes: put, keep the failed entries, wait, retry."""
    arn = streams.stream()
    seen = []
    streams.lab.function("fn", lambda event, context: seen.extend(
        json.loads(__import__("base64").b64decode(r["kinesis"]["data"]))["n"]
        for r in event["Records"]), timeout=60)
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        BatchSize=1000)["UUID"]
    pending = [{"Data": one_kb(n), "PartitionKey": f"k{n % 7}"} for n in range(3000)]
    tries = 0
    while pending:
        batch, pending = pending[:500], pending[500:]
        response = streams.kinesis.put_records(StreamName="telemetry", Records=batch)
        failed = [e for e, r in zip(batch, response["Records"], strict=True) if "ErrorCode" in r]
        assert len(failed) == response["FailedRecordCount"]
        if failed:
            pending = failed + pending
            streams.lab.run(until=streams.lab.now + 1)
            tries += 1
    assert tries >= 2  # about 1,000 one-KB records fit in a second
    assert streams.lab.now >= 2
    streams.lab.run(until=streams.lab.now + 60)
    assert sorted(seen) == list(range(3000))
    assert streams.lab.stream_conservation(uuid)["counts"] == {"processed": 3000}


def test_write_throttles_are_published(streams):
    streams.stream()
    fill(streams, 997)
    for n in range(6):
        try:
            streams.kinesis.put_record(StreamName="telemetry", Data=b"{}", PartitionKey=f"k{n}")
        except streams.kinesis.exceptions.ProvisionedThroughputExceededException:
            pass
    streams.kinesis.put_records(StreamName="telemetry", Records=[
        {"Data": b"{}", "PartitionKey": "x"}, {"Data": b"{}", "PartitionKey": "y"}])
    cloudwatch = streams.lab.client("cloudwatch")
    streams.lab.run(until=61)
    stats = {}
    for name in ("WriteProvisionedThroughputExceeded", "IncomingRecords"):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Kinesis", MetricName=name,
            Dimensions=[{"Name": "StreamName", "Value": "telemetry"}],
            StartTime=streams.lab.datetime().replace(minute=0, second=0), Period=60,
            EndTime=streams.lab.datetime(), Statistics=["Sum"])["Datapoints"]
        stats[name] = sum(p["Sum"] for p in points)
    assert stats == {"WriteProvisionedThroughputExceeded": 5.0, "IncomingRecords": 1000.0}


# --- reads ---------------------------------------------------------------------------------

MIB = 1024 * 1024


def big_backlog(streams, records, size=MIB):
    """``records`` records of ``size`` bytes (key included), one per simulated second (1 MB/s)."""
    for n in range(records):
        streams.kinesis.put_record(StreamName="telemetry", PartitionKey=f"{n:03d}",
                                   Data=b"x" * (size - 3))
        streams.lab.run(until=streams.lab.now + 1)


def test_a_10_mb_read_closes_the_shard_for_5_seconds(streams):
    arn = streams.stream()
    big_backlog(streams, 12)
    streams.lab.function("fn", lambda event, context: None, timeout=60)
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON")["UUID"]
    streams.lab.run(until=60)
    polls = [e for e in streams.lab.trace.of("poll") if e.mapping == uuid]
    assert [len(p.records) for p in polls] == [10, 2]  # 10 MB in one call, then the rest
    assert polls[1].t - polls[0].t >= 5  # the penalty after a 10 MB response
    refused = [e for e in streams.lab.trace.of("read_throttled") if e.mapping == uuid]
    assert refused and all(polls[0].t < e.t < polls[1].t for e in refused)
    assert refused[0].detail["wait"] == pytest.approx(polls[0].t + 5 - refused[0].t)
    assert streams.lab.stream_conservation(uuid)["counts"] == {"processed": 12}
    cloudwatch = streams.lab.client("cloudwatch")
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Kinesis", MetricName="ReadProvisionedThroughputExceeded",
        Dimensions=[{"Name": "StreamName", "Value": "telemetry"}], Period=60,
        StartTime=streams.lab.datetime().replace(minute=0, second=0),
        EndTime=streams.lab.datetime(), Statistics=["Sum"])["Datapoints"]
    assert sum(p["Sum"] for p in points) == len(refused)


def test_five_get_records_calls_a_second_per_shard(streams):
    streams.stream()
    shard = "shardId-000000000000"
    iterator = streams.kinesis.get_shard_iterator(
        StreamName="telemetry", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    for _ in range(5):
        iterator = streams.kinesis.get_records(ShardIterator=iterator)["NextShardIterator"]
    with pytest.raises(ClientError) as caught:
        streams.kinesis.get_records(ShardIterator=iterator)
    assert caught.value.response["Error"] == {"Code": THROTTLED, "Message": (
        "[esmlab] Rate exceeded for shard shardId-000000000000 in stream telemetry under "
        "account 123456789012.")}
    streams.lab.run(until=1.0)
    streams.kinesis.get_records(ShardIterator=iterator)


def test_get_records_returns_at_most_10_mb(streams):
    streams.stream()
    big_backlog(streams, 11)
    iterator = streams.kinesis.get_shard_iterator(
        StreamName="telemetry", ShardId="shardId-000000000000",
        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    first = streams.kinesis.get_records(ShardIterator=iterator)
    assert len(first["Records"]) == 10
    streams.lab.run(until=streams.lab.now + 4.9)
    with pytest.raises(streams.kinesis.exceptions.ProvisionedThroughputExceededException):
        streams.kinesis.get_records(ShardIterator=first["NextShardIterator"])
    streams.lab.run(until=streams.lab.now + 0.1)
    rest = streams.kinesis.get_records(ShardIterator=first["NextShardIterator"])
    assert [r["PartitionKey"] for r in rest["Records"]] == ["010"]


def test_a_learners_reader_shares_the_shard_with_the_mapping(streams):
    """The mapping's 10 MB read uses the shard's whole read budget for 5 s: the learner's own
    GetRecords on the same shard is refused, as a second mapping's would be."""
    arn = streams.stream()
    big_backlog(streams, 10)
    streams.lab.function("fn", lambda event, context: None, timeout=60)
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON")["UUID"]
    iterator = streams.kinesis.get_shard_iterator(
        StreamName="telemetry", ShardId="shardId-000000000000",
        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    streams.lab.run(until=streams.lab.now + 3)  # Enabled after 2 s; it read at once
    (poll,) = [e for e in streams.lab.trace.of("poll") if e.mapping == uuid]
    assert len(poll.records) == 10
    with pytest.raises(streams.kinesis.exceptions.ProvisionedThroughputExceededException):
        streams.kinesis.get_records(ShardIterator=iterator)
    streams.lab.run(until=poll.t + 5)
    assert len(streams.kinesis.get_records(ShardIterator=iterator)["Records"]) == 10


def iterator_ages(lab, uuid):
    return [e.detail["iterator_age_ms"] for e in lab.trace.of("invoke_start")
            if e.mapping == uuid]


def steady_producer(streams, seconds, per_second=10, size=100 * 1024):
    """About 1 MB a second, the most one shard accepts, for ``seconds`` simulated seconds."""
    for s in range(seconds):
        response = streams.kinesis.put_records(StreamName="telemetry", Records=[
            {"Data": b"x" * (size - 8), "PartitionKey": f"{s:04d}-{n:03d}"}
            for n in range(per_second)])
        assert response["FailedRecordCount"] == 0
        streams.lab.run(until=streams.lab.now + 1)


def test_iterator_age_grows_when_three_consumers_share_a_shard(streams):
    """One consumer keeps up with 1 MB/s; three want 3 MB/s of a shard's 2 MB/s, fall behind, and
    their IteratorAge grows although no invocation fails."""
    arn = streams.stream()
    uuids = []
    for name in ("a", "b", "c"):
        streams.lab.function(name, lambda event, context: None, timeout=60)
        uuids.append(streams.lam.create_event_source_mapping(
            FunctionName=name, EventSourceArn=arn, StartingPosition="LATEST")["UUID"])
    streams.lab.run(until=3)
    steady_producer(streams, 40)
    streams.lab.run(until=300)
    for uuid in uuids:
        ages = iterator_ages(streams.lab, uuid)
        assert max(ages[-5:]) > 10_000  # over 10 s behind by the end of the writes
        assert streams.lab.stream_conservation(uuid)["counts"] == {"processed": 400}
    assert streams.lab.trace.count("read_throttled") > 10
    outcomes = {i.outcome for i in streams.lab.trace.invocations}
    assert outcomes == {"success"}


def test_one_consumer_keeps_up_with_a_full_shard(streams):
    arn = streams.stream()
    streams.lab.function("a", lambda event, context: None, timeout=60)
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="a", EventSourceArn=arn, StartingPosition="LATEST")["UUID"]
    streams.lab.run(until=3)
    steady_producer(streams, 40)
    streams.lab.run(until=300)
    assert max(iterator_ages(streams.lab, uuid)) <= 1_000
    assert streams.lab.trace.count("read_throttled") == 0
