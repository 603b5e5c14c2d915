"""The trace: everything that happened in a lab, in order, as objects and as a DataFrame.

Labs plot it, checks grade it, tests assert on it. Each :class:`Event` has a ``kind``:

=================  =====================================================================
kind               meaning
=================  =====================================================================
``send``           a message entered a queue (``records``: its id)
``poll``           one ``ReceiveMessage`` request by a poller (``records``: ids returned;
                   an empty list is an empty receive, which SQS bills like any other)
``batch``          a batch closed (``detail["trigger"]``: ``window``, ``batch_size``,
                   ``payload_limit``)
``invoke_start``   an invocation began (``invocation``: its request id)
``invoke_end``     it ended (``outcome``: ``success``, ``partial``, ``error``, ``timeout``,
                   ``invalid_response``; ``detail``: ``returned``, ``error``, ``failed`` ids)
``throttle``       an invocation was refused for lack of concurrency
``delete``         a message was deleted from its queue
``stale_delete``   a delete used an old receipt handle, so nothing was deleted
``duplicate``      a receive returned a copy of a standard-queue message (at-least-once
                   delivery; ``detail["receive_count"]``): the same message again, not a
                   new one (esmlab/sqs/delivery.py)
``duplicate_delete`` a delete ended such a copy (the message itself is not deleted by it)
``visible_again``  a received message that was not deleted became visible again
``redrive``        SQS moved a message to the dead-letter queue (``detail["dlq"]``)
``expire``         SQS removed a message older than the queue's retention period
``purge``          a message was removed by ``PurgeQueue``
``scale``          the mapping's concurrency target changed (``detail["concurrency"]``)
``state``          the mapping changed state (``detail["state"]``)
``gave_up``        a throttled batch was given up (it stays in the queue)
``filtered``       records matched none of the mapping's filters (SQS deletes them)
``denied``         SQS: the execution role may not make a call the poller needed
                   (``detail``: ``action``, ``role``; ``records``: messages a denied delete
                   left in the queue)
``bisect``         streams: a failed batch was split (``detail["halves"]``)
``discard``        streams: records given up for a limit (``outcome``: the condition)
``destination``    streams: a failure record was sent (``outcome``: delivered or failed)
``shard_finished`` a closed shard was read to its end and all its records finished; its
                   children (``detail["children"]``) may be read now
``read_throttled`` Kinesis: the shard refused a mapping's ``GetRecords`` for its read limits
                   (``detail["wait"]``: seconds until it accepts reads; retried then)
=================  =====================================================================

Stream events name records by sequence number and carry ``detail["shard"]``; an
``invoke_start`` of a stream mapping has ``detail["iterator_age_ms"]``. On streams a ``batch``
event marks a batch formed from newly read records; its retries and bisect halves are invoked
again without a new ``batch`` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    t: float  #: simulated seconds since the lab started
    kind: str
    mapping: str | None = None  #: the event source mapping's UUID
    source: str | None = None  #: the queue ARN
    invocation: str | None = None  #: the invocation's request id
    records: tuple = ()  #: message ids
    outcome: str | None = None
    detail: dict = field(default_factory=dict)


@dataclass
class Invocation:
    """One invocation of a function by a mapping."""

    request_id: str
    function: str
    mapping: str
    start: float
    records: tuple  #: message ids, in batch order
    end: float | None = None
    outcome: str | None = None  #: success, partial, error, timeout or invalid_response
    returned: object = None  #: what the handler returned
    error: dict | None = None  #: errorType and errorMessage when it failed
    failed: tuple = ()  #: ids that were not processed (the batch's retry set)


def _error_type(invocation) -> str | None:
    return (invocation.error or {}).get("errorType")  # a timeout has a message only


def _error_message(invocation) -> str | None:
    return (invocation.error or {}).get("errorMessage")


def peak_concurrency(invocations) -> int:
    """Most invocations running at one instant, with [start, end) intervals: an invocation that
    ends at t frees its place before one that starts at t. A running one (no end) counts on."""
    points = []
    for invocation in invocations:
        points.append((invocation.start, 1))
        points.append((invocation.end if invocation.end is not None else float("inf"), -1))
    running = peak = 0
    for _, step in sorted(points):  # at a tie, -1 sorts first
        running += step
        peak = max(peak, running)
    return peak


class Trace:
    """An append-only record of a lab's events and invocations."""

    def __init__(self):
        self.events: list[Event] = []
        self.invocations: list[Invocation] = []

    def add(self, t, kind, **fields) -> Event:
        event = Event(t, kind, **fields)
        self.events.append(event)
        return event

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def count(self, kind: str) -> int:
        return sum(1 for e in self.events if e.kind == kind)

    def empty_receives(self, mapping: str | None = None) -> int:
        """SQS ReceiveMessage requests that returned nothing (billed like any other request).

        Stream polls are left out: idle shards are not polled in the simulation, so their empty
        GetRecords calls are not in the trace (docs/simulator.md)."""
        return sum(
            1
            for e in self.events
            if e.kind == "poll" and not e.records and mapping in (None, e.mapping)
            and "shard" not in e.detail
        )

    def frame(self):
        """The events as a pandas DataFrame: one row per event, ``records`` as a tuple."""
        import pandas as pd

        columns = ["t", "kind", "mapping", "source", "invocation", "records", "outcome", "detail"]
        rows = [[getattr(e, c) for c in columns] for e in self.events]
        return pd.DataFrame(rows, columns=columns)

    def invocations_frame(self):
        """The invocations as a DataFrame with ``start``, ``end``, ``size``, ``outcome``...

        ``error_type`` and ``error_message`` say why a failed invocation failed: the handler's
        exception class and text (what Lambda's Python runtime reports as ``errorType`` and
        ``errorMessage``, https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html),
        or the timeout message; both are None for an invocation that did not fail.
        """
        import pandas as pd

        columns = ["request_id", "function", "mapping", "start", "end", "outcome", "records"]
        rows = [
            [getattr(i, c) for c in columns] + [_error_type(i), _error_message(i)]
            for i in self.invocations
        ]
        frame = pd.DataFrame(rows, columns=columns + ["error_type", "error_message"])
        frame["size"] = frame["records"].map(len)
        frame["duration"] = frame["end"] - frame["start"]
        return frame

    def failure_notice(self, since: int = 0) -> str | None:
        """One line about the failed invocations among ``invocations[since:]``, or None.

        ``lab.run`` prints it, so a handler's exception is seen where the learner looks.
        """
        failed = [i for i in self.invocations[since:] if i.error is not None]
        if not failed:
            return None
        first = failed[0]
        ended = sum(1 for i in self.invocations[since:] if i.end is not None)
        reason = _error_message(first)
        if _error_type(first):
            reason = f"{_error_type(first)}: {reason}"
        return (
            f"{len(failed)} of {ended} invocations failed; the first at t={first.start:g}s with "
            f"{reason}. See lab.trace.invocations_frame() (columns error_type, error_message)."
        )

    def fingerprint(self) -> list[tuple]:
        """A comparable summary: two runs with the same seed and calls give equal fingerprints."""
        return [(e.t, e.kind, e.mapping, e.invocation, e.records, e.outcome) for e in self.events]
