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
  In provisioned mode (``ProvisionedPollerConfig``) the slot target comes from provisioned.py
  instead (MODELLING CHOICE M4-P), on the same tick.
* Throttles (services-sqs-errorhandling). A throttled batch is retried every second until the visibility
  timeout of its messages runs out; then the poller gives it up without deleting anything, so the
  messages return to the queue (and their receive count grows on the next receive).
* IAM at run time (MODELLING CHOICE, docs/simulator.md "IAM at run time"). Every SQS call the
  poller makes is checked against the execution role's current policies (permissions.py,
  ``allowed_cached``): ``GetQueueAttributes`` when it starts and before it times a throttle
  retry, ``ReceiveMessage``, ``DeleteMessage`` (which also governs DeleteMessageBatch,
  sqs-batch-api). A denied call is a ``denied`` trace event and sets the mapping's
  ``LastProcessingResult``; the mapping stays ``Enabled`` and asks again
  :data:`DENIED_RETRY_SECONDS` later, so restoring the permission lets it recover. A denied
  delete leaves the messages in the queue: they come back after their visibility timeout.
* Results (services-sqs-errorhandling). Success deletes the batch; a function error or timeout deletes nothing, so
  the messages come back when their visibility timeout ends; with ``ReportBatchItemFailures`` a
  valid partial response deletes all but the listed messages (see batch_response.py).
"""

from __future__ import annotations

import math
from collections import deque

from moto.utilities.aws_headers import gen_amzn_requestid_long

from .. import limits
from ..batch_response import FAILURE, PARTIAL, classify
from ..functions import LambdaContext
from ..moto import sqs as moto_sqs
from ..payload import ENVELOPE_BYTES, record_bytes
from ..permissions import allowed_cached
from ..trace import Invocation
from .event import record, response_message
from .provisioned import ProvisionedScaling

TICK_SECONDS = 1.0
THROTTLE_RETRY_SECONDS = 1.0
IDLE_TO_START_SECONDS = 60.0
IDLE_TO_MINIMUM_SECONDS = 120.0
#: A poller denied a call asks again this much later (MODELLING CHOICE: one long poll's length,
#: so a denied poller makes no more requests than one waiting on an empty queue).
DENIED_RETRY_SECONDS = float(limits.SQS_LONG_POLL_SECONDS)


class Item:
    """A received message on its way to the function."""

    __slots__ = ("bytes", "copy", "handle", "id", "receive_count", "received_at", "record")

    def __init__(self, rec, received_at):
        self.id = rec["messageId"]
        self.record = rec
        self.handle = rec["receiptHandle"]
        self.received_at = received_at
        self.bytes = record_bytes(rec)
        self.receive_count = int(rec["attributes"].get("ApproximateReceiveCount", "1"))
        self.copy = False  #: a duplicate delivery of a standard queue (esmlab/sqs/delivery.py)


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
            if poller.provisioned is not None and poller.throughput_spent(self):
                return
            want = min(limits.SQS_MAX_MESSAGES_PER_RECEIVE, poller.mapping.batch_size - len(self.batch))
            answer = poller.receive(want)
            if answer is None:
                return self.denied()
            items, received = answer
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

    def add(self, items) -> str | None:
        """Add received messages; returns the trigger if the batch is now full."""
        size = ENVELOPE_BYTES + sum(i.bytes + 1 for i in self.batch)
        held = {i.id: n for n, i in enumerate(self.batch)}
        for position, item in enumerate(items):
            if item.id in held and item.copy:  # a duplicate of one in this batch: the next batch
                self.carry.append(item)
                continue
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
        if self.poller.provisioned is not None and self.poller.throughput_spent(self):
            return
        # the long poll that was waiting answers: its request was authorized when it began
        items, received = self.poller.receive(
            min(limits.SQS_MAX_MESSAGES_PER_RECEIVE, self.poller.mapping.batch_size - len(self.batch)),
            authorized=True,
        )
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

    def resume(self):
        """After a second held back by provisioned mode's throughput (M4-P)."""
        self.timer = None
        if not self.poller.retire_if_excess(self):
            self.receive()

    def denied(self):
        """ReceiveMessage was denied: ask again later; a batch already gathered is still
        invoked when its window ends (MODELLING CHOICE, see DENIED_RETRY_SECONDS)."""
        retry_at = self.now + DENIED_RETRY_SECONDS
        if self.batch:
            retry_at = min(retry_at, max(self.now, self.window_end))
        self.timer = self.poller.lab.clock.at(retry_at, self.retry_denied)

    def retry_denied(self):
        self.timer = None
        if self.batch and self.now >= self.window_end and not self.poller.stopped:
            return self.close("window")
        if not self.poller.retire_if_excess(self):
            self.receive()

    def close(self, trigger):
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
        self.queue_name = mapping.source_arn.rsplit(":", 1)[-1]
        self.backend = lab.sqs_backend()
        self.slots: set[Slot] = set()
        self.waiting: deque[Slot] = deque()
        self.target = 0
        self.stopped = False
        self.tick_timer = None
        self.last_messages_at = lab.now
        self.busy_at = float("-inf")  # last tick at which no slot was polling
        self.recent_messages = False
        self.recent_errors = 0
        self.wake_scheduled = False
        self.provisioned = None  # a ProvisionedScaling in provisioned mode

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def cap(self) -> int:
        if self.provisioned is not None:
            return self.provisioned.cap
        maximum = self.mapping.maximum_concurrency
        return min(limits.SQS_MAX_CONCURRENCY, maximum or limits.SQS_MAX_CONCURRENCY)

    def start(self):
        if self.stopped:
            return
        if not self.permitted("sqs:GetQueueAttributes"):  # the queue's settings are unknown
            self.lab.clock.after(DENIED_RETRY_SECONDS, self.start)
            return
        if self.mapping.provisioned_pollers is not None:
            self.provisioned = ProvisionedScaling(self.mapping)
            self.set_target(self.provisioned.floor)
        else:
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
        """The mapping was updated: a lower MaximumConcurrency applies at once, and a switch
        between default and provisioned mode (M4-P) starts from the new mode's bounds."""
        provisioned = self.mapping.provisioned_pollers is not None
        if provisioned != (self.provisioned is not None):
            self.provisioned = ProvisionedScaling(self.mapping) if provisioned else None
            floor = self.provisioned.floor if provisioned else min(
                limits.SQS_START_CONCURRENCY, self.cap)
            self.set_target(min(max(self.target, floor), self.cap))
            self.schedule_tick()
        elif self.provisioned is not None:
            if self.target < self.provisioned.floor:
                self.set_target(self.provisioned.floor)  # a higher MinimumPollers
            self.schedule_tick()  # at rest: a lower MinimumPollers applies on the next tick
        if self.target > self.cap:
            self.set_target(self.cap)

    def set_target(self, target):
        if target != self.target:
            self.target = target
            detail = {"concurrency": target}
            if self.provisioned is not None:
                detail["pollers"] = self.provisioned.pollers(target)
            self.lab.trace.add(
                self.lab.now, "scale", mapping=self.mapping.uuid, source=self.queue_arn,
                detail=detail,
            )
        while len(self.slots) < self.target:
            slot = Slot(self)
            self.slots.add(slot)
            self.lab.clock.at(self.lab.now, slot.begin)
        for slot in [s for s in self.waiting if not s.batch]:
            if len(self.slots) <= self.target:
                break
            self.waiting.remove(slot)
            slot.stop()
            self.slots.discard(slot)
            self.record_poll([])  # its long poll ends empty: still a billed request

    def retire_if_excess(self, slot) -> bool:
        """Retire ``slot`` if the mapping stopped, or if there are too many slots and it holds
        no messages (a stopped mapping drops them: they reappear after the visibility timeout)."""
        excess = len(self.slots) > self.target and not slot.carry and not slot.batch
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
        if self.provisioned is not None:
            return self.tick_provisioned()
        floor = min(limits.SQS_START_CONCURRENCY, self.cap)
        if not self.waiting:
            # MODELLING CHOICE (as provisioned mode's M4-P): a second in which no slot is
            # polling, every one busy with a batch, is not idle. Without this, invocations
            # longer than 60 s looked like an idle queue and the target fell while a backlog
            # remained.
            self.busy_at = self.lab.now
        idle = self.lab.now - max(self.last_messages_at, self.busy_at)
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

    def tick_provisioned(self):
        """M4-P: provisioned mode's step, with M4's triggers (provisioned.py)."""
        target, at_rest = self.provisioned.next_target(
            self.target,
            now=self.lab.now,
            polling=bool(self.waiting),
            messages_at=self.last_messages_at,
            backlog=self.recent_messages and not self.waiting,
            errors=self.recent_errors,
            seconds=TICK_SECONDS,
        )
        self.recent_messages, self.recent_errors = False, 0
        self.set_target(target)
        if not at_rest:
            self.schedule_tick()

    def throughput_spent(self, slot) -> bool:
        """M4-P: the pollers in use have received their 1 MB/s; ``slot`` resumes at the next
        whole second (no request is made meanwhile)."""
        if not self.provisioned.over_budget(self.lab.now, self.target):
            return False
        slot.timer = self.lab.clock.at(math.floor(self.lab.now) + 1.0, slot.resume)
        return True

    # --- talking to SQS --------------------------------------------------------------------------

    def permitted(self, action, records=()) -> bool:
        """IAM at run time: may the execution role make this call on the queue now?

        A denial is traced (``denied``) and shown in the mapping's ``LastProcessingResult``.
        A mapping whose function is not registered (any more) has no role to check: its
        invocations are throttled instead (see ``attempt``)."""
        function = self.lab.functions.get(self.mapping.function_name)
        if function is None or allowed_cached(function.role, action, self.queue_arn,
                                              self.lab.account_id):
            return True
        self.mapping.sqs_processing_result = limits.SQS_DENIED_RESULT.format(
            call=action.split(":", 1)[1])
        self.lab.trace.add(
            self.lab.now, "denied", mapping=self.mapping.uuid, source=self.queue_arn,
            records=tuple(records), detail={"action": action, "role": function.role},
        )
        return False

    def receive(self, count, authorized=False) -> tuple[list[Item], list[str]] | None:
        """One ReceiveMessage; returns (messages for the function, ids of all received), or
        None if the execution role may not receive (nothing was received). ``authorized``: the
        continuation of a long poll, whose request was checked when it began.

        The request goes to moto's SQS backend directly, not through a boto3 client: the same
        backend call moto's HTTP handler makes, with the same arguments, and the same response
        shape (event.response_message), at a fraction of the cost. Nothing a learner sees changes:
        the trace, the receive counts, the visibility rules and esmlab's moto corrections
        (esmlab/moto/sqs.py) all sit below this call.
        """
        if not authorized and not self.permitted("sqs:ReceiveMessage"):
            return None
        lab = self.lab
        lab.ledger.actor = self.mapping.uuid
        try:
            queue = self.backend.get_queue(self.queue_name)
            messages = self.backend.receive_message(
                self.queue_name, count, 0, queue.visibility_timeout, ["All"]
            )
        finally:
            lab.ledger.actor = None
        lab.cloudwatch.publisher.sqs_called = True  # as the boto3 hook would have noted
        gen_amzn_requestid_long()  # the request id moto's handler draws: same seed, same ids
        now, region, arn = lab.now, lab.region, self.queue_arn
        items = [Item(record(response_message(m), arn, region), now) for m in messages]
        if lab.delivery.duplicates:
            copies = moto_sqs.copy_handles(queue)
            for item in items:
                item.copy = item.handle in copies
        received = [i.id for i in items]
        if self.provisioned is not None:
            self.provisioned.received(sum(i.bytes for i in items))
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
            if self.delete(dropped):
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

    def delete(self, items) -> bool:
        """DeleteMessageBatch, 10 entries a request, straight to moto's backend (see receive).
        False if the role may not delete (nothing was deleted)."""
        if not items:
            return True
        if not self.permitted("sqs:DeleteMessage", [i.id for i in items]):
            return False
        self.lab.ledger.actor = self.mapping.uuid
        try:
            for start in range(0, len(items), 10):
                chunk = items[start : start + 10]
                self.backend.delete_message_batch(
                    self.queue_name,
                    [{"Id": str(n), "ReceiptHandle": i.handle} for n, i in enumerate(chunk)],
                )
                gen_amzn_requestid_long()  # as in receive
        finally:
            self.lab.ledger.actor = None
        self.lab.cloudwatch.publisher.sqs_called = True
        return True

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
        # the retry deadline needs the queue's visibility timeout; denied, give the batch up
        readable = self.permitted("sqs:GetQueueAttributes")
        deadline = min(i.received_at for i in batch) + self.visibility_timeout()
        if readable and self.lab.now + THROTTLE_RETRY_SECONDS < deadline:
            self.lab.clock.after(THROTTLE_RETRY_SECONDS, self.attempt, slot, batch)
            return
        self.lab.trace.add(
            self.lab.now, "gave_up", mapping=self.mapping.uuid, source=self.queue_arn,
            records=tuple(i.id for i in batch),
        )
        slot.begin()

    def finish(self, slot, batch, invocation, result, function):
        self.lab.concurrency.release(function.name)
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
        done = [i for i in batch if i.id not in failed_set]
        if self.delete(done) and done and self.mapping.sqs_processing_result is not None:
            self.mapping.sqs_processing_result = limits.SQS_RECOVERED_RESULT
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
                and message.receipt_handle == item.handle  # not received since (nor a copy)
                and message.visible
            ):
                back.append(item.id)
        if back:
            self.lab.trace.add(
                self.lab.now, "visible_again", mapping=self.mapping.uuid, source=self.queue_arn,
                records=tuple(back),
            )
            self.on_available()
