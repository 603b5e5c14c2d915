"""DynamoDB Streams with more than one shard (moto gives every table's stream exactly one).

DynamoDB creates and removes a stream's shards itself and offers no shard count to set; each
item modification appears exactly once, in one shard, and one item's records are in
modification order (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html).

MODELLING CHOICE (docs/simulator.md): ``lab.dynamodb_stream_shards(table, count)`` gives a
table's stream ``count`` shards (default 1, moto's model), for a table whose stream has no
record yet. A record goes to shard md5(partition key value) mod ``count``, so one partition's
items, and therefore each item's records, always share a shard and keep their order. The shards
never close and have no children (DynamoDB's rollover of shards is not simulated). Each shard
numbers its records from its own base, 10^12 apart, so sequence numbers increase within a shard.
"""

from __future__ import annotations

import hashlib
import json

from moto.dynamodb.models.table import StreamShard
from moto.dynamodbstreams import models as streams_models

from .patching import Patches

_KEY = "_esmlab_shards"
SEQUENCE_GAP = 10**12


def shards_of(table) -> list:
    """The table's stream shards: moto's own first."""
    extra = table.__dict__.get(_KEY)
    if extra is not None:
        return extra
    return [table.stream_shard] if table.stream_shard is not None else []


def set_shard_count(table, count: int) -> None:
    """Give ``table``'s stream ``count`` shards (see the module docstring)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100:
        raise ValueError(f"count must be a whole number from 1 to 100, got {count!r}")
    first = table.stream_shard
    if first is None:
        raise ValueError(f"table {table.name!r} has no stream: create it with a "
                         "StreamSpecification that has StreamEnabled true")
    if any(shard.items for shard in shards_of(table)):
        raise ValueError(f"table {table.name!r} already has stream records: set the shard "
                         "count before the first write")
    shards = [first]
    for index in range(1, count):
        shard = StreamShard(first.account_id, table)
        digest = hashlib.md5(f"{table.name}/{index}".encode()).hexdigest()[:8]
        shard.id = f"shardId-{first.id.split('-')[1][:-3]}{index:03d}-{digest}"
        shard.starting_sequence_number = first.starting_sequence_number + index * SEQUENCE_GAP
        shard.created_on = first.created_on
        shards.append(shard)
    table.__dict__[_KEY] = shards


def shard_for(table, item):
    """The shard that takes the record of a change to ``item`` (by its partition key)."""
    shards = shards_of(table)
    if len(shards) == 1:
        return shards[0]
    name = table.hash_key_attr
    value = item.attrs[name].to_json() if name in item.attrs else None
    digest = hashlib.md5(json.dumps(value, sort_keys=True).encode()).digest()
    return shards[int.from_bytes(digest[:4], "big") % len(shards)]


_moto_describe_stream = streams_models.DynamoDBStreamsBackend.describe_stream


def _describe_stream(self, arn):
    stream = _moto_describe_stream(self, arn)
    table = self._get_table_from_arn(arn)
    stream["Shards"] = [shard.to_json() for shard in shards_of(table)]
    return stream


def _get_shard_iterator(self, arn, shard_id, shard_iterator_type, sequence_number=None):
    table = self._get_table_from_arn(arn)
    shard = next((s for s in shards_of(table) if s.id == shard_id), None)
    if shard is None:
        from moto.dynamodb.exceptions import ResourceNotFoundException

        raise ResourceNotFoundException(f"Requested resource not found: Shard: {shard_id} in "
                                        f"Stream: {arn} not found")
    iterator = streams_models.ShardIterator(self, shard, shard_iterator_type, sequence_number)
    self.shard_iterators[iterator.arn] = iterator
    return iterator


_PATCHES = Patches([
    (streams_models.DynamoDBStreamsBackend, "describe_stream", _describe_stream),
    (streams_models.DynamoDBStreamsBackend, "get_shard_iterator", _get_shard_iterator),
])


def install() -> None:
    _PATCHES.apply()


def uninstall() -> None:
    _PATCHES.restore()
