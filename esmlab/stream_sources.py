"""Reading Kinesis Data Streams and DynamoDB Streams the way Lambda's stream pollers do.

Both sources offer the same small interface to the stream poller: list shards, open an iterator
at a starting position, read records (``GetRecords``), and say how long records live.

* Kinesis: one ``GetRecords`` per shard per second is the base rate
  (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html); a call returns at most
  10,000 records (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html);
  retention is the stream's ``RetentionPeriodHours`` (24 h by default).
* DynamoDB Streams: 4 ``GetRecords`` per shard per second
  (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html); records live 24 hours
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html).
  MODELLING CHOICE: a table's stream has one shard (moto's model). DynamoDB manages shards
  itself and never exposes a shard count to set, so lessons about DynamoDB concurrency use
  ``ParallelizationFactor``, which keeps order per item.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .stream_events import dynamodb_record, kinesis_record


@dataclass
class StreamRecord:
    """A record read from a shard, with what the poller needs to order, route and age it."""

    shard: str
    position: int  #: moto's sequence number, for ordering and iterators
    sequence: str  #: the sequence number the function sees
    key: str  #: partition key (Kinesis) or the item's key attributes (DynamoDB), for PF lanes
    arrival: float  #: epoch seconds the stream received it
    record: dict  #: the event record
    bytes: int = 0


class KinesisSource:
    kind = "kinesis"
    poll_interval = 1.0
    max_records = 10_000

    def __init__(self, lab, arn, role_arn):
        self.lab, self.arn, self.role_arn = lab, arn, role_arn
        self.name = arn.split("stream/", 1)[1]
        self.client = lab.internal_client("kinesis")

    def exists(self) -> bool:
        try:
            self.client.describe_stream_summary(StreamName=self.name)
            return True
        except self.client.exceptions.ResourceNotFoundException:
            return False

    def shards(self) -> list[str]:
        shards = self.client.list_shards(StreamName=self.name)["Shards"]
        return [s["ShardId"] for s in shards if "EndingSequenceNumber" not in s.get(
            "SequenceNumberRange", {})]

    def retention_seconds(self) -> float:
        summary = self.client.describe_stream_summary(StreamName=self.name)
        return summary["StreamDescriptionSummary"]["RetentionPeriodHours"] * 3600.0

    def iterator(self, shard, kind, *, after=None, timestamp=None) -> str:
        params = {"StreamName": self.name, "ShardId": shard, "ShardIteratorType": kind}
        if after is not None:
            params["StartingSequenceNumber"] = str(after)
        if timestamp is not None:
            params["Timestamp"] = timestamp
        return self.client.get_shard_iterator(**params)["ShardIterator"]

    def read(self, shard, iterator):
        response = self.client.get_records(ShardIterator=iterator, Limit=self.max_records)
        records = [
            self._record(shard, raw) for raw in response["Records"]
        ]
        return records, response.get("NextShardIterator") or iterator

    def _record(self, shard, raw):
        rec = kinesis_record(raw, shard, self.arn, self.role_arn, self.lab.region)
        return StreamRecord(
            shard, int(raw["SequenceNumber"]), rec["kinesis"]["sequenceNumber"],
            raw["PartitionKey"], raw["ApproximateArrivalTimestamp"].timestamp(), rec,
        )


class DynamoDBSource:
    kind = "dynamodb"
    poll_interval = 0.25
    max_records = 1_000  # GetRecords returns at most 1,000 records (Streams API reference)

    def __init__(self, lab, arn, role_arn):
        self.lab, self.arn, self.role_arn = lab, arn, role_arn
        self.client = lab.internal_client("dynamodbstreams")

    def exists(self) -> bool:
        try:
            self.client.describe_stream(StreamArn=self.arn)
            return True
        except self.client.exceptions.ResourceNotFoundException:
            return False

    def shards(self) -> list[str]:
        description = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]
        return [s["ShardId"] for s in description["Shards"]]

    def retention_seconds(self) -> float:
        return 24 * 3600.0

    def iterator(self, shard, kind, *, after=None, timestamp=None) -> str:
        params = {"StreamArn": self.arn, "ShardId": shard, "ShardIteratorType": kind}
        if after is not None:
            params["SequenceNumber"] = str(after)
        return self.client.get_shard_iterator(**params)["ShardIterator"]

    def read(self, shard, iterator):
        response = self.client.get_records(ShardIterator=iterator, Limit=self.max_records)
        records = [self._record(shard, raw) for raw in response["Records"]]
        return records, response.get("NextShardIterator") or iterator

    def _record(self, shard, raw):
        rec = dynamodb_record(raw, self.arn, self.lab.region)
        change = rec["dynamodb"]
        return StreamRecord(
            shard, int(change["SequenceNumber"]), change["SequenceNumber"],
            json.dumps(change["Keys"], sort_keys=True), change["ApproximateCreationDateTime"], rec,
        )


def source_for(lab, kind, arn, role_arn):
    return {"kinesis": KinesisSource, "dynamodb": DynamoDBSource}[kind](lab, arn, role_arn)
