"""Kinesis Data Streams corrections to moto, applied while a Lab is open: shard throughput.

moto accepts every write and answers every read at once. A shard in AWS accepts 1 MB/s or 1,000
records/s and hands out 2 MB/s or 2,000 records/s over at most 5 ``GetRecords`` calls a second
(https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html). Here:

* ``PutRecord`` over the limit raises ``ProvisionedThroughputExceededException``
  (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecord.html);
* ``PutRecords`` writes what fits and reports every other entry with ``ErrorCode``
  ``ProvisionedThroughputExceededException`` and an ``ErrorMessage`` naming the account, stream
  and shard, counted in ``FailedRecordCount``
  (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html,
  https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecordsResultEntry.html);
* a learner's own ``GetRecords`` shares the shard's read budget with the mappings, returns at
  most 10,000 records (the default ``Limit``) or 10 MB, and is refused with the same exception
  when the shard is over its budget
  (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html).

How the limits are measured is in :mod:`esmlab.streams.throughput`. Each refused record or
call is counted in CloudWatch as ``WriteProvisionedThroughputExceeded`` or
``ReadProvisionedThroughputExceeded``
(https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html). IncomingBytes
and IncomingRecords count only the records written, as AWS's "successfully put" says.
"""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError
from moto.kinesis import models as kinesis_models
from moto.kinesis.exceptions import (
    RecordSizeExceedsLimit,
    TooManyRecords,
    TotalRecordsSizeExceedsLimit,
)
from moto.kinesis.utils import compose_shard_iterator, decompose_shard_iterator

from .. import limits
from ..streams import throughput
from .patching import Patches
from .streams import shard_base  # sequence numbers are consecutive from the shard's base

_lab = None


class ProvisionedThroughputExceeded(JsonRESTError):
    def __init__(self, message: str):
        super().__init__(error_type="ProvisionedThroughputExceededException", message=message)


def _refused(stream, shard, direction):
    if _lab is not None:
        _lab.cloudwatch.publisher.throughput_exceeded(stream.stream_name, direction)
    return throughput.throttled_message(shard.shard_id, stream.stream_name, stream.account_id)


def _now() -> float:
    return _lab.now if _lab is not None else 0.0


def _put_record(self, stream_arn, stream_name, partition_key, explicit_hash_key, data):
    stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    shard = stream.get_shard_for_key(partition_key, explicit_hash_key)
    size = throughput.record_bytes(data, partition_key)
    if not throughput.admit_write(shard, size, _now()):
        raise ProvisionedThroughputExceeded(_refused(stream, shard, "Write"))
    sequence_number = shard.put_record(partition_key, data, explicit_hash_key)
    self._send_stream_metrics(stream.stream_name, incoming_bytes=size, incoming_records=1)
    return sequence_number, shard.shard_id


def _put_records(self, stream_arn, stream_name, records):
    """moto's checks of the request as a whole, then each entry judged on its own shard."""
    stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    if len(records) > 500:
        raise TooManyRecords
    sizes = [throughput.record_bytes(r.get("Data", ""), r.get("PartitionKey", "")) for r in records]
    if sum(sizes) > 5242880:
        raise TotalRecordsSizeExceedsLimit
    over = next((i for i, size in enumerate(sizes) if size > 1048576), None)
    if over is not None:
        raise RecordSizeExceedsLimit(position=over + 1)
    now = _now()
    response = {"FailedRecordCount": 0, "Records": []}
    written = written_bytes = 0
    for record, size in zip(records, sizes, strict=True):
        key, hash_key, data = (record.get("PartitionKey"), record.get("ExplicitHashKey"),
                               record.get("Data"))
        shard = stream.get_shard_for_key(key, hash_key)
        if not throughput.admit_write(shard, size, now):
            response["FailedRecordCount"] += 1
            response["Records"].append({
                "ErrorCode": "ProvisionedThroughputExceededException",
                "ErrorMessage": _refused(stream, shard, "Write"),
            })
            continue
        sequence_number = shard.put_record(key, data, hash_key)
        response["Records"].append({"SequenceNumber": sequence_number, "ShardId": shard.shard_id})
        written += 1
        written_bytes += size
    if written:
        self._send_stream_metrics(stream.stream_name, incoming_bytes=written_bytes,
                                  incoming_records=written)
    return response


def _get_records(self, stream_arn, shard_iterator, limit):
    """A learner's GetRecords: at most ``limit`` (default 10,000) records or 10 MB, and only
    when the shard's read budget allows a call now."""
    stream_name, shard_id, last = decompose_shard_iterator(shard_iterator)
    stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    shard = stream.get_shard(shard_id)
    now = _now()
    if throughput.read_wait(shard, now) > 0:
        raise ProvisionedThroughputExceeded(_refused(stream, shard, "Read"))
    limit = min(limit or limits.KINESIS_GET_RECORDS_MAX_RECORDS,
                limits.KINESIS_GET_RECORDS_MAX_RECORDS)
    records, position, size = read_shard(shard, int(last), limit)
    throughput.charge_read(shard, len(records), size, now)
    behind = 0
    if records:
        newest = shard.records[next(reversed(shard.records))]
        behind = int((newest.created_at - records[-1].created_at) * 1000)
    return compose_shard_iterator(stream_name, shard, position), records, behind


def read_shard(shard, position: int, limit: int):
    """The records after ``position``: at most ``limit`` records, and no more than 10 MB
    (always at least one). Returns (records, new position, bytes)."""
    records = shard.records
    position = max(position, shard_base(shard))
    newest = next(reversed(records), position)
    out, size = [], 0
    n = position + 1
    stop = min(newest, position + limit)
    while n <= stop:
        raw = records[n]
        n_bytes = raw.__dict__.get("_esmlab_bytes")
        if n_bytes is None:
            n_bytes = raw.__dict__["_esmlab_bytes"] = throughput.record_bytes(
                raw.data, raw.partition_key)
        if out and size + n_bytes > limits.KINESIS_GET_RECORDS_MAX_BYTES:
            break
        out.append(raw)
        size += n_bytes
        n += 1
    return out, (out[-1].sequence_number if out else position), size


_PATCHES = Patches([
    (kinesis_models.KinesisBackend, "put_record", _put_record),
    (kinesis_models.KinesisBackend, "put_records", _put_records),
    (kinesis_models.KinesisBackend, "get_records", _get_records),
])


def install(lab) -> None:
    global _lab
    _PATCHES.apply()
    _lab = lab


def uninstall() -> None:
    global _lab
    _PATCHES.restore()
    _lab = None
