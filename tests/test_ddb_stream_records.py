"""DynamoDB Streams write exactly one record per item modification and none for a write that
changes nothing (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html),
on every write path: put, update, delete, batch and transactional writes, failed conditions."""

import pytest
from botocore.exceptions import ClientError

T = "orders"


def key(k):
    return {"id": {"S": k}}


def set_v(k, v, **extra):
    return dict(TableName=T, Key=key(k), UpdateExpression="SET v = :v",
                ExpressionAttributeValues={":v": {"N": str(v)}, **extra.pop("values", {})},
                **extra)


def seed(ddb):  # item "a" with v 1, item "b" with v 1
    ddb.put_item(TableName=T, Item={**key("a"), "v": {"N": "1"}})
    ddb.put_item(TableName=T, Item={**key("b"), "v": {"N": "1"}})


def tx_update(k, v):
    return {"Update": {"TableName": T, "Key": key(k), "UpdateExpression": "SET v = :v",
                       "ExpressionAttributeValues": {":v": {"N": str(v)}}}}


#: write -> the (eventName, id, new v) records the function must see after the two seeds
CASES = {
    "put new": (lambda d: d.put_item(TableName=T, Item={**key("c")}), [("INSERT", "c", None)]),
    "put identical": (lambda d: d.put_item(TableName=T, Item={**key("a"), "v": {"N": "1"}}), []),
    "put changed": (lambda d: d.put_item(TableName=T, Item={**key("a"), "v": {"N": "2"}}),
                    [("MODIFY", "a", "2")]),
    "update creates": (lambda d: d.update_item(**set_v("c", 5)), [("INSERT", "c", "5")]),
    "update changes": (lambda d: d.update_item(**set_v("a", 2)), [("MODIFY", "a", "2")]),
    "update identical": (lambda d: d.update_item(**set_v("a", 1)), []),
    "update condition fails": (lambda d: d.update_item(**set_v(
        "c", 5, ConditionExpression="attribute_exists(id)")), []),
    "put condition fails": (lambda d: d.put_item(
        TableName=T, Item=key("a"), ConditionExpression="attribute_not_exists(id)"), []),
    "delete": (lambda d: d.delete_item(TableName=T, Key=key("a")), [("REMOVE", "a", None)]),
    "delete missing": (lambda d: d.delete_item(TableName=T, Key=key("zz")), []),
    "delete condition fails": (lambda d: d.delete_item(
        TableName=T, Key=key("a"), ConditionExpression="attribute_not_exists(id)"), []),
    "batch write": (lambda d: d.batch_write_item(RequestItems={T: [
        {"PutRequest": {"Item": {**key("c"), "v": {"N": "3"}}}},
        {"PutRequest": {"Item": {**key("b"), "v": {"N": "1"}}}},  # identical: no record
        {"DeleteRequest": {"Key": key("a")}},
        {"DeleteRequest": {"Key": key("zz")}},  # nothing to delete: no record
    ]}), [("INSERT", "c", "3"), ("REMOVE", "a", None)]),
    "transaction": (lambda d: d.transact_write_items(TransactItems=[
        {"Put": {"TableName": T, "Item": {**key("c"), "v": {"N": "1"}}}},
        tx_update("d", 4),  # creates its item
        tx_update("a", 1),  # identical
        tx_update("b", 9),
        {"Delete": {"TableName": T, "Key": key("zz")}},
    ]), [("INSERT", "c", "1"), ("INSERT", "d", "4"), ("MODIFY", "b", "9")]),
    "transaction cancelled": (lambda d: d.transact_write_items(TransactItems=[
        tx_update("d", 4),
        {"ConditionCheck": {"TableName": T, "Key": key("zz"),
                            "ConditionExpression": "attribute_exists(id)"}},
    ]), []),
}


@pytest.mark.parametrize("case", list(CASES))
def test_one_record_per_modification(streams, case):
    write, expected = CASES[case]
    seen = []

    def handler(event, context):
        for r in event["Records"]:
            new = r["dynamodb"].get("NewImage", {})
            seen.append((r["eventName"], r["dynamodb"]["Keys"]["id"]["S"],
                         new.get("v", {}).get("N")))

    streams.lab.function("fn", handler, timeout=10)
    arn = streams.table()
    seed(streams.ddb)
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON")["UUID"]
    try:
        write(streams.ddb)
    except ClientError as error:
        assert error.response["Error"]["Code"] in (
            "ConditionalCheckFailedException", "TransactionCanceledException")
    streams.lab.run(until=30)
    assert seen == [("INSERT", "a", "1"), ("INSERT", "b", "1"), *expected]
    # the stream itself, read through boto3, holds the same records
    ddbs = streams.lab.client("dynamodbstreams")
    shard = ddbs.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = ddbs.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = ddbs.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in records] == [s[0] for s in seen]
    assert streams.lab.stream_conservation(uuid)["lost"] == []


def test_update_that_creates_has_no_old_image_and_the_full_new_image(streams):
    images = []
    streams.lab.function("fn", lambda e, c: images.extend(r["dynamodb"] for r in e["Records"]))
    arn = streams.table()
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="TRIM_HORIZON")
    streams.ddb.update_item(**set_v("c", 5))
    streams.lab.run(until=30)
    (image,) = images
    assert "OldImage" not in image
    assert image["NewImage"] == {"id": {"S": "c"}, "v": {"N": "5"}}
