"""Fixes and observation hooks for moto's Kinesis and DynamoDB Streams, applied while a Lab is open.

* Speed: moto's Kinesis shard finds its last sequence number by listing every record on each
  put, and scans the shard from the start on each ``GetRecords``. Sequence numbers in a shard are
  consecutive here, so both become direct look-ups.
* Kinesis sequence numbers have AWS's 56 digits (moto counts from 1), the same in the
  ``PutRecord`` response, ``GetRecords`` and the function's event.
* AWS behaviour moto lacks: exactly one stream record per item modification, and none for a
  write that changes nothing
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html). moto writes a
  MODIFY record even for an identical item, and an ``UpdateItem`` that creates its item writes
  two INSERT records (a key-only one, then the updated item), also inside
  ``TransactWriteItems``. The changes one ``UpdateItem`` makes become one record: the item
  before the call and the item after it.
* moto never invokes a function: the stream shard's ``add`` below has no mapping branch.
* Observation: each new record wakes the mappings that read the stream (pollers sleep while
  their shards are idle, instead of polling an empty shard every second).
"""

from __future__ import annotations

from moto.dynamodb import models as ddb_models
from moto.dynamodb.models import table as ddb_table
from moto.kinesis import models as kinesis_models

from .dynamodb_shards import shard_for
from .patching import Patches

_listener = None


def shard_base(shard) -> int:
    """The number just below a shard's first sequence number: 56 digits, as AWS's are
    (as recorded from AWS in 2025), with the shard's number in the middle so shards never share a number."""
    return 49 * 10**54 + shard._shard_id * 10**30


def _last(shard) -> int:
    return shard.__dict__.get("_esmlab_last", shard_base(shard))


def _kinesis_put_record(self, partition_key, data, explicit_hash_key):
    sequence_number = _last(self) + 1
    self.__dict__["_esmlab_last"] = sequence_number
    self.records[sequence_number] = kinesis_models.Record(
        partition_key, data, sequence_number, explicit_hash_key
    )
    if _listener is not None:
        _listener.on_stream_record("kinesis", self)
    return str(sequence_number)


def _kinesis_get_records(self, last_sequence_id, limit):
    last = max(int(last_sequence_id), shard_base(self))  # TRIM_HORIZON iterators say 0
    newest = _last(self)
    stop = newest if not limit else min(newest, last + limit)
    results = [self.records[n] for n in range(last + 1, stop + 1)]
    behind = 0
    if results:
        behind = int((self.records[newest].created_at - results[-1].created_at) * 1000)
        last = results[-1].sequence_number
    return results, last, behind


def _kinesis_max_sequence(self):
    return _last(self)


_moto_update_item = ddb_models.DynamoDBBackend.update_item


def _ddb_update_item(self, table_name, key, *args, **kwargs):
    """One call, one item, so at most one stream record (see the module docstring)."""
    shard = self.get_table(table_name).stream_shard
    if shard is None or "_esmlab_changes" in shard.__dict__:
        return _moto_update_item(self, table_name, key, *args, **kwargs)
    changes = shard.__dict__["_esmlab_changes"] = []
    try:
        return _moto_update_item(self, table_name, key, *args, **kwargs)
    finally:  # also after an error: the record describes what moto's table now holds
        del shard.__dict__["_esmlab_changes"]
        if changes:
            _ddb_add(shard, changes[0][0], changes[-1][1])


def _ddb_add(self, old, new):
    if (changes := self.__dict__.get("_esmlab_changes")) is not None:
        changes.append((old, new))  # inside UpdateItem: written once, when it returns
        return
    if old is not None and new is not None and old.to_json() == new.to_json():
        return  # an update that changes nothing writes no stream record
    kind = self.table.stream_specification["StreamViewType"]
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    shard = shard_for(self.table, new if new is not None else old)  # moto/dynamodb_shards.py
    sequence = len(shard.items) + shard.starting_sequence_number
    shard.items.append(ddb_table.StreamRecord(self.table, kind, name, old, new, sequence))
    if _listener is not None:
        _listener.on_stream_record("dynamodb", shard)


_PATCHES = Patches([
    (kinesis_models.Shard, "put_record", _kinesis_put_record),
    (kinesis_models.Shard, "get_records", _kinesis_get_records),
    (kinesis_models.Shard, "get_max_sequence_number", _kinesis_max_sequence),
    (ddb_table.StreamShard, "add", _ddb_add),
    (ddb_models.DynamoDBBackend, "update_item", _ddb_update_item),
])


def install(listener) -> None:
    """Apply the fixes and route new stream records to ``listener`` (the open Lab)."""
    global _listener
    _PATCHES.apply()
    _listener = listener


def uninstall() -> None:
    """Restore moto exactly as it was."""
    global _listener
    _PATCHES.restore()
    _listener = None
