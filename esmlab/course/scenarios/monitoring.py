"""Lab 08 (Monitoring): pipelines seen only through the metrics CloudWatch holds for them.

    from esmlab.course.scenarios import monitoring as mon
    board = mon.queue_pipeline(duration=8.0, max_concurrency=2)   # demo: a backlog building
    mon.draw(board)                                               # its dashboard
    board = mon.sick("P2")                                        # exercise 3: one sick pipeline
    mon.query(my_queries)                                         # exercise 1: your query
    mon.alarm(my_alarm, blocked=True)                             # exercise 2: your alarm

Each scenario is a pure function of its arguments: it opens a fresh :class:`esmlab.Lab`, builds a
pipeline with ordinary boto3 calls (an SQS queue ``orders`` or a Kinesis stream ``clicks`` or a
DynamoDB table ``accounts``, a function, a mapping), writes traffic for ten simulated minutes,
and reads the dashboard back with the lab's own ``cloudwatch`` client (``get_metric_data``), as a
learner would. It returns a :class:`Dashboard`: the panels, their series per minute, and what the
scenario injected (which the exercise's check compares with the learner's diagnosis). Results are
cached (same arguments, same object).

What the dashboards rest on (docs/simulator.md, "CloudWatch"):

* SQS: ``ApproximateNumberOfMessagesVisible`` (queue depth), ``ApproximateAgeOfOldestMessage``;
  Lambda: ``Invocations``, ``Errors``, ``Throttles``, ``ConcurrentExecutions`` and, for streams,
  ``IteratorAge``, the age of the last record of each batch
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html,
  https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html).
* A poison message distorts ``ApproximateAgeOfOldestMessage``; a dead-letter queue avoids that
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/capturing-problematic-messages.html).
* MODELLING CHOICES that shape the pictures: queue gauges sampled at each minute's end; SQS's
  exclusion of messages received three times or more from the age is not modelled; stream
  retries wait 1, 2, 4, 8, then 12 s (M5); a failing record blocks its shard until it expires
  (M11).

Cost: a call takes about 0.1-0.5 s on an idle machine (the first of a session longer).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import json
import time
from dataclasses import dataclass, field

from .arguments import one_of, positive, whole

MINUTES = 10  #: every pipeline runs for ten simulated minutes
QUEUE = "orders"
STREAM = "clicks"
TABLE = "accounts"
FUNCTION = "orders-worker"
STREAM_FUNCTION = "clicks-worker"
TABLE_FUNCTION = "accounts-worker"
TOPIC = "ops-alerts"
ALERT_QUEUE = "ops-inbox"
#: The SNS topic exercise 2's alarm notifies (the scenario creates it, and subscribes a queue).
TOPIC_ARN = f"arn:aws:sns:us-east-1:123456789012:{TOPIC}"
BURST = 10  #: orders arrive in bursts of 10 ...
EVERY = 20  #: ... every 20 s: 30 orders a minute
POISON_AT = 62.0  #: the poison message (record, item) is written in the burst at t = 62 s
SQS_METRICS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html"
LAMBDA_METRICS = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html"
KINESIS_METRICS = "https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html"

#: Exercise 3's causes and fixes: the learner picks one of each per pipeline.
CAUSES = {
    "poison": "a message that always fails, on a queue without a dead-letter queue",
    "slow": "the function is slower than the arrival rate allows at its concurrency cap",
    "throttled": "reserved concurrency throttles the mapping's invocations",
    "blocked": "one failing record blocks its shard",
    "healthy": "nothing: the pipeline keeps up",
}
FIXES = {
    "dlq": "give the queue a redrive policy to a dead-letter queue (maxReceiveCount)",
    "concurrency": "raise ScalingConfig.MaximumConcurrency (or make the function faster)",
    "reserved": "raise the function's reserved concurrency above the mapping's concurrency",
    "retry_limit": "set MaximumRetryAttempts with BisectBatchOnFunctionError and an "
                   "on-failure destination",
    "nothing": "change nothing",
}
#: The right fix for each cause.
FIX_OF = {"poison": "dlq", "slow": "concurrency", "throttled": "reserved",
          "blocked": "retry_limit", "healthy": "nothing"}
#: Exercise 3's anonymous pipelines and what each one has (the learner sees only the dashboards).
SICK = {"P1": "throttled", "P2": "blocked", "P3": "healthy", "P4": "poison", "P5": "slow"}
COLOURS = ("#1f77b4", "#e66100", "#4d4d4d", "#d62728")
#: Errors red and throttles orange on every dashboard; the rest takes COLOURS in turn.
METRIC_COLOURS = {"Errors": "#d62728", "Throttles": "#e66100"}
STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "d"))


@dataclass(frozen=True)
class Series:
    label: str
    minutes: tuple  #: minute of each value (0 = the first simulated minute)
    values: tuple


@dataclass(frozen=True)
class Dashboard:
    title: str
    panels: tuple  #: ((panel title, (Series, ...)), ...)
    cause: str = "healthy"  #: what the scenario injected: a key of CAUSES
    minutes: int = MINUTES
    facts: dict = field(default_factory=dict)  #: counts from the trace: invocations, errors, ...
    seconds: float = 0.0  #: wall-clock time the call took

    def series(self, metric: str) -> Series:
        """The first series whose label starts with ``metric``."""
        for _title, lines in self.panels:
            for line in lines:
                if line.label.split(" (")[0] == metric:
                    return line
        raise KeyError(f"no metric {metric!r} on this dashboard; it has "
                       f"{[s.label for _, lines in self.panels for s in lines]}")

    def summary(self) -> str:
        facts = ", ".join(f"{k} {v}" for k, v in self.facts.items())
        return f"{self.title}: {facts}"

    def __repr__(self):
        return f"<Dashboard {self.summary()}>"


def metric_query(id_, namespace, name, dimensions, stat, label=None) -> dict:
    """One ``MetricDataQueries`` item, 1-minute period."""
    return {"Id": id_, "Label": label or f"{name} ({stat})",
            "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": name,
                                      "Dimensions": [{"Name": k, "Value": v}
                                                     for k, v in dimensions.items()]},
                           "Period": 60, "Stat": stat}}


def _fetch(lab, panels, minutes) -> tuple:
    """Read the panels back with the lab's own CloudWatch client."""
    cloudwatch = lab.client("cloudwatch")
    queries, shape = [], []
    for title, metrics in panels:
        ids = []
        for namespace, name, dims, stat in metrics:
            ids.append(f"m{len(queries)}")
            queries.append(metric_query(ids[-1], namespace, name, dims, stat))
        shape.append((title, ids))
    began = lab.datetime() - dt.timedelta(seconds=lab.now)
    got = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=began,
                                     EndTime=began + dt.timedelta(minutes=minutes),
                                     ScanBy="TimestampAscending")["MetricDataResults"]
    by_id = {r["Id"]: r for r in got}
    out = []
    for title, ids in shape:
        lines = []
        for id_ in ids:
            r = by_id[id_]
            lines.append(Series(r["Label"], tuple(int((t.replace(tzinfo=None) - began.replace(
                tzinfo=None)).total_seconds() // 60) for t in r["Timestamps"]),
                tuple(float(v) for v in r["Values"])))
        out.append((title, tuple(lines)))
    return tuple(out)


def _quiet_run(lab, until):
    with contextlib.redirect_stdout(io.StringIO()):
        lab.run(until=until)


def _function_panels(function, stream=False):
    f = {"FunctionName": function}
    # errors apart from invocations: 2 errors a minute must not vanish under 30 invocations
    panels = [("Invocations (per minute)", [("AWS/Lambda", "Invocations", f, "Sum")]),
              ("Errors and throttles (per minute)",
               [("AWS/Lambda", "Errors", f, "Sum"), ("AWS/Lambda", "Throttles", f, "Sum")]),
              ("Concurrent executions", [("AWS/Lambda", "ConcurrentExecutions", f, "Maximum")])]
    if stream:
        panels.insert(0, ("Iterator age (ms)", [("AWS/Lambda", "IteratorAge", f, "Maximum")]))
    return panels


def _facts(lab) -> dict:
    calls = [i for i in lab.trace.invocations if i.end is not None]
    return {"invocations": len(calls),
            "errors": sum(1 for i in calls if i.outcome in ("error", "timeout")),
            "throttles": len(lab.trace.of("throttle"))}


# --- an SQS pipeline -----------------------------------------------------------------------------


def queue_pipeline(duration: float = 0.5, max_concurrency: int = 0, reserved: int = 0,
                   poison: bool = False, dlq: bool = False, minutes: int = MINUTES) -> Dashboard:
    """The ``orders`` queue (visibility timeout 30 s), 10 orders every 20 s for ten minutes, a
    mapping with ``BatchSize`` 1 on a function that runs ``duration`` s. ``max_concurrency``:
    the mapping's ``ScalingConfig.MaximumConcurrency`` (0: not set); ``reserved``: the
    function's reserved concurrency (0: none); ``poison``: one order (at t = 60 s) makes the
    handler raise every time; ``dlq``: the queue redrives to ``orders-dlq`` after 3 receives;
    ``minutes``: how long the traffic runs (2-10; the lab's widget runs 6, to answer quickly)."""
    duration = positive("duration", duration, unit=" (simulated seconds)")
    if duration > 25:
        raise ValueError(f"duration must be at most 25 s (the function's timeout), got {duration!r}")
    max_concurrency = whole("max_concurrency", max_concurrency, minimum=0, maximum=1000)
    if max_concurrency == 1:
        raise ValueError("max_concurrency must be 0 (not set) or 2 to 1000 (AWS's range), got 1")
    reserved = whole("reserved", reserved, minimum=0, maximum=1000)
    minutes = whole("minutes", minutes, minimum=2, maximum=MINUTES)
    return _queue_pipeline(duration, max_concurrency, reserved, bool(poison), bool(dlq), None,
                           minutes)


@functools.lru_cache(maxsize=128)
def _queue_pipeline(duration, max_concurrency, reserved, poison, dlq, title=None,
                    minutes=MINUTES) -> Dashboard:
    began = time.perf_counter()
    lab = _queue_lab(duration, max_concurrency, reserved, poison, dlq, minutes)
    try:
        q = {"QueueName": QUEUE}
        panels = [("Messages visible (queue depth)",
                   [("AWS/SQS", "ApproximateNumberOfMessagesVisible", q, "Maximum")]),
                  ("Age of oldest message (s)",
                   [("AWS/SQS", "ApproximateAgeOfOldestMessage", q, "Maximum")]),
                  *_function_panels(FUNCTION)]
        if title is None:
            title = (f"duration {duration:g} s, MaximumConcurrency {max_concurrency or 'not set'}, "
                     f"reserved concurrency {reserved or 'none'}"
                     + (", a poison order" if poison else "") + (", DLQ" if dlq else ""))
        return Dashboard(title, _fetch(lab, panels, minutes),
                         "poison" if poison and not dlq else "healthy", minutes, _facts(lab),
                         time.perf_counter() - began)
    finally:
        lab.close()


def _queue_lab(duration, max_concurrency, reserved, poison, dlq, minutes=MINUTES):
    """The open lab of :func:`queue_pipeline`, after its ten minutes (the caller closes it)."""
    from esmlab import Lab

    lab = Lab(seed=0)
    sqs, lam = lab.client("sqs"), lab.client("lambda")
    attributes = {"VisibilityTimeout": "30"}
    if dlq:
        dlq_url = sqs.create_queue(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn,
                                                  "maxReceiveCount": 3})
    url = sqs.create_queue(QueueName=QUEUE, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]

    def handler(event, context):
        for record in event["Records"]:
            if record["body"] == "poison":
                raise ValueError("cannot parse this order")

    lab.function(FUNCTION, handler, timeout=25, duration=duration,
                 reserved_concurrency=reserved or None)
    params = {"ScalingConfig": {"MaximumConcurrency": max_concurrency}} if max_concurrency else {}
    lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn, BatchSize=1,
                                    MetricsConfig={"Metrics": ["EventCount"]}, **params)

    def burst(k):
        bad = poison and 2 + EVERY * k == POISON_AT
        entries = [{"Id": str(n),
                    "MessageBody": "poison" if bad and n == 0 else f"order {k * BURST + n}"}
                   for n in range(BURST)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)

    for k in range(minutes * 60 // EVERY):
        lab.clock.at(2 + EVERY * k, burst, k)
    _quiet_run(lab, 60 * minutes)
    return lab


# --- a Kinesis pipeline with a poison record ----------------------------------------------------


@functools.lru_cache(maxsize=8)
def stream_pipeline(poison: bool = True, title: str | None = None) -> Dashboard:
    """The ``clicks`` stream (2 shards), 10 records every 20 s, a mapping with the defaults
    (``MaximumRetryAttempts`` -1, ``MaximumRecordAgeInSeconds`` -1); with ``poison`` one record
    at t = 60 s makes the handler raise every time."""
    import base64

    from esmlab import Lab

    began = time.perf_counter()
    lab = Lab(seed=0)
    try:
        kinesis, lam = lab.client("kinesis"), lab.client("lambda")
        kinesis.create_stream(StreamName=STREAM, ShardCount=2)
        arn = kinesis.describe_stream_summary(StreamName=STREAM)[
            "StreamDescriptionSummary"]["StreamARN"]

        def handler(event, context):
            for record in event["Records"]:
                if base64.b64decode(record["kinesis"]["data"]) == b"poison":
                    raise ValueError("cannot parse this click")

        lab.function(STREAM_FUNCTION, handler, timeout=10, duration=0.3)
        lam.create_event_source_mapping(FunctionName=STREAM_FUNCTION, EventSourceArn=arn,
                                        StartingPosition="TRIM_HORIZON", BatchSize=10)

        def burst(k):
            records = [{"PartitionKey": f"user-{n}", "Data": b"poison" if poison and
                        2 + EVERY * k == POISON_AT and n == 0 else b'{"click": 1}'}
                       for n in range(BURST)]
            kinesis.put_records(StreamName=STREAM, Records=records)

        for k in range(MINUTES * 60 // EVERY):
            lab.clock.at(2 + EVERY * k, burst, k)
        _quiet_run(lab, 60 * MINUTES)
        panels = _function_panels(STREAM_FUNCTION, stream=True)
        return Dashboard(title or ("a poison record" if poison else "healthy"),
                         _fetch(lab, panels, MINUTES), "blocked" if poison else "healthy",
                         MINUTES, _facts(lab), time.perf_counter() - began)
    finally:
        lab.close()


# --- exercise 1: a query of the learner's, on the backlog -----------------------------------------


@dataclass(frozen=True)
class QueryRun:
    queries: object  #: what the learner gave
    results: tuple = ()  #: MetricDataResults, as get_metric_data returned them
    error: str = ""  #: the exception and message, if get_metric_data refused the queries
    depth: tuple = ()  #: the true queue depth per minute (ApproximateNumberOfMessagesVisible)


def query(queries) -> QueryRun:
    """Exercise 1: the ``orders`` queue with a backlog building (the function runs 8 s and the
    mapping's ``MaximumConcurrency`` is 2: 15 orders a minute done, 30 arrive), then
    ``get_metric_data(MetricDataQueries=queries, StartTime=<lab start>, EndTime=<+10 min>)``
    with the lab's own CloudWatch client."""
    if not isinstance(queries, list):
        raise TypeError(f"queries must be a list of MetricDataQueries dicts, got {queries!r}")
    return _query(json.dumps(queries, sort_keys=True, default=str))


@functools.lru_cache(maxsize=64)
def _query(queries_json) -> QueryRun:
    from botocore.exceptions import ClientError, ParamValidationError

    queries = json.loads(queries_json)
    lab = _queue_lab(8.0, 2, 0, False, False)
    try:
        cloudwatch = lab.client("cloudwatch")
        began = lab.datetime() - dt.timedelta(seconds=lab.now)
        depth = _fetch(lab, [("depth", [("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                                         {"QueueName": QUEUE}, "Maximum")])], MINUTES)
        try:
            got = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=began,
                                             EndTime=began + dt.timedelta(minutes=MINUTES),
                                             ScanBy="TimestampAscending")
        except ClientError as error:
            info = error.response["Error"]
            return QueryRun(queries, error=f"{info['Code']}: {info['Message']}",
                            depth=depth[0][1][0].values)
        except ParamValidationError as error:
            return QueryRun(queries, error=f"ParamValidationError: {error}",
                            depth=depth[0][1][0].values)
        return QueryRun(queries, tuple(got["MetricDataResults"]), depth=depth[0][1][0].values)
    finally:
        lab.close()


# --- exercise 2: an alarm of the learner's, on a DynamoDB stream ---------------------------------


@dataclass(frozen=True)
class AlarmRun:
    blocked: bool  #: whether a poison item blocked the stream's shard
    states: tuple = ()  #: ((t, state), ...): every state the alarm entered, in order
    notifications: tuple = ()  #: the SNS messages (parsed) the ops-inbox queue received
    error: str = ""  #: the exception and message, if put_metric_alarm refused the alarm
    ages: tuple = ()  #: the function's IteratorAge (Maximum, ms) per minute

    def first_alarm(self) -> float | None:
        return next((t for t, state in self.states if state == "ALARM"), None)


def alarm(params, blocked: bool = True) -> AlarmRun:
    """Exercise 2: the ``accounts`` table's stream (one shard), 10 item writes every 20 s for
    ten minutes, a mapping with the defaults; with ``blocked``, the item written at t = 62 s
    makes the handler raise every time. The SNS topic :data:`TOPIC_ARN` exists, with the SQS
    queue ``ops-inbox`` subscribed. ``params`` (keyword arguments of ``put_metric_alarm``) are
    given to the lab's own CloudWatch client before the traffic starts."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of put_metric_alarm arguments, got {params!r}")
    return _alarm(json.dumps(params, sort_keys=True, default=str), bool(blocked))


@functools.lru_cache(maxsize=64)
def _alarm(params_json, blocked) -> AlarmRun:
    from botocore.exceptions import ClientError, ParamValidationError

    from esmlab import Lab

    params = json.loads(params_json)
    lab = Lab(seed=0)
    try:
        dynamodb, lam = lab.client("dynamodb"), lab.client("lambda")
        sqs, sns, cloudwatch = lab.client("sqs"), lab.client("sns"), lab.client("cloudwatch")
        stream_arn = dynamodb.create_table(
            TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]["LatestStreamArn"]
        inbox = sqs.create_queue(QueueName=ALERT_QUEUE)["QueueUrl"]
        topic = sns.create_topic(Name=TOPIC)["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs",
                      Endpoint=f"arn:aws:sqs:us-east-1:123456789012:{ALERT_QUEUE}")

        def handler(event, context):
            for record in event["Records"]:
                if record["dynamodb"]["NewImage"].get("status", {}).get("S") == "poison":
                    raise ValueError("cannot apply this change")

        lab.function(TABLE_FUNCTION, handler, timeout=10, duration=0.3)
        lam.create_event_source_mapping(FunctionName=TABLE_FUNCTION, EventSourceArn=stream_arn,
                                        StartingPosition="TRIM_HORIZON", BatchSize=10)
        try:
            cloudwatch.put_metric_alarm(**params)
        except ClientError as error:
            info = error.response["Error"]
            return AlarmRun(blocked, error=f"{info['Code']}: {info['Message']}")
        except (ParamValidationError, TypeError) as error:
            return AlarmRun(blocked, error=f"{type(error).__name__}: {error}")

        def burst(k):
            poison = blocked and 2 + EVERY * k == POISON_AT
            items = [{"PutRequest": {"Item": {
                "id": {"S": f"account-{n}"}, "balance": {"N": str(k)},
                "status": {"S": "poison" if poison and n == 0 else "ok"}}}}
                for n in range(BURST)]
            dynamodb.batch_write_item(RequestItems={TABLE: items})

        states = []
        name = params.get("AlarmName")
        for k in range(MINUTES * 60 // EVERY):
            lab.clock.at(2 + EVERY * k, burst, k)
        for minute in range(1, MINUTES + 1):
            _quiet_run(lab, 60 * minute)
            found = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"] if name else []
            state = found[0]["StateValue"] if found else "?"
            if not states or states[-1][1] != state:
                states.append((60.0 * minute, state))
        notes = []
        while True:
            got = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                break
            for message in got:
                notes.append(json.loads(json.loads(message["Body"])["Message"]))
                sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])
        ages = _fetch(lab, [("age", [("AWS/Lambda", "IteratorAge",
                                      {"FunctionName": TABLE_FUNCTION}, "Maximum")])], MINUTES)
        return AlarmRun(blocked, tuple(states), tuple(notes), ages=ages[0][1][0].values)
    finally:
        lab.close()


# --- exercise 3: the sick pipelines ---------------------------------------------------------------


def sick(name: str) -> Dashboard:
    """Exercise 3's pipeline ``name`` (a key of :data:`SICK`), titled only by its name."""
    one_of("name", name, tuple(SICK))
    cause = SICK[name]
    title = f"pipeline {name}"
    if cause == "blocked":
        return stream_pipeline(True, title)
    settings = {"healthy": (0.5, 0, 0, False), "poison": (0.5, 0, 0, True),
                "slow": (8.0, 2, 0, False), "throttled": (3.0, 0, 1, False)}[cause]
    board = _queue_pipeline(*settings, False, title)
    if cause in ("slow", "throttled"):  # the queue's traffic, not a bad message, is the cause
        board = Dashboard(board.title, board.panels, cause, board.minutes, board.facts,
                          board.seconds)
    return board


# --- drawing -------------------------------------------------------------------------------------


def draw(board: Dashboard, width: float = 7.0):
    """One graph per panel, two columns, x: simulated minute. Returns the figure."""
    import matplotlib.pyplot as plt

    rows = -(-len(board.panels) // 2)
    figure, axes = plt.subplots(rows, 2, squeeze=False, sharex=True,
                                figsize=(width, 0.5 + 2.05 * rows))
    for k, (title, lines) in enumerate(board.panels):
        ax = axes[k // 2][k % 2]
        for j, line in enumerate(lines):
            style, marker = STYLES[j % len(STYLES)]
            name = line.label.split(" (")[0]
            ax.plot(line.minutes, line.values, linestyle=style, marker=marker, markersize=3.5,
                    color=METRIC_COLOURS.get(name, COLOURS[j % len(COLOURS)]), linewidth=1.6,
                    label=name)
        if not any(line.values for line in lines):
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center",
                    fontsize=9, color="#777777")
        ax.set_title(title, fontsize=9)
        ax.set_xlim(-0.3, board.minutes - 0.7)
        top = max((max(line.values) for line in lines if line.values), default=1.0) or 1.0
        # room above the lines for the legend, so that it never hides a point
        ax.set_ylim(0, top * (1.45 if len(lines) > 1 else 1.1))
        ax.tick_params(labelsize=8)
        ax.grid(color="#dddddd", linewidth=0.5)
        if len(lines) > 1:
            ax.legend(fontsize=7, loc="upper center", ncol=len(lines), frameon=False,
                      handlelength=2.2, columnspacing=1.0)
    for k in range(len(board.panels), rows * 2):
        axes[k // 2][k % 2].set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("simulated minute", fontsize=8)
    if len(board.panels) % 2:
        axes[-2][1].xaxis.set_tick_params(labelbottom=True)
        axes[-2][1].set_xlabel("simulated minute", fontsize=8)
    figure.suptitle(board.title, fontsize=10)
    # fixed margins rather than tight_layout, which costs a widget a tenth of a second a redraw
    height = figure.get_figheight()
    figure.subplots_adjust(left=0.09, right=0.985, bottom=0.45 / height, top=1 - 0.7 / height,
                           wspace=0.22, hspace=0.42)
    return figure
