"""The SQS side of an event source mapping: pollers, scaling, batching, invoking, deleting.

How Lambda does it (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html) and the modelling choices that fill the gaps:

* Polling (services-sqs-scaling). Each concurrent "slot" is a poller that long-polls the queue with
  ``ReceiveMessage`` (up to 10 messages a request, waits up to 20 s). moto cannot wait under a
  frozen clock, so the wait is simulated: a request that finds nothing sleeps until a message
  arrives, becomes visible again, or 20 s pass. Each request is one ``poll`` event in the trace,
  and an empty one is billed like any other.
* Batching (invocation-eventsourcemapping, MODELLING CHOICE M3). A window opens when the slot is free (mapping enabled or
  previous invocation returned) and the batch closes at the first of: ``BatchSize`` messages,
  the 6 MB payload cap (M6: compact JSON of the whole event; the message that does not fit waits
  for the slot's next batch), or the window's end. Window 0 invokes as soon as a receive returns
  anything. If the window has already ended when the first message arrives, that receive closes
  the batch.
* Scaling (services-sqs-scaling, MODELLING CHOICE M4). Start with 5 slots; every second, add 5 (300 a
  minute) while receives return messages and no invocation failed, up to 1,250 or
  ``ScalingConfig.MaximumConcurrency`` (only while no poller is left waiting: "if messages are
  still available" means a backlog, not any traffic); halve on function errors (not with
  ``ReportBatchItemFailures``, 2023 edition of ``with-sqs``) and on throttles; after 60 s without
  messages go back to 5, after 120 s to 2 (not when ``MaximumConcurrency`` is set).
  Deviation from M4, documented in docs/simulator.md: reserved and account concurrency do not cap
  the slots; they throttle invocations, because AWS documents that a reserved concurrency below
  ``MaximumConcurrency`` makes Lambda throttle messages (services-sqs-scaling).
* Throttles (services-sqs-errorhandling). A throttled batch is retried every second until the visibility
  timeout of its messages runs out; then the poller gives it up without deleting anything, so the
  messages return to the queue (and their receive count grows on the next receive).
* Results (services-sqs-errorhandling). Success deletes the batch; a function error or timeout deletes nothing, so
  the messages come back when their visibility timeout ends; with ``ReportBatchItemFailures`` a
  valid partial response deletes all but the listed messages (see batch_response.py).
"""

from __future__ import annotations

from collections import deque

from .. import limits
from ..batch_response import FAILURE, PARTIAL, classify
from ..functions import LambdaContext
from ..payload import ENVELOPE_BYTES, record_bytes
from ..trace import Invocation
from .event import record

TICK_SECONDS = 1.0
THROTTLE_RETRY_SECONDS = 1.0
IDLE_TO_START_SECONDS = 60.0
IDLE_TO_MINIMUM_SECONDS = 120.0


class Item:
    """A received message on its way to the function."""

    __slots__ = ("bytes", "handle", "id", "receive_count", "received_at", "record")

    def __init__(self, rec, received_at):
        self.id = rec["messageId"]
        self.record = rec
        self.handle = rec["receiptHandle"]
        self.received_at = received_at
        self.bytes = record_bytes(rec)
        self.receive_count = int(rec["attributes"].get("ApproximateReceiveCount", "1"))


class Slot:
    """One concurrent poller: gathers a batch, invokes, applies the result, starts again."""

    def __init__(self, poller):
        self.poller = poller
        self.batch: list[Item] = []
        self.carry: list[Item] = []
        self.window_end = 0.0
        self.poll_end = 0.0
        self.timer = None
        self.retired = False

    @property
    def now(self):
        return self.poller.lab.now

    def begin(self):
        """Open a new batching window (the slot is free)."""
        if self.poller.retire_if_excess(self):
            return
        self.batch, self.carry = self.carry, []
        self.window_end = self.now + self.poller.mapping.window
        self.receive()

    def receive(self):
        """Issue ReceiveMessage requests until the batch closes or the queue has nothing now."""
        poller = self.poller
        while True:
            want = self.room()
            if want <= 0:  # BatchSize was lowered below what this batch already holds
                return self.close("batch_size")
            items, received = poller.receive(want)
            if not received:
                break
            poller.record_poll(received)
            full = self.add(items)
            if len(received) == want:
                poller.wake_next()  # more may be waiting for another slot
            if full:
                return self.close(full)
            if self.now >= self.window_end and self.batch:
                return self.close("window")
            if len(received) < want:
                break
        self.wait()

    def room(self) -> int:
        """How many messages the next ReceiveMessage may ask for (BatchSize may have changed)."""
        return min(limits.SQS_MAX_MESSAGES_PER_RECEIVE,
                   self.poller.mapping.batch_size - len(self.batch))

    def add(self, items) -> str | None:
        """Add received messages; returns the trigger if the batch is now full."""
        size = ENVELOPE_BYTES + sum(i.bytes + 1 for i in self.batch)
        held = {i.id: n for n, i in enumerate(self.batch)}
        for position, item in enumerate(items):
            if item.id in held:  # received again while waiting in this batch: keep the newest
                old = self.batch[held[item.id]]
                self.batch[held[item.id]] = item
                size += item.bytes - old.bytes
                continue
            if self.batch and size + item.bytes + 1 > limits.PAYLOAD_LIMIT_BYTES:
                self.carry.extend(items[position:])
                return "payload_limit"
            self.batch.append(item)
            size += item.bytes + 1
        if len(self.batch) >= self.poller.mapping.batch_size:
            return "batch_size"
        return None

    def wait(self):
        """Long-poll: sleep until woken by an arrival, the 20 s limit or the window's end."""
        limit = self.now + limits.SQS_LONG_POLL_SECONDS
        self.poll_end = min(limit, self.window_end) if self.batch else limit
        self.poller.waiting.append(self)
        self.timer = self.poller.lab.clock.at(self.poll_end, self.poll_timeout)


    def poll_timeout(self):
        self.poller.waiting.remove(self)
        self.poller.record_poll([])
        if self.batch:
            return self.close("window")
        if not self.poller.retire_if_excess(self):
            self.receive()

    def receive_after_wait(self):
        """Woken while waiting (its timer is already cancelled): try the queue again."""
        if self.poller.retire_if_excess(self):
            return
        if self.room() <= 0:  # BatchSize was lowered below what this batch already holds
            return self.close("batch_size")
        items, received = self.poller.receive(self.room())
        if not items:  # another slot took them (or filters deleted them): keep waiting
            if received:
                self.poller.wake_next()
            self.poller.waiting.append(self)
            self.timer = self.poller.lab.clock.at(self.poll_end, self.poll_timeout)
            return
        self.poller.record_poll(received)
        want = min(limits.SQS_MAX_MESSAGES_PER_RECEIVE,
                   self.poller.mapping.batch_size - len(self.batch))
        full = self.add(items)
        if len(received) >= want:
            self.poller.wake_next()  # more may be waiting for another slot
        if full:
            return self.close(full)
        if self.now >= self.window_end:
            return self.close("window")
        self.receive()

    def close(self, trigger):
        size = self.poller.mapping.batch_size
        if len(self.batch) > size:  # BatchSize was lowered: the rest waits for the next batch
            self.carry = self.batch[size:] + self.carry
            self.batch = self.batch[:size]
        batch, self.batch = self.batch, []
        self.poller.invoke(self, batch, trigger)

    def stop(self):
        """The mapping stopped: drop any unsent batch (its messages reappear after the VT)."""
        if self.timer is not None:
            self.timer.cancel()
        self.retired = True


class SqsPoller:
    """Serves one SQS mapping while it is enabled."""

    def __init__(self, lab, mapping):
        self.lab, self.mapping = lab, mapping
        self.queue_arn = mapping.source_arn
        self.queue_url = lab.queue_url(mapping.source_arn)
        self.sqs = lab.internal_client("sqs")
        self.slots: set[Slot] = set()
        self.waiting: deque[Slot] = deque()
        self.target = 0
        self.stopped = False
        self.tick_timer = None
        self.last_messages_at = lab.now
        self.recent_messages = False
        self.recent_errors = 0
        self.wake_scheduled = False
        self.running = 0  #: this poller's invocations in flight

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def cap(self) -> int:
        maximum = self.mapping.maximum_concurrency
        return min(limits.SQS_MAX_CONCURRENCY, maximum or limits.SQS_MAX_CONCURRENCY)

    def start(self):
        self.set_target(min(limits.SQS_START_CONCURRENCY, self.cap))
        self.schedule_tick()

    def stop(self):
        self.stopped = True
        if self.tick_timer:
            self.tick_timer.cancel()
        for slot in list(self.slots):
            if slot in self.waiting or slot.batch:
                if slot in self.waiting:
                    self.record_poll([])  # the pending long poll ends empty
                slot.stop()
                self.slots.discard(slot)
        self.waiting.clear()

    def reconfigure(self):
        """The mapping was updated: a lower MaximumConcurrency applies at once."""
        if self.target > self.cap:
            self.set_target(self.cap)

    def lingering(self) -> int:
        """Invocations of this mapping still running from a poller stopped by a disable or an
        update: MaximumConcurrency counts every invocation of the mapping (services-sqs-scaling)."""
        return self.mapping.running - self.running

    def set_target(self, target):
        if target != self.target:
            self.target = target
            self.lab.trace.add(
                self.lab.now, "scale", mapping=self.mapping.uuid, source=self.queue_arn,
                detail={"concurrency": target},
            )
        while len(self.slots) + self.lingering() < self.target:
            slot = Slot(self)
            self.slots.add(slot)
            self.lab.clock.at(self.lab.now, slot.begin)
        for slot in [s for s in self.waiting if not s.batch]:
            if len(self.slots) + self.lingering() <= self.target:
                break
            self.waiting.remove(slot)
            slot.stop()
            self.slots.discard(slot)
            self.record_poll([])  # its long poll ends empty: still a billed request

    def retire_if_excess(self, slot) -> bool:
        """Retire ``slot`` if the mapping stopped, or if there are too many slots and it holds
        no messages (a stopped mapping drops them: they reappear after the visibility timeout)."""
        excess = (len(self.slots) + self.lingering() > self.target
                  and not slot.carry and not slot.batch)
        if self.stopped or slot.retired or excess:
            slot.retired = True
            self.slots.discard(slot)
            return True
        return False

    # --- scaling (M4) --------------------------------------------------------------------------

    def schedule_tick(self):
        if self.tick_timer is None and not self.stopped:
            self.tick_timer = self.lab.clock.after(TICK_SECONDS, self.tick)

    def tick(self):
        self.tick_timer = None
        floor = min(limits.SQS_START_CONCURRENCY, self.cap)
        idle = self.lab.now - self.last_messages_at
        if self.recent_errors:
            target = max(floor, self.target // 2)
        elif self.recent_messages and not self.waiting:
            # messages keep coming and no poller is left waiting for them: a backlog
            step = limits.SQS_SCALE_UP_PER_MINUTE * TICK_SECONDS / 60
            target = min(self.target + int(step), self.cap)
        elif idle >= IDLE_TO_MINIMUM_SECONDS and self.mapping.maximum_concurrency is None:
            target = min(limits.SQS_IDLE_CONCURRENCY, self.cap)
        elif idle >= IDLE_TO_START_SECONDS:
            target = min(self.target, floor)
        else:
            target = self.target
        self.recent_messages, self.recent_errors = False, 0
        self.set_target(target)
        at_rest = idle >= IDLE_TO_MINIMUM_SECONDS or (
            idle >= IDLE_TO_START_SECONDS and self.mapping.maximum_concurrency is not None
        )
        if not at_rest:
            self.schedule_tick()

    # --- talking to SQS --------------------------------------------------------------------------

    def receive(self, count) -> tuple[list[Item], list[str]]:
        """One ReceiveMessage; returns (messages for the function, ids of all received)."""
        self.lab.ledger.actor = self.mapping.uuid
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=count,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
        finally:
            self.lab.ledger.actor = None
        now = self.lab.now
        region = self.lab.region
        items = [Item(record(m, self.queue_arn, region), now) for m in response.get("Messages", [])]
        received = [i.id for i in items]
        if items and self.mapping.config.get("Patterns"):
            items = self.filter(items)
        if items:
            self.watch_visibility(items)
        return items, received

    def filter(self, items):
        """Event filtering (invocation-eventfiltering): SQS deletes the messages that match no filter."""
        kept, dropped = [], []
        for item in items:
            (kept if self.lab.matches(self, item.record) else dropped).append(item)
        if dropped:
            self.lab.trace.add(self.lab.now, "filtered", mapping=self.mapping.uuid,
                               source=self.queue_arn, records=tuple(i.id for i in dropped))
            self.delete(dropped)
            for item in dropped:
                self.lab.ledger.entries[(self.queue_arn, item.id)].fate = "filtered"
        return kept

    def record_poll(self, ids):
        self.lab.trace.add(
            self.lab.now, "poll", mapping=self.mapping.uuid, source=self.queue_arn,
            records=tuple(ids),
        )
        if ids:
            self.last_messages_at = self.lab.now
            self.recent_messages = True
            self.schedule_tick()

    def delete(self, items):
        self.lab.ledger.actor = self.mapping.uuid
        try:
            for start in range(0, len(items), 10):
                chunk = items[start : start + 10]
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(n), "ReceiptHandle": i.handle} for n, i in enumerate(chunk)],
                )
        finally:
            self.lab.ledger.actor = None

    # --- waking long polls -----------------------------------------------------------------------

    def on_available(self):
        """Messages may be receivable now (arrival, delay ended, visibility timeout ended)."""
        if not self.wake_scheduled and not self.stopped:
            self.wake_scheduled = True
            self.lab.clock.at(self.lab.now, self._wake)

    def _wake(self):
        self.wake_scheduled = False
        self.wake_next()

    def wake_next(self):
        if self.waiting and not self.stopped:
            slot = self.waiting.popleft()
            slot.timer.cancel()
            self.lab.clock.at(self.lab.now, slot.receive_after_wait)

    # --- invoking ------------------------------------------------------------------------------

    def invoke(self, slot, batch, trigger):
        self.lab.trace.add(
            self.lab.now, "batch", mapping=self.mapping.uuid, source=self.queue_arn,
            records=tuple(i.id for i in batch), detail={"trigger": trigger},
        )
        self.attempt(slot, batch)

    def attempt(self, slot, batch):
        if self.stopped:
            return
        function = self.lab.functions.get(self.mapping.function_name)
        if function is None or not self.lab.concurrency.try_acquire(function.name):
            return self.throttled(slot, batch)
        self.running += 1
        self.mapping.running += 1
        request_id = self.lab.new_request_id()
        ids = tuple(i.id for i in batch)
        invocation = Invocation(request_id, function.name, self.mapping.uuid, self.lab.now, ids)
        self.lab.trace.invocations.append(invocation)
        self.lab.trace.add(
            self.lab.now, "invoke_start", mapping=self.mapping.uuid, source=self.queue_arn,
            invocation=request_id, records=ids,
        )
        event = {"Records": [i.record for i in batch]}
        result = function.execute(event, LambdaContext(function, request_id, self.lab.clock))
        self.lab.clock.after(result.duration, self.finish, slot, batch, invocation, result, function)

    def throttled(self, slot, batch):
        self.lab.trace.add(
            self.lab.now, "throttle", mapping=self.mapping.uuid, source=self.queue_arn,
            records=tuple(i.id for i in batch),
        )
        self.recent_errors += 1
        deadline = min(i.received_at for i in batch) + self.visibility_timeout()
        if self.lab.now + THROTTLE_RETRY_SECONDS < deadline:
            self.lab.clock.after(THROTTLE_RETRY_SECONDS, self.attempt, slot, batch)
            return
        self.lab.trace.add(
            self.lab.now, "gave_up", mapping=self.mapping.uuid, source=self.queue_arn,
            records=tuple(i.id for i in batch),
        )
        slot.begin()

    def finish(self, slot, batch, invocation, result, function):
        self.lab.concurrency.release(function.name)
        self.running -= 1
        self.mapping.running -= 1
        if self.stopped and (live := self.lab.poller_of(self.mapping)) is not None:
            live.set_target(live.target)  # the slot this invocation held is free for it
        ids = invocation.records
        failed = ids
        if result.outcome == "ok":
            verdict, failed = ("success", ())
            if self.mapping.report_batch_item_failures:
                verdict, failed = classify(result.returned, ids)
            outcome = {PARTIAL: "partial", FAILURE: "invalid_response"}.get(verdict, "success")
        else:
            outcome = result.outcome
        invocation.end = self.lab.now
        invocation.outcome = outcome
        invocation.returned = result.returned
        invocation.error = result.error
        invocation.failed = tuple(failed)
        self.lab.trace.add(
            self.lab.now, "invoke_end", mapping=self.mapping.uuid, source=self.queue_arn,
            invocation=invocation.request_id, records=ids, outcome=outcome,
            detail={"failed": tuple(failed), "error": result.error, "returned": result.returned},
        )
        failed_set = set(failed)
        self.delete([i for i in batch if i.id not in failed_set])
        if failed and outcome != "partial" and not self.mapping.report_batch_item_failures:
            self.recent_errors += 1
        slot.begin()

    def visibility_timeout(self) -> float:
        return float(self.lab.queue_by_arn(self.queue_arn).visibility_timeout)

    def watch_visibility(self, items):
        """At the end of their visibility timeout, note the messages that came back (not deleted,
        not received again) and wake a long poll, as SQS would answer a waiting receive."""
        deadline = min(i.received_at for i in items) + self.visibility_timeout()
        self.lab.clock.at(deadline, self.visible_again, items)

    def visible_again(self, items):
        back = []
        for item in items:
            entry = self.lab.ledger.entries.get((self.queue_arn, item.id))
            message = entry.message if entry else None
            if (
                entry is not None
                and entry.fate == "in_queue"
                and message.approximate_receive_count == item.receive_count
                and message.visible
            ):
                back.append(item.id)
        if back:
            self.lab.trace.add(
                self.lab.now, "visible_again", mapping=self.mapping.uuid, source=self.queue_arn,
                records=tuple(back),
            )
            self.on_available()
