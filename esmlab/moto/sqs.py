"""Fixes and observation hooks for moto's SQS backend, applied only while a Lab is open.

Why this module exists (measured with moto 5.2.5, see docs/simulator.md):

* Speed. moto rebuilds every queue attribute, scanning all messages with a datetime-based clock,
  on each send and on each message received, and rebuilds its message list on each delete. A
  10,000-message backlog then takes minutes. We keep moto's data structures and replace the hot
  paths with equivalent code that does not rescan the queue.
* AWS behaviour that moto lacks and a lesson depends on:
  - retention: SQS deletes a message once it is older than ``MessageRetentionPeriod``
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html);
    moto leaves it counted and stuck in flight.
  - stale receipt handles: "you must provide the most recently received receipt handle ...
    otherwise, the request succeeds, but the message might not be deleted"
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html).
    MODELLING CHOICE: a stale handle never deletes.
  - FIFO ``SequenceNumber`` increases within a queue (moto draws random digits).
  - a message is visible again at the instant its visibility timeout ends (moto: one tick later).
* Observation: the trace must see every message enter and leave a queue, so sends, deletes,
  redrives, expiries and purges call the open Lab's listener.
* Standard queues deliver in best-effort order and at least once: when the Lab asks for it, a
  receive passes over some messages and leaves occasional copies (the rules and their sources
  are in esmlab/sqs/delivery.py; MODELLING CHOICES).

moto must never invoke a function: the ``add_message`` below has no event-source-mapping branch.
"""

from __future__ import annotations

import json
import string
import time
from collections.abc import Mapping
from copy import copy

from moto.core.utils import camelcase_to_underscores
from moto.moto_api._internal import mock_random
from moto.sqs import models as sqs_models
from moto.sqs.exceptions import ReceiptHandleIsInvalid

from .patching import Patches

_listener = None
_delivery = None  # the open Lab's esmlab.sqs.delivery.Delivery (standard queues only)
# moto's own FIFO de-duplication interval (five minutes, as in SQS).
_DEDUP_MS = sqs_models.DEDUPLICATION_TIME_IN_SECONDS * 1000


def now_ms() -> float:
    """The simulated wall clock in epoch milliseconds (time-machine moves ``time.time``)."""
    return time.time() * 1000.0


class LazyQueueAttributes(Mapping):
    """moto's ``Queue.attributes`` dict, computed key by key instead of all at once."""

    def __init__(self, queue):
        self._queue = queue
        keys = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            keys += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            keys += queue.KMS_ATTRIBUTES
        if queue.policy:
            keys.append("Policy")
        if queue.redrive_policy:
            keys.append("RedrivePolicy")
        self._keys = keys

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyError(key)
        queue = self._queue
        if key == "Policy":
            return queue.policy
        if key == "RedrivePolicy":
            return json.dumps(queue.redrive_policy)
        value = getattr(queue, camelcase_to_underscores(key))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self):
        return iter(self._keys)

    def __len__(self):
        return len(self._keys)


def _queue_attributes(self):
    return LazyQueueAttributes(self)


def _visible(self):
    return now_ms() >= self.visible_at


def _delayed(self):
    return now_ms() < self.delayed_until


def _handles(queue) -> dict:
    # receipt handle -> message, for every handle this queue ever issued
    return queue.__dict__.setdefault("_esmlab_handles", {})


def add_message(self, message):
    """moto's add_message without its built-in Lambda trigger, plus ordered FIFO sequence numbers."""
    if self.fifo_queue and message.deduplication_id:
        for other in self._messages:
            if (
                other.deduplication_id == message.deduplication_id
                and message.sent_timestamp - other.sent_timestamp < _DEDUP_MS
            ):
                return
    if self.fifo_queue:
        counter = self.__dict__.get("_esmlab_seq", 0) + 1
        self.__dict__["_esmlab_seq"] = counter
        # 20 digits, increasing within the queue, as SQS FIFO sequence numbers are.
        message.sequence_number = str(18_000_000_000_000_000_000 + counter)
    with self._messages_lock:
        self._messages.append(message)
    _note_oldest(self, message)
    if _listener is not None:
        _listener.on_enqueue(self, message)


def _note_oldest(queue, message):
    """Keep a lower bound of the queue's oldest sent time, so expiry need not rescan it."""
    known = queue.__dict__.get("_esmlab_oldest")
    if known is None:
        known = min((m.sent_timestamp for m in queue._messages), default=float("inf"))
    queue.__dict__["_esmlab_oldest"] = min(known, message.sent_timestamp)


def expire_messages(queue, now: float | None = None) -> list:
    """Remove messages older than the queue's retention period, as SQS does; returns them."""
    now = now_ms() if now is None else now
    limit = now - int(queue.message_retention_period) * 1000
    oldest = queue.__dict__.get("_esmlab_oldest")
    if oldest is not None and oldest > limit:
        return []
    expired = [m for m in queue._messages if m.sent_timestamp <= limit]
    remaining = (m.sent_timestamp for m in queue._messages if m.sent_timestamp > limit)
    queue.__dict__["_esmlab_oldest"] = min(remaining, default=float("inf"))
    for message in expired:
        _remove(queue, message)
        if _listener is not None:
            _listener.on_expire(queue, message)
    return expired


def _remove(queue, message):
    queue._messages.remove(message)
    queue._pending_messages.discard(message)
    message.__dict__["_esmlab_removed"] = True


# --- duplicates (esmlab/sqs/delivery.py) ---------------------------------------------------------


def copy_handles(queue) -> dict:
    """Receipt handle -> message, for each copy delivered and not yet deleted."""
    return queue.__dict__.setdefault("_esmlab_copy_handles", {})


def _pending_copies(queue) -> list:
    # [message, until_ms]: copies made by a receive, receivable once until ``until_ms``
    return queue.__dict__.setdefault("_esmlab_copies", [])


def _deliver_copies(queue, now, count, message_attribute_names, result):
    """Serve the queue's pending copies first, as if from the servers that hold them."""
    pending = _pending_copies(queue)
    kept = []
    for entry in pending:
        message, until = entry
        removed = message.__dict__.get("_esmlab_removed")
        deleted = message.receipt_handle in queue.deleted_messages
        # a copy lives until the original receive's visibility timeout ends; a message that
        # left the queue otherwise than by a delete (redriven, expired) leaves no copy behind
        if now >= until or (removed and not deleted):
            continue
        if len(result) >= count:
            kept.append(entry)
            continue
        message.approximate_receive_count += 1  # another receive, as SQS counts them
        received = copy(message)
        received.receipt_handle = generate_receipt_handle()
        sqs_models._filter_message_attributes(received, message_attribute_names or [])
        copy_handles(queue)[received.receipt_handle] = message
        result.append(received)
        if _listener is not None:
            _listener.on_duplicate(queue, message)
    pending[:] = kept


def receive_message(
    self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names=None
):
    """moto's receive, in one pass over the queue.

    Same rules as moto: skip invisible and delayed messages, skip FIFO groups that have a message
    in flight when the call starts, move messages that reached the redrive policy's
    ``maxReceiveCount`` to the DLQ. Long polling is modelled by the simulator, so an empty
    queue answers at once whatever ``WaitTimeSeconds`` says.
    """
    queue = self.get_queue(queue_name)
    now = now_ms()
    expire_messages(queue, now)
    # messages whose visibility timeout has ended are no longer in flight: their FIFO group is
    # free again (moto recomputes the pending groups in its loop for the same reason)
    queue._pending_messages = {m for m in queue._pending_messages if now < m.visible_at}
    pending_groups = queue.pending_message_groups if queue.fifo_queue else set()
    redrive = queue.redrive_policy if queue.dead_letter_queue is not None else None
    delivery = None if queue.fifo_queue or _delivery is None or _delivery.exact else _delivery
    result, to_dlq, passed = [], [], []
    if delivery is not None and queue.__dict__.get("_esmlab_copies"):
        _deliver_copies(queue, now, count, message_attribute_names, result)
    for message in queue._messages:
        if len(result) >= count:
            break
        if now < message.visible_at or now < message.delayed_until:
            continue
        queue._pending_messages.discard(message)
        if queue.fifo_queue and message.group_id in pending_groups:
            continue
        if redrive and message.approximate_receive_count >= redrive["maxReceiveCount"]:
            to_dlq.append(message)
            continue
        if delivery is not None and delivery.passes_over():
            passed.append(message)  # best-effort order: a later message goes first
            continue
        result.append(_take(queue, message, visibility_timeout, message_attribute_names, delivery))
    for message in passed[: max(0, count - len(result))]:  # never a shorter answer for it
        result.append(_take(queue, message, visibility_timeout, message_attribute_names, delivery))
    for message in to_dlq:
        _remove(queue, message)
        queue.dead_letter_queue._messages.append(message)
        _note_oldest(queue.dead_letter_queue, message)
        if _listener is not None:
            _listener.on_redrive(queue, queue.dead_letter_queue, message)
    return result


def _take(queue, message, visibility_timeout, message_attribute_names, delivery):
    """Receive ``message``: hide it, issue a receipt handle, maybe leave a copy."""
    queue._pending_messages.add(message)
    message.mark_received(visibility_timeout=visibility_timeout)
    _handles(queue)[message.receipt_handle] = message
    # a shallow copy suffices: the filter below assigns a new attribute dict
    received = copy(message)
    sqs_models._filter_message_attributes(received, message_attribute_names or [])
    if delivery is not None and delivery.copies():
        hidden = int(visibility_timeout or queue.visibility_timeout) * 1000
        _pending_copies(queue).append([message, now_ms() + hidden])
        if _listener is not None:
            _listener.on_copy_made(queue)
    return received


def delete_message(self, receipt_handle):
    """Delete by the latest receipt handle only; a stale handle succeeds without deleting.

    A duplicate's handle ends that copy only (esmlab/sqs/delivery.py)."""
    copies = self.__dict__.get("_esmlab_copy_handles")
    if copies and receipt_handle in copies:
        message = copies.pop(receipt_handle)
        if _listener is not None:
            _listener.on_duplicate_delete(self, message)
        return
    if receipt_handle in self.deleted_messages:
        return
    message = _handles(self).get(receipt_handle)
    if message is None:
        raise ReceiptHandleIsInvalid()
    if message.receipt_handle != receipt_handle:
        if _listener is not None:
            _listener.on_stale_delete(self, message)
        return
    if message not in self._messages:  # already redriven or expired
        return
    _remove(self, message)
    self.deleted_messages.update(message.all_receipt_handles)
    if _listener is not None:
        _listener.on_delete(self, message)


def generate_receipt_handle() -> str:
    """moto's 185 lowercase letters, drawn in one call instead of 185."""
    return "".join(mock_random.choices(string.ascii_lowercase, k=185))


def purge_queue(self, queue_name):
    queue = self.get_queue(queue_name)
    purged = list(queue._messages)
    queue.__dict__.pop("_esmlab_copies", None)  # PurgeQueue deletes every copy too
    _saved_purge(self, queue_name)
    if _listener is not None:
        for message in purged:
            _listener.on_purge(queue, message)


def _retention_ok(self, queue_name, message):
    queue = self.get_queue(queue_name)
    return message.sent_timestamp + int(queue.message_retention_period) * 1000 > now_ms()


_PATCHES = Patches([
    (sqs_models.Queue, "attributes", property(_queue_attributes)),
    (sqs_models.Queue, "add_message", add_message),
    (sqs_models.Queue, "delete_message", delete_message),
    (sqs_models.Message, "visible", property(_visible)),
    (sqs_models.Message, "delayed", property(_delayed)),
    (sqs_models.SQSBackend, "receive_message", receive_message),
    (sqs_models.SQSBackend, "purge_queue", purge_queue),
    (sqs_models.SQSBackend, "is_message_valid_based_on_retention_period", _retention_ok),
    (sqs_models, "generate_receipt_handle", generate_receipt_handle),
    (sqs_models, "unix_time_millis", lambda dt=None: now_ms() if dt is None else _orig_millis(dt)),
])
_orig_millis = sqs_models.unix_time_millis
_saved_purge = sqs_models.SQSBackend.purge_queue


def install(listener, delivery=None) -> None:
    """Apply the fixes and route SQS events to ``listener`` (the open Lab's recorder);
    ``delivery`` (esmlab.sqs.delivery.Delivery) sets how standard queues deliver."""
    global _listener, _delivery
    _PATCHES.apply()
    _listener, _delivery = listener, delivery


def uninstall() -> None:
    """Restore moto exactly as it was."""
    global _listener, _delivery
    _PATCHES.restore()
    _listener = _delivery = None
