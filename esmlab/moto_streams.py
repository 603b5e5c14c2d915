"""Fixes and observation hooks for moto's Kinesis and DynamoDB Streams, applied while a Lab is open.

* Speed: moto's Kinesis shard finds its last sequence number by listing every record on each
  put, and scans the shard from the start on each ``GetRecords``. Sequence numbers in a moto
  shard are consecutive integers from 1, so both become direct look-ups here.
* AWS behaviour moto lacks: a DynamoDB write that changes nothing writes no stream record
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html: a record is
  written when an item is modified; moto writes a MODIFY record even for an identical item).
* moto never invokes a function: the stream shard's ``add`` below has no mapping branch.
* Observation: each new record wakes the mappings that read the stream (pollers sleep while
  their shards are idle, instead of polling an empty shard every second).
"""

from __future__ import annotations

from moto.dynamodb.models import table as ddb_table
from moto.kinesis import models as kinesis_models

_listener = None
_saved: list[tuple[object, str, object]] = []


def _kinesis_put_record(self, partition_key, data, explicit_hash_key):
    sequence_number = self.__dict__.get("_esmlab_last", len(self.records)) + 1
    self.__dict__["_esmlab_last"] = sequence_number
    self.records[sequence_number] = kinesis_models.Record(
        partition_key, data, sequence_number, explicit_hash_key
    )
    if _listener is not None:
        _listener.on_stream_record("kinesis", self)
    return str(sequence_number)


def _kinesis_get_records(self, last_sequence_id, limit):
    last = int(last_sequence_id)
    newest = self.__dict__.get("_esmlab_last", len(self.records))
    stop = newest if not limit else min(newest, last + limit)
    results = [self.records[n] for n in range(last + 1, stop + 1)]
    behind = 0
    if results:
        behind = int((self.records[newest].created_at - results[-1].created_at) * 1000)
        last = results[-1].sequence_number
    return results, last, behind


def _kinesis_max_sequence(self):
    return self.__dict__.get("_esmlab_last", len(self.records))


def _ddb_add(self, old, new):
    if old is not None and new is not None and old.to_json() == new.to_json():
        return  # an update that changes nothing writes no stream record
    kind = self.table.stream_specification["StreamViewType"]
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    sequence = len(self.items) + self.starting_sequence_number
    self.items.append(ddb_table.StreamRecord(self.table, kind, name, old, new, sequence))
    if _listener is not None:
        _listener.on_stream_record("dynamodb", self)


_PATCHES = [
    (kinesis_models.Shard, "put_record", _kinesis_put_record),
    (kinesis_models.Shard, "get_records", _kinesis_get_records),
    (kinesis_models.Shard, "get_max_sequence_number", _kinesis_max_sequence),
    (ddb_table.StreamShard, "add", _ddb_add),
]


def install(listener) -> None:
    global _listener
    if not _saved:
        for owner, name, value in _PATCHES:
            _saved.append((owner, name, owner.__dict__[name]))
            setattr(owner, name, value)
    _listener = listener


def uninstall() -> None:
    global _listener
    while _saved:
        owner, name, value = _saved.pop()
        setattr(owner, name, value)
    _listener = None
