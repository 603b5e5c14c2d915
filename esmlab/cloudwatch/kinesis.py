"""The stream-level metrics Kinesis Data Streams publishes (``AWS/Kinesis``, dimension ``StreamName``).

https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html

* ``IncomingRecords`` and ``IncomingBytes``: moto itself publishes these on every
  ``PutRecord``/``PutRecords`` (bytes: data blob plus partition key), at the simulated instant
  of the call, so esmlab adds nothing.
* ``GetRecords.Records``, ``GetRecords.Bytes`` and ``GetRecords.IteratorAgeMilliseconds``: the
  mappings' ``GetRecords`` calls, from the trace. The iterator age of a call is the age of the
  last record it returned (0 when it returned none: the reader is at the tip of the shard).
* Shard level (``ShardId`` and ``StreamName``), only for the metrics enabled with
  ``enable_enhanced_monitoring``: ``IteratorAgeMilliseconds``, ``OutgoingRecords`` and
  ``OutgoingBytes`` of the mappings' reads.
* ``WriteProvisionedThroughputExceeded`` (records refused) and
  ``ReadProvisionedThroughputExceeded`` (``GetRecords`` calls refused): the shard throughput
  limits (:mod:`esmlab.streams.throughput`) call
  :meth:`esmlab.cloudwatch.publisher.Publisher.throughput_exceeded` for each.

MODELLING CHOICES (docs/simulator.md): a record's ``GetRecords.Bytes`` are its data blob plus
its partition key, as moto counts ``IncomingBytes`` (what counts toward a shard's write limit:
https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html); idle shards are
not polled by the simulated mappings, so their empty ``GetRecords`` calls are not counted.

DynamoDB Streams publishes no iterator age of its own; a DynamoDB trigger's lag is the
function's ``IteratorAge`` (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html).
"""

from __future__ import annotations

import base64

from moto.kinesis.models import kinesis_backends


def record_bytes(record) -> int:
    return len(base64.b64decode(record.data)) + len(record.partition_key.encode())


class KinesisCounter:
    def __init__(self, lab, add):
        self.lab = lab
        self.add = add  #: Publisher.add

    def backend(self):
        return kinesis_backends[self.lab.account_id][self.lab.region]

    def get_records(self, event) -> None:
        """One mapping's GetRecords call on a Kinesis shard (a trace ``poll`` event)."""
        name = event.source.rsplit("/", 1)[-1]
        stream = self.backend().streams.get(name)
        if stream is None:
            return
        shard = stream.shards.get(event.detail["shard"])
        dims = (("StreamName", name),)
        size, age = 0, 0.0
        for sequence in event.records:
            record = shard.records.get(int(sequence)) if shard is not None else None
            if record is not None:
                size += record_bytes(record)
                age = max(0.0, (self.lab.clock.epoch(event.t) - record.created_at) * 1000)
        self.add("AWS/Kinesis", "GetRecords.Records", dims, "Count", event.t,
                 float(len(event.records)))
        self.add("AWS/Kinesis", "GetRecords.Bytes", dims, "Bytes", event.t, float(size))
        self.add("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", dims, "Milliseconds",
                 event.t, age)
        enabled = set(stream.shard_level_metrics)
        shard_dims = (("ShardId", event.detail["shard"]), ("StreamName", name))
        for metric, unit, value in (("IteratorAgeMilliseconds", "Milliseconds", age),
                                    ("OutgoingRecords", "Count", float(len(event.records))),
                                    ("OutgoingBytes", "Bytes", float(size))):
            if metric in enabled or "ALL" in enabled:  # enhanced (shard-level) monitoring
                self.add("AWS/Kinesis", metric, shard_dims, unit, event.t, value)
