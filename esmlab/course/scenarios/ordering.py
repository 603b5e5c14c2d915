"""Lab 03 (Ordering): who is processed when, per message group, shard, lane and key.

    from esmlab.course.scenarios import ordering
    result = ordering.fifo(group_by="customer")      # an SQS FIFO queue, one group per customer
    result = ordering.kinesis(pf=4, keys=6)          # one shard read by 4 lanes
    result = ordering.retries(fail_times=1)          # a record that fails once: redelivery
    result = ordering.standard()                     # a standard queue, esmlab.BEST_EFFORT
    ordering.draw(result)

Each scenario is a pure function of its arguments: it opens a fresh :class:`esmlab.Lab` (which
closes any other open lab), creates the source, a function and a mapping with ordinary boto3
calls, writes every message or record at t = 2 s (when the mapping becomes ``Enabled``, M8),
runs simulated time until everything is processed, and returns an :class:`OrderingResult`: one
:class:`Delivery` per record per invocation, with the lane it ran in and the key it belongs to
(:func:`standard` returns a :class:`StandardResult`: the send number of every record the
function was handed, in order). Results are cached (same arguments, same result object).

What the pictures rest on (docs/simulator.md):

* SQS FIFO: order is kept within a message group, a batch may mix groups, and concurrency is at
  most the number of active groups
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html). MODELLING CHOICE
  (M12): at most one batch per message group is in flight.
* Kinesis: at ``ParallelizationFactor`` 1 a shard has one batch in flight, in sequence order; at
  PF > 1 order is kept per partition key and different keys of one shard run at the same time
  (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html). MODELLING CHOICE (M2): a
  record's lane is md5(partition key) mod PF (:func:`esmlab.streams.poller.lane_of`); AWS does
  not document how keys are assigned.
* Retries: records are processed in order the first time; records processed again can arrive out
  of order (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html).

* SQS standard queues: best-effort order, and a message may be delivered more than once
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html).
  :func:`standard` opens its Lab with ``esmlab.BEST_EFFORT``; the rates are a MODELLING CHOICE
  (docs/simulator.md, "Standard queues: best-effort order and duplicates").

Cost: a call writes 20-60 messages and takes about 0.05-0.3 s (:func:`standard`, 300
messages: about 0.3 s).
"""

from __future__ import annotations

import functools
import itertools
import json
import time
from dataclasses import dataclass

START = 2.0  #: the mapping becomes Enabled at t = 2 s (M8); everything is written then
FUNCTION = "orders-worker"
TIMEOUT = 10  #: the function's timeout (s)
GROUP_BY = ("queue", "customer", "order")
#: Colour per key (customer or partition key): matplotlib's tab10, readable on white.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
HOT = "hot"  #: the hot key's name in :func:`kinesis`
KEY_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")


@dataclass(frozen=True)
class Delivery:
    """One record in one invocation."""

    start: float  #: the invocation's start (s)
    end: float  #: the invocation's end (s)
    lane: str  #: message group, or "shard-k lane j"
    key: str  #: customer or partition key (the colour)
    n: int  #: the record's place in its key's order: 0, 1, 2, ...
    record: str  #: messageId or eventID
    request_id: str
    attempt: int  #: 1 the first time this record is delivered, 2 the second, ...
    outcome: str  #: the invocation's outcome
    position: int = 0  #: place in the batch
    size: int = 1  #: records in the batch


@dataclass(frozen=True)
class OrderingResult:
    source: str  #: "fifo" or "kinesis"
    title: str
    deliveries: tuple = ()
    lanes: tuple = ()  #: every lane, in drawing order (idle ones included)
    keys: tuple = ()  #: every key, in colour order
    records: int = 0  #: messages or records written
    processed: int = 0  #: of those, how many ended processed (the conservation check)
    returned: tuple = ()  #: (request_id, what the handler returned), in invocation order
    seconds: float = 0.0  #: wall-clock time the call took

    @property
    def invocations(self) -> int:
        return len({d.request_id for d in self.deliveries})

    @property
    def peak(self) -> int:
        """Most invocations running at one instant ([start, end) intervals)."""
        points = sorted({(d.request_id, d.start, d.end) for d in self.deliveries},
                        key=lambda x: x[1])
        edges = sorted([(s, 1) for _, s, _ in points] + [(e, -1) for _, _, e in points])
        running = peak = 0
        for _, step in edges:
            running += step
            peak = max(peak, running)
        return peak

    @property
    def finished(self) -> float:
        """Seconds from the first write to the end of the last invocation."""
        return max((d.end for d in self.deliveries), default=START) - START

    @property
    def redeliveries(self) -> int:
        return sum(1 for d in self.deliveries if d.attempt > 1)

    def concurrent_keys(self) -> set[frozenset]:
        """Pairs of keys whose invocations overlapped in time at least once."""
        pairs = set()
        by_request: dict[str, tuple] = {}
        for d in self.deliveries:
            by_request.setdefault(d.request_id, (d.start, d.end, set()))[2].add(d.key)
        spans = list(by_request.values())
        for i, (s1, e1, k1) in enumerate(spans):
            for s2, e2, k2 in spans[i + 1:]:
                if s1 < e2 and s2 < e1:
                    pairs.update(frozenset((a, b)) for a in k1 for b in k2 if a != b)
        return pairs

    def order_breaks(self) -> list[str]:
        """Where a key's records were not processed one after another in order, first deliveries
        only: a record that started before the previous record of its key had finished, or
        before it was delivered at all."""
        firsts: dict[str, list[Delivery]] = {}
        for d in sorted(self.deliveries, key=lambda d: (d.start, d.position)):
            if d.attempt == 1:
                firsts.setdefault(d.key, []).append(d)
        breaks = []
        for key, seen in firsts.items():
            for before, after in itertools.pairwise(seen):
                if after.n < before.n:
                    breaks.append(f"{key} #{after.n} started at t = {after.start:g} s, before "
                                  f"{key} #{before.n}")
                elif after.request_id != before.request_id and after.start < before.end:
                    breaks.append(f"{key} #{after.n} started at t = {after.start:g} s while "
                                  f"{key} #{before.n} was still running (until "
                                  f"t = {before.end:g} s)")
        return breaks

    def summary(self) -> str:
        kept = "order kept for every key" if not self.order_breaks() else (
            f"order broken {len(self.order_breaks())} times")
        again = f", {self.redeliveries} redelivered" if self.redeliveries else ""
        return (f"{self.title}: {self.records} records, {self.invocations} invocations, at most "
                f"{self.peak} at once, done {self.finished:g} s after the write; {kept}{again}; "
                f"{self.processed} of {self.records} processed")

    def __str__(self):
        return self.summary()

    def __repr__(self):
        return f"<OrderingResult {self.summary()}>"


def _check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


# --- SQS FIFO ------------------------------------------------------------------------------------


def customers_orders(customers: int, orders: int) -> list[dict]:
    """The messages of :func:`fifo`, in sending order: customers take turns, each customer's
    orders numbered 0, 1, 2, ..."""
    return [{"customer": KEY_NAMES[c], "order": n, "id": f"{KEY_NAMES[c]}-{n}"}
            for n in range(orders) for c in range(customers)]


def fifo(group_by="customer", customers: int = 4, orders: int = 5, batch_size: int = 1,
         duration: float = 1.0) -> OrderingResult:
    """An SQS FIFO queue of ``customers`` x ``orders`` messages, all sent at t = 2 s.

    * ``group_by``: the ``MessageGroupId`` of each message: ``"queue"`` (one group for all),
      ``"customer"``, ``"order"`` (a group per message), or a function of the message
      (``{"customer": "alice", "order": 0, "id": "alice-0"}``) that returns the group id.
    * ``batch_size``: the mapping's ``BatchSize`` (1-10 on a FIFO queue); ``duration``: seconds
      each invocation runs.
    """
    if not callable(group_by) and group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {GROUP_BY} or a function of the message, "
                         f"got {group_by!r}")
    _check_int("customers", customers, 1, len(KEY_NAMES))
    _check_int("orders", orders, 1, 20)
    _check_int("batch_size", batch_size, 1, 10)
    return _fifo(group_by, customers, orders, batch_size, float(duration))


def _group_id(group_by, message) -> str:
    if group_by == "queue":
        return "all"
    if group_by == "customer":
        return message["customer"]
    if group_by == "order":
        return message["id"]
    return str(group_by(dict(message)))


@functools.lru_cache(maxsize=256)
def _fifo(group_by, customers, orders, batch_size, duration) -> OrderingResult:
    from esmlab import Lab

    began = time.perf_counter()
    lab = Lab(seed=0)
    try:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        seen: list[tuple] = []

        def handler(event, context):
            for position, record in enumerate(event["Records"]):
                body = json.loads(record["body"])
                seen.append((context.aws_request_id, record["messageId"],
                             record["attributes"]["MessageGroupId"], body, position,
                             len(event["Records"])))

        lab.function(FUNCTION, handler, timeout=TIMEOUT, duration=duration)
        url = sqs.create_queue(QueueName="orders.fifo", Attributes={
            "FifoQueue": "true", "VisibilityTimeout": str(6 * TIMEOUT)})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn,
                                        BatchSize=batch_size)
        messages = customers_orders(customers, orders)

        def send_all():
            for message in messages:
                sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message),
                                 MessageGroupId=_group_id(group_by, message),
                                 MessageDeduplicationId=message["id"])

        lab.clock.at(START, send_all)
        lab.run(until=START + len(messages) * duration + 5)
        groups = []
        for message in messages:
            group = _group_id(group_by, message)
            if group not in groups:
                groups.append(group)
        deliveries = _deliveries(lab, [(r, m, g, b["customer"], b["order"], p, s)
                                       for r, m, g, b, p, s in seen])
        done = lab.conservation()
        label = group_by if isinstance(group_by, str) else "your function"
        return OrderingResult(
            source="fifo", deliveries=deliveries, lanes=tuple(groups),
            keys=tuple(KEY_NAMES[:customers]), records=len(messages),
            processed=sum(c.get("deleted", 0) for c in done.counts.values()) if done.ok else -1,
            title=f"SQS FIFO, MessageGroupId by {label}, BatchSize {batch_size}",
            seconds=time.perf_counter() - began)
    finally:
        lab.close()


def _deliveries(lab, seen) -> tuple:
    """Delivery rows from (request_id, record id, lane, key, n, position, size) tuples."""
    invocations = {i.request_id: i for i in lab.trace.invocations}
    counts: dict[str, int] = {}
    rows = []
    for request_id, record, lane, key, n, position, size in seen:
        counts[record] = counts.get(record, 0) + 1
        invocation = invocations[request_id]
        rows.append(Delivery(invocation.start, invocation.end, lane, key, n, record, request_id,
                             counts[record], invocation.outcome, position, size))
    return tuple(rows)


# --- Kinesis -------------------------------------------------------------------------------------


def kinesis(pf: int = 1, keys: int = 4, per_key: int = 4, shards: int = 1, hot: int = 0,
            batch_size: int = 2, duration: float = 1.0) -> OrderingResult:
    """A Kinesis stream: ``keys`` partition keys with ``per_key`` records each, plus ``hot``
    records of one hot key (partition key ``"hot"``), written in turns at t = 2 s and read from
    ``TRIM_HORIZON`` with ``ParallelizationFactor`` ``pf`` (1-10)."""
    _check_int("pf", pf, 1, 10)
    _check_int("keys", keys, 0, len(KEY_NAMES))
    _check_int("per_key", per_key, 1, 20)
    _check_int("shards", shards, 1, 4)
    _check_int("hot", hot, 0, 40)
    _check_int("batch_size", batch_size, 1, 100)
    if keys == 0 and hot == 0:
        raise ValueError("keys and hot cannot both be 0: there would be nothing to write")
    return _kinesis(pf, keys, per_key, shards, hot, batch_size, float(duration))


def key_records(keys: int, per_key: int, hot: int = 0) -> list[tuple[str, int]]:
    """(partition key, n) in writing order: the keys take turns; the hot key writes ``hot``
    records spread among them."""
    names = list(KEY_NAMES[:keys])
    rows = [(name, n) for n in range(per_key) for name in names]
    if hot:
        step = max(1, len(rows) // hot) if rows else 1
        merged, k = [], 0
        for i, row in enumerate(rows):
            if k < hot and i % step == 0:
                merged.append((HOT, k))
                k += 1
            merged.append(row)
        merged += [(HOT, n) for n in range(k, hot)]
        rows = merged
    return rows


@functools.lru_cache(maxsize=256)
def _kinesis(pf, keys, per_key, shards, hot, batch_size, duration, fail_times=0, bisect=False,
             observer=None) -> OrderingResult:
    from esmlab import Lab
    from esmlab.streams.poller import lane_of

    began = time.perf_counter()
    lab = Lab(seed=0)
    try:
        stream, lam = lab.client("kinesis"), lab.client("lambda")
        seen: list[tuple] = []
        returned: list[tuple] = []
        failures: dict[str, int] = {}
        shard_of: dict[str, str] = {}
        poison = None  # the record that fails its first ``fail_times`` deliveries

        def handler(event, context):
            try:
                answer = observer(event, context) if observer is not None else None
            except Exception as error:  # kept for the check, then a function error
                returned.append((context.aws_request_id, error))
                raise
            returned.append((context.aws_request_id, answer))
            for position, record in enumerate(event["Records"]):
                data = record["kinesis"]
                key = data["partitionKey"]
                lane = f"{shard_of[record['eventID']]} lane {lane_of(key, pf)}"
                seen.append((context.aws_request_id, record["eventID"], lane, key,
                             json.loads(_decode(data["data"]))["n"], position,
                             len(event["Records"])))
            for record in event["Records"]:
                if record["eventID"] == poison and failures.get(poison, 0) < fail_times:
                    failures[poison] = failures.get(poison, 0) + 1
                    raise RuntimeError(f"record {poison} failed (attempt {failures[poison]})")
            return answer

        lab.function(FUNCTION, handler, timeout=TIMEOUT, duration=duration)
        stream.create_stream(StreamName="orders", ShardCount=shards)
        arn = stream.describe_stream_summary(StreamName="orders")[
            "StreamDescriptionSummary"]["StreamARN"]
        params = {"ParallelizationFactor": pf, "BatchSize": batch_size,
                  "StartingPosition": "TRIM_HORIZON"}
        if fail_times:
            params.update(MaximumRetryAttempts=fail_times + 1, BisectBatchOnFunctionError=bisect)
        uuid = lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn,
                                               **params)["UUID"]
        rows = key_records(keys, per_key, hot)

        def write_all():
            nonlocal poison
            for number, (key, n) in enumerate(rows):
                response = stream.put_record(StreamName="orders", PartitionKey=key,
                                             Data=json.dumps({"key": key, "n": n}).encode())
                event_id = f"{response['ShardId']}:{response['SequenceNumber']}"
                shard_of[event_id] = f"shard-{int(response['ShardId'].rsplit('-', 1)[1])}"
                if number == min(2, len(rows) - 1):
                    poison = event_id

        lab.clock.at(START, write_all)
        horizon = START + len(rows) * duration + 5
        lab.run(until=horizon)
        for _ in range(10):
            fates = lab.stream_conservation(uuid)
            if fates["counts"].get("processed", 0) >= len(rows) or fates["lost"]:
                break
            horizon += 30
            lab.run(until=horizon)
        lanes = [f"shard-{s} lane {j}" for s in range(shards) for j in range(pf)]
        names = list(KEY_NAMES[:keys]) + ([HOT] if hot else [])
        title = (f"Kinesis, {shards} shard{'s' if shards > 1 else ''}, "
                 f"ParallelizationFactor {pf}, BatchSize {batch_size}")
        if fail_times:
            title += f", one record fails {fail_times}x" + (", bisect" if bisect else "")
        return OrderingResult(
            source="kinesis", deliveries=_deliveries(lab, seen), lanes=tuple(lanes),
            keys=tuple(names), records=len(rows), processed=-1 if fates["lost"] else fates["counts"].get("processed", 0),
            returned=tuple(returned), title=title, seconds=time.perf_counter() - began)
    finally:
        lab.close()


def _decode(data: str) -> str:
    import base64

    return base64.b64decode(data).decode()


def retries(fail_times: int = 1, pf: int = 1, keys: int = 3, per_key: int = 3,
            batch_size: int = 4, bisect: bool = False, handler=None) -> OrderingResult:
    """Kinesis, one shard: the third record written fails its first ``fail_times`` deliveries
    (the mapping allows ``fail_times + 1`` retries, so it ends processed). ``handler``: an
    optional function ``(event, context)`` run first on every batch, whose return values are
    kept in ``returned`` (exercise 3 passes the learner's handler here)."""
    _check_int("fail_times", fail_times, 0, 5)
    _check_int("pf", pf, 1, 10)
    _check_int("keys", keys, 1, len(KEY_NAMES))
    _check_int("per_key", per_key, 1, 20)
    _check_int("batch_size", batch_size, 1, 100)
    if handler is not None and not callable(handler):
        raise ValueError(f"handler must be a function (event, context), got {handler!r}")
    return _kinesis(pf, keys, per_key, 1, 0, batch_size, 1.0, fail_times, bool(bisect), handler)


# --- pictures ------------------------------------------------------------------------------------


def colours(result: OrderingResult) -> dict[str, str]:
    return {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(result.keys)}


def draw(result: OrderingResult, ax=None, width: float = 7.0):
    """One lane per message group or shard lane, time across; each invocation is a box split
    into its records (batch order, left to right), coloured by key and labelled with the record's
    number in its key's order. A redelivered record is hatched. Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    lanes = list(result.lanes)
    if ax is None:
        height = 1.9 + 0.34 * max(len(lanes), 2)
        _, ax = plt.subplots(figsize=(width, height))
    palette = colours(result)
    row = {lane: i for i, lane in enumerate(lanes)}
    for d in result.deliveries:
        span = (d.end - d.start) / d.size
        x = d.start + d.position * span
        y = row[d.lane]
        ax.add_patch(Rectangle((x, y - 0.38), span, 0.76, facecolor=palette[d.key],
                               edgecolor="black", linewidth=0.5,
                               hatch="///" if d.attempt > 1 else None))
        ax.text(x + span / 2, y, str(d.n), ha="center", va="center", fontsize=7,
                color="white", fontweight="bold")
    starts = {d.request_id: (d.start, d.end, row[d.lane]) for d in result.deliveries}
    for s, e, y in starts.values():  # the invocation's outline
        ax.add_patch(Rectangle((s, y - 0.42), e - s, 0.84, fill=False, edgecolor="black",
                               linewidth=1.1))
    failed = {(d.start, d.end, row[d.lane]) for d in result.deliveries
              if d.outcome not in ("success", "partial")}
    for s, e, y in failed:
        ax.plot([s, e], [y + 0.45, y + 0.45], color="#b0263b", linewidth=2.5)
    end = max([d.end for d in result.deliveries] + [START + 1])
    ax.set_xlim(START - 0.3, end + 0.3)
    ax.set_ylim(len(lanes) - 0.5, -0.6)
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels(lanes, fontsize=8)
    ax.set_xlabel("simulated time (s)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_ylabel("message group" if result.source == "fifo" else "shard lane", fontsize=9)
    ax.set_title(f"{result.title}\n{result.invocations} invocations, at most {result.peak} at "
                 f"once, done after {result.finished:g} s", fontsize=9)
    handles = [Patch(facecolor=palette[k], edgecolor="black", linewidth=0.5, label=k)
               for k in result.keys]
    if result.redeliveries:
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="///",
                             label="redelivered"))
    if failed:
        handles.append(Patch(color="#b0263b", label="invocation failed"))
    figure = ax.figure
    figure.legend(handles=handles, fontsize=7, ncol=min(len(handles), 7), loc="lower center",
                  frameon=False)
    ax.grid(axis="x", color="#dddddd", linewidth=0.5)
    ax.set_axisbelow(True)
    figure.tight_layout(rect=(0, 0.35 / figure.get_figheight(), 1, 1))  # room for the legend
    return ax


# --- SQS standard queue: best-effort order, at least once ----------------------------------------

#: The seed of :func:`standard`'s Lab: with it, 300 messages show 16 out-of-order deliveries
#: and two messages delivered twice (most seeds show some of both; this one is what the lab's
#: text describes).
STANDARD_SEED = 3


@dataclass(frozen=True)
class StandardResult:
    """What a function saw of a standard queue: one row per record it was handed."""

    title: str
    sent: tuple = ()  #: per delivery, in the order the function saw them: the send number
    receive_counts: tuple = ()  #: per delivery: its ApproximateReceiveCount
    invocations: int = 0
    failed: int = 0  #: invocations that did not succeed (0: nothing failed)
    records: int = 0  #: messages sent
    processed: int = 0  #: of those, how many ended deleted (the conservation check)
    copies: int = 0  #: duplicate deliveries the trace recorded
    seconds: float = 0.0  #: wall-clock time the call took

    def late(self) -> list[int]:
        """Positions (in delivery order) of first deliveries that came after a later-sent
        message's, e.g. a message passed over by the receive that returned its successors."""
        highest, late, seen = -1, [], set()
        for position, number in enumerate(self.sent):
            if number in seen:
                continue  # a second copy is a duplicate, not an order break
            seen.add(number)
            if number < highest:
                late.append(position)
            highest = max(highest, number)
        return late

    def duplicates(self) -> list[int]:
        """Positions of deliveries of a message the function had already been given."""
        seen, again = set(), []
        for position, number in enumerate(self.sent):
            if number in seen:
                again.append(position)
            seen.add(number)
        return again

    def behind(self) -> list[int]:
        """Per delivery: how many send places it is behind the latest-sent message delivered
        before it (0 for a delivery in send order)."""
        highest, out = -1, []
        for number in self.sent:
            out.append(max(highest - number, 0))
            highest = max(highest, number)
        return out

    def summary(self) -> str:
        twice = sorted({self.sent[p] for p in self.duplicates()})
        return (f"{self.title}: {self.records} messages, {len(self.sent)} deliveries in "
                f"{self.invocations} invocations ({self.failed} failed); {len(self.late())} "
                f"delivered after a later-sent message; delivered twice: "
                f"{', '.join(f'#{n}' for n in twice) or 'none'}; "
                f"{self.processed} of {self.records} processed")

    def __str__(self):
        return self.summary()

    def __repr__(self):
        return f"<StandardResult {self.summary()}>"


def standard(messages: int = 300, batch_size: int = 10, best_effort: bool = True,
             seed: int = STANDARD_SEED) -> StandardResult:
    """An SQS standard queue of ``messages`` numbered messages, all sent at t = 2 s, drained by
    a function that always succeeds (0.5 s per invocation).

    ``best_effort``: open the Lab with ``esmlab.BEST_EFFORT``, the simulator's rates of
    out-of-order and duplicate deliveries (a MODELLING CHOICE; AWS documents that both happen,
    not how often,
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html);
    False gives moto's exact send order. ``seed``: the Lab's seed.
    """
    _check_int("messages", messages, 1, 1000)
    _check_int("batch_size", batch_size, 1, 10)
    if not isinstance(best_effort, bool):
        raise TypeError(f"best_effort must be True or False, got {best_effort!r}")
    _check_int("seed", seed, 0, 2**31 - 1)
    return _standard(messages, batch_size, best_effort, seed)


@functools.lru_cache(maxsize=64)
def _standard(messages, batch_size, best_effort, seed) -> StandardResult:
    from esmlab import BEST_EFFORT, Lab

    began = time.perf_counter()
    lab = Lab(seed=seed, **(BEST_EFFORT if best_effort else {}))
    try:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        seen: list[tuple] = []

        def handler(event, context):
            for record in event["Records"]:
                seen.append((int(record["body"]),
                             int(record["attributes"]["ApproximateReceiveCount"])))

        lab.function(FUNCTION, handler, timeout=TIMEOUT, duration=0.5)
        url = sqs.create_queue(QueueName="orders", Attributes={
            "VisibilityTimeout": str(6 * TIMEOUT)})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn,
                                        BatchSize=batch_size)

        def send_all():
            for start in range(0, messages, 10):
                sqs.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(n), "MessageBody": str(n)}
                    for n in range(start, min(start + 10, messages))])

        lab.clock.at(START, send_all)
        # past every copy's visibility timeout (60 s), so no copy is still pending
        lab.run(until=START + 6 * TIMEOUT + 30)
        done = lab.conservation()
        invocations = lab.trace.invocations
        kind = "best-effort (esmlab.BEST_EFFORT)" if best_effort else "exact (moto's order)"
        return StandardResult(
            title=f"SQS standard queue, BatchSize {batch_size}, {kind}",
            sent=tuple(n for n, _ in seen), receive_counts=tuple(c for _, c in seen),
            invocations=len(invocations),
            failed=sum(1 for i in invocations if i.outcome != "success"), records=messages,
            processed=sum(c.get("deleted", 0) for c in done.counts.values()) if done.ok else -1,
            copies=lab.trace.count("duplicate"), seconds=time.perf_counter() - began)
    finally:
        lab.close()


def draw_standard(result: StandardResult, width: float = 7.0):
    """Top: each delivery's send number against its place in delivery order (in send order the
    points make the diagonal). Bottom: how many places each delivery is behind the latest-sent
    message delivered before it (:meth:`StandardResult.behind`), 0 in send order, so the few
    exceptions stand out. Red: delivered after a later-sent message; black
    cross: a message delivered a second time. Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    late, again = result.late(), result.duplicates()
    plain = sorted(set(range(len(result.sent))) - set(late) - set(again))
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(width, 5.6), sharex=True,
                                         gridspec_kw={"height_ratios": [1.4, 1]})
    behind = result.behind()
    bottom.plot(range(len(behind)), behind, color=LIGHT_BLUE, linewidth=0.8, zorder=1)
    top.scatter(plain, [result.sent[p] for p in plain], s=4, color=LIGHT_BLUE, zorder=2)
    for ax, values in ((top, result.sent), (bottom, behind)):
        ax.scatter(late, [values[p] for p in late], s=22, color=LATE_RED, zorder=3)
        ax.scatter(again, [values[p] for p in again], s=70, marker="x", color=BLACK_INK,
                   linewidths=2, zorder=4)
        ax.grid(color="#eeeeee", linewidth=0.5)
        ax.set_axisbelow(True)
        ax.tick_params(labelsize=8)
    for p in again:  # name the duplicated message
        bottom.annotate(f"#{result.sent[p]} again", (p, behind[p]), xytext=(5, 2),
                        textcoords="offset points", fontsize=8)
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_ylabel("send number", fontsize=9)
    bottom.set_ylabel("places behind the latest\nmessage already delivered", fontsize=9)
    bottom.set_xlabel("place in delivery order (the n-th record the function was handed)",
                      fontsize=9)
    top.set_title(f"{result.title}\n{len(late)} delivered after a later-sent message, "
                  f"{len(again)} delivered a second time, {result.failed} invocations failed",
                  fontsize=9)
    handles = [Line2D([], [], marker="o", linestyle="none", markersize=4, color=LIGHT_BLUE,
                      label="in send order"),
               Line2D([], [], marker="o", linestyle="none", markersize=6, color=LATE_RED,
                      label="after a later-sent message"),
               Line2D([], [], marker="x", linestyle="none", markersize=8, markeredgewidth=2,
                      color=BLACK_INK, label="a second delivery (duplicate)")]
    figure.legend(handles=handles, fontsize=8, ncol=3, loc="lower center", frameon=False)
    figure.tight_layout(rect=(0, 0.35 / figure.get_figheight(), 1, 1))
    return figure


LIGHT_BLUE, LATE_RED, BLACK_INK = "#7fa6cc", "#c0392b", "#222222"
