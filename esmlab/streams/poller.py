"""The stream side of an event source mapping (Kinesis and DynamoDB Streams).

What Lambda documents (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html,
https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html, https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html) and the modelling choices that fill the gaps:

* One reader per shard, polling at the source's base rate (1 s Kinesis, 0.25 s DynamoDB). A
  shard with nothing new is not polled in the simulation: it sleeps until a record arrives and
  then polls on its next tick, which gives the same deliveries with far fewer events.
* ``ParallelizationFactor`` (M2): each shard has PF lanes; a record goes to lane
  hash(partition key, or DynamoDB key attributes) mod PF, so one key is never in two batches at
  once and its order holds. One batch in flight per lane; a failure blocks only its lane.
* Batching (M3): a lane's window opens when the lane becomes free; the batch closes at the
  first of ``BatchSize``, the 6 MB payload cap (M6) or the window's end.
* Errors (kinesis-on-failure-destination, services-kinesis-batchfailurereporting): the batch is retried, blocking its lane, until it succeeds, or
  ``MaximumRetryAttempts`` is used up, or its records pass ``MaximumRecordAgeInSeconds`` or
  leave the stream's retention (M11). Waits between retries: 1, 2, 4, 8, then 12 s (M5).
  ``BisectBatchOnFunctionError`` (M1) splits a failed batch at ceil(n/2), finishes the first
  half before the second, and does not use up a retry; only a failing batch of one record does.
  With ``ReportBatchItemFailures`` the records before the lowest reported sequence number are
  done; if that made progress, the rest is retried as a new batch with a fresh retry budget
  (matching the recorded invoke counts); if not, it counts as a failure and the batch
  is retried as it is: a valid partial response is never bisected, even with bisect on.
* Throttles (with-kinesis) are retried every second without using up retries.
* Discarded batches go to the on-failure destination with the recorded payload (streams/destinations.py).
"""

from __future__ import annotations

import hashlib
import math
from collections import deque

from .. import limits
from ..batch_response import FAILURE, PARTIAL, classify
from ..functions import LambdaContext
from ..payload import ENVELOPE_BYTES, record_bytes
from ..trace import Invocation
from .batch import Batch
from .resharding import Resharding
from .throughput import ReadThrottled
from .tumbling import TumblingWindows

BACKOFF_SECONDS = (1, 2, 4, 8, 12)  # M5
THROTTLE_RETRY_SECONDS = 1.0


def lane_of(key: str, lanes: int) -> int:
    """A stable lane for a key (M2); Python's hash() is salted per process, md5 is not."""
    if lanes == 1:
        return 0
    return int.from_bytes(hashlib.md5(key.encode()).digest()[:4], "big") % lanes


class Lane:
    """One in-order line of work inside a shard (PF lanes per shard)."""

    def __init__(self, shard, index):
        self.shard, self.index = shard, index
        self.pending: deque = deque()
        self.stack: list[Batch] = []  #: batches to retry or bisect halves, next one last
        self.busy = False
        self.resume_at = 0.0  #: a lane waiting out a retry backoff starts nothing before this
        self.free_since = shard.poller.lab.now
        self.window_timer = None
        self.failures = 0  #: consecutive failures, for the backoff (M5)

    @property
    def poller(self):
        return self.shard.poller

    def dispatch(self):
        """Start the next invocation if the lane is free and a batch is ready."""
        if self.busy or self.poller.stopped or self.poller.lab.now < self.resume_at:
            return
        if self.stack:
            return self.poller.invoke(self, self.stack.pop())
        windows = self.poller.windows
        if windows and (final := windows.final_batch(self)):
            return self.poller.invoke(self, final)
        self.poller.expire(self.pending)
        if not self.pending:
            if self.shard.exhausted:  # a closed shard may now be finished (resharding)
                self.poller.resharding.check(self.shard)
            return
        mapping = self.poller.mapping
        taken, size = [], ENVELOPE_BYTES
        full = None
        for rec in self.pending:
            if len(taken) == mapping.batch_size:
                full = "batch_size"
                break
            if taken and size + rec.bytes + 1 > limits.PAYLOAD_LIMIT_BYTES:
                full = "payload_limit"
                break
            if taken and windows and windows.start_of(rec) != windows.start_of(taken[0]):
                full = "tumbling_window"
                break
            taken.append(rec)
            size += rec.bytes + 1
        if full is None and len(taken) == mapping.batch_size:
            full = "batch_size"
        window_end = self.free_since + mapping.window
        if full is None and self.poller.lab.now < window_end:
            if self.window_timer is None:
                self.window_timer = self.poller.lab.clock.at(window_end, self._window_ended)
            return
        for _ in taken:
            self.pending.popleft()
        self.poller.trace("batch", records=tuple(r.sequence for r in taken),
                          detail={"trigger": full or "window", "shard": self.shard.id})
        start = windows.start_of(taken[0]) if windows else None
        self.poller.invoke(self, Batch(taken, window_start=start))

    def hold(self, batch, seconds):
        """Retry ``batch`` after ``seconds``; it stays on the stack (and in the checkpoint)."""
        self.busy = False
        self.stack.append(batch)
        self.resume_at = self.poller.lab.now + seconds
        self.poller.lab.clock.at(self.resume_at, self.dispatch)

    def _window_ended(self):
        self.window_timer = None
        self.dispatch()

    def finished(self):
        self.busy = False
        self.free_since = self.poller.lab.now
        self.dispatch()
        if self.shard.exhausted:
            self.poller.resharding.check(self.shard)


class Shard:
    """Reads one shard: an iterator, a polling tick, and PF lanes."""

    def __init__(self, poller, shard_id):
        self.poller, self.id = poller, shard_id
        self.lanes = [Lane(self, i) for i in range(poller.mapping.get("ParallelizationFactor", 1))]
        self.iterator = None
        self.poll_timer = None
        self.phase = poller.lab.now
        self.last_read = None  #: moto position of the last record read
        self.exhausted = False  #: read to the end of a closed shard (esmlab.streams.resharding)
        self.done = False  #: ... and everything read from it finished: its children may start

    def start(self, iterator):
        self.iterator = iterator
        self.schedule_poll(now=True)

    def schedule_poll(self, now=False):
        if self.poll_timer is not None or self.poller.stopped or self.done:
            return
        interval = self.poller.source.poll_interval
        t = self.poller.lab.now
        if not now:  # the next tick of this shard's polling grid
            t = self.phase + math.ceil((t - self.phase) / interval + 1e-9) * interval
        self.poll_timer = self.poller.lab.clock.at(t, self.poll)

    def poll(self):
        self.poll_timer = None
        if self.poller.stopped:
            return
        try:
            records, self.iterator = self.poller.source.poll(self.id, self.iterator)
        except ReadThrottled as refused:
            return self.read_throttled(refused.wait)
        self.poller.trace("poll", records=tuple(r.sequence for r in records),
                          detail={"shard": self.id})
        lanes = len(self.lanes)
        for rec in records:
            rec.bytes = record_bytes(rec.record)
            self.last_read = rec.position
            if self.poller.keep(rec):
                self.lanes[lane_of(rec.key, lanes)].pending.append(rec)
        for lane in self.lanes:
            lane.dispatch()
        behind = self.poller.source.behind(self.id, self.iterator)
        if records and behind:
            self.schedule_poll()  # more is waiting: keep reading on the next tick
        elif not behind and self.poller.source.closed(self.id):
            self.exhausted = True
            self.poller.resharding.check(self)

    def read_throttled(self, wait):
        """The shard refused the read (esmlab.streams.throughput): count it, and try again once
        the shard accepts reads, plus a random part of a polling interval (MODELLING CHOICE:
        without it, the consumer that polls first at each instant would always win the shard)."""
        self.poller.trace("read_throttled", detail={"shard": self.id, "wait": round(wait, 6)})
        retry = wait + self.poller.lab.random.uniform(0, self.poller.source.poll_interval)
        self.poll_timer = self.poller.lab.clock.after(retry, self.poll)

    def checkpoint(self):
        """The lowest position not yet finished, or None if everything read is finished."""
        positions = []
        for lane in self.lanes:
            positions += [r.position for r in lane.pending]
            for batch in lane.stack:
                positions += [r.position for r in batch.records]
        positions += [r.position for b in self.poller.in_flight.values()
                      if b[0].shard is self for r in b[1].records]
        return min(positions) if positions else None


class StreamPoller:
    """Serves one Kinesis or DynamoDB Streams mapping while it is enabled."""

    def __init__(self, lab, mapping, source):
        self.lab, self.mapping, self.source = lab, mapping, source
        self.stopped = False
        self.retention = 24 * 3600.0
        self.shards: dict[str, Shard] = {}
        self.in_flight: dict[str, tuple] = {}  #: request id -> (lane, batch)
        seconds = mapping.get("TumblingWindowInSeconds", 0)
        self.windows = TumblingWindows(self, seconds) if seconds else None
        self.resharding = Resharding(self)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self):
        self.retention = self.source.retention_seconds()
        state = self.mapping.shard_state  # where each shard stopped last time (resume)
        for shard_id in self.resharding.begin():  # parents before children (M9)
            shard = Shard(self, shard_id)
            self.shards[shard_id] = shard
            shard.start(self.open_iterator(shard_id, state.get(shard_id)))

    def open_iterator(self, shard_id, resume):
        if resume is not None:  # re-enabled: carry on where processing stopped (services-dynamodb-eventsourcemapping)
            kind, position = resume
            return self.source.iterator(shard_id, kind, after=position)
        position = self.mapping.get("StartingPosition")
        if position == "AT_TIMESTAMP":
            return self.source.iterator(
                shard_id, "AT_TIMESTAMP", timestamp=self.mapping.get("StartingPositionTimestamp"))
        return self.source.iterator(shard_id, position)

    def open_shard(self, shard_id, from_start):
        """Start reading a child shard whose parents are finished (esmlab.streams.resharding)."""
        shard = Shard(self, shard_id)
        self.shards[shard_id] = shard
        if from_start:
            shard.start(self.source.iterator(shard_id, "TRIM_HORIZON"))
        else:
            shard.start(self.open_iterator(shard_id, self.mapping.shard_state.get(shard_id)))

    def stop(self):
        """Remember each shard's checkpoint so that re-enabling resumes there."""
        self.stopped = True
        for shard in self.shards.values():
            if shard.poll_timer:
                shard.poll_timer.cancel()
            for lane in shard.lanes:
                if lane.window_timer:
                    lane.window_timer.cancel()
            first = shard.checkpoint()
            if first is not None:
                self.mapping.shard_state[shard.id] = ("AT_SEQUENCE_NUMBER", first)
            elif shard.last_read is not None:
                self.mapping.shard_state[shard.id] = ("AFTER_SEQUENCE_NUMBER", shard.last_read)

    def reconfigure(self):
        """The mapping was updated: restart from the checkpoints with the new lanes/windows."""
        self.stop()
        self.lab.restart_poller(self.mapping)

    def on_record(self):
        for shard in self.shards.values():
            shard.schedule_poll()

    # --- helpers ---------------------------------------------------------------------------------

    def trace(self, kind, **fields):
        return self.lab.trace.add(self.lab.now, kind, mapping=self.mapping.uuid,
                                  source=self.mapping.source_arn, **fields)

    def keep(self, rec) -> bool:
        """Whether a record read from the shard goes to the function (event filtering)."""
        return self.lab.stream_ledger.read(self, rec)

    def too_old(self, rec) -> str | None:
        age = self.lab.clock.epoch() - rec.arrival
        limit = self.mapping.get("MaximumRecordAgeInSeconds", -1)
        if limit != -1 and age > limit:
            return "RecordAgeExceeded"
        if age >= self.retention:
            return "retention"
        return None

    def expire(self, records):
        """Discard, from the front of a lane, records past the age limit or retention."""
        while records and (why := self.too_old(records[0])):
            old = [records.popleft()]
            while records and self.too_old(records[0]) == why:
                old.append(records.popleft())
            self.discard(Batch(old), why, invocations=0)

    # --- invoking --------------------------------------------------------------------------------

    def invoke(self, lane, batch):
        fresh = [r for r in batch.records if not self.too_old(r)]
        if len(fresh) < len(batch.records):  # expired records leave; fresh ones still go
            old = Batch([r for r in batch.records if self.too_old(r)])
            why = self.too_old(old.records[0])
            self.discard(old, why, invocations=batch.invocations)
            batch.records = fresh
            if not fresh:
                lane.failures = 0
                return lane.finished()
        if not batch.records and not batch.final:
            return lane.finished()
        function = self.lab.functions.get(self.mapping.function_name)
        if function is None or not self.lab.concurrency.try_acquire(function.name):
            self.trace("throttle", records=batch.ids, detail={"shard": lane.shard.id})
            lane.hold(batch, THROTTLE_RETRY_SECONDS)
            return
        lane.busy = True
        request_id = self.lab.new_request_id()
        batch.invocations += 1
        invocation = Invocation(request_id, function.name, self.mapping.uuid, self.lab.now,
                                batch.ids)
        self.lab.trace.invocations.append(invocation)
        detail = {"shard": lane.shard.id}
        if batch.records:
            detail["iterator_age_ms"] = int((self.lab.clock.epoch() - batch.records[-1].arrival)
                                            * 1000)
        self.trace("invoke_start", invocation=request_id, records=batch.ids, detail=detail)
        self.in_flight[request_id] = (lane, batch)
        event = {"Records": [r.record for r in batch.records]}
        if self.windows:
            event = self.windows.event(lane, batch, event)
        result = function.execute(event, LambdaContext(function, request_id, self.lab.clock))
        self.lab.clock.after(result.duration, self.finish, lane, batch, invocation, result,
                             function)

    def finish(self, lane, batch, invocation, result, function):
        self.lab.concurrency.release(function.name)
        self.in_flight.pop(invocation.request_id, None)
        ids = batch.ids
        verdict, failed = ("success", ()) if result.outcome == "ok" else (result.outcome, ids)
        if result.outcome == "ok" and self.mapping.report_batch_item_failures:
            verdict, failed = classify(result.returned, ids)
            verdict = {PARTIAL: "partial", FAILURE: "invalid_response"}.get(verdict, "success")
        accepted = not (self.windows and result.outcome == "ok" and not failed) or (
            self.windows.accept(lane, batch, result.returned))
        if not accepted:  # a tumbling window's response must carry its state
            verdict, failed = "invalid_response", ids
        invocation.end, invocation.outcome = self.lab.now, verdict
        invocation.returned, invocation.error = result.returned, result.error
        invocation.failed = tuple(failed)
        self.trace("invoke_end", invocation=invocation.request_id, records=ids, outcome=verdict,
                   detail={"failed": tuple(failed), "error": result.error,
                           "returned": result.returned, "shard": lane.shard.id})
        self.mapping.last_processing_result = "OK"
        done = batch.records
        if failed and batch.records:
            first = ids.index(min(failed, key=lambda s: int(s)))  # the lowest sequence number
            done = batch.records[:first]
        elif failed:
            done = []
        for rec in done:
            self.lab.stream_ledger.settle(self, rec, "processed")
        lane.busy = False
        if not failed and not (batch.final and verdict != "success"):
            lane.failures = 0
            return lane.finished()
        rest = Batch(batch.records[len(done):], batch.final, batch.window_start)
        if done and verdict == "partial":  # progress: the rest is a new batch (fits the recorded counts)
            lane.stack.append(rest)
            lane.failures = 0
            return lane.finished()
        rest.invocations, rest.retries = batch.invocations, batch.retries
        rest.thrown = result.outcome != "ok"
        # A valid partial response is not a function error: the batch is split at the returned
        # record, never halved, so with nothing before it the rest is retried as it is (§2.5,
        # https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html)
        self.failed(lane, rest, bisect=verdict != "partial")

    def failed(self, lane, batch, bisect=True):
        lane.failures += 1
        wait = BACKOFF_SECONDS[min(lane.failures, len(BACKOFF_SECONDS)) - 1]
        if bisect and self.mapping.get("BisectBatchOnFunctionError") and len(batch.records) > 1:
            half = math.ceil(len(batch.records) / 2)  # M1: halves; the first one goes first
            first = Batch(batch.records[:half], window_start=batch.window_start)
            second = Batch(batch.records[half:], window_start=batch.window_start)
            lane.stack.append(second)
            self.trace("bisect", records=batch.ids,
                       detail={"halves": (first.ids, second.ids), "shard": lane.shard.id})
            lane.hold(first, wait)
            return
        limit = self.mapping.get("MaximumRetryAttempts", -1)
        if limit != -1 and batch.retries >= limit:
            self.discard(batch, "RetryAttemptsExhausted", invocations=batch.invocations)
            lane.failures = 0
            return lane.finished()
        batch.retries += 1
        lane.hold(batch, wait)

    # --- giving up -------------------------------------------------------------------------------

    def discard(self, batch, why, invocations):
        """Drop records for a limit (kinesis-on-failure-destination): to the on-failure destination when one is set."""
        if not batch.records:  # a tumbling window's closing invocation: only its state is lost
            if self.windows:
                self.windows.windows = {k: w for k, w in self.windows.windows.items()
                                        if w.start != batch.window_start}
            return
        if why == "retention":  # gone from the stream: no destination, no DroppedEventCount
            for rec in batch.records:
                self.lab.stream_ledger.settle(self, rec, "expired")
            self.trace("expire", records=batch.ids)
            return
        self.trace("discard", records=batch.ids, outcome=why,
                   detail={"invocations": invocations})
        delivered = self.lab.send_to_destination(self, batch, why, invocations)
        for rec in batch.records:
            self.lab.stream_ledger.settle(self, rec, "destination" if delivered else "dropped")

