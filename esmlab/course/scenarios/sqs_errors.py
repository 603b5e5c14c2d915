"""Lab 04 (Errors with SQS): a message's life through failures, retries, redrive and expiry.

    from esmlab.course.scenarios import sqs_errors
    result = sqs_errors.life()                             # one poison message, no ReportBatchItemFailures
    result = sqs_errors.life(report=True)                  # the same, with ReportBatchItemFailures
    result = sqs_errors.life(max_receive_count=None, retention=60)  # no DLQ: retention ends it
    rows = sqs_errors.partial_responses()                  # how each response shape is read
    sqs_errors.draw(result)

Each scenario is a pure function of its arguments: it opens a fresh :class:`esmlab.Lab` (which
closes any other open lab), creates a dead-letter queue, the source queue with a redrive policy,
a function and a mapping with ordinary boto3 calls, sends the messages at t = 2 s (when the
mapping becomes ``Enabled``, M8), runs simulated time until every message has left the queue or
the horizon is reached, and returns a :class:`LifeResult`: every receive, delivery and end of
every message, from the trace. Results are cached (same arguments, same result object).

What the pictures rest on (docs/simulator.md):

* A failed batch is not deleted: its messages stay in the queue and become visible again when the
  visibility timeout that started at their receive ends; the next receive raises
  ``ApproximateReceiveCount`` by one
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
* The queue's redrive policy moves a message to the dead-letter queue once its receive count
  exceeds ``maxReceiveCount``; retention (60 s to 14 days, default 4 days) removes what is left
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html).
  MODELLING CHOICES: the move happens on the receive after the last allowed one; retention removes
  a message exactly when its age reaches the period.
* With ``ReportBatchItemFailures`` only the listed messages stay in the queue
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html); how every shape
  of response is read is :mod:`esmlab.batch_response`.

Cost: a call sends 1-10 messages and takes about 0.05-0.2 s.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import time
from dataclasses import dataclass

from esmlab.course.scenarios.arguments import positive, whole

START = 2.0  #: the mapping becomes Enabled at t = 2 s (M8); the messages are sent then
FUNCTION = "orders-worker"
QUEUE = "orders"
DLQ = "orders-dlq"
ACCOUNT = "123456789012"
REGION = "us-east-1"
#: The dead-letter queue's ARN in every scenario (moto's default account and Region).
DLQ_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{DLQ}"
ERRORHANDLING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"
#: Colours: processed, failed, waiting (invisible), and the ends.
GREEN, RED, GREY, PURPLE, BLACK = "#2e8540", "#c0392b", "#d9d9d9", "#7b3fa0", "#222222"
DARK_GREEN = "#0b4a1c"


@dataclass(frozen=True)
class Delivery:
    """One message in one invocation."""

    message: int  #: the message's number (0, 1, ...)
    start: float
    end: float
    receive_count: int  #: ApproximateReceiveCount as the function saw it
    request_id: str
    outcome: str  #: the invocation's outcome (success, partial, error, timeout, invalid_response)
    failed: bool  #: this message was not processed (it stays in the queue)
    stale: bool = False  #: Lambda's delete used an old receipt handle: nothing was deleted


@dataclass(frozen=True)
class Life:
    """What happened to one message."""

    number: int
    body: str
    message_id: str
    poison: bool
    receives: tuple = ()  #: instants of the receives that returned it
    visible_again: tuple = ()  #: instants it became visible again
    fate: str = "in_queue"  #: deleted, redriven, expired or in_queue
    ended: float | None = None  #: when it was deleted, redriven or expired
    group: str | None = None  #: its MessageGroupId on a FIFO queue

    @property
    def receive_count(self) -> int:
        return len(self.receives)


@dataclass(frozen=True)
class LifeResult:
    title: str
    lives: tuple = ()  #: one Life per message, in sending order
    deliveries: tuple = ()  #: one Delivery per message per invocation
    visibility_timeout: float = 30.0
    max_receive_count: int | None = None
    horizon: float = 0.0
    conserved: bool = True  #: lab.conservation().ok at the end
    returned: tuple = ()  #: (request_id, what the handler returned, or the exception it raised)
    seconds: float = 0.0  #: wall-clock time the call took

    @property
    def invocations(self) -> int:
        return len({d.request_id for d in self.deliveries})

    def fates(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for life in self.lives:
            counts[life.fate] = counts.get(life.fate, 0) + 1
        return counts

    def deliveries_of(self, number: int) -> list[Delivery]:
        return [d for d in self.deliveries if d.message == number]

    def processed_times(self) -> dict[int, int]:
        """Message number -> how many invocations processed it (not failed)."""
        counts = {life.number: 0 for life in self.lives}
        for d in self.deliveries:
            if not d.failed:
                counts[d.message] += 1
        return counts

    def summary(self) -> str:
        fates = ", ".join(f"{n} {fate}" for fate, n in sorted(self.fates().items()))
        counts = " ".join(str(life.receive_count) for life in self.lives)
        return (f"{self.title}: {_n(len(self.lives), 'message')}, "
                f"{_n(self.invocations, 'invocation')}; "
                f"receive counts {counts}; {fates}")

    def __str__(self):
        return self.summary()

    def __repr__(self):
        return f"<LifeResult {self.summary()}>"


# --- the scenario ---------------------------------------------------------------------------------


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def life(messages: int = 3, poison=(1,), poison_fails: int | None = None,
         visibility_timeout: int = 10, max_receive_count: int | None = 3,
         retention: int = 345_600, batch_size: int = 10, window: int = 0,
         report: bool = False, respond: str = "raise", duration: float = 1.0,
         timeout: int = 5, fifo: bool = False, groups: int = 1, mapping: dict | None = None,
         queue_attributes: dict | None = None, handler=None, horizon: float | None = None,
         bodies=None) -> LifeResult:
    """An SQS queue of ``messages`` orders, sent at t = 2 s, read by one mapping.

    * ``poison``: the numbers of the messages the function cannot process; ``poison_fails``: how
      many deliveries of a poison message fail (None: every one).
    * ``respond``: what the built-in handler does about a poison message: ``"raise"`` (an
      exception fails the invocation) or ``"report"`` (it returns ``batchItemFailures`` with the
      poison messages' ids). ``report``: the mapping's ``FunctionResponseTypes`` is
      ``["ReportBatchItemFailures"]``; without it Lambda ignores what the function returns.
    * ``visibility_timeout``, ``retention``: the queue's ``VisibilityTimeout`` and
      ``MessageRetentionPeriod`` (s); ``max_receive_count``: the redrive policy's
      ``maxReceiveCount`` (None: no dead-letter queue).
    * ``batch_size``, ``window``: the mapping's ``BatchSize`` and ``MaximumBatchingWindowInSeconds``;
      ``duration``: seconds each invocation runs; ``timeout``: the function's timeout (s).
    * ``fifo``: a FIFO queue, the messages spread over ``groups`` message groups in turn.
    * ``mapping``, ``queue_attributes``: extra mapping parameters and queue attributes (the
      exercises pass the learner's here); ``handler``: a function ``(event, context)`` run first
      on every batch (its return value is what the function returns; a poison message still
      fails); ``horizon``: when to stop (s; default: long enough for every retry);
      ``bodies``: the messages' bodies (strings) instead of the built-in orders.
    """
    if bodies is not None:
        if not isinstance(bodies, (list, tuple)) or not all(isinstance(b, str) for b in bodies):
            raise ValueError(f"bodies must be a list of strings, got {bodies!r}")
        bodies = tuple(bodies)
        messages = len(bodies)
    messages = whole("messages", messages, minimum=1, maximum=10)
    if not isinstance(poison, (list, tuple, set, frozenset)):
        raise TypeError(f"poison must be a tuple of message numbers (0 to {messages - 1}), "
                         f"got {poison!r}")
    poison = tuple(sorted({whole("poison", p, minimum=0, maximum=messages - 1) for p in poison}))
    duration = positive("duration", duration, unit=" (seconds)")
    if poison_fails is not None:
        poison_fails = whole("poison_fails", poison_fails, minimum=0, maximum=20)
    visibility_timeout = whole("visibility_timeout", visibility_timeout, minimum=0, maximum=43_200)
    if max_receive_count is not None:
        max_receive_count = whole("max_receive_count", max_receive_count, minimum=1, maximum=1000)
    retention = whole("retention", retention, minimum=60, maximum=1_209_600)
    batch_size = whole("batch_size", batch_size, minimum=1)
    window = whole("window", window, minimum=0)
    if respond not in ("raise", "report"):
        raise ValueError(f"respond must be 'raise' or 'report', got {respond!r}")
    groups = whole("groups", groups, minimum=1, maximum=messages)
    timeout = whole("timeout", timeout, minimum=1, maximum=900)
    if handler is not None and not callable(handler):
        raise ValueError(f"handler must be a function (event, context), got {handler!r}")
    for name, value in (("mapping", mapping), ("queue_attributes", queue_attributes)):
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"{name} must be a dict, got {value!r}")
    return _life(messages, poison, poison_fails, visibility_timeout, max_receive_count, retention,
                 batch_size, window, bool(report), respond, float(duration), timeout, bool(fifo),
                 groups, _freeze(mapping), _freeze(queue_attributes), handler,
                 None if horizon is None else float(horizon), bodies)


def _freeze(value) -> str:
    """A dict as a hashable key for the cache."""
    return json.dumps(value or {}, sort_keys=True, default=str)


def order_body(number: int, poison: bool) -> str:
    """The body of order ``number``; a poison order's amount is not a number."""
    return json.dumps({"order": number, "amount": "ten" if poison else 10 * (number + 1)})


@functools.lru_cache(maxsize=256)
def _life(messages, poison, poison_fails, vt, max_receive_count, retention, batch_size, window,
          report, respond, duration, timeout, fifo, groups, mapping_json, attributes_json,
          observer, horizon, bodies=None) -> LifeResult:
    from esmlab import Lab

    began = time.perf_counter()
    lab = Lab(seed=0)
    try:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        suffix = ".fifo" if fifo else ""
        fifo_attrs = {"FifoQueue": "true"} if fifo else {}
        dlq_url = sqs.create_queue(QueueName=DLQ + suffix, Attributes=fifo_attrs)["QueueUrl"]
        dlq_arn = _arn(sqs, dlq_url)
        attributes = {"VisibilityTimeout": str(vt), "MessageRetentionPeriod": str(retention),
                      **fifo_attrs}
        if max_receive_count is not None:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
        attributes.update(json.loads(attributes_json))
        url = sqs.create_queue(QueueName=QUEUE + suffix, Attributes=attributes)["QueueUrl"]
        arn = _arn(sqs, url)
        if bodies is None:
            bodies = [order_body(n, n in poison) for n in range(messages)]
        failures: dict[str, int] = {}
        returned: list[tuple] = []
        poison_ids: set[str] = set()

        def function(event, context):
            answer = None
            if observer is not None:
                try:
                    answer = observer(event, context)
                except Exception as error:  # kept for the check, then a function error
                    returned.append((context.aws_request_id, error))
                    raise
            bad = []
            for rec in event["Records"]:
                if rec["messageId"] in poison_ids:
                    seen = failures.get(rec["messageId"], 0)
                    if poison_fails is None or seen < poison_fails:
                        failures[rec["messageId"]] = seen + 1
                        bad.append(rec["messageId"])
            if observer is not None:
                returned.append((context.aws_request_id, answer))
                if bad:
                    raise RuntimeError(f"the batch with message {bad[0]} failed after the "
                                       "handler had run")
                return answer
            if bad and respond == "raise":
                raise ValueError(f"amount is not a number in message {bad[0]}")
            if bad:
                return {"batchItemFailures": [{"itemIdentifier": b} for b in bad]}
            return None

        lab.function(FUNCTION, function, timeout=timeout, duration=duration)
        params = {"BatchSize": batch_size}
        if window:
            params["MaximumBatchingWindowInSeconds"] = window
        if report:
            params["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
        params.update(json.loads(mapping_json))
        lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn, **params)
        ids: list[str] = []
        group_of: dict[str, str] = {}

        def send_all():
            for n, body in enumerate(bodies):
                extra = {}
                if fifo:
                    extra = {"MessageGroupId": f"group-{n % groups}",
                             "MessageDeduplicationId": f"order-{n}"}
                message_id = sqs.send_message(QueueUrl=url, MessageBody=body, **extra)[
                    "MessageId"]
                ids.append(message_id)
                if fifo:
                    group_of[message_id] = extra["MessageGroupId"]
                if n in poison:
                    poison_ids.add(message_id)

        lab.clock.at(START, send_all)
        if horizon is None:
            rounds = (max_receive_count or 6) + 1 if poison_fails is None else poison_fails + 2
            horizon = START + window + rounds * (max(vt, duration) + window + duration) + 5
            horizon = min(horizon, START + retention + 5) if max_receive_count is None else horizon
        with contextlib.redirect_stdout(io.StringIO()):  # lab.run's failure notice: drawn instead
            lab.run(until=horizon)
        title = _title(report, respond, vt, max_receive_count, retention, fifo, poison, observer)
        return _result(lab, arn, ids, bodies, poison, vt, max_receive_count, horizon, returned,
                       time.perf_counter() - began, title, group_of)
    finally:
        lab.close()


def _arn(sqs, url) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]


def _title(report, respond, vt, max_receive_count, retention, fifo, poison, observer) -> str:
    kind = "FIFO queue" if fifo else "standard queue"
    handler = "handler raises" if respond == "raise" else "handler reports the failure"
    if observer is not None:
        handler = "your handler"
    elif not poison:
        handler = "no bad orders"
    rbif = "ReportBatchItemFailures on" if report else "no ReportBatchItemFailures"
    dlq = (f"maxReceiveCount {max_receive_count}" if max_receive_count is not None
           else f"no DLQ, retention {retention} s")
    return f"{kind}, VT {vt} s, {dlq}; {rbif}, {handler}"


def _result(lab, arn, ids, bodies, poison, vt, max_receive_count, horizon, returned, seconds,
            title, groups) -> LifeResult:
    number = {message_id: n for n, message_id in enumerate(ids)}
    receives: dict[int, list] = {n: [] for n in range(len(ids))}
    ends: dict[int, tuple] = {}
    stale_at: dict[tuple, bool] = {}
    for event in lab.trace.events:
        if event.source != arn:
            continue
        for message_id in event.records:
            n = number.get(message_id)
            if n is None:
                continue
            if event.kind == "poll":
                receives[n].append(event.t)
            elif event.kind in ("delete", "redrive", "expire"):
                fate = {"delete": "deleted", "redrive": "redriven", "expire": "expired"}
                ends[n] = (fate[event.kind], event.t)
            elif event.kind == "stale_delete":
                stale_at[(n, event.t)] = True
    deliveries = []
    for invocation in lab.trace.invocations:
        failed = set(invocation.failed)
        for position, message_id in enumerate(invocation.records):
            n = number[message_id]
            count = sum(1 for t in receives[n] if t <= invocation.start)
            deliveries.append(Delivery(
                n, invocation.start, invocation.end if invocation.end is not None else horizon,
                count, invocation.request_id, invocation.outcome or "running",
                message_id in failed or invocation.outcome is None,
                stale_at.get((n, invocation.end), False)))
    lives = []
    for n, message_id in enumerate(ids):
        fate, ended = ends.get(n, ("in_queue", None))
        # Visible again when a receive's visibility timeout ran out before the message left the
        # queue (SQS's rule; derived here rather than read from the trace's visible_again events,
        # which the poller records only when no receive came at the same instant).
        back = tuple(t + vt for t in receives[n] if (ended is None or ended >= t + vt)
                     and t + vt <= horizon)
        lives.append(Life(n, bodies[n], message_id, n in poison, tuple(receives[n]), back, fate,
                          ended, groups.get(message_id)))
    lives = tuple(lives)
    return LifeResult(title=title, lives=lives, deliveries=tuple(deliveries),
                      visibility_timeout=float(vt), max_receive_count=max_receive_count,
                      horizon=horizon, conserved=lab.conservation().ok,
                      returned=tuple(returned), seconds=seconds)


# --- how a partial batch response is read ----------------------------------------------------------

#: (label, what the handler returns, given the batch's message ids, where the row comes from).
#: The second message of three is the one that failed.
RESPONSES = (
    ("returns None", lambda ids: None, "documented; recorded for Kinesis, DynamoDB"),
    ("{}", lambda ids: {}, "documented; recorded for SQS"),
    ("[]", lambda ids: [], "recorded for Kinesis, DynamoDB"),
    ('{"batchItemFailures": []}', lambda ids: {"batchItemFailures": []},
     "documented; recorded for Kinesis, DynamoDB"),
    ('{"batchItemFailures": None}', lambda ids: {"batchItemFailures": None},
     "documented; recorded for Kinesis, DynamoDB"),
    ("the failed message's messageId",
     lambda ids: {"batchItemFailures": [{"itemIdentifier": ids[1]}]},
     "documented; recorded for SQS FIFO"),
    ('itemIdentifier ""', lambda ids: {"batchItemFailures": [{"itemIdentifier": ""}]},
     "documented; recorded for Kinesis, DynamoDB"),
    ("itemIdentifier None", lambda ids: {"batchItemFailures": [{"itemIdentifier": None}]},
     "documented; recorded for Kinesis, DynamoDB"),
    ('an entry without itemIdentifier ({"foo": ...})',
     lambda ids: {"batchItemFailures": [{"foo": "notvalid"}]}, "documented; recorded for SQS"),
    ("an id that is not in the batch",
     lambda ids: {"batchItemFailures": [{"itemIdentifier": "123"}]},
     "documented; recorded for Kinesis, DynamoDB"),
    ("a bare list of ids (no itemIdentifier objects)",
     lambda ids: {"batchItemFailures": [ids[1]]},
     "MODELLING CHOICE: as if no itemIdentifier"),
    ("a set (cannot be serialised to JSON)", lambda ids: {ids[1]}, "documented (not JSON)"),
    ('"ok" (a string)', lambda ids: "ok", "MODELLING CHOICE (not recorded)"),
    ('{"batchItemFailures": "x"}', lambda ids: {"batchItemFailures": "x"},
     "MODELLING CHOICE (not recorded)"),
)


@dataclass(frozen=True)
class ResponseRow:
    response: str  #: what the function returned
    outcome: str  #: the invocation's outcome in the trace
    back: tuple  #: numbers of the messages that stayed in the queue (0, 1, 2)
    source: str  #: where the row comes from

    @property
    def reading(self) -> str:
        if not self.back:
            return "success: all deleted"
        if len(self.back) == 3:
            return "whole batch failed: all 3 back"
        return "partial: only " + ", ".join(f"#{n}" for n in self.back) + " back"


def partial_responses(report: bool = True) -> list[ResponseRow]:
    """Every response shape of :data:`RESPONSES`, returned for a batch of three messages of which
    the second (#1) failed, with ``ReportBatchItemFailures`` on (``report``) or off."""
    return list(_partial_responses(bool(report)))


@functools.lru_cache(maxsize=4)
def _partial_responses(report) -> tuple:
    """One lab, one queue and one mapping per response shape (a function may have a mapping on
    each of several queues), so the table costs one lab's set-up, not fourteen."""
    from esmlab import Lab

    lab = Lab(seed=0)
    try:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        shape_of: dict[str, int] = {}  # queue ARN -> row of RESPONSES

        def function(event, context):
            make = RESPONSES[shape_of[event["Records"][0]["eventSourceARN"]]][1]
            return make([r["messageId"] for r in event["Records"]])

        lab.function(FUNCTION, function, timeout=5, duration=1.0)
        urls, by_mapping = [], {}
        for row in range(len(RESPONSES)):
            url = sqs.create_queue(QueueName=f"{QUEUE}-{row}",
                                   Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
            arn = _arn(sqs, url)
            shape_of[arn] = row
            params = {"FunctionResponseTypes": ["ReportBatchItemFailures"]} if report else {}
            uuid = lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn,
                                                   BatchSize=10, **params)["UUID"]
            by_mapping[uuid] = row
            urls.append(url)

        def send_all():
            for url in urls:
                sqs.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(n), "MessageBody": order_body(n, False)} for n in range(3)])

        lab.clock.at(START, send_all)
        with contextlib.redirect_stdout(io.StringIO()):
            lab.run(until=START + 3)
        rows = [None] * len(RESPONSES)
        for invocation in lab.trace.invocations:
            row = by_mapping[invocation.mapping]
            if rows[row] is None:
                failed = set(invocation.failed)
                label, _, source = RESPONSES[row]
                rows[row] = ResponseRow(label, invocation.outcome, tuple(
                    n for n, m in enumerate(invocation.records) if m in failed), source)
        return tuple(rows)
    finally:
        lab.close()


def responses_frame(report: bool = True):
    """:func:`partial_responses` as a pandas DataFrame."""
    import pandas as pd

    return pd.DataFrame([{"the function returns": r.response, "outcome": r.outcome,
                          "Lambda reads it as": r.reading, "source": r.source}
                         for r in partial_responses(report)])


# --- pictures -------------------------------------------------------------------------------------


def draw(result: LifeResult, width: float = 7.0):
    """A message's life, one row per message, time across: grey while the message is invisible
    (from a receive until it is deleted or its visibility timeout ends), a box per invocation
    that carried it (green: processed, red: failed; the number is its ApproximateReceiveCount),
    an open circle when it became visible again, and its end: deleted (tick), moved to the
    dead-letter queue (purple triangle) or expired (black cross). On the right, each message's
    receive count against maxReceiveCount. Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.ticker import MaxNLocator

    rows = len(result.lives)
    height = 1.7 + 0.42 * max(rows, 2)
    figure, (ax, counts) = plt.subplots(1, 2, figsize=(width, height), sharey=True,
                                        gridspec_kw={"width_ratios": [4.2, 1]})
    vt = result.visibility_timeout
    last = max([START + 1] + [d.end for d in result.deliveries]
               + [life.ended for life in result.lives if life.ended is not None]
               + [t for life in result.lives for t in life.visible_again])
    for life in result.lives:
        y = life.number
        for t in life.receives:  # invisible from the receive to the VT's end or the message's end
            stop = t + vt
            if life.ended is not None and life.ended < stop:
                stop = life.ended
            ax.add_patch(Rectangle((t, y - 0.18), max(stop - t, 0.05), 0.36, facecolor=GREY,
                                   edgecolor="none", zorder=1))
        for t in life.visible_again:  # above the row: a receive at the same instant hides it
            ax.plot(t, y - 0.47, marker="v", markersize=5, markerfacecolor="white",
                    markeredgecolor=BLACK, zorder=4, clip_on=False)
        if life.fate == "deleted":  # just after the box that deleted it, darker than the box
            ax.plot(life.ended + 0.008 * (last - START), y, marker="|", markersize=14,
                    markeredgewidth=2.5, color=DARK_GREEN, zorder=4)
        elif life.fate == "redriven":
            ax.plot(life.ended, y, marker=">", markersize=9, color=PURPLE, zorder=4)
        elif life.fate == "expired":
            ax.plot(life.ended, y, marker="x", markersize=9, markeredgewidth=2.5, color=BLACK,
                    zorder=4)
    for d, level, levels in _levels(result.deliveries):
        tall = 0.68 / levels
        ax.add_patch(Rectangle((d.start, d.message - 0.34 + level * tall), max(d.end - d.start, 0.05),
                               tall, facecolor=RED if d.failed else GREEN, edgecolor=BLACK,
                               linewidth=0.6, hatch="xx" if d.stale else None, zorder=3))
        ax.text(d.start + (d.end - d.start) / 2, d.message - 0.34 + (level + 0.5) * tall,
                str(d.receive_count), ha="center", va="center", fontsize=7, color="white",
                fontweight="bold", zorder=5)
    ax.set_xlim(START - 0.02 * (last - START + 2), last + 0.04 * (last - START + 2))
    ax.set_ylim(rows - 0.5, -0.65)
    ax.set_yticks(range(rows))
    ax.set_yticklabels([f"#{life.number}" + (f" {life.group}" if life.group else "")
                        + (" poison" if life.poison else "") for life in result.lives], fontsize=8)
    ax.set_xlabel("simulated time (s)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.5)
    ax.set_axisbelow(True)
    colour = {"deleted": GREEN, "redriven": PURPLE, "expired": BLACK, "in_queue": "#888888"}
    for life in result.lives:
        counts.barh(life.number, life.receive_count, color=colour[life.fate], height=0.6)
        counts.text(life.receive_count + 0.1, life.number, str(life.receive_count),
                    va="center", fontsize=7)
    most = max([life.receive_count for life in result.lives] + [result.max_receive_count or 0, 1])
    counts.set_xlim(0, most + 1.2)
    if result.max_receive_count is not None:
        counts.axvline(result.max_receive_count, color=PURPLE, linestyle="--", linewidth=1)
    counts.xaxis.set_major_locator(MaxNLocator(integer=True))
    counts.set_xlabel("receives", fontsize=9)
    counts.tick_params(axis="x", labelsize=8)
    counts.set_title(f"maxReceiveCount {result.max_receive_count}" if result.max_receive_count
                     else "no DLQ", fontsize=8, color=PURPLE if result.max_receive_count else BLACK)
    fates = result.fates()
    ax.set_title(f"{result.title.replace('; ', chr(10))}\n{_n(result.invocations, 'invocation')}; "
                 + ", ".join(f"{n} {fate.replace('_', ' ')}" for fate, n in sorted(fates.items())),
                 fontsize=8.5, loc="left")
    handles = [Patch(facecolor=GREEN, edgecolor=BLACK, linewidth=0.6, label="processed"),
               Patch(facecolor=RED, edgecolor=BLACK, linewidth=0.6, label="failed"),
               Patch(facecolor=GREY, label=f"invisible (VT {vt:g} s)"),
               Line2D([], [], marker="v", linestyle="none", markerfacecolor="white",
                      markeredgecolor=BLACK, label="visible again"),
               Line2D([], [], marker="|", linestyle="none", markersize=10, markeredgewidth=2.5,
                      color=DARK_GREEN, label="deleted"),
               Line2D([], [], marker=">", linestyle="none", color=PURPLE, label="to the DLQ"),
               Line2D([], [], marker="x", linestyle="none", markeredgewidth=2.5, color=BLACK,
                      label="expired")]
    if any(d.stale for d in result.deliveries):
        handles.append(Patch(facecolor=GREEN, edgecolor=BLACK, hatch="xx",
                             label="delete with a stale handle"))
    figure.legend(handles=handles, fontsize=7, ncol=4, loc="lower center", frameon=False)
    figure.tight_layout(rect=(0, 0.42 / figure.get_figheight(), 1, 1))
    return figure


def _levels(deliveries):
    """(delivery, level, levels): a message's deliveries that overlap in time (a duplicate while
    the first is still running) are drawn one above the other."""
    by_message: dict[int, list] = {}
    for d in deliveries:
        by_message.setdefault(d.message, []).append(d)
    out = []
    for mine in by_message.values():
        mine.sort(key=lambda d: d.start)
        ends: list[float] = []  # per level, when its last box ends
        placed = []
        for d in mine:
            level = next((k for k, end in enumerate(ends) if end <= d.start), len(ends))
            if level == len(ends):
                ends.append(d.end)
            else:
                ends[level] = d.end
            placed.append((d, level))
        out.extend((d, level, len(ends)) for d, level in placed)
    return out


# --- the site's precomputed figure ----------------------------------------------------------------

#: The configurations behind the chapter's slider: ReportBatchItemFailures off (the handler
#: raises) or on (the handler reports the bad order), and maxReceiveCount.
SITE_STEPS = tuple((report, count) for report in (False, True) for count in (1, 2, 3, 5))


def plotly_frames(steps=SITE_STEPS):
    """A plotly Figure with one slider step per (ReportBatchItemFailures, maxReceiveCount): the
    lives of :func:`life`'s three orders, drawn like :func:`draw` (grey: invisible; green:
    processed; red: failed; the end as a marker). For the site, where no kernel runs; plotly is
    imported only here."""
    import plotly.graph_objects as go

    runs = [(report, count, life(report=report, respond="report" if report else "raise",
                                 max_receive_count=count)) for report, count in steps]
    names = [f"{'on' if report else 'off'} / {count}" for report, count, _ in runs]
    last = max(max(d.end for d in r.deliveries) for *_, r in runs)
    last = max([last] + [life_.ended for *_, r in runs for life_ in r.lives if life_.ended])

    def label(life_):
        return f"#{life_.number}" + (" poison" if life_.poison else "")

    def segments(spans):
        """Line segments (x0, x1, y) as one trace's x and y, separated by None."""
        xs, ys = [], []
        for x0, x1, y in spans:
            xs += [x0, x1, None]
            ys += [y, y, None]
        return xs, ys

    def traces(result):
        # Thick line segments rather than bars: plotly offsets bars that share a category.
        grey = []
        for life_ in result.lives:
            for t in life_.receives:
                stop = t + result.visibility_timeout
                if life_.ended is not None and life_.ended < stop:
                    stop = life_.ended
                grey.append((t, stop, life_.number))
        xs, ys = segments(grey)
        out = [go.Scatter(x=xs, y=ys, mode="lines", line={"color": GREY, "width": 7},
                          name="invisible", hoverinfo="skip")]
        for failed, colour, name in ((False, GREEN, "processed"), (True, RED, "failed")):
            mine = [d for d in result.deliveries if d.failed == failed]
            xs, ys = segments([(d.start, d.end, d.message) for d in mine])
            out.append(go.Scatter(x=xs, y=ys, mode="lines", line={"color": colour, "width": 20},
                                  name=name, hoverinfo="skip"))
        out.append(go.Scatter(
            x=[(d.start + d.end) / 2 for d in result.deliveries],
            y=[d.message for d in result.deliveries], mode="text", showlegend=False,
            text=[str(d.receive_count) for d in result.deliveries],
            textfont={"color": "white", "size": 11},
            hovertemplate="ApproximateReceiveCount %{text}<extra></extra>"))
        symbol = {"deleted": "line-ns-open", "redriven": "triangle-right", "expired": "x"}
        colour = {"deleted": DARK_GREEN, "redriven": PURPLE, "expired": BLACK}
        ended = [life_ for life_ in result.lives if life_.ended is not None]
        out.append(go.Scatter(
            x=[life_.ended + 0.6 for life_ in ended], y=[life_.number for life_ in ended],
            mode="markers", name="end (hover for which)", marker={
                "symbol": [symbol[life_.fate] for life_ in ended], "size": 16,
                "color": [colour[life_.fate] for life_ in ended],
                "line": {"width": 3, "color": [colour[life_.fate] for life_ in ended]}},
            text=[{"deleted": "deleted", "redriven": "moved to the DLQ"}.get(life_.fate, "expired")
                  for life_ in ended],
            hovertemplate="%{text} at %{x:g} s<extra></extra>"))
        return out

    def title(step, result):
        report, count, _ = step
        counts = ", ".join(str(life_.receive_count) for life_ in result.lives)
        return (f"ReportBatchItemFailures {'on' if report else 'off'}, maxReceiveCount {count}"
                f"<br>{_n(result.invocations, 'invocation')}; receive counts {counts}; "
                + ", ".join(f"{n} {fate.replace('_', ' ')}"
                            for fate, n in sorted(result.fates().items())))

    first = next((n for n, (report, count, _) in enumerate(runs) if report and count == 3), 0)
    figure = go.Figure(data=traces(runs[first][2]))
    figure.frames = [go.Frame(data=traces(run[2]), name=name, layout={"title_text": title(run, run[2])})
                     for name, run in zip(names, runs)]
    figure.update_layout(
        title_text=title(runs[first], runs[first][2]), title_font_size=13, barmode="overlay",
        height=470, xaxis={"title": "simulated time (s)", "range": [START - 1, last + 2]},
        yaxis={"autorange": "reversed", "tickvals": [life_.number for life_ in runs[0][2].lives],
               "ticktext": [label(life_) for life_ in runs[0][2].lives], "zeroline": False},
        legend={"orientation": "h", "y": -0.24, "x": 0, "font": {"size": 11}}, margin={"l": 80, "r": 20, "t": 70, "b": 40},
        sliders=[{"active": first, "pad": {"t": 95}, "len": 1.0, "x": 0,
                  "currentvalue": {"prefix": "ReportBatchItemFailures / maxReceiveCount: ",
                                   "xanchor": "right", "font": {"size": 12}},
                  "steps": [{"label": name, "method": "animate",
                             "args": [[name], {"mode": "immediate",
                                               "frame": {"duration": 0, "redraw": True},
                                               "transition": {"duration": 0}}]}
                            for name in names]}])
    return figure
