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

Resharding (``SplitShard``, ``MergeShards``, ``UpdateShardCount``): moto moves a parent's
records into its children (merging copies them: duplicates) and keeps routing writes to closed
shards. Here, as in Kinesis, a closed parent keeps its records until they expire, new writes go
to the open shard whose hash key range holds the key (ranges are inclusive), and a reader at the
end of a closed shard gets a null ``NextShardIterator`` and the ``ChildShards``
(https://docs.aws.amazon.com/streams/latest/dev/kinesis-using-sdk-java-after-resharding.html,
https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html). ``UpdateShardCount``
refuses more than double or less than half the open shard count
(https://docs.aws.amazon.com/kinesis/latest/APIReference/API_UpdateShardCount.html).

How the limits are measured is in :mod:`esmlab.streams.throughput`. Each refused record or
call is counted in CloudWatch as ``WriteProvisionedThroughputExceeded`` or
``ReadProvisionedThroughputExceeded``
(https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html). IncomingBytes
and IncomingRecords count only the records written, as AWS's "successfully put" says.
"""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.kinesis import models as kinesis_models
from moto.kinesis import responses as kinesis_responses
from moto.kinesis.exceptions import (
    InvalidArgumentError,
    RecordSizeExceedsLimit,
    StreamCannotBeUpdatedError,
    TooManyRecords,
    TotalRecordsSizeExceedsLimit,
)
from moto.kinesis.utils import compose_shard_iterator, decompose_shard_iterator
from moto.utilities.utils import md5_hash

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
    if not shard.is_open and position >= _last(shard):
        return None, records, behind  # the end of a closed shard: read its children next
    return compose_shard_iterator(stream_name, shard, position), records, behind


def _get_records_response(self):
    """moto's GetRecords answer, plus ``ChildShards`` at the end of a closed shard."""
    stream_arn = self._get_param("StreamARN")
    shard_iterator = self._get_param("ShardIterator")
    next_iterator, records, behind = self.kinesis_backend.get_records(
        stream_arn, shard_iterator, self._get_param("Limit"))
    body = {"NextShardIterator": next_iterator,
            "Records": [record.to_json() for record in records],
            "MillisBehindLatest": behind}
    if next_iterator is None:
        stream_name, shard_id, _ = decompose_shard_iterator(shard_iterator)
        stream = self.kinesis_backend.describe_stream(stream_arn=stream_arn,
                                                      stream_name=stream_name)
        body["ChildShards"] = [
            {"ShardId": child.shard_id,
             "ParentShards": [p for p in (child.parent, child.adjacent_parent) if p],
             "HashKeyRange": {"StartingHashKey": str(child.starting_hash),
                              "EndingHashKey": str(child.ending_hash)}}
            for child in children(stream, shard_id)]
    return ActionResult(body)


# --- resharding ----------------------------------------------------------------------------


def children(stream, shard_id):
    return [s for s in stream.shards.values() if shard_id in (s.parent, s.adjacent_parent)]


def _last(shard) -> int:
    return next(reversed(shard.records), shard_base(shard))


def _next_id(stream) -> int:
    return max(s._shard_id for s in stream.shards.values()) + 1


def _resharded(stream):
    if _lab is not None:
        _lab.on_reshard(stream.arn)


def _get_shard_for_key(self, partition_key, explicit_hash_key):
    """The open shard whose hash key range (inclusive) holds the key: writes after a reshard go
    to the children, never to the closed parent."""
    if not isinstance(partition_key, str) or len(partition_key) > 256:
        raise InvalidArgumentError("partition_key")
    if explicit_hash_key:
        if not isinstance(explicit_hash_key, str):
            raise InvalidArgumentError("explicit_hash_key")
        key = int(explicit_hash_key)
        if key >= 2**128:
            raise InvalidArgumentError("explicit_hash_key")
    else:
        key = int(md5_hash(partition_key.encode("utf-8")).hexdigest(), 16)
    for shard in self.shards.values():
        if shard.is_open and shard.starting_hash <= key <= shard.ending_hash:
            return shard
    return None


def _not_open(stream, shard):
    return InvalidArgumentError(
        message=f"Shard {shard.shard_id} in stream {stream.stream_name} under account "
        f"{stream.account_id} has already been merged or split, and thus is not eligible for "
        "merging or splitting.")


def _split_shard(self, shard_to_split, new_starting_hash_key):
    """Close the shard and open two children; its records stay where they are."""
    new_start = int(new_starting_hash_key)
    shard = self.shards[shard_to_split]
    if not shard.starting_hash < new_start < shard.ending_hash:  # moto's rule and message
        raise InvalidArgumentError(
            message=f"NewStartingHashKey {new_start} used in SplitShard() on shard "
            f"{shard_to_split} in stream {self.stream_name} under account {self.account_id} is "
            "not both greater than one plus the shard's StartingHashKey "
            f"{shard.starting_hash} and less than the shard's EndingHashKey "
            f"{shard.ending_hash - 1}.")
    if not shard.is_open:
        raise _not_open(self, shard)
    first = _next_id(self)
    for index, (low, high) in enumerate(((shard.starting_hash, new_start - 1),
                                         (new_start, shard.ending_hash))):
        child = kinesis_models.Shard(first + index, low, high, parent=shard.shard_id)
        self.shards[child.shard_id] = child
    shard.is_open = False
    _resharded(self)


def _merge_shards(self, shard_to_merge, adjacent_shard_to_merge):
    """Close two adjacent shards and open one child over both ranges; nothing is copied."""
    one, two = self.shards[shard_to_merge], self.shards[adjacent_shard_to_merge]
    for shard in (one, two):
        if not shard.is_open:
            raise _not_open(self, shard)
    if one.ending_hash + 1 == two.starting_hash:
        low, high = one, two
    elif two.ending_hash + 1 == one.starting_hash:
        low, high = two, one
    else:
        raise InvalidArgumentError(message=limits.KINESIS_RESHARD["not_adjacent"].format(
            a=shard_to_merge, b=adjacent_shard_to_merge, stream=self.stream_name,
            account=self.account_id))
    child = kinesis_models.Shard(_next_id(self), low.starting_hash, high.ending_hash,
                                 parent=one.shard_id, adjacent_parent=two.shard_id)
    self.shards[child.shard_id] = child
    one.is_open = two.is_open = False
    _resharded(self)


class ShardCountLimit(JsonRESTError):
    def __init__(self, message: str):
        super().__init__(error_type="LimitExceededException", message=message)


def _update_shard_count(self, target_shard_count):
    """UNIFORM_SCALING within Kinesis's limits (at most double, at least half). MODELLING
    CHOICE: scaling up splits the widest open shards at their middle, scaling down merges
    adjacent pairs from the lowest hash keys; both happen at once."""
    if self.stream_mode.get("StreamMode", "") == "ON_DEMAND":
        raise StreamCannotBeUpdatedError(stream_name=self.stream_name, account_id=self.account_id)
    target = int(target_shard_count)
    open_shards = sorted((s for s in self.shards.values() if s.is_open),
                         key=lambda s: s.starting_hash)
    count = len(open_shards)
    if target > 2 * count:
        raise ShardCountLimit(limits.KINESIS_RESHARD["double"].format(
            stream=self.stream_name, open=count, target=target, limit=2 * count))
    if 2 * target < count:
        raise ShardCountLimit(limits.KINESIS_RESHARD["half"].format(
            stream=self.stream_name, open=count, target=target, limit=f"{count / 2:g}"))
    for _ in range(target - count):
        widest = max((s for s in self.shards.values() if s.is_open),
                     key=lambda s: (s.ending_hash - s.starting_hash, -s.starting_hash))
        self.split_shard(widest.shard_id, str((widest.starting_hash + widest.ending_hash + 1) // 2))
    merges = count - target
    for low, high in zip(open_shards[0::2], open_shards[1::2], strict=False):
        if merges <= 0:
            break
        self.merge_shards(low.shard_id, high.shard_id)
        merges -= 1
    self.shard_count = target


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
    (kinesis_responses.KinesisResponse, "get_records", _get_records_response),
    (kinesis_models.Stream, "get_shard_for_key", _get_shard_for_key),
    (kinesis_models.Stream, "split_shard", _split_shard),
    (kinesis_models.Stream, "merge_shards", _merge_shards),
    (kinesis_models.Stream, "update_shard_count", _update_shard_count),
])


def install(lab) -> None:
    global _lab
    _PATCHES.apply()
    _lab = lab


def uninstall() -> None:
    global _lab
    _PATCHES.restore()
    _lab = None
