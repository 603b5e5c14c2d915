"""Kinesis resharding: SplitShard, MergeShards and UpdateShardCount in moto, and the mapping that
follows the new shards (https://docs.aws.amazon.com/streams/latest/dev/kinesis-using-sdk-java-after-resharding.html)."""

import base64
import itertools
import json

import pytest
from botocore.exceptions import ClientError

MIDDLE = str(2**127)


def shards(streams):
    return {s["ShardId"]: s for s in streams.kinesis.list_shards(StreamName="telemetry")["Shards"]}


def put_many(streams, start, count, keys=10):
    response = streams.kinesis.put_records(StreamName="telemetry", Records=[
        {"Data": json.dumps({"key": f"k{n % keys}", "n": n}).encode(),
         "PartitionKey": f"k{n % keys}"} for n in range(start, start + count)])
    assert response["FailedRecordCount"] == 0
    return response["Records"]


def read_all(streams, shard_id):
    """Every record of a shard, with what the last GetRecords said (one call a simulated
    second: the shard's read budget is shared and calls take no simulated time)."""
    iterator = streams.kinesis.get_shard_iterator(
        StreamName="telemetry", ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"]
    records = []
    while True:
        streams.lab.run(until=streams.lab.now + 1)
        response = streams.kinesis.get_records(ShardIterator=iterator)
        records += response["Records"]
        if not response["Records"]:
            return records, response
        iterator = response.get("NextShardIterator")
        if iterator is None:
            return records, response


def test_split_keeps_the_parents_records_and_routes_new_writes_to_the_children(streams):
    streams.stream()
    before = put_many(streams, 0, 20)
    assert {r["ShardId"] for r in before} == {"shardId-000000000000"}
    streams.kinesis.split_shard(StreamName="telemetry", ShardToSplit="shardId-000000000000",
                                NewStartingHashKey=MIDDLE)
    after = put_many(streams, 20, 20)
    listed = shards(streams)
    parent = listed["shardId-000000000000"]
    assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
    children = {"shardId-000000000001", "shardId-000000000002"}
    assert {r["ShardId"] for r in after} == children
    for child in children:
        assert listed[child]["ParentShardId"] == "shardId-000000000000"
        assert "EndingSequenceNumber" not in listed[child]["SequenceNumberRange"]
    assert listed["shardId-000000000001"]["HashKeyRange"]["EndingHashKey"] == str(2**127 - 1)
    records, last = read_all(streams, "shardId-000000000000")
    assert [r["SequenceNumber"] for r in records] == [r["SequenceNumber"] for r in before]
    assert last.get("NextShardIterator") is None  # the end of a closed shard
    assert {c["ShardId"] for c in last["ChildShards"]} == children
    assert all(c["ParentShards"] == ["shardId-000000000000"] for c in last["ChildShards"])
    child_records = sum(len(read_all(streams, c)[0]) for c in children)
    assert child_records == 20  # only the new writes: nothing copied from the parent


def test_merge_copies_nothing_and_takes_the_new_writes(streams):
    streams.stream(shards=2)
    before = put_many(streams, 0, 30)
    streams.kinesis.merge_shards(StreamName="telemetry", ShardToMerge="shardId-000000000000",
                                 AdjacentShardToMerge="shardId-000000000001")
    after = put_many(streams, 30, 10)
    assert {r["ShardId"] for r in after} == {"shardId-000000000002"}
    listed = shards(streams)
    child = listed["shardId-000000000002"]
    assert (child["ParentShardId"], child["AdjacentParentShardId"]) == (
        "shardId-000000000000", "shardId-000000000001")
    assert child["HashKeyRange"] == {"StartingHashKey": "0", "EndingHashKey": str(2**128 - 1)}
    counts = {s: len(read_all(streams, s)[0]) for s in listed}
    assert counts["shardId-000000000002"] == 10
    assert sum(counts.values()) == 40 == len(before) + len(after)  # no duplicates


def test_merge_refuses_shards_that_are_not_adjacent_or_closed(streams):
    streams.stream(shards=3)
    with pytest.raises(ClientError) as caught:
        streams.kinesis.merge_shards(StreamName="telemetry", ShardToMerge="shardId-000000000000",
                                     AdjacentShardToMerge="shardId-000000000002")
    assert caught.value.response["Error"]["Code"] == "InvalidArgumentException"
    assert caught.value.response["Error"]["Message"].startswith("[esmlab] Shards ")
    streams.kinesis.merge_shards(StreamName="telemetry", ShardToMerge="shardId-000000000001",
                                 AdjacentShardToMerge="shardId-000000000000")
    with pytest.raises(ClientError) as caught:
        streams.kinesis.split_shard(StreamName="telemetry", ShardToSplit="shardId-000000000000",
                                    NewStartingHashKey="5")
    assert "has already been merged or split" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize(("start", "target", "limit"), [(1, 3, "double"), (4, 1, "halve")])
def test_update_shard_count_keeps_to_double_and_half(streams, start, target, limit):
    streams.stream(shards=start)
    with pytest.raises(ClientError) as caught:
        streams.kinesis.update_shard_count(StreamName="telemetry", TargetShardCount=target,
                                           ScalingType="UNIFORM_SCALING")
    error = caught.value.response["Error"]
    assert error["Code"] == "LimitExceededException"
    assert error["Message"].startswith(f"[esmlab] UpdateShardCount may at most {limit}")


def test_update_shard_count_doubles_and_halves_uniformly(streams):
    streams.stream(shards=4)
    streams.kinesis.update_shard_count(StreamName="telemetry", TargetShardCount=8,
                                       ScalingType="UNIFORM_SCALING")
    open_ranges = sorted(
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in shards(streams).values() if "EndingSequenceNumber" not in s["SequenceNumberRange"])
    assert len(open_ranges) == 8
    assert open_ranges[0][0] == 0 and open_ranges[-1][1] == 2**128 - 1
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(open_ranges))
    widths = {high - low for low, high in open_ranges}
    assert max(widths) - min(widths) <= 1
    streams.kinesis.update_shard_count(StreamName="telemetry", TargetShardCount=4,
                                       ScalingType="UNIFORM_SCALING")
    assert sum(1 for s in shards(streams).values()
               if "EndingSequenceNumber" not in s["SequenceNumberRange"]) == 4


def decoded(record):
    return json.loads(base64.b64decode(record["kinesis"]["data"]))


def ordered_consumer(streams, duration=0.5):
    processed = []
    streams.lab.function("fn", lambda event, context: processed.extend(
        (r["eventID"].split(":")[0], decoded(r)) for r in event["Records"]),
        timeout=60, duration=duration)
    return processed


def test_the_mapping_finishes_a_parent_before_its_children_and_keeps_key_order(streams):
    arn = streams.stream()
    processed = ordered_consumer(streams, duration=2.0)  # slow: a backlog builds up
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        BatchSize=10)["UUID"]
    put_many(streams, 0, 60)
    streams.lab.run(until=5)
    streams.kinesis.split_shard(StreamName="telemetry", ShardToSplit="shardId-000000000000",
                                NewStartingHashKey=MIDDLE)
    put_many(streams, 60, 60)
    streams.lab.run(until=200)
    assert sorted(d["n"] for _, d in processed) == list(range(120))  # each once
    last = {}
    for _, d in processed:  # per key, in write order across the split
        assert d["n"] > last.get(d["key"], -1)
        last[d["key"]] = d["n"]
    parent_done = max(i.end for i in streams.lab.trace.invocations
                      if any(s.startswith("49") and rec_shard(streams, s) == 0
                             for s in i.records))
    child_starts = [i.start for i in streams.lab.trace.invocations
                    if any(rec_shard(streams, s) != 0 for s in i.records)]
    assert child_starts and min(child_starts) >= parent_done
    (finished,) = streams.lab.trace.of("shard_finished")
    assert finished.detail == {"shard": "shardId-000000000000",
                               "children": ("shardId-000000000001", "shardId-000000000002")}
    assert streams.lab.stream_conservation(uuid)["counts"] == {"processed": 120}
    assert len(streams.lam.list_event_source_mappings()["EventSourceMappings"]) == 1


def rec_shard(streams, sequence):
    """The shard number inside esmlab's 56-digit sequence numbers (moto/streams.shard_base)."""
    return (int(sequence) - 49 * 10**54) // 10**30


def test_the_mapping_follows_a_merge_and_update_shard_count(streams):
    arn = streams.stream(shards=2)
    processed = ordered_consumer(streams)
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        BatchSize=5, ParallelizationFactor=2)["UUID"]
    put_many(streams, 0, 40)
    streams.lab.run(until=4)
    streams.kinesis.merge_shards(StreamName="telemetry", ShardToMerge="shardId-000000000000",
                                 AdjacentShardToMerge="shardId-000000000001")
    put_many(streams, 40, 40)
    streams.lab.run(until=30)
    streams.kinesis.update_shard_count(StreamName="telemetry", TargetShardCount=2,
                                       ScalingType="UNIFORM_SCALING")
    put_many(streams, 80, 40)
    streams.lab.run(until=120)
    assert sorted(d["n"] for _, d in processed) == list(range(120))
    last = {}
    for _, d in processed:
        assert d["n"] > last.get(d["key"], -1)
        last[d["key"]] = d["n"]
    assert {e.detail["shard"] for e in streams.lab.trace.of("shard_finished")} == {
        "shardId-000000000000", "shardId-000000000001", "shardId-000000000002"}
    assert streams.lab.stream_conservation(uuid)["counts"] == {"processed": 120}


def test_latest_after_a_split_reads_only_new_records(streams):
    arn = streams.stream()
    put_many(streams, 0, 10)
    streams.kinesis.split_shard(StreamName="telemetry", ShardToSplit="shardId-000000000000",
                                NewStartingHashKey=MIDDLE)
    put_many(streams, 10, 10)
    processed = ordered_consumer(streams)
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="LATEST")
    streams.lab.run(until=5)
    put_many(streams, 20, 10)
    streams.lab.run(until=30)
    assert sorted(d["n"] for _, d in processed) == list(range(20, 30))


def test_tumbling_window_state_does_not_pass_from_a_parent_to_its_children(streams):
    """Tumbling windows do not support resharding (services-kinesis-windows): the state is per
    shard, so a child's window in the same 60 s starts empty."""
    calls = []

    def handler(event, context):
        total = event["state"].get("total", 0) + len(event["Records"])
        calls.append((event["shardId"], dict(event["state"]), len(event["Records"])))
        return {"state": {"total": total}}

    streams.lab.function("fn", handler, timeout=10)
    arn = streams.stream()
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="TRIM_HORIZON", BatchSize=5,
                                            TumblingWindowInSeconds=60)
    put_many(streams, 0, 5, keys=1)
    streams.lab.run(until=5)
    streams.kinesis.split_shard(StreamName="telemetry", ShardToSplit="shardId-000000000000",
                                NewStartingHashKey=MIDDLE)
    put_many(streams, 5, 5, keys=1)
    streams.lab.run(until=200)
    parent = [c for c in calls if c[0] == "shardId-000000000000"]
    children = [c for c in calls if c[0] != "shardId-000000000000" and c[2]]
    assert parent[0] == ("shardId-000000000000", {}, 5)
    assert children and children[0][1] == {}  # a fresh state, not the parent's {"total": 5}
    assert sum(c[2] for c in calls) == 10
