"""Lab 02 (Batching): BatchSize x batching window x arrival rate -> batch sizes, latency, invocations.

    from esmlab.course.scenarios import batching
    result = batching.simulate(batch_size=100, window=10, arrival_rate=1.0)
    result.batch_sizes, result.p99, result.invocations_per_minute
    batching.draw(result)

:func:`simulate` is a pure function of its arguments: it opens a fresh :class:`esmlab.Lab`
(which closes any other open lab), creates a queue or stream, a function and a mapping with
ordinary boto3 calls, sends messages at ``arrival_rate`` for ``minutes`` (Poisson arrivals or
even spacing, seeded), runs simulated time until every message has been delivered, and returns a
:class:`BatchingResult`. A configuration that the mapping API rejects is not an error here: the
result carries AWS's exception and message in ``rejected`` (or esmlab's, marked ``[esmlab]``,
where AWS's text was never recorded), so a widget can show it.

What the numbers rest on (the AWS pages below, and docs/simulator.md):

* a batch closes at the first of: ``BatchSize`` records, the window's end, or the 6 MB payload
  (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html); each
  ``batch`` event in the trace says which (``detail["trigger"]``);
* MODELLING CHOICE (M3): a window opens when a poller becomes free (the mapping became
  ``Enabled``, or its previous invocation returned); if it has already ended when the first
  message arrives, that message is invoked at once;
* MODELLING CHOICE (M8): a new mapping polls from t = 2 s; the first message is sent then;
* SQS mappings here are capped with ``ScalingConfig.MaximumConcurrency`` (default 2, the
  smallest value AWS allows), so that two pollers share the traffic and the picture does not
  depend on esmlab's scaling model (M4). Each poller gathers its own batch (M3).

Cost: every simulated message costs a few moto API calls (about 1-2 ms each), so a call with
``arrival_rate * minutes * 60`` messages takes roughly 5 ms a message plus 0.05 s; keep it near
100 messages for a widget. Results are cached (same arguments, same result object).
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from .arguments import one_of, positive, whole

SOURCES = ("sqs", "fifo", "kinesis")
ARRIVALS = ("poisson", "even", "burst")
START = 2.0  #: the mapping becomes Enabled at t = 2 s (M8); the first message is sent then
FUNCTION = "orders-worker"
TIMEOUT = 10  #: the function's timeout (s)
TRIGGERS = ("batch_size", "window", "payload_limit")
TRIGGER_COLOURS = {"batch_size": "#3b7dd8", "window": "#4c9f70", "payload_limit": "#d1495b"}
#: What closed a batch, in the learner's words (the trace's ``detail["trigger"]`` is the key).
TRIGGER_LABELS = {"batch_size": "BatchSize reached", "window": "batching window ended",
                  "payload_limit": "6 MB payload reached"}


@dataclass(frozen=True)
class Batch:
    """One batch: when it was invoked, how many records it carried, what closed it."""

    start: float
    size: int
    trigger: str
    bytes: int = 0  #: payload size (compact JSON of {"Records": [...]}, M6)


@dataclass(frozen=True, repr=False)
class BatchingResult:
    """What :func:`simulate` saw. Times are simulated seconds since the lab opened."""

    source: str
    batch_size: int
    window: int
    arrival_rate: float
    minutes: float
    seed: int
    message_bytes: int
    duration: float
    max_concurrency: int | None
    arrivals: str
    rejected: str | None = None  #: "ExceptionName: message" when the mapping API refused
    sends: tuple = ()  #: send time of each message, in sending order
    batches: tuple = ()  #: :class:`Batch` per invocation, in start order
    latencies: tuple = ()  #: per message: first invocation start - send time (s)
    undelivered: int = 0  #: messages never invoked (0 unless something is wrong)
    seconds: float = field(default=0.0, compare=False)  #: wall-clock time the call took

    @property
    def messages(self) -> int:
        return len(self.sends)

    @property
    def batch_sizes(self) -> list[int]:
        return [b.size for b in self.batches]

    @property
    def invocations(self) -> int:
        return len(self.batches)

    @property
    def invocations_per_minute(self) -> float:
        return len(self.batches) / self.minutes if self.minutes else 0.0

    @property
    def triggers(self) -> Counter:
        return Counter(b.trigger for b in self.batches)

    @property
    def mean_batch(self) -> float:
        return sum(self.batch_sizes) / len(self.batches) if self.batches else 0.0

    def percentile(self, q: float) -> float:
        """The q-th percentile of the per-message latency (numpy's linear interpolation)."""
        import numpy as np

        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    def label(self) -> str:
        where = {"sqs": "SQS standard", "fifo": "SQS FIFO", "kinesis": "Kinesis"}[self.source]
        traffic = (f"{round(self.arrival_rate * self.minutes * 60)} messages at once"
                   if self.arrivals == "burst" else f"{self.arrival_rate:g} msg/s")
        return f"{where}, BatchSize {self.batch_size}, window {self.window} s, {traffic}"

    def summary(self) -> str:
        if self.rejected:
            return f"{self.label()}: rejected, {self.rejected}"
        triggers = ", ".join(f"{TRIGGER_LABELS.get(k, k)} {v}"
                             for k, v in sorted(self.triggers.items()))
        return (
            f"{self.label()}: {self.messages} messages in {self.invocations} invocations "
            f"({self.invocations_per_minute:.1f}/min), mean batch {self.mean_batch:.1f}, "
            f"latency p50 {self.p50:.2f} s, p99 {self.p99:.2f} s; closed by: {triggers}"
        )

    def __str__(self):
        return self.summary()

    def __repr__(self):
        return f"<BatchingResult: {self.summary()}>"


def arrival_times(rate: float, minutes: float, seed: int = 0, arrivals: str = "poisson"):
    """Send instants from t = START for ``minutes``: ``"poisson"`` (seeded), ``"even"`` (one every
    1/rate s) or ``"burst"`` (all rate x minutes x 60 messages at once, at t = START)."""
    end = START + minutes * 60
    if rate <= 0:
        return []
    if arrivals == "burst":
        return [START] * round(minutes * 60 * rate)
    if arrivals == "even":
        gap = 1.0 / rate
        count = round(minutes * 60 * rate)
        return [START + k * gap for k in range(count) if START + k * gap < end]
    if arrivals != "poisson":
        raise ValueError(f"arrivals must be one of {', '.join(map(repr, ARRIVALS))}; "
                         f"got {arrivals!r}")
    rng = random.Random(seed)
    times, t = [], START
    while True:
        times.append(t)
        t += rng.expovariate(rate)
        if t >= end:
            return times


def _body(index: int, size: int) -> str:
    body = json.dumps({"order": index})
    if size > len(body):
        body = json.dumps({"order": index, "pad": "x" * (size - len(body) - 10)})
    return body


def simulate(batch_size: int = 10, window: int = 0, arrival_rate: float = 1.0,
             source: str = "sqs", minutes: float = 1.0, seed: int = 0, *,
             arrivals: str = "poisson", message_bytes: int = 100, duration: float = 0.5,
             max_concurrency: int | None = 2) -> BatchingResult:
    """Run one mapping configuration against a stream of messages; see the module docstring.

    * ``batch_size``, ``window``: the mapping's ``BatchSize`` and
      ``MaximumBatchingWindowInSeconds`` (for ``fifo`` a window of 0 is left out of the call).
    * ``arrival_rate``: messages a second, for ``minutes`` from t = 2 s.
    * ``source``: ``"sqs"`` (standard queue), ``"fifo"`` (FIFO queue, 10 message groups) or
      ``"kinesis"`` (one shard, ``TRIM_HORIZON``).
    * ``message_bytes``: approximate size of each message body.
    * ``duration``: simulated seconds each invocation runs.
    * ``max_concurrency``: ``ScalingConfig.MaximumConcurrency`` of an SQS mapping (None: no cap).
    """
    return _simulate(
        whole("batch_size", batch_size), whole("window", window),
        positive("arrival_rate", arrival_rate, unit=" (messages a second)"),
        one_of("source", source, SOURCES), positive("minutes", minutes), whole("seed", seed),
        one_of("arrivals", arrivals, ARRIVALS), whole("message_bytes", message_bytes, minimum=1),
        positive("duration", duration, zero=True, unit=" (seconds)"),
        None if max_concurrency is None else whole("max_concurrency", max_concurrency),
    )


@functools.lru_cache(maxsize=512)
def _simulate(batch_size, window, arrival_rate, source, minutes, seed, arrivals, message_bytes,
              duration, max_concurrency) -> BatchingResult:
    from botocore.exceptions import ClientError

    from esmlab import Lab
    from esmlab.payload import payload_bytes

    began = time.perf_counter()
    common = {"source": source, "batch_size": batch_size, "window": window,
              "arrival_rate": arrival_rate, "minutes": minutes, "seed": seed,
              "message_bytes": message_bytes, "duration": duration,
              "max_concurrency": max_concurrency if source != "kinesis" else None,
              "arrivals": arrivals}
    lab = Lab(seed=seed)
    try:
        lam = lab.client("lambda")
        payloads: dict[str, int] = {}

        def handler(event, context):  # note the payload size, as Lambda would count it (M6)
            payloads[context.aws_request_id] = payload_bytes(event["Records"])

        lab.function(FUNCTION, handler, timeout=TIMEOUT, duration=duration)
        params = {"FunctionName": FUNCTION, "BatchSize": batch_size}
        if source == "kinesis":
            kinesis = lab.client("kinesis")
            kinesis.create_stream(StreamName="orders", ShardCount=1)
            arn = kinesis.describe_stream_summary(StreamName="orders")[
                "StreamDescriptionSummary"]["StreamARN"]
            params.update(StartingPosition="TRIM_HORIZON", MaximumBatchingWindowInSeconds=window)
        else:
            sqs = lab.client("sqs")
            attributes = {"VisibilityTimeout": str(6 * TIMEOUT + window)}  # AWS's advice:
            # https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
            name = "orders"
            if source == "fifo":
                name = "orders.fifo"
                attributes.update(FifoQueue="true", ContentBasedDeduplication="true")
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            if source == "sqs" or window:
                params["MaximumBatchingWindowInSeconds"] = window
            if max_concurrency is not None:
                params["ScalingConfig"] = {"MaximumConcurrency": max_concurrency}
        try:
            lam.create_event_source_mapping(EventSourceArn=arn, **params)
        except ClientError as error:
            err = error.response["Error"]
            return BatchingResult(**common, rejected=f"{err['Code']}: {err['Message']}",
                                  seconds=time.perf_counter() - began)

        times = arrival_times(arrival_rate, minutes, seed, arrivals)
        sent: dict[str, float] = {}

        if source == "kinesis":

            def send(index):
                try:
                    response = kinesis.put_record(StreamName="orders", PartitionKey=f"k{index}",
                                                  Data=_body(index, message_bytes).encode())
                except kinesis.exceptions.ProvisionedThroughputExceededException:
                    # over the shard's 1 MB or 1,000 records a second: the producer tries again
                    # a second later (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html)
                    lab.clock.after(1.0, send, index)
                    return
                sent[response["SequenceNumber"]] = lab.now  # the number the function sees
        else:
            def send(index):
                extra = {"MessageGroupId": f"g{index % 10}"} if source == "fifo" else {}
                response = sqs.send_message(QueueUrl=url, MessageBody=_body(index, message_bytes),
                                            **extra)
                sent[response["MessageId"]] = lab.now

        for index, t in enumerate(times):
            lab.clock.at(t, send, index)
        horizon = START + minutes * 60 + window + duration + 2
        lab.run(until=horizon)
        first_start: dict[str, float] = {}
        for _ in range(20):  # a backlog can outlast the arrivals; give it time to drain
            first_start = _first_starts(lab)
            if len(sent) == len(times) and len(first_start) >= len(sent):
                break
            horizon += 60
            lab.run(until=horizon)

        batches = _batches(lab, payloads)
        latencies = tuple(first_start[m] - t for m, t in sent.items() if m in first_start)
        return BatchingResult(
            **common, sends=tuple(times), batches=tuple(batches), latencies=latencies,
            undelivered=sum(1 for m in sent if m not in first_start),
            seconds=time.perf_counter() - began,
        )
    finally:
        lab.close()


def _first_starts(lab) -> dict:
    starts: dict[str, float] = {}
    for event in lab.trace.events:
        if event.kind == "invoke_start":
            for record in event.records:
                starts.setdefault(record, event.t)
    return starts


def _batches(lab, payloads) -> list[Batch]:
    """One :class:`Batch` per invocation, with the trigger of the ``batch`` event that closed it."""
    closed = {}
    for event in lab.trace.events:
        if event.kind == "batch":
            closed[event.records] = event.detail.get("trigger", "?")
    return [Batch(i.start, len(i.records), closed.get(i.records, "?"),
                  payloads.get(i.request_id, 0)) for i in lab.trace.invocations]


# --- pictures ------------------------------------------------------------------------------------


def draw(result: BatchingResult, ax=None):
    """Three panels: batch sizes over time, the batch-size distribution, the latency distribution.

    Bars are coloured by what closed the batch (BatchSize, window, 6 MB). A rejected
    configuration draws the exception instead. ``ax``: three Axes to draw on (or None for a new
    figure). Returns the Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    own_figure = ax is None
    if own_figure:
        # 7 in at 100 dpi: drawn for the ~700 px a lab page or the site's column shows, so the
        # text is not scaled down; batches over time across the top, the two distributions below
        fig, grid = plt.subplot_mosaic([["time", "time"], ["sizes", "latency"]],
                                       figsize=(7, 5.4), layout="constrained")
        ax = [grid["time"], grid["sizes"], grid["latency"]]
    else:
        fig = ax[0].figure
    over_time, sizes, latency = ax
    if result.rejected:
        for a in ax:
            a.set_axis_off()
        code, _, message = result.rejected.partition(": ")
        wrapped = "\n".join(_wrap(message, 70))
        if own_figure:  # a short figure of text, not a tall one with empty axes
            fig.set_size_inches(7, 2.2)
            where, rows = fig.transFigure, (0.95, 0.62, 0.14)
        else:
            where, rows = over_time.transAxes, (0.75, 0.45, 0.0)
        fig.text(0.02, rows[0], f"{result.label()}\nrejected by CreateEventSourceMapping:",
                 transform=where, fontsize=11, va="top")
        fig.text(0.02, rows[1], f"{code}\n{wrapped}", transform=where,
                 fontsize=10, va="top", family="monospace", color="#b0263b")
        if message.startswith("[esmlab]"):
            fig.text(0.02, rows[2], "[esmlab]: AWS rejects this configuration, but its message "
                     "was never recorded,\nso this wording is esmlab's.",
                     transform=where, fontsize=9, va="top", color="#5a6b7b")
        return ax

    colours = [TRIGGER_COLOURS.get(b.trigger, "#607080") for b in result.batches]
    starts = [b.start for b in result.batches]
    span = max(starts + [START + result.minutes * 60]) - START
    width = max(0.02, span / 90)
    over_time.bar(_side_by_side(starts, width), result.batch_sizes, width=width * 0.8,
                  color=colours,
                  edgecolor="black", linewidth=0.3, align="edge")
    top = max(result.batch_sizes + [1]) * 1.2
    if result.batch_size <= max(top * 1.3, 12):  # the BatchSize line, unless far off the scale
        top = max(top, result.batch_size * 1.15)
        over_time.axhline(result.batch_size, color=TRIGGER_COLOURS["batch_size"],
                          linestyle="--", linewidth=1)
        over_time.annotate(f"BatchSize {result.batch_size}", (0.99, result.batch_size),
                           xycoords=("axes fraction", "data"), ha="right", va="bottom",
                           fontsize=8, color=TRIGGER_COLOURS["batch_size"])
    else:
        over_time.annotate(f"BatchSize {result.batch_size} (off the scale)", (0.99, 0.97),
                           xycoords="axes fraction", ha="right", va="top", fontsize=8,
                           color=TRIGGER_COLOURS["batch_size"])
    over_time.set_ylim(0, top)
    over_time.set_xlabel("simulated time (s)")
    over_time.set_ylabel("records in the batch")
    rate = "" if result.arrivals == "burst" else f" ({result.invocations_per_minute:.1f} a minute)"
    over_time.set_title(f"{result.invocations} invocations{rate}", fontsize=10)
    present = [t for t in TRIGGERS if result.triggers.get(t)]
    handles = [Patch(color=TRIGGER_COLOURS[t], label=f"closed: {TRIGGER_LABELS[t]}")
               for t in present]
    if own_figure:
        fig.legend(handles=handles, fontsize=8, loc="outside lower center", ncol=3, frameon=False)
    else:
        fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=3, frameon=False,
                   bbox_to_anchor=(0.5, -0.08))

    counts = Counter(result.batch_sizes)
    if counts:
        bottom = Counter()
        for trigger in present:
            by = Counter(b.size for b in result.batches if b.trigger == trigger)
            xs = sorted(by)
            sizes.bar(xs, [by[x] for x in xs], bottom=[bottom[x] for x in xs],
                      width=max(0.8, max(counts) / 40), color=TRIGGER_COLOURS[trigger],
                      edgecolor="black", linewidth=0.3)
            for x in xs:
                bottom[x] += by[x]
    for axis in (over_time, sizes):
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    sizes.xaxis.set_major_locator(MaxNLocator(integer=True))
    sizes.set_xlabel("records in the batch")
    sizes.set_ylabel("invocations")
    sizes.set_title(f"batch sizes (mean {result.mean_batch:.1f})", fontsize=10)

    lat = np.sort(np.array(result.latencies))
    if len(lat):
        latency.step(lat, np.arange(1, len(lat) + 1) / len(lat), where="post", color="#333333")
        right = max(lat.max(), 1) * 1.1
        for q, style, y in ((50, ":", 0.05), (99, "--", 0.3)):
            value = result.percentile(q)
            dx, ha = (-3, "right") if q == 99 and value > 0.3 * right else (3, "left")
            latency.axvline(value, color="#b0263b", linestyle=style, linewidth=1)
            latency.annotate(f"p{q} {value:.1f} s", (value, y), xytext=(dx, 0),
                             textcoords="offset points", fontsize=8, color="#b0263b", ha=ha)
        latency.set_xlim(left=-0.05 * max(lat.max(), 1), right=right)
    latency.set_ylim(0, 1.02)
    latency.set_xlabel("send -> invocation start (s)")
    latency.set_ylabel("share of messages")
    latency.set_title("latency (cumulative)", fontsize=10)
    fig.suptitle(result.label(), fontsize=11)
    if not own_figure:
        fig.tight_layout()
    return ax


def _side_by_side(starts, width) -> list[float]:
    """Left edges for bars of ``width`` at ``starts`` (in start order): a bar that would cover
    the previous one (two pollers invoking at the same instant) is drawn just right of it."""
    lefts: list[float] = []
    for start in starts:
        lefts.append(max(start, lefts[-1] + width) if lefts else start)
    return lefts


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


# --- a precomputed interactive figure for the site -----------------------------------------------


def plotly_frames(batch_sizes=(10, 50, 100), windows=(0, 5, 10, 20), arrival_rate: float = 1.0,
                  **options):
    """A plotly Figure with one slider step per (BatchSize, window): batch sizes and latency.

    Every pair is simulated here (about 0.2-0.5 s each), so the figure works without a kernel
    (``fig.write_html(...)``). plotly is imported only here: it is not a requirement of the labs.
    ``options`` go to :func:`simulate` (``source``, ``minutes``, ``seed``...).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    results = [simulate(b, w, arrival_rate, **options) for b in batch_sizes for w in windows]
    largest = max([max(r.batch_sizes, default=1) for r in results] + [1])
    slowest = max([max(r.latencies, default=1.0) for r in results] + [1.0])

    def traces(result):
        sizes = Counter(result.batch_sizes)
        xs = sorted(sizes)
        lat = sorted(result.latencies)
        share = [(k + 1) / len(lat) for k in range(len(lat))]
        return [
            go.Bar(x=xs, y=[sizes[x] for x in xs], name="invocations", marker_color="#3b7dd8",
                   showlegend=False),
            go.Scatter(x=lat, y=share, mode="lines", line_shape="hv", name="latency",
                       line_color="#333333", showlegend=False),
        ]

    def title(result):
        if result.rejected:
            return f"{result.label()}: rejected by AWS<br>{result.rejected}"
        return (f"{result.label()}: {result.invocations_per_minute:.1f} invocations/min, "
                f"mean batch {result.mean_batch:.1f}, p99 {result.p99:.1f} s")

    fig = make_subplots(rows=1, cols=2, subplot_titles=("batch sizes", "latency (cumulative)"))
    for trace, col in zip(traces(results[0]), (1, 2)):
        fig.add_trace(trace, row=1, col=col)
    names = [f"{r.batch_size} / {r.window} s" for r in results]
    def counts_range(result):
        return [0, max(Counter(result.batch_sizes).values(), default=1) * 1.1]

    fig.frames = [go.Frame(data=traces(r), name=n, traces=[0, 1],
                           layout=go.Layout(title_text=title(r),
                                            yaxis={"range": counts_range(r)}))
                  for r, n in zip(results, names)]
    fig.update_layout(
        title={"text": title(results[0]), "font": {"size": 14}}, height=480,
        margin={"b": 40},
        sliders=[{
            "pad": {"t": 60},
            "currentvalue": {"prefix": "BatchSize / window: "},
            "steps": [{"label": n, "method": "animate",
                       "args": [[n], {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                                      "transition": {"duration": 0}}]} for n in names],
        }],
    )
    fig.update_xaxes(title_text="records in the batch", range=[0, largest * 1.05 + 1], row=1, col=1)
    fig.update_yaxes(title_text="invocations", range=counts_range(results[0]), row=1, col=1)
    fig.update_xaxes(title_text="send -> invocation start (s)", range=[-0.5, slowest * 1.05],
                     row=1, col=2)
    fig.update_yaxes(title_text="share of messages", range=[0, 1.02], row=1, col=2)
    return fig
