"""Kinesis shard throughput: how much a shard accepts and hands out, in simulated time.

AWS's per-shard quotas (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html):
writes up to 1 MB/s (data plus partition key) or 1,000 records/s; reads by shared-throughput
consumers up to 5 ``GetRecords`` calls/s, and 2 MB/s or 2,000 records/s shared by every consumer
of the shard; one call returns at most 10,000 records or 10 MB, and after a 10 MB response the
calls of the next 5 s fail. A refused write is ``ProvisionedThroughputExceededException``
(https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecord.html) or, in
``PutRecords``, a failed entry with ``ErrorCode``/``ErrorMessage``
(https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html); a refused read
is the same exception from ``GetRecords``
(https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html).

MODELLING CHOICES (AWS does not say how it measures a second; docs/simulator.md):

* Writes are counted in fixed one-second windows of simulated time, [k, k + 1): each shard
  accepts 1,000 records and 1 MiB in each. A record that would go over is refused, alone; the
  other records of the same ``PutRecords`` call are judged one by one, in order.
* Read calls are counted in the same fixed windows (at most 5 admitted calls per shard).
* Read volume is a debt: a call that returns n records and b bytes closes the shard to every
  consumer for max(b / 2 MiB, n / 2,000) seconds after it. A 10 MB response therefore closes
  it for 5 s, the documented penalty, and a steady reader gets 2 MB/s or 2,000 records/s.

The budget lives on moto's shard object, so a deleted and re-created stream starts afresh.
"""

from __future__ import annotations

import base64
import math

from .. import limits

_KEY = "_esmlab_budget"


class ReadThrottled(Exception):
    """A GetRecords call the shard refused; ``wait``: seconds until it would accept one."""

    def __init__(self, wait: float):
        super().__init__(f"read refused for {wait:.3f} s")
        self.wait = wait


class Budget:
    """What one shard has accepted and handed out in the current window."""

    __slots__ = ("read_calls", "read_free_at", "read_second", "write_bytes", "write_records",
                 "write_second")

    def __init__(self):
        self.write_second = self.read_second = -1
        self.write_records = self.write_bytes = 0
        self.read_calls = 0
        self.read_free_at = 0.0


def budget(shard) -> Budget:
    found = shard.__dict__.get(_KEY)
    if found is None:
        found = shard.__dict__[_KEY] = Budget()
    return found


def _second(now: float) -> int:
    return math.floor(now + 1e-9)


def record_bytes(data_base64: str, partition_key: str) -> int:
    """What a record counts against the shard's MB limits: its data and its partition key."""
    return len(base64.b64decode(data_base64)) + len(partition_key.encode())


def admit_write(shard, size: int, now: float) -> bool:
    """Whether ``shard`` accepts one more record of ``size`` bytes at ``now`` (and count it)."""
    b = budget(shard)
    second = _second(now)
    if b.write_second != second:
        b.write_second, b.write_records, b.write_bytes = second, 0, 0
    if (b.write_records + 1 > limits.KINESIS_WRITE_RECORDS_PER_SECOND
            or b.write_bytes + size > limits.KINESIS_WRITE_BYTES_PER_SECOND):
        return False
    b.write_records += 1
    b.write_bytes += size
    return True


def read_wait(shard, now: float) -> float:
    """0 if a ``GetRecords`` call on ``shard`` may go at ``now``, else the seconds until it may."""
    b = budget(shard)
    second = _second(now)
    if b.read_second != second:
        b.read_second, b.read_calls = second, 0
    wait = max(0.0, b.read_free_at - now)
    if b.read_calls >= limits.KINESIS_READ_CALLS_PER_SECOND:
        wait = max(wait, second + 1 - now)
    return wait


def charge_read(shard, records: int, size: int, now: float) -> None:
    """An admitted call returned ``records`` records of ``size`` bytes (call read_wait first)."""
    b = budget(shard)
    b.read_calls += 1
    debt = max(size / limits.KINESIS_READ_BYTES_PER_SECOND,
               records / limits.KINESIS_READ_RECORDS_PER_SECOND)
    b.read_free_at = max(b.read_free_at, now) + debt


def throttled_message(shard_id: str, stream: str, account: str) -> str:
    return limits.KINESIS_THROTTLED.format(shard=shard_id, stream=stream, account=account)
