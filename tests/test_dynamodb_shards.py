"""DynamoDB Streams with several shards: lab.dynamodb_stream_shards (a modelling choice; DynamoDB
keeps one item's records in order: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html)."""

import pytest

from esmlab.trace import peak_concurrency


def write_versions(streams, items, versions):
    for version in range(versions):
        for n in range(items):
            streams.ddb.put_item(TableName="orders", Item={
                "id": {"S": f"order-{n:03d}"}, "version": {"N": str(version)}})


def test_four_shards_run_four_invocations_at_once_and_keep_item_order(streams):
    arn = streams.table()
    streams.lab.dynamodb_stream_shards("orders", 4)
    described = streams.lab.client("dynamodbstreams").describe_stream(StreamArn=arn)
    shard_ids = [s["ShardId"] for s in described["StreamDescription"]["Shards"]]
    assert len(set(shard_ids)) == 4
    seen = []
    streams.lab.function("fn", lambda event, context: seen.extend(
        (r["eventID"], r["dynamodb"]["Keys"]["id"]["S"],
         int(r["dynamodb"]["NewImage"]["version"]["N"])) for r in event["Records"]),
        timeout=60, duration=1.0)
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        BatchSize=10)["UUID"]
    write_versions(streams, items=40, versions=3)
    streams.lab.run(until=120)
    assert len(seen) == 120
    last = {}
    for _, item, version in seen:  # each item's changes in modification order
        assert version == last.get(item, -1) + 1
        last[item] = version
    shards_used = {e.detail["shard"] for e in streams.lab.trace.of("poll") if e.records}
    assert shards_used == set(shard_ids)  # the partition keys spread over all four
    invocations = [i for i in streams.lab.trace.invocations if i.mapping == uuid]
    assert peak_concurrency(invocations) == 4  # shards x PF, PF 1
    assert streams.lab.stream_conservation(uuid)["counts"] == {"processed": 120}


def test_one_items_records_share_a_shard_readable_with_boto3(streams):
    arn = streams.table()
    streams.lab.dynamodb_stream_shards("orders", 3)
    write_versions(streams, items=9, versions=2)
    client = streams.lab.client("dynamodbstreams")
    found = {}
    for shard in client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = client.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        for record in client.get_records(ShardIterator=iterator)["Records"]:
            found.setdefault(record["dynamodb"]["Keys"]["id"]["S"], set()).add(shard["ShardId"])
    assert len(found) == 9 and all(len(shards) == 1 for shards in found.values())
    assert len(set().union(*found.values())) > 1


@pytest.mark.parametrize(("table", "count", "says"), [
    ("orders", 0, "count must be a whole number from 1 to 100, got 0"),
    ("orders", "4", "count must be a whole number"),
    ("nope", 2, "table_name 'nope' is not a table of this lab"),
])
def test_bad_arguments_are_refused(streams, table, count, says):
    streams.table()
    with pytest.raises(ValueError, match=says):
        streams.lab.dynamodb_stream_shards(table, count)


def test_the_count_is_set_before_the_first_write(streams):
    streams.table()
    write_versions(streams, items=1, versions=1)
    with pytest.raises(ValueError, match="already has stream records"):
        streams.lab.dynamodb_stream_shards("orders", 2)
