"""Reading Kinesis Data Streams and DynamoDB Streams the way Lambda's stream pollers do.

Both sources offer the same small interface to the stream poller: list shards, open an iterator
at a starting position, read records (``GetRecords``), and say how long records live.

* Kinesis: one ``GetRecords`` per shard per second is the base rate
  (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html); a call returns at most
  10,000 records or 10 MB, and shares the shard's read budget with every other consumer
  (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html;
  :mod:`esmlab.streams.throughput`): ``poll`` raises ``ReadThrottled`` when the shard refuses;
  retention is the stream's ``RetentionPeriodHours`` (24 h by default).
* DynamoDB Streams: 4 ``GetRecords`` per shard per second
  (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html); records live 24 hours
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html).
  MODELLING CHOICE: a table's stream has one shard (moto's model) unless
  ``lab.dynamodb_stream_shards`` gives it more (esmlab/moto/dynamodb_shards.py). DynamoDB
  manages shards itself and never exposes a shard count to set.

Reading: the pollers take records from moto's shards in-process (the records ``GetRecords``
would return, in the same order, with the same data) rather than through boto3, because the
HTTP-shaped round trip costs about 40 microseconds a record and a lesson may stream 100,000.
Iterators are positions in the shard. Learners' own boto3 calls still go through moto's API.
"""

from __future__ import annotations

import bisect
import calendar
import json
from dataclasses import dataclass

from moto.dynamodb.models import dynamodb_backends
from moto.kinesis.models import kinesis_backends

from ..moto.dynamodb_shards import shards_of
from ..moto.kinesis import read_shard
from ..moto.streams import shard_base
from . import throughput
from .events import dynamodb_record


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

    def _shard(self, shard_id):
        backend = kinesis_backends[self.lab.account_id][self.lab.region]
        return backend.describe_stream(stream_arn=None, stream_name=self.name).get_shard(shard_id)

    def iterator(self, shard, kind, *, after=None, timestamp=None) -> int:
        """A position: the moto sequence number of the last record before the next read."""
        moto_shard = self._shard(shard)
        records, base = moto_shard.records, shard_base(moto_shard)
        if kind == "LATEST":
            return next(reversed(records), base)
        if kind == "AT_SEQUENCE_NUMBER":
            return int(after) - 1
        if kind == "AFTER_SEQUENCE_NUMBER":
            return int(after)
        if kind == "AT_TIMESTAMP":
            moment = timestamp.timestamp() if hasattr(timestamp, "timestamp") else timestamp
            times = [r.created_at for r in records.values()]
            return base + bisect.bisect_left(times, moment)  # numbers are base+1, base+2, ...
        return base  # TRIM_HORIZON

    def read(self, shard, position):
        """What one GetRecords call from ``position`` returns, without using the shard's budget."""
        raw, position, _size = read_shard(self._shard(shard), position, self.max_records)
        return [self._record(shard, r) for r in raw], position

    def poll(self, shard, position):
        """A mapping's GetRecords call: refused (ReadThrottled) while the shard is over its read
        limits, and charged to them when it goes."""
        moto_shard = self._shard(shard)
        now = self.lab.now
        wait = throughput.read_wait(moto_shard, now)
        if wait > 0:
            self.lab.cloudwatch.publisher.throughput_exceeded(self.name, "Read")
            raise throughput.ReadThrottled(wait)
        raw, position, size = read_shard(moto_shard, position, self.max_records)
        throughput.charge_read(moto_shard, len(raw), size, now)
        return [self._record(shard, r) for r in raw], position

    def behind(self, shard, position) -> bool:
        """Whether the shard holds records after ``position`` (the reader keeps reading)."""
        return next(reversed(self._shard(shard).records), position) > position

    def closed(self, shard) -> bool:
        """Whether the shard was split or merged (it takes no more records)."""
        return not self._shard(shard).is_open

    def lineage(self) -> dict:
        """Every shard of the stream, open or closed, with its parents (esmlab.streams.resharding)."""
        backend = kinesis_backends[self.lab.account_id][self.lab.region]
        stream = backend.describe_stream(stream_arn=None, stream_name=self.name)
        return {s.shard_id: tuple(p for p in (s.parent, s.adjacent_parent) if p)
                for s in sorted(stream.shards.values(), key=lambda s: s.shard_id)}

    def _record(self, shard, raw):
        sequence = str(raw.sequence_number)
        rec = {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": raw.partition_key,
                "sequenceNumber": sequence,
                "data": raw.data,  # moto keeps the base64 text of the bytes written
                "approximateArrivalTimestamp": round(raw.created_at, 3),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard}:{sequence}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": self.role_arn,
            "awsRegion": self.lab.region,
            "eventSourceARN": self.arn,
        }
        return StreamRecord(shard, raw.sequence_number, sequence, raw.partition_key,
                            raw.created_at, rec)


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

    def _items(self, shard_id):
        table = self.arn.split(":table/", 1)[1].split("/stream/", 1)[0]
        backend = dynamodb_backends[self.lab.account_id][self.lab.region]
        shards = shards_of(backend.get_table(table))
        shard = next((s for s in shards if s.id == shard_id), shards[0])
        return shard.items, shard.starting_sequence_number

    def iterator(self, shard, kind, *, after=None, timestamp=None) -> int:
        """A position: the index in the shard of the next record to read."""
        items, first = self._items(shard)
        if kind == "LATEST":
            return len(items)
        if kind == "AT_SEQUENCE_NUMBER":
            return int(after) - first
        if kind == "AFTER_SEQUENCE_NUMBER":
            return int(after) - first + 1
        return 0  # TRIM_HORIZON

    def read(self, shard, position):
        items, _ = self._items(shard)
        chunk = items[position : position + self.max_records]
        return [self._record(shard, item.to_json()) for item in chunk], position + len(chunk)

    poll = read  # DynamoDB Streams' read limits are not modelled

    def behind(self, shard, position) -> bool:
        return position < len(self._items(shard)[0])

    def closed(self, shard) -> bool:
        return False  # one shard per table that never closes (see the module docstring)

    def lineage(self) -> dict:
        return {shard: () for shard in self.shards()}

    def _record(self, shard, raw):
        change = dict(raw["dynamodb"])
        created = change["ApproximateCreationDateTime"]  # moto: a naive UTC datetime
        change["ApproximateCreationDateTime"] = calendar.timegm(created.utctimetuple())
        rec = dynamodb_record(dict(raw, dynamodb=change), self.arn, self.lab.region)
        change = rec["dynamodb"]
        return StreamRecord(
            shard, int(change["SequenceNumber"]), change["SequenceNumber"],
            json.dumps(change["Keys"], sort_keys=True), change["ApproximateCreationDateTime"], rec,
        )


def source_for(lab, kind, arn, role_arn):
    return {"kinesis": KinesisSource, "dynamodb": DynamoDBSource}[kind](lab, arn, role_arn)
