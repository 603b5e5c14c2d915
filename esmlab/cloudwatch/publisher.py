"""The metrics AWS publishes for functions, mappings and queues, written into moto's CloudWatch.

moto stores metric data with any timestamp and answers ``GetMetricData`` and
``GetMetricStatistics``, but publishes nothing for Lambda or SQS. The publisher does, with AWS's
namespace, metric name, dimension and unit, at simulated 1-minute timestamps (Lambda sends its
metrics in 1-minute intervals: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html;
SQS publishes per minute too:
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html).

It costs the runtime nothing while it runs: counts are read from the trace only when someone asks
(any CloudWatch call, an alarm evaluation, a minute's queue sample), aggregated per minute and
stored as one statistic set (SampleCount, Sum, Minimum, Maximum) per metric and minute, which is
what CloudWatch keeps for a 1-minute metric.

What is published (``AWS/Lambda``: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html):

* per function (``FunctionName``): ``Invocations`` and ``Errors`` (one sample per invocation,
  1 or 0, at the minute the invocation started, as AWS timestamps them), ``Duration``
  (Milliseconds), ``Throttles``, ``ConcurrentExecutions`` (Maximum of the minute),
  ``IteratorAge`` (stream mappings, Milliseconds), ``DestinationDeliveryFailures``;
* per mapping (``EventSourceMappingUUID``, the dimension the console filters by:
  https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-view.html), only when the
  mapping has ``MetricsConfig: {"Metrics": ["EventCount"]}``: the event counts of
  :mod:`esmlab.metrics` (the same figures, computed by the same function);
* per queue (``AWS/SQS``, ``QueueName``): ``NumberOfMessagesSent``, ``SentMessageSize`` (Bytes),
  ``NumberOfMessagesReceived``, ``NumberOfEmptyReceives``, ``NumberOfMessagesDeleted``, and the
  sampled gauges ``ApproximateNumberOfMessagesVisible``, ``...NotVisible``, ``...Delayed`` and
  ``ApproximateAgeOfOldestMessage`` (Seconds).

MODELLING CHOICES (listed in docs/simulator.md):

* Queue gauges are sampled once a minute, at the minute's end, onto that minute's datapoint.
* ``NumberOfMessagesReceived`` and ``NumberOfEmptyReceives`` count the mappings' receives only
  (the trace records those); a learner's own ``receive_message`` calls are not counted.
* ``ApproximateAgeOfOldestMessage`` is measured from the time the message entered *this* queue
  (for a dead-letter queue: when it was moved there, as AWS says:
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html).
  SQS's exclusion of messages received three times or more ("poison pills") is not modelled.
* A message redriven to a dead-letter queue does not count in the DLQ's
  ``NumberOfMessagesSent`` (AWS: only messages sent to it directly are counted, same SQS
  metrics page).
* The event counts follow the mapping's *current* ``MetricsConfig``.
"""

from __future__ import annotations

import datetime as dt

from moto.cloudwatch.models import MetricAggregatedDatum, cloudwatch_backends

from .. import metrics
from ..clock import START
from . import dynamodb
from .kinesis import KinesisCounter

MINUTE = 60.0
ERROR_OUTCOMES = ("error", "timeout")
QUEUE_GAUGES = (
    "ApproximateNumberOfMessagesVisible",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
#: Event counts AWS publishes per mapping only with MetricsConfig EventCount.
EVENT_COUNTS = tuple(m for m in metrics.COUNTS if m != "DestinationDeliveryFailures")


def minute_of(t: float) -> float:
    return (t // MINUTE) * MINUTE


def timestamp(t: float) -> dt.datetime:
    """moto keeps metric timestamps as naive UTC datetimes."""
    return (START + dt.timedelta(seconds=t)).replace(tzinfo=None)


def message_bytes(message) -> int:
    """Body plus message attributes (name, type and value count toward a message's size:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html)."""
    size = len(message.body.encode())
    for name, attribute in message.message_attributes.items():
        value = attribute.get("StringValue") or attribute.get("BinaryValue") or ""
        size += len(name.encode()) + len(attribute.get("DataType", "").encode())
        size += len(value.encode() if isinstance(value, str) else value)
    return size


class Publisher:
    """Reads the trace (from where it stopped last time) and writes datapoints into moto."""

    def __init__(self, lab):
        self.lab = lab
        self._seen = 0  #: trace events already counted
        self._buckets: dict = {}  #: (namespace, name, dims, unit, minute) -> [n, sum, min, max]
        self._running: dict = {}  #: function -> invocations running
        self._functions: dict = {}  #: mapping UUID -> (function, EventCount on); outlives it
        self._starts: dict = {}  #: request id -> start time
        self._moved_at: dict = {}  #: (queue ARN, message id) -> when it was redriven there
        self._queue_states: dict = {}  #: queue ARN -> its last scan (see _scan)
        self._touched: set = set()  #: queues the trace mentions since the last sample
        self.sqs_called = False  #: any SQS API call since the last sample (set by a hook)
        self._sampler = None
        self._minute_hooks: list = []  #: called after each minute's sample (alarms)
        self.kinesis = KinesisCounter(lab, self.add)

    def backend(self):
        return cloudwatch_backends[self.lab.account_id][self.lab.region]

    def start(self) -> None:
        self._sampler = self.lab.clock.at(MINUTE, self._minute)

    def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()

    # --- aggregation ---------------------------------------------------------------------------

    def add(self, namespace, name, dims, unit, t, value) -> None:
        key = (namespace, name, dims, unit, minute_of(t))
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [1, value, value, value]
        else:
            bucket[0] += 1
            bucket[1] += value
            bucket[2] = min(bucket[2], value)
            bucket[3] = max(bucket[3], value)

    def flush(self) -> None:
        """Count the trace events since the last flush and store the datapoints in moto."""
        events = self.lab.trace.events
        self._remember_mappings()
        for event in events[self._seen:]:
            self._count(event)
        self._seen = len(events)
        data = self.backend().metric_data
        for (namespace, name, dims, unit, minute), (n, total, low, high) in self._buckets.items():
            data.append(MetricAggregatedDatum(
                namespace=namespace, name=name, min_stat=low, max_stat=high, sample_count=n,
                sum_stat=total, dimensions=[{"Name": k, "Value": v} for k, v in dims],
                timestamp=timestamp(minute), unit=unit,
            ))
        self._buckets.clear()

    def remember(self, mapping) -> None:
        """Keep the mapping's function and MetricsConfig (called again when it is deleted)."""
        config = mapping.config.get("MetricsConfig") or {}
        self._functions[mapping.uuid] = (mapping.function_name,
                                         "EventCount" in (config.get("Metrics") or ()))

    def _remember_mappings(self) -> None:
        for mapping in self.lab.mappings.values():
            self.remember(mapping)

    def _count(self, event) -> None:
        kind, t = event.kind, event.t
        if event.source and event.source.startswith("arn:aws:sqs:"):
            self._count_queue(event)
        elif kind == "poll" and event.source and event.source.startswith("arn:aws:kinesis:"):
            self.kinesis.get_records(event)
        elif kind == "poll" and event.source and ":dynamodb:" in event.source:
            dynamodb.get_records(self.add, event)
        if event.mapping is None:
            return
        function, event_counts = self._functions.get(event.mapping, (None, False))
        if function is None:
            return
        fn = (("FunctionName", function),)
        if kind == "invoke_start":
            self._starts[event.invocation] = t
            self.add("AWS/Lambda", "Invocations", fn, "Count", t, 1.0)
            self._running[function] = running = self._running.get(function, 0) + 1
            self.add("AWS/Lambda", "ConcurrentExecutions", fn, "Count", t, float(running))
            if "iterator_age_ms" in event.detail:
                self.add("AWS/Lambda", "IteratorAge", fn, "Milliseconds", t,
                         float(event.detail["iterator_age_ms"]))
        elif kind == "invoke_end":
            start = self._starts.pop(event.invocation, t)
            failed = 1.0 if event.outcome in ERROR_OUTCOMES else 0.0
            self.add("AWS/Lambda", "Errors", fn, "Count", start, failed)
            self.add("AWS/Lambda", "Duration", fn, "Milliseconds", start, (t - start) * 1000)
            self._running[function] = max(0, self._running.get(function, 0) - 1)
        elif kind == "throttle":
            self.add("AWS/Lambda", "Throttles", fn, "Count", t, 1.0)
        elif kind == "destination" and event.outcome != "delivered":
            self.add("AWS/Lambda", "DestinationDeliveryFailures", fn, "Count", t, 1.0)
        if event_counts:
            esm = (("EventSourceMappingUUID", event.mapping),)
            for name, value in metrics._contributions(event):
                if name in EVENT_COUNTS:
                    self.add("AWS/Lambda", name, esm, "Count", t, float(value))

    def _count_queue(self, event) -> None:
        kind, t = event.kind, event.t
        self._touched.add(event.source)
        queue = (("QueueName", event.source.rsplit(":", 1)[-1]),)
        if kind == "send":
            if "redriven_from" in event.detail:
                for message_id in event.records:
                    self._moved_at[(event.source, message_id)] = t
                return
            for message_id in event.records:
                self.add("AWS/SQS", "NumberOfMessagesSent", queue, "Count", t, 1.0)
                entry = self.lab.ledger.entries.get((event.source, message_id))
                if entry is not None:
                    self.add("AWS/SQS", "SentMessageSize", queue, "Bytes", t,
                             float(message_bytes(entry.message)))
        elif kind == "poll" and "shard" not in event.detail:
            n = len(event.records)
            self.add("AWS/SQS", "NumberOfMessagesReceived", queue, "Count", t, float(n))
            self.add("AWS/SQS", "NumberOfEmptyReceives", queue, "Count", t, 0.0 if n else 1.0)
        elif kind == "delete":
            self.add("AWS/SQS", "NumberOfMessagesDeleted", queue, "Count", t, 1.0)

    def throughput_exceeded(self, stream_name, direction, t=None) -> None:
        """One record (Write) or GetRecords call (Read) that a shard's throughput limit refused
        (``...ProvisionedThroughputExceeded``, Count; esmlab.streams.throughput)."""
        if direction not in ("Write", "Read"):
            raise ValueError(f"direction must be 'Write' or 'Read', got {direction!r}")
        self.add("AWS/Kinesis", f"{direction}ProvisionedThroughputExceeded",
                 (("StreamName", stream_name),), "Count", self.lab.now if t is None else t, 1.0)

    # --- the minute tick -----------------------------------------------------------------------

    def _minute(self) -> None:
        now = self.lab.now
        self.flush()  # first: redrives tell the DLQ's message ages
        self.sample_queues(now - MINUTE)
        for function, running in self._running.items():
            if running:  # invocations still running at the minute's end count in it
                self.add("AWS/Lambda", "ConcurrentExecutions", (("FunctionName", function),),
                         "Count", now - MINUTE, float(running))
        self.flush()
        for hook in self._minute_hooks:
            hook(now)
        self._sampler = self.lab.clock.at(now + MINUTE, self._minute)

    def sample_queues(self, minute) -> None:
        now_ms = self.lab.clock.epoch() * 1000
        for queue in self.lab.sqs_backend().queues.values():
            state = self._queue_states.get(queue.queue_arn)
            if (state is None or self.sqs_called or queue.queue_arn in self._touched
                    or state[0] != len(queue._messages) or now_ms >= state[4]):
                state = self._scan(queue, now_ms)  # otherwise nothing changed: reuse it
                self._queue_states[queue.queue_arn] = state
            _count, visible, not_visible, delayed, _deadline, oldest = state
            dims = (("QueueName", queue.name),)
            for name, value in zip(QUEUE_GAUGES, (visible, not_visible, delayed), strict=True):
                self.add("AWS/SQS", name, dims, "Count", minute, float(value))
            if oldest is not None:  # SQS reports it only while the queue holds a message
                self.add("AWS/SQS", "ApproximateAgeOfOldestMessage", dims, "Seconds", minute,
                         float(max(0, (now_ms - oldest) // 1000)))
        self.sqs_called = False
        self._touched.clear()

    def _scan(self, queue, now_ms) -> tuple:
        """(messages, visible, not visible, delayed, next change of those, oldest entry in ms)."""
        visible = not_visible = delayed = 0
        oldest = None
        deadline = float("inf")
        moved = self._moved_at
        for message in queue._messages:
            if message.delayed_until > now_ms:
                delayed += 1
                deadline = min(deadline, message.delayed_until)
            elif message.visible_at > now_ms:
                not_visible += 1
                deadline = min(deadline, message.visible_at)
            else:
                visible += 1
            entered = moved.get((queue.queue_arn, message.id)) if moved else None
            entered_ms = message.sent_timestamp if entered is None \
                else self.lab.clock.epoch(entered) * 1000
            oldest = entered_ms if oldest is None else min(oldest, entered_ms)
        return len(queue._messages), visible, not_visible, delayed, deadline, oldest
