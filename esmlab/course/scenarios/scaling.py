"""Lab 06 (Scaling): how many invocations an SQS or stream mapping runs at once, and what limits it.

    from esmlab.course.scenarios import scaling as sc
    runs = [sc.ramp(mode) for mode in sc.RAMP_MODES]   # a backlog: default, capped, provisioned
    sc.draw_ramps(runs)                                # concurrency over time, one axis
    sc.idle("default")                                 # an idle mapping: slots and empty receives
    run = sc.limits(maximum_concurrency=20, reserved=10, max_receive_count=1)
    sc.draw_limits(run)                                # throttles, and messages in the DLQ
    sc.fifo(groups=6, maximum_concurrency=10)          # FIFO: at most one batch per group
    sc.streams(shards=4, parallelization=2)            # one mapping, shards x PF invocations
    sc.writers({"orders": 6, "refunds": 4, "reserved": 10})   # exercise 1
    sc.keeps_up(shards=2, parallelization=2)                  # exercise 2

Each scenario is a pure function of its arguments: it opens a fresh :class:`esmlab.Lab` (which
closes any other open lab), creates the queues or the stream, a function and the mappings with
ordinary boto3 calls, runs simulated time and returns what the trace shows. Results are cached.

What the runs rest on (docs/simulator.md, "Scaling", "Provisioned mode", "Throttles"):

* SQS, default mode: 5 concurrent invocations at first, up to 300 more a minute while messages
  remain, at most 1,250 per mapping, and within the account's concurrency (1,000 by default);
  back to 5 and then 2 at low traffic, but not to 2 when ``MaximumConcurrency`` is set
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html). MODELLING CHOICE M4:
  the 1 s cadence, +5 a second, halving on throttles, 60 s and 120 s of idleness.
* Provisioned mode: up to 1,000 more concurrency a minute, 10 concurrent invokes per poller,
  ``MinimumPollers`` kept ready (same page). MODELLING CHOICE M4-P: the cadence and one long
  poll per idle poller.
* A throttled batch is retried until its visibility timeout runs out and then given up, not
  deleted (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html);
  MODELLING CHOICE: a retry every 1 s.
* Streams: one mapping keeps one iterator per shard and runs at most shards x PF invocations
  (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html,
  https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html).

Cost: :func:`ramp` about 1 s of CPU (1,400 messages); the others 0.1-0.5 s.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
from dataclasses import dataclass

START = 2.0  #: the mapping becomes Enabled at t = 2 s (M8)
FUNCTION = "orders-worker"
QUEUE = "orders"
DLQ = "orders-dlq"
ACCOUNT = "123456789012"
SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"

# --- demo 1: the ramp ----------------------------------------------------------------------------

RAMP_MESSAGES = 1_400  #: the backlog: more messages than any mode can start in 300 s
RAMP_DURATION = 400.0  #: seconds each invocation runs: none ends during the 300 s shown
RAMP_SECONDS = 300  #: simulated seconds shown after the mapping is Enabled
RAMP_CAP = 200  #: ``MaximumConcurrency`` of the capped run
RAMP_POLLERS = {"MinimumPollers": 2, "MaximumPollers": 125}  #: 125 x 10 = 1,250 invokes
#: The runs of demo 1: mode -> (label, colour, line style). Colour and style both differ, so
#: the lines are told apart in grey print and by colour-blind readers.
RAMP_MODES = {
    "default": ("default mode, account limit 1,000", "#1f77b4", "-"),
    "raised": ("default mode, account limit raised to 2,000", "#e66100", "--"),
    "maximum": (f"MaximumConcurrency {RAMP_CAP}", "#4daf4a", ":"),
    "provisioned": ("provisioned mode, 2-125 pollers", "#984ea3", "-."),
}


@dataclass(frozen=True)
class RampRun:
    """Concurrency over time of one mapping draining a backlog."""

    mode: str
    label: str
    times: tuple  #: whole seconds from 0
    running: tuple  #: invocations running at each of ``times``
    peak: int
    peak_at: float  #: seconds after Enabled when ``peak`` was first reached
    throttles: int
    receives: int  #: ReceiveMessage requests
    empty: int  #: of which empty
    conserved: bool

    def summary(self) -> str:
        return (f"{self.label}: peak {self.peak:,} concurrent invocations, reached "
                f"{self.peak_at:g} s after Enabled; {self.throttles:,} throttles; "
                f"{self.receives:,} receives ({self.empty:,} empty)")


def _quiet_run(lab, until):
    """``lab.run`` without its printed failure notice (the scenarios report what matters)."""
    with contextlib.redirect_stdout(io.StringIO()):
        lab.run(until=until)


def _queue(sqs, name, **attributes):
    url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})[
        "QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    return url, arn


def _send(sqs, url, count, prefix="order", group=None):
    for first in range(0, count, 10):
        entries = []
        for n in range(first, min(first + 10, count)):
            entry = {"Id": str(n - first), "MessageBody": json.dumps({"order": f"{prefix}-{n}"})}
            if group is not None:
                entry["MessageGroupId"] = group(n)
                entry["MessageDeduplicationId"] = f"{prefix}-{n}"
            entries.append(entry)
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def _running(invocations, times) -> tuple:
    """Invocations running at each time t: started at or before t, not ended by t."""
    points = sorted([(i.start, 1) for i in invocations]
                    + [(i.end, -1) for i in invocations if i.end is not None],
                    key=lambda p: (p[0], p[1]))
    out, running, k = [], 0, 0
    for t in times:
        while k < len(points) and points[k][0] <= t:
            running += points[k][1]
            k += 1
        out.append(running)
    return tuple(out)


def ramp(mode: str = "default") -> RampRun:
    """A backlog of 1,400 messages, ``BatchSize`` 1, invocations of 400 s, 300 s after Enabled.
    ``mode`` is one of :data:`RAMP_MODES`."""
    if mode not in RAMP_MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, RAMP_MODES))}, got {mode!r}")
    return _ramp(mode)


def _mode_params(mode) -> dict:
    if mode == "maximum":
        return {"ScalingConfig": {"MaximumConcurrency": RAMP_CAP}}
    if mode == "provisioned":
        return {"ProvisionedPollerConfig": dict(RAMP_POLLERS)}
    return {}


@functools.lru_cache(maxsize=8)
def _ramp(mode) -> RampRun:
    return _ramp_with(mode, json.dumps(_mode_params(mode)), 1_000 if mode == "default" else 2_000)


@functools.lru_cache(maxsize=64)
def _ramp_with(mode, params_json, account) -> RampRun:
    from esmlab import Lab

    with Lab(seed=6, account_concurrency=account) as lab:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        url, arn = _queue(sqs, QUEUE, VisibilityTimeout=900)
        lab.function(FUNCTION, lambda event, context: None, timeout=600, duration=RAMP_DURATION)
        _send(sqs, url, RAMP_MESSAGES)
        params = json.loads(params_json)
        lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn, BatchSize=1,
                                        **params)
        _quiet_run(lab, START + RAMP_SECONDS)
        times = tuple(range(int(START) + RAMP_SECONDS + 1))
        running = _running(lab.trace.invocations, times)
        peak = max(running)
        peak_at = next(t for t, r in zip(times, running, strict=True) if r == peak) - START
        label = RAMP_MODES[mode][0] if mode in RAMP_MODES else mode
        return RampRun(mode, label, times, running, peak, peak_at,
                       lab.trace.count("throttle"), lab.trace.count("poll"),
                       lab.trace.empty_receives(), lab.conservation().ok)


def draw_ramps(runs, width: float = 7.0):
    """Concurrency over time of each run, on one axis."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, 4.4), layout="constrained")
    for run in runs:
        _label, colour, style = RAMP_MODES[run.mode]
        ax.plot([t - START for t in run.times], run.running, color=colour, linestyle=style,
                linewidth=2.4, label=run.label)
    ax.axhline(1_250, color="#555555", linewidth=0.8)
    ax.text(2, 1_262, "1,250: a mapping's default ceiling", fontsize=9, color="#333333",
            va="bottom")
    ax.axhline(1_000, color="#555555", linewidth=0.8, linestyle=(0, (1, 3)))
    ax.text(RAMP_SECONDS - 2, 985, "1,000: default account limit", fontsize=9, color="#333333",
            ha="right", va="top")
    ax.set_xlim(-START, RAMP_SECONDS)
    ax.set_ylim(0, 1_400)
    ax.set_xlabel("seconds after the mapping is Enabled")
    ax.set_ylabel("concurrent invocations")
    ax.set_title(f"A backlog of {RAMP_MESSAGES:,} messages, BatchSize 1, "
                 f"{RAMP_DURATION:g} s invocations", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.16), ncol=2, fontsize=9, frameon=False)
    return fig


# --- demo 2: an idle mapping ---------------------------------------------------------------------

IDLE_SECONDS = 420  #: simulated seconds shown
IDLE_MODES = {
    "default": ("default mode", "#1f77b4", "-"),
    "maximum": ("MaximumConcurrency 10", "#4daf4a", ":"),
    "provisioned": ("provisioned mode, MinimumPollers 2", "#984ea3", "-."),
}


@dataclass(frozen=True)
class IdleRun:
    """A mapping with 50 messages at the start, then nothing."""

    mode: str
    label: str
    slots: tuple  #: (t, the mapping's concurrency target) at each change
    empty_per_minute: tuple  #: empty receives in each minute after Enabled

    def summary(self) -> str:
        steps = " -> ".join(f"{c} (t={t - START:g} s)" for t, c in self.slots)
        return (f"{self.label}: slots {steps}; empty receives per minute "
                f"{list(self.empty_per_minute)}")


def idle(mode: str = "default") -> IdleRun:
    """50 messages at t = 0 (``BatchSize`` 10, 1 s invocations), then an idle queue for 7 min."""
    if mode not in IDLE_MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, IDLE_MODES))}, got {mode!r}")
    return _idle(mode)


@functools.lru_cache(maxsize=8)
def _idle(mode) -> IdleRun:
    params = {}
    if mode == "maximum":
        params["ScalingConfig"] = {"MaximumConcurrency": 10}
    if mode == "provisioned":
        params["ProvisionedPollerConfig"] = {"MinimumPollers": 2, "MaximumPollers": 10}
    return _idle_with(mode, json.dumps(params))


@functools.lru_cache(maxsize=64)
def _idle_with(mode, params_json) -> IdleRun:
    from esmlab import Lab

    with Lab(seed=6) as lab:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        url, arn = _queue(sqs, QUEUE, VisibilityTimeout=60)
        lab.function(FUNCTION, lambda event, context: None, timeout=10, duration=1.0)
        _send(sqs, url, 50)
        params = json.loads(params_json)
        uuid = lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn,
                                               BatchSize=10, **params)["UUID"]
        _quiet_run(lab, START + IDLE_SECONDS)
        slots = tuple((e.t, e.detail["concurrency"]) for e in lab.trace.of("scale"))
        minutes = [0] * (IDLE_SECONDS // 60)
        for event in lab.trace.of("poll"):
            minute = int((event.t - START) // 60)
            if event.mapping == uuid and not event.records and 0 <= minute < len(minutes):
                minutes[minute] += 1
        label = IDLE_MODES[mode][0] if mode in IDLE_MODES else mode
        return IdleRun(mode, label, slots, tuple(minutes))


def draw_idle(runs, width: float = 7.0):
    """Top: each mapping's slots (concurrency target) over time. Bottom: empty receives a minute."""
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(width, 5.4), layout="constrained",
                                      height_ratios=(3, 2))
    bar = 0.8 / max(len(runs), 1)
    for k, run in enumerate(runs):
        _label, colour, style = IDLE_MODES[run.mode]
        xs = [t - START for t, _ in run.slots] + [IDLE_SECONDS]
        ys = [c for _, c in run.slots] + [run.slots[-1][1]]
        top.step(xs, ys, where="post", color=colour, linestyle=style, linewidth=2.4,
                 label=run.label)
        minutes = range(len(run.empty_per_minute))
        bottom.bar([m + (k - (len(runs) - 1) / 2) * bar for m in minutes], run.empty_per_minute,
                   width=bar, color=colour, label=run.label,
                   hatch=("", "..", "//")[k % 3], edgecolor="white")
    top.set_ylim(0, max(c for run in runs for _, c in run.slots) * 1.15)
    top.set_ylabel("slots (concurrency target)")
    top.set_xlabel("seconds after the mapping is Enabled")
    top.set_title("50 messages at the start, then an empty queue", fontsize=11)
    top.grid(alpha=0.3)
    top.legend(fontsize=9, loc="upper right")
    bottom.set_xticks(list(range(IDLE_SECONDS // 60)))
    bottom.set_xticklabels([f"{m}-{m + 1}" for m in range(IDLE_SECONDS // 60)])
    bottom.set_xlabel("minute after Enabled")
    bottom.set_ylabel("empty receives")
    bottom.grid(alpha=0.3, axis="y")
    return fig


# --- demo 3: MaximumConcurrency, reserved concurrency, throttles ---------------------------------

LIMITS_MESSAGES = 50  #: demo 3: messages in the queue (exercise 1: 100 in each of two queues)
LIMITS_DURATION = 10.0  #: seconds an invocation runs (BatchSize 1)
LIMITS_TIMEOUT = 10  #: the function's timeout
LIMITS_VISIBILITY = 60  #: the queue's visibility timeout: 6 x the timeout, as AWS advises
LIMITS_SECONDS = 600  #: simulated seconds after Enabled


@dataclass(frozen=True)
class LimitsRun:
    """A backlog drained under a MaximumConcurrency and a reserved concurrency."""

    maximum_concurrency: int | None
    reserved: int | None
    max_receive_count: int
    times: tuple
    running: tuple
    peak: int
    throttles: int
    gave_up: int  #: batches whose throttle retries ran out (the messages went back)
    processed: int  #: messages deleted after a successful invocation
    in_dlq: int
    never_ran: int  #: messages in the DLQ that no invocation ever carried
    in_queue: int
    conserved: bool
    finished_at: float  #: when the last invocation ended

    def summary(self) -> str:
        return (f"MaximumConcurrency {self.maximum_concurrency}, reserved {self.reserved}, "
                f"maxReceiveCount {self.max_receive_count}: peak {self.peak}, "
                f"{self.throttles:,} throttles, {self.gave_up} batches given up; "
                f"{self.processed} processed, {self.in_dlq} in the DLQ ({self.never_ran} never "
                f"ran), {self.in_queue} still in the queue")


def _check_optional(name, value, low, high):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be None or a whole number from {low} to {high}, "
                         f"got {value!r}")
    return value


def limits(maximum_concurrency: int | None = 20, reserved: int | None = 10,
           max_receive_count: int = 5) -> LimitsRun:
    """50 messages, ``BatchSize`` 1, 10 s invocations; the queue's DLQ after
    ``max_receive_count`` receives. ``maximum_concurrency`` is the mapping's
    ``ScalingConfig.MaximumConcurrency`` (None, or 2-1,000), ``reserved`` the function's
    reserved concurrency (None, or 0-1,000)."""
    _check_optional("maximum_concurrency", maximum_concurrency, 2, 1_000)
    _check_optional("reserved", reserved, 0, 1_000)
    _check_optional("max_receive_count", max_receive_count, 1, 1_000)
    if max_receive_count is None:
        raise ValueError("max_receive_count must be a whole number from 1 to 1000, got None")
    return _limits((("main", maximum_concurrency),), reserved, max_receive_count, LIMITS_MESSAGES)


@functools.lru_cache(maxsize=256)
def _limits(mappings, reserved, max_receive_count, messages) -> LimitsRun:
    """``mappings``: ((queue suffix, MaximumConcurrency or None), ...), one queue each, all on
    one function."""
    from esmlab import Lab

    with Lab(seed=6) as lab:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        _dlq_url, dlq_arn = _queue(sqs, DLQ)
        lab.function(FUNCTION, lambda event, context: None, timeout=LIMITS_TIMEOUT,
                     duration=LIMITS_DURATION, reserved_concurrency=reserved)
        queues = []
        for suffix, cap in mappings:
            name = QUEUE if suffix == "main" else suffix
            url, arn = _queue(sqs, name, VisibilityTimeout=LIMITS_VISIBILITY,
                              RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn,
                                                        "maxReceiveCount": max_receive_count}))
            queues.append(arn)
            _send(sqs, url, messages, prefix=name)
            params = {"ScalingConfig": {"MaximumConcurrency": cap}} if cap else {}
            lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn,
                                            BatchSize=1, **params)
        _quiet_run(lab, START + LIMITS_SECONDS)
        invocations = lab.trace.invocations
        times = tuple(range(int(START) + LIMITS_SECONDS + 1))
        running = _running(invocations, times)
        ran = {r for i in invocations for r in i.records}
        redriven = [r for e in lab.trace.of("redrive") for r in e.records]
        counts = lab.conservation().counts
        return LimitsRun(
            dict(mappings).get("main", sum(c or 0 for _, c in mappings)), reserved,
            max_receive_count, times, running, max(running), lab.trace.count("throttle"),
            lab.trace.count("gave_up"), sum(counts.get(q, {}).get("deleted", 0) for q in queues),
            len(redriven), len([r for r in redriven if r not in ran]),
            sum(counts.get(q, {}).get("in_queue", 0) for q in queues), lab.conservation().ok,
            max((i.end or 0.0 for i in invocations), default=0.0))


def draw_limits(run: LimitsRun, width: float = 7.0):
    """Invocations running over time, with the two limits drawn, and where the messages ended."""
    import matplotlib.pyplot as plt

    # fixed margins instead of a constrained layout: this figure is redrawn by a widget
    fig, ax = plt.subplots(figsize=(width, 3.8))
    fig.subplots_adjust(left=0.09, right=0.98, top=0.91, bottom=0.13)
    changes = [(t, r) for k, (t, r) in enumerate(zip(run.times, run.running, strict=True))
               if k == 0 or r != run.running[k - 1]]
    changes.append((run.times[-1], run.running[-1]))
    ax.step([t - START for t, _ in changes], [r for _, r in changes], where="post",
            color="#1f77b4", linewidth=2.2, label="invocations running")
    if run.maximum_concurrency:
        ax.axhline(run.maximum_concurrency, color="#4daf4a", linestyle=":", linewidth=2,
                   label=f"MaximumConcurrency {run.maximum_concurrency}")
    if run.reserved is not None:
        ax.axhline(run.reserved, color="#d62728", linestyle="--", linewidth=2,
                   label=f"reserved concurrency {run.reserved}")
    top = max(run.peak, run.maximum_concurrency or 0, run.reserved or 0, 5)
    ax.set_ylim(0, top * 1.25 + 1)
    end = max(120.0, min(LIMITS_SECONDS, run.finished_at + 30))
    ax.set_xlim(-START, end)
    ax.set_xlabel("seconds after the mapping is Enabled")
    ax.set_ylabel("concurrent invocations")
    ax.set_title(f"{run.processed} processed · {run.throttles:,} throttles · "
                 f"{run.in_dlq} in the DLQ ({run.never_ran} never ran) · "
                 f"{run.in_queue} left", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper right")
    return fig


# --- demo 4: FIFO queues -------------------------------------------------------------------------


def fifo(groups: int = 6, maximum_concurrency: int | None = 10) -> int:
    """Peak concurrency of a mapping on a FIFO queue holding 60 messages spread over ``groups``
    message groups (``BatchSize`` 1, 5 s invocations)."""
    if isinstance(groups, bool) or not isinstance(groups, int) or not 1 <= groups <= 60:
        raise ValueError(f"groups must be a whole number from 1 to 60, got {groups!r}")
    _check_optional("maximum_concurrency", maximum_concurrency, 2, 1_000)
    return _fifo(groups, maximum_concurrency)


@functools.lru_cache(maxsize=64)
def _fifo(groups, maximum_concurrency) -> int:
    from esmlab import Lab
    from esmlab.trace import peak_concurrency

    with Lab(seed=6) as lab:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        url, arn = _queue(sqs, "orders.fifo", FifoQueue="true", VisibilityTimeout=60)
        lab.function(FUNCTION, lambda event, context: None, timeout=10, duration=5.0)
        _send(sqs, url, 60, group=lambda n: f"customer-{n % groups}")
        params = ({"ScalingConfig": {"MaximumConcurrency": maximum_concurrency}}
                  if maximum_concurrency else {})
        lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn, BatchSize=1,
                                        **params)
        _quiet_run(lab, START + 120)
        return peak_concurrency(lab.trace.invocations)


# --- demo 5: streams, shards x PF ----------------------------------------------------------------

STREAM = "clicks"
STREAM_RECORDS = 400


@dataclass(frozen=True)
class StreamScale:
    shards: int
    parallelization: int
    mappings: int  #: event source mappings on the stream (list_event_source_mappings)
    peak: int
    processed: int


def streams(shards: int = 4, parallelization: int = 2) -> StreamScale:
    """400 records with 100 partition keys on a stream of ``shards`` shards, read by one mapping
    with ``ParallelizationFactor`` ``parallelization`` (``BatchSize`` 10, 2 s invocations)."""
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= 16:
        raise ValueError(f"shards must be a whole number from 1 to 16, got {shards!r}")
    if (isinstance(parallelization, bool) or not isinstance(parallelization, int)
            or not 1 <= parallelization <= 10):
        raise ValueError(f"parallelization must be a whole number from 1 to 10, "
                         f"got {parallelization!r}")
    return _streams(shards, parallelization)


@functools.lru_cache(maxsize=64)
def _streams(shards, parallelization) -> StreamScale:
    from esmlab import Lab
    from esmlab.trace import peak_concurrency

    with Lab(seed=6) as lab:
        kinesis, lam = lab.client("kinesis"), lab.client("lambda")
        kinesis.create_stream(StreamName=STREAM, ShardCount=shards)
        arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"][
            "StreamARN"]
        lab.function("clicks-worker", lambda event, context: None, timeout=10, duration=2.0)
        for first in range(0, STREAM_RECORDS, 100):
            kinesis.put_records(StreamName=STREAM, Records=[
                {"PartitionKey": f"user-{n % 100}", "Data": b'{"click": 1}'}
                for n in range(first, first + 100)])
        uuid = lam.create_event_source_mapping(
            FunctionName="clicks-worker", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
            BatchSize=10, ParallelizationFactor=parallelization)["UUID"]
        _quiet_run(lab, START + 120)
        mappings = len(lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"])
        fates = lab.stream_conservation(uuid)["counts"]
        return StreamScale(shards, parallelization, mappings,
                           peak_concurrency(lab.trace.invocations), fates.get("processed", 0))


# --- throughput arithmetic -----------------------------------------------------------------------

#: Per shard, from https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
WRITE_MB, WRITE_RECORDS = 1.0, 1_000  #: writes: 1 MB/s or 1,000 records/s
READ_MB, READ_RECORDS = 2.0, 2_000  #: shared-throughput reads: 2 MB/s or 2,000 records/s


def throughput(shards: int, parallelization: int, batch_size: int, duration: float,
               record_kb: float) -> dict:
    """Records a second one mapping can process, by arithmetic: each of the shards x PF
    concurrent invocations handles ``batch_size`` records in ``duration`` seconds, and the
    shard's shared read limit bounds what it can be given. Returns the three numbers."""
    lanes = shards * parallelization
    invoking = lanes * batch_size / duration
    reading = shards * min(READ_RECORDS, READ_MB * 1_000 / record_kb)
    return {"invocations": invoking, "reads": reading, "records_per_s": min(invoking, reading)}


def shards_for_writes(rate: float, record_kb: float) -> int:
    """The fewest shards that take ``rate`` records a second of ``record_kb`` KB each."""
    return max(1, math.ceil(rate / WRITE_RECORDS), math.ceil(rate * record_kb / 1_000 / WRITE_MB))


def draw_throughput(shards: int = 4, batch_size: int = 100, duration: float = 0.5,
                    record_kb: float = 2.0, width: float = 7.0):
    """Records a second against shards x PF for a stream of ``shards`` shards (PF 1-10), with
    the shards' shared read limit drawn in."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, 3.9), layout="constrained")
    pfs = list(range(1, 11))
    lanes = [shards * pf for pf in pfs]
    values = [throughput(shards, pf, batch_size, duration, record_kb) for pf in pfs]
    ax.plot(lanes, [v["invocations"] for v in values], color="#1f77b4", linestyle="--",
            marker="o", label="what the invocations could process: shards x PF x BatchSize / "
            "duration")
    ax.plot(lanes, [v["records_per_s"] for v in values], color="#e66100", linewidth=3,
            label="what the mapping processes (the lower of the two)")
    limit = values[0]["reads"]
    ax.axhline(limit, color="#d62728", linestyle=":", linewidth=2,
               label=f"shared read limit of {shards} shards: {limit:,.0f} records/s")
    ax.set_xticks(lanes)
    ax.set_xticklabels([f"{n}\nPF {pf}" for n, pf in zip(lanes, pfs, strict=True)], fontsize=8)
    ax.set_xlabel(f"shards x ParallelizationFactor ({shards} shards)")
    ax.set_ylabel("records a second")
    ax.set_ylim(0, max(limit, *(v["invocations"] for v in values)) * 1.1)
    ax.set_title(f"BatchSize {batch_size}, {duration:g} s invocations, {record_kb:g} KB records",
                 fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8.5, loc="upper left", framealpha=0.95)
    return fig


# --- exercise 1: a database that takes at most N writers -----------------------------------------

WRITERS = 10  #: the database takes at most this many concurrent connections
WRITER_QUEUES = ("orders", "refunds")
WRITER_MESSAGES = 100  #: in each queue


def writers(config: dict) -> LimitsRun:
    """Two queues, ``orders`` and ``refunds``, 100 messages each, feed one function that writes
    to a database. ``config`` is ``{"orders": MaximumConcurrency, "refunds":
    MaximumConcurrency, "reserved": the function's reserved concurrency}`` (None for unset)."""
    if not isinstance(config, dict) or set(config) != {*WRITER_QUEUES, "reserved"}:
        raise ValueError(f"the configuration must be a dict with exactly the keys 'orders', "
                         f"'refunds' and 'reserved', got {config!r}")
    for queue in WRITER_QUEUES:
        _check_optional(f"config[{queue!r}]", config[queue], 2, 1_000)
    _check_optional("config['reserved']", config["reserved"], 0, 1_000)
    return _limits(tuple((q, config[q]) for q in WRITER_QUEUES), config["reserved"], 5,
                   WRITER_MESSAGES)


# --- exercise 2: keep up with a stream -----------------------------------------------------------

KEEP_UP = {"rate": 120, "record_kb": 10.0, "batch_size": 10, "duration": 0.25, "seconds": 30}


@dataclass(frozen=True)
class KeepUp:
    shards: int
    parallelization: int
    written: int
    processed: int
    peak: int
    max_age: float  #: the largest IteratorAge at an invocation's start, seconds
    last_age: float  #: IteratorAge of the last invocation, seconds


def keeps_up(shards: int, parallelization: int) -> KeepUp:
    """A producer writes :data:`KEEP_UP` ``rate`` records a second of ``record_kb`` KB for
    ``seconds`` s, with many partition keys; one mapping (``BatchSize`` 10, 0.25 s invocations)
    reads them with ``ParallelizationFactor`` ``parallelization``."""
    streams(shards, parallelization)  # the same argument checks
    return _keeps_up(shards, parallelization)


@functools.lru_cache(maxsize=64)
def _keeps_up(shards, parallelization) -> KeepUp:
    from esmlab import Lab
    from esmlab.trace import peak_concurrency

    rate, seconds = KEEP_UP["rate"], KEEP_UP["seconds"]
    data = b"x" * int(KEEP_UP["record_kb"] * 1_000)
    with Lab(seed=6) as lab:
        kinesis, lam = lab.client("kinesis"), lab.client("lambda")
        kinesis.create_stream(StreamName=STREAM, ShardCount=shards)
        arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"][
            "StreamARN"]
        lab.function("clicks-worker", lambda event, context: None, timeout=10,
                     duration=KEEP_UP["duration"])
        uuid = lam.create_event_source_mapping(
            FunctionName="clicks-worker", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
            BatchSize=KEEP_UP["batch_size"], ParallelizationFactor=parallelization)["UUID"]

        refused = []  # records over a shard's write limit (PutRecords answers them one by one)

        def write(second):
            answer = kinesis.put_records(StreamName=STREAM, Records=[
                {"PartitionKey": f"user-{second}-{n}", "Data": data} for n in range(rate)])
            refused.append(answer["FailedRecordCount"])

        for second in range(seconds):
            lab.clock.at(START + second, write, second)
        _quiet_run(lab, START + seconds + 60)
        ages = [(e.t, e.detail["iterator_age_ms"] / 1000) for e in lab.trace.of("invoke_start")
                if "iterator_age_ms" in e.detail and e.t <= START + seconds]
        fates = lab.stream_conservation(uuid)["counts"]
        return KeepUp(shards, parallelization, rate * seconds - sum(refused),
                      fates.get("processed", 0),
                      peak_concurrency(lab.trace.invocations),
                      max((a for _, a in ages), default=0.0),
                      ages[-1][1] if ages else 0.0)


# --- exercise 3: a spiky queue with a latency target ---------------------------------------------

#: The spike: the backlog of demo 1 must reach this many concurrent invocations this soon.
SPIKE = {"concurrency": 1_000, "within": 120, "idle_receives": 6}
#: The parameters of CreateEventSourceMapping exercise 3 may set.
SPIKE_PARAMETERS = ("ScalingConfig", "ProvisionedPollerConfig")


@dataclass(frozen=True)
class Spike:
    config: dict
    ramp: RampRun
    reached_at: float | None  #: seconds after Enabled when SPIKE concurrency first ran
    idle_receives: int  #: empty receives in the last minute of an idle queue


def spike(config: dict) -> Spike:
    """Demo 1's backlog (account limit 2,000) under ``config`` (keyword arguments of
    ``create_event_source_mapping`` from :data:`SPIKE_PARAMETERS`), and the same mapping on an
    idle queue: when it first ran ``SPIKE["concurrency"]`` invocations, and what it costs idle."""
    if not isinstance(config, dict) or not set(config) <= set(SPIKE_PARAMETERS):
        raise ValueError(f"the configuration must be a dict with keys from "
                         f"{', '.join(SPIKE_PARAMETERS)} (or empty, for the default mode), "
                         f"got {config!r}")
    params = json.dumps(config, sort_keys=True)
    run = _ramp_with(params, params, 2_000)
    reached = next((t - START for t, r in zip(run.times, run.running, strict=True)
                    if r >= SPIKE["concurrency"]), None)
    quiet = _idle_with(params, params)
    return Spike(dict(config), run, reached, quiet.empty_per_minute[-1])


# --- demo 5: a consumer falling behind, and a reshard from 4 to 8 shards -------------------------

RESHARD = {"rate": 30, "seconds": 120, "at": 40, "batch_size": 5, "duration": 1.0}


@dataclass(frozen=True)
class Reshard:
    """A stream of 4 shards written faster than one mapping at PF 1 can read, resharded to 8."""

    reshard_at: float | None  #: seconds after Enabled of the UpdateShardCount (None: not done)
    times: tuple
    running: tuple  #: invocations running at each second
    ages: tuple  #: (t, IteratorAge in seconds) at each invocation's start
    finished: tuple  #: (t, parent shard) when the mapping finished a parent and opened its children
    mappings: int
    written: int
    processed: int

    def summary(self) -> str:
        top = max(a for _, a in self.ages)
        when = "no reshard" if self.reshard_at is None else f"4 -> 8 shards at {self.reshard_at:g} s"
        return (f"{when}: peak {max(self.running)} concurrent invocations, IteratorAge up to "
                f"{top:g} s, last {self.ages[-1][1]:g} s; {self.processed:,} of "
                f"{self.written:,} records processed by {self.mappings} mapping")


def reshard(update: bool = True) -> Reshard:
    """A producer writes 30 records a second (many partition keys) for 120 s to a stream of 4
    shards; one mapping (``BatchSize`` 5, PF 1, 1 s invocations) can read 4 x 5 = 20 a second.
    With ``update``, ``UpdateShardCount`` takes the stream to 8 shards 40 s after Enabled."""
    if not isinstance(update, bool):
        raise TypeError(f"update must be True or False, got {update!r}")
    return _reshard(update)


@functools.lru_cache(maxsize=4)
def _reshard(update) -> Reshard:
    from esmlab import Lab

    k = RESHARD
    with Lab(seed=6) as lab:
        kinesis, lam = lab.client("kinesis"), lab.client("lambda")
        kinesis.create_stream(StreamName=STREAM, ShardCount=4)
        arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"][
            "StreamARN"]
        lab.function("clicks-worker", lambda event, context: None, timeout=10,
                     duration=k["duration"])
        uuid = lam.create_event_source_mapping(
            FunctionName="clicks-worker", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
            BatchSize=k["batch_size"])["UUID"]

        def write(second):
            kinesis.put_records(StreamName=STREAM, Records=[
                {"PartitionKey": f"user-{second}-{n}", "Data": b'{"click": 1}'}
                for n in range(k["rate"])])

        for second in range(k["seconds"]):
            lab.clock.at(START + second, write, second)
        if update:
            lab.clock.at(START + k["at"], lambda: kinesis.update_shard_count(
                StreamName=STREAM, TargetShardCount=8, ScalingType="UNIFORM_SCALING"))
        horizon = k["seconds"] + 60
        _quiet_run(lab, START + horizon)
        times = tuple(range(int(START) + horizon + 1))
        ages = tuple((e.t - START, e.detail["iterator_age_ms"] / 1000)
                     for e in lab.trace.of("invoke_start") if "iterator_age_ms" in e.detail)
        finished = tuple((e.t - START, e.detail["shard"]) for e in lab.trace.of("shard_finished"))
        mappings = len(lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"])
        fates = lab.stream_conservation(uuid)["counts"]
        return Reshard(k["at"] if update else None, times,
                       _running(lab.trace.invocations, times), ages, finished, mappings,
                       k["rate"] * k["seconds"], fates.get("processed", 0))


def draw_reshard(runs, width: float = 7.0):
    """Top: invocations running. Bottom: the largest IteratorAge of the invocations started in
    each 5 s. One line per run."""
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(width, 5.6), layout="constrained",
                                      sharex=True)
    styles = {None: ("4 shards, no reshard", "#1f77b4", "--"),
              "update": ("UpdateShardCount 4 -> 8", "#e66100", "-")}
    for run in runs:
        label, colour, style = styles[None if run.reshard_at is None else "update"]
        top.plot([t - START for t in run.times], run.running, color=colour, linestyle=style,
                 linewidth=2, label=label, drawstyle="steps-post")
        worst: dict[int, float] = {}  # the oldest IteratorAge in each 5 s, over all shards
        for t, age in run.ages:
            worst[int(t // 5) * 5] = max(age, worst.get(int(t // 5) * 5, 0.0))
        bottom.plot(sorted(worst), [worst[t] for t in sorted(worst)], color=colour,
                    linestyle=style, linewidth=2, label=label, drawstyle="steps-post")
    for run in runs:
        if run.reshard_at is not None:
            for axis in (top, bottom):
                axis.axvline(run.reshard_at, color="#555555", linewidth=0.8, linestyle=":")
            top.text(run.reshard_at + 2, 8.6, "reshard", fontsize=9, color="#333333")
            if run.finished:
                last = max(t for t, _ in run.finished)
                top.text(last + 2, 1.0, "parents finished,\nchildren opened", fontsize=9,
                         color="#333333")
    top.set_ylim(0, 10)
    top.set_ylabel("invocations running")
    top.set_title(f"{RESHARD['rate']} records a second written for {RESHARD['seconds']} s; "
                  f"BatchSize {RESHARD['batch_size']}, {RESHARD['duration']:g} s invocations",
                  fontsize=11)
    top.grid(alpha=0.3)
    top.legend(fontsize=9, loc="upper right")
    bottom.set_ylabel("IteratorAge (s),\nmaximum of each 5 s")
    bottom.set_xlabel("seconds after the mapping is Enabled")
    bottom.grid(alpha=0.3)
    return fig
