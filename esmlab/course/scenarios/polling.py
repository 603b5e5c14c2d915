"""Lab 01 (Polling): the scenarios behind its figures, widgets and exercises.

Each scenario opens its own :class:`esmlab.Lab` (which closes any lab that is open), runs it, and
returns plain, immutable data, so a figure can be redrawn and a check can grade without the lab.
Results are cached: the same arguments give the same result (the simulator is deterministic), and
the static figure, the widget's first drawing and an exercise check share one run.

* :func:`idle_queue` / :func:`draw_idle` / :func:`draw_long_polls`: an SQS mapping on a queue that
  is (mostly) empty. Every ``ReceiveMessage`` request is a ``poll`` event in the trace; an idle one
  long-polls for 20 s and returns empty; the poller count follows MODELLING CHOICE M4 (5 pollers,
  then 2 after 120 s without messages, not when ``MaximumConcurrency`` is set), on a standard
  queue: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html.
* :func:`starting_positions` / :func:`draw_positions`: three mappings, one per
  ``StartingPosition``, created at the same instant on one Kinesis stream that gets records
  before the mappings exist, while they are ``Creating`` and after they are ``Enabled``
  (https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html,
  https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-create.html) and M8 (``Creating``
  lasts 2 s; a ``LATEST`` iterator starts when the mapping becomes ``Enabled``).
* :func:`stream_with_history`: the starting point of exercise 1, a live lab whose stream already
  holds records written before any mapping exists.
* :data:`GET_RECORDS_PER_SECOND`: the documented base polling rates of the stream sources, per
  shard (the simulator does not poll idle shards, so a trace cannot count idle ``GetRecords``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, replace
from functools import lru_cache

from ... import Lab
from ...clock import START
from ...limits import SQS_LONG_POLL_SECONDS
from ...mapping import TRANSITION_SECONDS
from ...streams.sources import KinesisSource
from .arguments import one_of, positive, whole

#: Lambda's base GetRecords rate per shard for one mapping:
#: Kinesis https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html,
#: DynamoDB Streams https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html.
GET_RECORDS_PER_SECOND = {"kinesis": 1, "dynamodb": 4}
SECONDS_PER_DAY = 24 * 60 * 60

POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
PHASES = ("before", "creating", "after")
PHASE_COLOURS = {"before": "#4a78b5", "creating": "#d1495b", "after": "#4c9f70"}


# --- SQS: an idle queue ---------------------------------------------------------------------


@dataclass(frozen=True)
class IdleQueue:
    """What one SQS mapping did on a queue that is empty (or drained) for ``minutes``."""

    minutes: int
    maximum_concurrency: int | None
    messages: int  #: messages waiting when the mapping was created
    created_at: float
    enabled_at: float
    polls: tuple  #: (t, messages returned) per ReceiveMessage request, in order
    scale: tuple  #: (t, pollers) at each change of the poller count
    invocations: int
    starts: tuple = ()  #: start time of each invocation, in order

    def first(self, minutes: int) -> IdleQueue:
        """What the same run had done after its first ``minutes`` minutes.

        The simulator is deterministic and nothing after t affects what happened up to t, so this
        equals a run of ``minutes`` minutes (tests/test_lab01.py checks it), without running it.
        """
        until = minutes * 60
        starts = tuple(t for t in self.starts if t <= until)
        return replace(self, minutes=minutes, polls=tuple(p for p in self.polls if p[0] <= until),
                       scale=tuple(c for c in self.scale if c[0] <= until),
                       invocations=len(starts), starts=starts)

    @property
    def requests(self) -> int:
        """ReceiveMessage requests in the whole run (SQS bills each one)."""
        return len(self.polls)

    @property
    def empty_receives(self) -> int:
        return sum(1 for _, n in self.polls if n == 0)

    def pollers_at(self, t: float) -> int:
        """The poller count at simulated time ``t`` (0 before the mapping is Enabled)."""
        count = 0
        for when, pollers in self.scale:
            if when <= t:
                count = pollers
        return count

    def per_minute(self):
        """A DataFrame, one row per minute: empty receives, receives that returned messages, and
        the pollers at the end of the minute."""
        import pandas as pd

        rows = []
        for minute in range(self.minutes):
            start, end = 60 * minute, 60 * (minute + 1)
            here = [n for t, n in self.polls if start <= t < end]
            rows.append({
                "minute": minute,
                "empty_receives": sum(1 for n in here if n == 0),
                "receives_with_messages": sum(1 for n in here if n > 0),
                "pollers": self.pollers_at(end - 1e-9),
            })
        return pd.DataFrame(rows).set_index("minute")

    def polls_frame(self):
        """A DataFrame, one row per ReceiveMessage request: when it returned, messages returned."""
        import pandas as pd

        return pd.DataFrame(list(self.polls), columns=["t", "messages"])


def _ignore(event, context):
    return None


def idle_queue(minutes: int = 60, maximum_concurrency: int | None = None, messages: int = 0,
               seed: int = 1) -> IdleQueue:
    """Run an SQS mapping (``BatchSize`` 10, no window) on a queue for ``minutes`` simulated
    minutes. ``messages`` are sent before the mapping is created (0: the queue is idle
    throughout); ``maximum_concurrency`` sets ``ScalingConfig.MaximumConcurrency`` (None: unset).

    A simulated day (``minutes=1440``) of an idle queue is about 8,700 requests and takes about
    7 s of real time, because each request goes through boto3 and moto; shorter runs are
    proportionally faster, and every result is cached.
    """
    if maximum_concurrency is not None:
        # its range is the mapping API's to judge (AWS's message), so only its type is checked
        maximum_concurrency = whole("maximum_concurrency", maximum_concurrency)
    return _idle_view(whole("minutes", minutes, minimum=1), maximum_concurrency,
                      whole("messages", messages, minimum=0), whole("seed", seed))


#: Runs up to this long are read from one run of this length (Lab 01's widget goes to 180), so
#: moving the minutes slider re-draws at once instead of re-running the simulation.
VIEWED_MINUTES = 180


@lru_cache(maxsize=64)
def _idle_view(minutes, maximum_concurrency, messages, seed) -> IdleQueue:
    if minutes > VIEWED_MINUTES:
        return _idle_queue(minutes, maximum_concurrency, messages, seed)
    return _idle_queue(VIEWED_MINUTES, maximum_concurrency, messages, seed).first(minutes)


@lru_cache(maxsize=32)
def _idle_queue(minutes, maximum_concurrency, messages, seed) -> IdleQueue:
    with Lab(seed=seed) as lab:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        url = sqs.create_queue(QueueName="orders",
                               Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        lab.function("orders-worker", _ignore, timeout=10, duration=1.0)
        for start in range(0, messages, 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "MessageBody": json.dumps({"order": n})}
                for n in range(start, min(start + 10, messages))])
        params = {}
        if maximum_concurrency is not None:
            params["ScalingConfig"] = {"MaximumConcurrency": maximum_concurrency}
        mapping = lam.create_event_source_mapping(
            FunctionName="orders-worker", EventSourceArn=arn, BatchSize=10, **params)
        lab.run(until=minutes * 60)
        uuid = mapping["UUID"]
        states = [(e.t, e.detail["state"]) for e in lab.trace.of("state") if e.mapping == uuid]
        return IdleQueue(
            minutes=minutes,
            maximum_concurrency=maximum_concurrency,
            messages=messages,
            created_at=states[0][0],
            enabled_at=next(t for t, s in states if s == "Enabled"),
            polls=tuple((e.t, len(e.records)) for e in lab.trace.of("poll") if e.mapping == uuid),
            scale=tuple((e.t, e.detail["concurrency"]) for e in lab.trace.of("scale")
                        if e.mapping == uuid),
            invocations=sum(1 for i in lab.trace.invocations if i.mapping == uuid),
            starts=tuple(i.start for i in lab.trace.invocations if i.mapping == uuid),
        )


def _describe_idle(result: IdleQueue) -> str:
    cap = ("not set" if result.maximum_concurrency is None
           else str(result.maximum_concurrency))
    start = f"{result.messages:,} messages at the start, " if result.messages else "idle queue, "
    return (f"{start}MaximumConcurrency {cap}: {result.requests:,} ReceiveMessage requests "
            f"in {result.minutes} min, {result.empty_receives:,} of them empty")


def draw_idle(result: IdleQueue, axes=None):
    """Two panels over simulated minutes: the poller count (top) and ReceiveMessage requests per
    minute (bottom; grey: empty receives, green: receives that returned messages).

    ``axes``: a pair of matplotlib Axes, or None for a new figure. Returns the pair.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(7, 4.6), sharex=True,
                               gridspec_kw={"height_ratios": [1, 1.4]})
    top, bottom = axes
    end = result.minutes
    steps = [(0.0, 0)] + [(t / 60, c) for t, c in result.scale]
    xs = [t for t, _ in steps] + [end]
    ys = [c for _, c in steps] + [steps[-1][1]]
    top.step(xs, ys, where="post", color="#2f5f8a", linewidth=2)
    top.set_ylabel("pollers")
    top.set_ylim(0, max(ys) * 1.25 + 1)
    top.grid(alpha=0.3)
    last = None
    for t, c in steps[1:]:
        if c != last:
            top.annotate(str(c), (t, c), xytext=(3, 3), textcoords="offset points", fontsize=8,
                         color="#2f5f8a")
            last = c
    top.set_title(_describe_idle(result), fontsize=9)

    frame = result.per_minute()
    minutes = frame.index.to_numpy() + 0.5
    bottom.bar(minutes, frame["empty_receives"], width=0.9, color="#9aa5b1",
               label="empty receives")
    bottom.bar(minutes, frame["receives_with_messages"], width=0.9,
               bottom=frame["empty_receives"], color="#4c9f70", label="returned messages")
    bottom.set_ylabel("ReceiveMessage\nper minute")
    bottom.set_xlabel("simulated time (minutes)")
    bottom.set_xlim(0, end)
    tallest = (frame["empty_receives"] + frame["receives_with_messages"]).max()
    bottom.set_ylim(0, max(tallest, 1) * 1.15)
    bottom.grid(axis="y", alpha=0.3)
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    if result.messages:
        bottom.legend(loc="upper right", fontsize=8, frameon=False)
    return top, bottom


def draw_long_polls(result: IdleQueue, ax=None, minutes: float | None = None):
    """Each empty ReceiveMessage as a bar from the moment the request was made to the moment it
    returned (20 s later: the long poll), one row per poller; the first ``minutes`` only.

    Only meaningful for an idle queue (``messages=0``): every request then waits the full 20 s.
    Returns the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 2.8))
    until = 60 * (minutes if minutes is not None else result.minutes)
    wait = SQS_LONG_POLL_SECONDS
    # The trace records when each request returned, not which poller made it, so rows are
    # rebuilt: a request that returned at t waited the full 20 s on a row free since t - 20. A
    # request with no such row was cut short at once: a poller retired by a scale-down ends its
    # new long poll empty (still a request); its row ends there.
    scale_downs = {t for (t, c), (_, before) in zip(result.scale[1:], result.scale) if c < before}
    returned: dict[float, int] = {}
    for t, n in result.polls:
        if not n and t - wait < until:
            returned[t] = returned.get(t, 0) + 1
    free_at: list[float] = []
    retired: set[int] = set()
    cut_short = []
    for t in sorted(returned):
        count = returned[t]
        rows = [r for r, free in enumerate(free_at) if free <= t - wait and r not in retired]
        full = rows[:count]
        extra = count - len(full)
        if extra and t not in scale_downs:
            full += range(len(free_at), len(free_at) + extra)
            free_at += [t] * extra
            extra = 0
        for row in full:
            free_at[row] = t
            ax.barh(row, min(t, until) - (t - wait), left=t - wait, height=0.6, color="#9aa5b1",
                    edgecolor="#404040", linewidth=0.6)
        for row in full[len(full) - extra:]:
            retired.add(row)
            cut_short.append((t, row))
    if cut_short:
        ax.plot([t for t, _ in cut_short], [r for _, r in cut_short], marker="o", markersize=5,
                linestyle="", color="#d1495b", zorder=3,
                label="request cut short at once (poller retired)")
        ax.legend(loc="lower right", fontsize=8, frameon=True)
    marks = [(result.enabled_at, f"Enabled: {result.pollers_at(result.enabled_at)} pollers")]
    marks += [(t, f"{c} pollers") for t, c in result.scale[1:] if t < until]
    for t, text in marks:
        ax.axvline(t, color="#d1495b", linestyle="--", linewidth=1)
        ax.annotate(text, (t, 1.0), xycoords=("data", "axes fraction"), xytext=(2, 2),
                    textcoords="offset points", va="bottom", fontsize=8, color="#d1495b")
    ax.set_xlim(0, until)
    ax.set_ylim(-0.6, max(len(free_at), 1) - 0.4)
    ax.set_yticks(range(len(free_at)))
    ax.set_yticklabels([f"poller {r + 1}" for r in range(len(free_at))])
    ax.invert_yaxis()
    ax.set_xlabel("simulated time (s)")
    ax.set_title("An idle queue: each bar is one ReceiveMessage long poll that waited 20 s and "
                 "returned empty", fontsize=10, pad=16)
    ax.grid(axis="x", alpha=0.3)
    return ax


# --- Kinesis: where each shard's iterator starts ------------------------------------------------


@dataclass(frozen=True)
class Written:
    """A record written to the stream, with the sequence number a function sees for it."""

    n: int  #: the record's number, in write order (also in its data: {"n": n})
    t: float  #: simulated second it was written
    phase: str  #: "before" the mappings existed, while "creating", or "after" Enabled
    shard: str
    sequence: str
    partition_key: str


def _stream(lab, name, shards):
    kinesis = lab.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    return kinesis, arn


def _put(kinesis, name, n):
    """Write the record {"n": n}, keyed by device."""
    kinesis.put_record(StreamName=name, Data=json.dumps({"n": n}).encode(),
                       PartitionKey=f"device-{n}")


def _as_delivered(lab, arn) -> dict:
    """n -> (shard, sequence number) of every record in the stream, as a mapping's function sees
    them: read from each shard's oldest record by the simulator's own Kinesis reader."""
    source = KinesisSource(lab, arn, None)
    found = {}
    for shard in source.shards():
        position = source.iterator(shard, "TRIM_HORIZON")
        while True:
            records, position = source.read(shard, position)
            if not records:
                break
            for rec in records:
                n = json.loads(base64.b64decode(rec.record["kinesis"]["data"]))["n"]
                found[n] = (shard, rec.sequence, rec.record["kinesis"]["partitionKey"])
    return found


def _written(lab, arn, writes) -> tuple:
    """Written records for ``writes`` = [(n, t, phase)], with their shards and sequence numbers."""
    delivered = _as_delivered(lab, arn)
    return tuple(Written(n, t, phase, *delivered[n]) for n, t, phase in writes)


def _read(lab, uuid) -> frozenset:
    """Sequence numbers a mapping delivered to its function (in any invocation)."""
    return frozenset(s for i in lab.trace.invocations if i.mapping == uuid for s in i.records)


@dataclass(frozen=True)
class Positions:
    """Three mappings on one stream, one per StartingPosition, and what each one read."""

    created_at: float
    enabled_at: float
    timestamp_at: float  #: StartingPositionTimestamp of the AT_TIMESTAMP mapping (simulated s)
    shards: tuple
    records: tuple  #: Written, in write order
    read: tuple  #: (position, frozenset of sequence numbers read), in POSITIONS order

    def read_by(self, position: str) -> list[Written]:
        sequences = dict(self.read)[position]
        return [r for r in self.records if r.sequence in sequences]

    def missed_by(self, position: str) -> list[Written]:
        sequences = dict(self.read)[position]
        return [r for r in self.records if r.sequence not in sequences]

    def table(self):
        """One row per record written: when, in which phase, shard, sequence number, and for
        each starting position whether that mapping's function received it."""
        import pandas as pd

        rows = []
        read = dict(self.read)
        for r in self.records:
            row = {"n": r.n, "written_at": r.t, "phase": r.phase, "shard": r.shard,
                   "sequence_number": r.sequence}
            for position in POSITIONS:
                row[position] = "read" if r.sequence in read[position] else "missed"
            rows.append(row)
        return pd.DataFrame(rows).set_index("n")

    def iterators(self):
        """One row per (starting position, shard): where that shard's iterator started, the
        first sequence number the function received from it, and how many records it read and
        missed."""
        import pandas as pd

        read = dict(self.read)
        start = {
            "TRIM_HORIZON": "at the oldest record in the shard",
            "LATEST": f"after the newest record at t = {self.enabled_at:g} s (Enabled)",
            "AT_TIMESTAMP": f"at the first record written at or after t = {self.timestamp_at:g} s",
        }
        rows = []
        for position in POSITIONS:
            for shard in self.shards:
                mine = [r for r in self.records if r.shard == shard]
                got = [r for r in mine if r.sequence in read[position]]
                rows.append({
                    "StartingPosition": position,
                    "shard": shard,
                    "iterator starts": start[position],
                    "first sequence number read": got[0].sequence if got else "(none)",
                    "read": len(got),
                    "missed": len(mine) - len(got),
                })
        return pd.DataFrame(rows).set_index(["StartingPosition", "shard"])


CREATE_AT = 30.0  #: when the three mappings are created in starting_positions()


def starting_positions(before: int = 20, creating: int = 4, after: int = 10, shards: int = 2,
                       timestamp_before: float = 10.0, seed: int = 1) -> Positions:
    """Create three mappings (``TRIM_HORIZON``, ``LATEST``, ``AT_TIMESTAMP``) on one Kinesis
    stream at t = 30 s, and write records around them:

    * ``before`` records, one a second, ending at t = 29 s (at most 30);
    * ``creating`` records while the mappings are ``Creating`` (t = 30-32 s, M8);
    * ``after`` records, one a second from t = 33 s, when all three are ``Enabled``.

    The ``AT_TIMESTAMP`` mapping's ``StartingPositionTimestamp`` is ``timestamp_before`` seconds
    before the mappings are created (0-30). The run ends 5 s after the last write.
    """
    return _starting_positions(
        whole("before", before, minimum=0, maximum=int(CREATE_AT)),
        whole("creating", creating, minimum=0), whole("after", after, minimum=0),
        whole("shards", shards, minimum=1),
        positive("timestamp_before", timestamp_before, zero=True), whole("seed", seed))


@lru_cache(maxsize=32)
def _starting_positions(before, creating, after, shards, timestamp_before, seed) -> Positions:
    if not 0 <= before <= CREATE_AT:
        raise ValueError(f"before must be 0-{CREATE_AT:g} (one record a second before t = 30 s)")
    if not 0 <= timestamp_before <= CREATE_AT:
        raise ValueError("timestamp_before must be 0-30: StartingPositionTimestamp must not lie "
                         "in the future, and the stream starts at t = 0")
    transition = TRANSITION_SECONDS  # M8: Creating lasts 2 s
    writes = [(CREATE_AT - before + k, "before") for k in range(before)]
    writes += [(CREATE_AT + transition * (k + 1) / (creating + 1), "creating")
               for k in range(creating)]
    writes += [(CREATE_AT + transition + 1 + k, "after") for k in range(after)]
    with Lab(seed=seed) as lab:
        kinesis, arn = _stream(lab, "clicks", shards)
        lam = lab.client("lambda")
        timestamp_at = CREATE_AT - timestamp_before
        uuids = {}
        written = []
        pending = list(enumerate(writes))

        def write_until(t):
            while pending and pending[0][1][0] < t:
                n, (when, phase) = pending.pop(0)
                lab.run(until=when)
                _put(kinesis, "clicks", n)
                written.append((n, when, phase))

        write_until(CREATE_AT)
        lab.run(until=CREATE_AT)
        for position in POSITIONS:
            name = f"from-{position.lower().replace('_', '-')}"
            lab.function(name, _ignore, timeout=10, duration=0.5)
            params = {"StartingPosition": position, "BatchSize": 100}
            if position == "AT_TIMESTAMP":
                params["StartingPositionTimestamp"] = START + dt.timedelta(seconds=timestamp_at)
            uuids[position] = lam.create_event_source_mapping(
                FunctionName=name, EventSourceArn=arn, **params)["UUID"]
        write_until(float("inf"))
        lab.run(until=max([CREATE_AT + transition] + [t for t, _ in writes]) + 5)
        enabled = [e.t for e in lab.trace.of("state") if e.detail["state"] == "Enabled"]
        shard_ids = tuple(s["ShardId"] for s in kinesis.list_shards(StreamName="clicks")["Shards"])
        return Positions(
            created_at=CREATE_AT,
            enabled_at=min(enabled),
            timestamp_at=timestamp_at,
            shards=shard_ids,
            records=_written(lab, arn, written),
            read=tuple((p, _read(lab, uuids[p])) for p in POSITIONS),
        )


def draw_positions(result: Positions, axes=None):
    """One panel per StartingPosition: every record written, at its write time (x) on its shard
    (y); a filled marker if that mapping's function received it, an open one if it was missed.
    The shaded band is the mappings' ``Creating`` state. Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    if axes is None:
        _, axes = plt.subplots(len(POSITIONS), 1, figsize=(7, 1.0 + 1.2 * len(POSITIONS)
                                                          + 0.25 * len(POSITIONS) * len(result.shards)),
                               sharex=True)
    rows = {shard: k for k, shard in enumerate(result.shards)}
    end = max([r.t for r in result.records] + [result.enabled_at]) + 2
    for ax, position in zip(axes, POSITIONS):
        read = dict(result.read)[position]
        ax.axvspan(result.created_at, result.enabled_at, color="#f3d9dc", zorder=0)
        for phase in PHASES:
            got = [r for r in result.records if r.phase == phase and r.sequence in read]
            lost = [r for r in result.records if r.phase == phase and r.sequence not in read]
            colour = PHASE_COLOURS[phase]
            ax.scatter([r.t for r in got], [rows[r.shard] for r in got], s=36, color=colour,
                       edgecolor="black", linewidth=0.5, zorder=3)
            ax.scatter([r.t for r in lost], [rows[r.shard] for r in lost], s=36,
                       facecolor="white", edgecolor=colour, linewidth=1.2, zorder=3)
        if position == "AT_TIMESTAMP":
            ax.axvline(result.timestamp_at, color="#404040", linestyle="--", linewidth=1)
            ax.annotate("StartingPositionTimestamp", (result.timestamp_at, 1.0),
                        xycoords=("data", "axes fraction"), xytext=(-3, -3),
                        textcoords="offset points", ha="right", va="top", fontsize=7)
        total = len(result.records)
        ax.set_title(f"{position}: read {len(read)} of {total} records", fontsize=9, loc="left")
        ax.set_yticks(range(len(result.shards)))
        ax.set_yticklabels(result.shards, fontsize=7)
        ax.set_ylim(len(result.shards) - 0.3, -0.7)  # the first shard on top
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlim(-1, end)
    axes[-1].set_xlabel("simulated time the record was written (s)")
    handles = [Line2D([], [], marker="o", linestyle="", color=PHASE_COLOURS[p],
                      markeredgecolor="black", label=f"written {label}")
               for p, label in (("before", "before the mappings existed"),
                                ("creating", "while Creating"), ("after", "after Enabled"))]
    handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                          markeredgecolor="#404040", label="open marker: never read"))
    handles.append(plt.Rectangle((0, 0), 1, 1, color="#f3d9dc", label="Creating (2 s, M8)"))
    axes[0].legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.25), ncol=3,
                   fontsize=7, frameon=False)
    return axes


# --- exercise 1: a stream with history ----------------------------------------------------------


@dataclass
class StreamHistory:
    """A live lab whose stream ``clicks`` already holds ``written`` records, and no mapping."""

    lab: Lab
    lam: object  #: the lab's boto3 Lambda client
    kinesis: object  #: the lab's boto3 Kinesis client
    arn: str  #: the stream's ARN
    function: str  #: the function to map ("replay")
    written: tuple  #: Written records, in write order

    @property
    def first_write(self) -> dt.datetime:
        return START + dt.timedelta(seconds=self.written[0].t)


def stream_with_history(records: int = 20, shards: int = 2, seed: int = 1) -> StreamHistory:
    """Open a lab with a Kinesis stream ``clicks`` (``shards`` shards), write ``records`` records
    one a second from t = 0, register the function ``replay`` and run the lab to t = 30 s. No
    mapping exists yet."""
    records = whole("records", records, minimum=1, maximum=int(CREATE_AT))
    shards = whole("shards", shards, minimum=1)
    lab = Lab(seed=seed)
    kinesis, arn = _stream(lab, "clicks", shards)
    lab.function("replay", _ignore, timeout=10, duration=0.5)
    for n in range(records):
        lab.run(until=float(n))
        _put(kinesis, "clicks", n)
    lab.run(until=CREATE_AT)
    written = _written(lab, arn, [(n, float(n), "before") for n in range(records)])
    return StreamHistory(lab, lab.client("lambda"), kinesis, arn, "replay", written)


# --- exercise 3: documented rates -------------------------------------------------------------


def get_records_per_day(kind: str, shards: int) -> int:
    """GetRecords requests one mapping makes in a day at the documented base rate (see
    :data:`GET_RECORDS_PER_SECOND`): 1 a second per shard for Kinesis, 4 for DynamoDB Streams."""
    one_of("kind", kind, tuple(GET_RECORDS_PER_SECOND))
    shards = whole("shards", shards, minimum=1)
    return GET_RECORDS_PER_SECOND[kind] * shards * SECONDS_PER_DAY
