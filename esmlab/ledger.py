"""Where every SQS message is: the listener esmlab.moto.sqs calls, and the conservation check.

"Nothing lost": every message that enters a queue ends deleted, redriven to a dead-letter queue,
expired, purged, or is still in the queue, and the trace shows which. :func:`conservation`
proves it by comparing this ledger with what moto actually holds.

A duplicate delivery of a standard-queue message (esmlab/sqs/delivery.py) is a second receipt of
the same message, not a second message: the ledger counts the message once, and counts its
duplicate deliveries beside it (``Entry.duplicates``, ``Conservation.duplicates``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Entry:
    message_id: str
    queue_arn: str
    message: object  #: moto's Message (for visibility checks)
    fate: str = "in_queue"
    history: list = field(default_factory=list)  #: queue ARNs the message has been in
    duplicates: int = 0  #: copies of it that were delivered besides its own receives


class Ledger:
    def __init__(self, lab):
        self.lab = lab
        self.entries: dict[tuple[str, str], Entry] = {}  #: (queue ARN, message id) -> entry
        self.actor: str | None = None  #: the mapping whose call is under way, for attribution

    def _event(self, kind, queue, message, **fields):
        self.lab.trace.add(
            self.lab.now,
            kind,
            source=queue.queue_arn,
            records=(message.id,),
            mapping=self.actor,
            **fields,
        )

    def on_enqueue(self, queue, message):
        self.entries[(queue.queue_arn, message.id)] = Entry(message.id, queue.queue_arn, message)
        self._event("send", queue, message)
        self.lab.sqs_arrival(queue, message)

    def _end(self, queue, message, fate):
        entry = self.entries.get((queue.queue_arn, message.id))
        if entry is not None:
            entry.fate = fate

    def on_delete(self, queue, message):
        self._end(queue, message, "deleted")
        self._event("delete", queue, message)

    def on_copy_made(self, queue):
        """A receive left a copy of a message: wake the queue's long polls, as for an arrival."""
        self.lab.sqs_copy_available(queue)

    def on_duplicate(self, queue, message):
        entry = self.entries.get((queue.queue_arn, message.id))
        if entry is not None:
            entry.duplicates += 1
        self._event("duplicate", queue, message,
                    detail={"receive_count": message.approximate_receive_count})

    def on_duplicate_delete(self, queue, message):
        self._event("duplicate_delete", queue, message)

    def on_stale_delete(self, queue, message):
        self._event("stale_delete", queue, message)

    def on_expire(self, queue, message):
        self._end(queue, message, "expired")
        self._event("expire", queue, message)

    def on_purge(self, queue, message):
        self._end(queue, message, "purged")
        self._event("purge", queue, message)

    def on_redrive(self, queue, dlq, message):
        self._end(queue, message, "redriven")
        self._event("redrive", queue, message, detail={"dlq": dlq.queue_arn})
        self.entries[(dlq.queue_arn, message.id)] = Entry(message.id, dlq.queue_arn, message)
        self.lab.trace.add(
            self.lab.now, "send", source=dlq.queue_arn, records=(message.id,),
            detail={"redriven_from": queue.queue_arn},
        )

    def fate(self, queue_arn, message_id) -> str | None:
        entry = self.entries.get((queue_arn, message_id))
        return None if entry is None else entry.fate


@dataclass
class Conservation:
    """Per queue: how many messages entered, and where each one is now."""

    counts: dict  #: queue ARN -> {fate: number}
    lost: list  #: (queue ARN, message id) the ledger says are in a queue but moto does not hold
    unknown: list  #: (queue ARN, message id) moto holds but the ledger never saw enter
    #: queue ARN -> duplicate deliveries (copies of its messages delivered; not messages)
    duplicates: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.unknown

    def __str__(self):
        lines = [f"{arn.split(':')[-1]}: {dict(c)}" for arn, c in self.counts.items()]
        lines += [f"{arn.split(':')[-1]}: {n} duplicate deliveries (the same messages again)"
                  for arn, n in self.duplicates.items()]
        verdict = "every message is accounted for" if self.ok else (
            f"{len(self.lost)} lost, {len(self.unknown)} unaccounted"
        )
        return "\n".join(lines + [verdict])


def conservation(lab) -> Conservation:
    held = {}
    for queue in lab.sqs_backend().queues.values():
        held[queue.queue_arn] = {m.id for m in queue._messages}
    counts, lost, duplicates = {}, [], {}
    for (arn, message_id), entry in lab.ledger.entries.items():
        per_queue = counts.setdefault(arn, {"entered": 0})
        per_queue["entered"] += 1
        per_queue[entry.fate] = per_queue.get(entry.fate, 0) + 1
        if entry.fate == "in_queue" and message_id not in held.get(arn, ()):
            lost.append((arn, message_id))
        if entry.duplicates:
            duplicates[arn] = duplicates.get(arn, 0) + entry.duplicates
    unknown = [
        (arn, mid) for arn, ids in held.items() for mid in ids if (arn, mid) not in lab.ledger.entries
    ]
    return Conservation(counts, lost, unknown, duplicates)


class StreamLedger:
    """Per mapping, the fate of every stream record it read.

    Each mapping on a stream gets every record (observed in AWS, 2025), so fates are kept per mapping:
    ``in_flight`` (read, not finished), ``processed``, ``filtered``, ``destination`` (discarded
    and written to the on-failure destination), ``dropped`` (discarded with no destination, or
    delivery failed), ``expired`` (left the stream's retention before it was processed).
    """

    def __init__(self, lab):
        self.lab = lab
        self.fates: dict[tuple[str, str, int], str] = {}

    def read(self, poller, rec) -> bool:
        key = (poller.mapping.uuid, rec.shard, rec.position)
        if poller.mapping.config.get("Patterns") and not self.lab.matches(poller, rec.record):
            self.fates[key] = "filtered"
            poller.trace("filtered", records=(rec.sequence,))
            return False
        self.fates[key] = "in_flight"
        return True

    def settle(self, poller, rec, fate):
        self.fates[(poller.mapping.uuid, rec.shard, rec.position)] = fate


def stream_conservation(lab, mapping_uuid) -> dict:
    """Counts of fates for one stream mapping, and the in-flight records the poller cannot
    account for (should be none): {"counts": {...}, "lost": [...]}."""
    counts, in_flight = {}, set()
    for (uuid, shard, position), fate in lab.stream_ledger.fates.items():
        if uuid == mapping_uuid:
            counts[fate] = counts.get(fate, 0) + 1
            if fate == "in_flight":
                in_flight.add((shard, position))
    poller = lab._pollers.get(mapping_uuid)
    held = set()
    if poller is not None:
        for shard in poller.shards.values():
            for lane in shard.lanes:
                held |= {(r.shard, r.position) for r in lane.pending}
                for batch in lane.stack:
                    held |= {(r.shard, r.position) for r in batch.records}
        for _, batch in poller.in_flight.values():
            held |= {(r.shard, r.position) for r in batch.records}
    mapping = lab.mappings.get(mapping_uuid)
    resumable = set()
    if mapping is not None and poller is None:  # disabled: unfinished records are re-read later
        resumable = in_flight
    return {"counts": counts, "lost": sorted(in_flight - held - resumable)}
