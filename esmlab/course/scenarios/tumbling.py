"""Lab 09 (Tumbling windows): a per-window aggregate on a Kinesis stream, invocation by invocation.

    from esmlab.course.scenarios import tumbling
    result = tumbling.run(window=30, shards=2)          # orders for 90 s, totals per 30 s window
    result = tumbling.run(handler="keep-all", payload_kb=200)   # state above 1 MB: cut short
    tumbling.draw(result)

A call opens a fresh :class:`esmlab.Lab`, creates a stream and a mapping with
``TumblingWindowInSeconds`` (boto3, as in the lab), writes ``orders`` orders over ``seconds``
simulated seconds from t = 2 s, in bursts (each ``{"order": n, "amount_cents": c}``, amounts from a seeded
generator), runs until every window has closed, and returns a :class:`WindowResult`: one
:class:`Call` per invocation (when, which shard and window, how many records, the state that came
in, what the handler returned), the state each final invocation received, and the true totals
computed from what was written. Results are cached.

What the pictures rest on (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html):
windows are fixed and do not overlap, per shard; every invocation receives the state the previous
invocation of its window returned, and must return ``{"state": {...}}`` or it fails; the window
ends with an invocation whose ``isFinalInvokeForWindow`` is true; state is limited to 1 MB per
shard, above which Lambda ends the window early (``isWindowTerminatedEarly``); resharding is not
supported. MODELLING CHOICES (M10, docs/simulator.md "Tumbling windows"): windows are aligned to
multiples of their length from the epoch, by arrival time; a batch holds one window's records;
the final invocation has no records and comes one polling interval (1 s) after the window ends.

Cost: a default call takes about 0.1-0.3 s.
"""

from __future__ import annotations

import base64
import functools
import json
import random
import time
from dataclasses import dataclass, field

START = 2.0  #: the mapping becomes Enabled at t = 2 s (M8); the first order is written then
FUNCTION = "window-totals"
HANDLERS = ("sum", "keep-all")
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22")
#: Partition keys, chosen so that with two shards consecutive orders alternate between them
#: (Kinesis maps the md5 of the key to a shard's hash key range,
#: https://docs.aws.amazon.com/streams/latest/dev/key-concepts.html).
KEYS = ("customer-4", "customer-0", "customer-7", "customer-1", "customer-9", "customer-2",
        "customer-10", "customer-3")
BURST_EVERY = 6.0  #: orders come in bursts, one every 6 s, so that batches hold several


@dataclass(frozen=True)
class Call:
    """One invocation of the function."""

    start: float
    shard: str
    window: float  #: the window's start (s of lab time)
    final: bool
    early: bool  #: isWindowTerminatedEarly
    records: int
    state_in: dict
    returned: object = None
    error: str | None = None  #: what the handler raised ("KeyError: 'x'")
    state_bytes: int = 0  #: size of the returned state's JSON
    batch: dict = field(default_factory=dict)  #: this batch's own {"orders", "revenue"}

    @property
    def valid(self) -> bool:
        return self.error is not None or (isinstance(self.returned, dict)
                                          and isinstance(self.returned.get("state"), dict))


@dataclass(frozen=True)
class WindowResult:
    title: str
    window: int
    shards: tuple
    calls: tuple = ()
    arrivals: tuple = ()  #: (time, shard) of every order written
    truth: dict = field(default_factory=dict)  #: (shard, window start) -> {"orders", "revenue"}
    finals: dict = field(default_factory=dict)  #: (shard, window start) -> state of the final call
    last_batch: dict = field(default_factory=dict)  #: (shard, window start) -> last batch's totals
    processed: int = 0
    records: int = 0
    seconds: float = 0.0

    @property
    def invocations(self) -> int:
        return len(self.calls)

    @property
    def early(self) -> int:
        return sum(1 for c in self.calls if c.early)

    def summary(self) -> str:
        finals = sum(1 for c in self.calls if c.final)
        early = f", {self.early} invocations with isWindowTerminatedEarly" if self.early else ""
        return (f"{self.title}: {self.records} orders, {self.invocations} invocations "
                f"({finals} final){early}; {self.processed} of {self.records} processed")

    def __str__(self):
        return self.summary()

    def __repr__(self):
        return f"<WindowResult {self.summary()}>"


def clock(seconds: float) -> str:
    """Lab seconds as the window's wall-clock time (the lab starts at 00:00:00)."""
    s = int(seconds)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


def run(window: int = 30, shards: int = 2, batch_size: int = 3, seconds: int = 90,
        orders: int = 30, handler="sum", payload_kb: int = 0) -> WindowResult:
    """Orders on a Kinesis stream of ``shards`` shards, ``TumblingWindowInSeconds`` ``window``.

    * ``orders`` orders are written over ``seconds`` simulated seconds from t = 2 s, in bursts
      (:func:`order_times`);
      ``payload_kb`` pads each one with that many KB of text (to reach the 1 MB state limit).
    * ``handler``: ``"sum"`` keeps ``{"orders": n, "revenue": cents}`` in the state;
      ``"keep-all"`` keeps every order it has seen in the state (and so grows it); or your own
      function ``(event, context)``.
    """
    _check_int("window", window, 1, 900)  # TumblingWindowInSeconds 1-900 (API reference)
    _check_int("shards", shards, 1, 4)
    _check_int("batch_size", batch_size, 1, 100)
    _check_int("seconds", seconds, 1, 600)
    _check_int("orders", orders, 1, 200)
    _check_int("payload_kb", payload_kb, 0, 900)
    if not callable(handler) and handler not in HANDLERS:
        raise ValueError(f"handler must be one of {HANDLERS} or a function (event, context), "
                         f"got {handler!r}")
    return _run(window, shards, batch_size, seconds, orders, handler, payload_kb)


def order_amounts(orders: int) -> list[int]:
    """The amounts (cents) of the orders, in writing order (seeded: the same every call)."""
    rng = random.Random(9)
    return [rng.randrange(500, 20000, 5) for _ in range(orders)]


def order_times(orders: int, seconds: int) -> list[float]:
    """When each order is written: bursts of 1-7 orders every :data:`BURST_EVERY` s from t = 2 s
    (seeded), spread evenly when there are more orders than the bursts hold."""
    rng = random.Random(4)
    bursts = max(1, int(seconds // BURST_EVERY))
    sizes = [rng.randint(1, 7) for _ in range(bursts)]
    total = sum(sizes)
    counts = [orders * size // total for size in sizes]
    for i in range(orders - sum(counts)):
        counts[i % bursts] += 1
    return [START + b * BURST_EVERY for b, count in enumerate(counts) for _ in range(count)]


def sum_handler(event, context):
    """The demo's handler: orders and revenue of the window so far, in the state."""
    state = dict(event["state"])
    for record in event["Records"]:
        order = json.loads(base64.b64decode(record["kinesis"]["data"]))
        state["orders"] = state.get("orders", 0) + 1
        state["revenue"] = state.get("revenue", 0) + order["amount_cents"]
    return {"state": state}


def keep_all_handler(event, context):
    """Keeps every order in the state: the state grows with the window, past 1 MB."""
    state = {"seen": list(event["state"].get("seen", []))}
    for record in event["Records"]:
        state["seen"].append(base64.b64decode(record["kinesis"]["data"]).decode())
    return {"state": state}


def _epoch_to_lab(iso: str) -> float:
    import datetime as dt

    from esmlab.clock import START as EPOCH

    moment = dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return (moment - EPOCH).total_seconds()


@functools.lru_cache(maxsize=128)
def _run(window, shards, batch_size, seconds, orders, handler, payload_kb) -> WindowResult:
    from esmlab import Lab

    inner = {"sum": sum_handler, "keep-all": keep_all_handler}.get(handler, handler)
    began = time.perf_counter()
    lab = Lab(seed=0)
    try:
        kinesis, lam = lab.client("kinesis"), lab.client("lambda")
        calls: list[Call] = []

        def observed(event, context):
            state_in = json.loads(json.dumps(event.get("state", {})))
            common = {"start": lab.now, "shard": event.get("shardId", "?"),
                      "window": _epoch_to_lab(event["window"]["start"]),
                      "final": bool(event.get("isFinalInvokeForWindow")),
                      "early": bool(event.get("isWindowTerminatedEarly")),
                      "records": len(event["Records"]), "state_in": state_in,
                      "batch": _batch_totals(event["Records"])}
            try:
                returned = inner(event, context)
            except Exception as error:
                calls.append(Call(**common, error=f"{type(error).__name__}: {error}"))
                raise
            size = 0
            if isinstance(returned, dict) and isinstance(returned.get("state"), dict):
                size = len(json.dumps(returned["state"]).encode())
            calls.append(Call(**common, returned=returned, state_bytes=size))
            return returned

        lab.function(FUNCTION, observed, timeout=10, duration=0.2)
        kinesis.create_stream(StreamName="orders", ShardCount=shards)
        arn = kinesis.describe_stream_summary(StreamName="orders")[
            "StreamDescriptionSummary"]["StreamARN"]
        uuid = lam.create_event_source_mapping(
            FunctionName=FUNCTION, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
            BatchSize=batch_size, TumblingWindowInSeconds=window, MaximumRetryAttempts=2,
        )["UUID"]
        amounts = order_amounts(orders)
        padding = "x" * (payload_kb * 1024)
        arrivals: list[tuple] = []

        def write(n):
            order = {"order": n, "amount_cents": amounts[n]}
            if padding:
                order["note"] = padding
            response = kinesis.put_record(StreamName="orders", PartitionKey=KEYS[n % len(KEYS)],
                                          Data=json.dumps(order).encode())
            arrivals.append((lab.now, response["ShardId"], amounts[n]))

        for n, moment in enumerate(order_times(orders, seconds)):
            lab.clock.at(moment, functools.partial(write, n))
        last_end = ((START + seconds) // window + 1) * window
        lab.run(until=last_end + 5)
        fates = lab.stream_conservation(uuid)
        truth: dict = {}
        for moment, shard, cents in arrivals:
            key = (shard, (moment // window) * window)
            totals = truth.setdefault(key, {"orders": 0, "revenue": 0})
            totals["orders"] += 1
            totals["revenue"] += cents
        finals, last_batch = {}, {}
        for call in calls:
            key = (call.shard, call.window)
            if call.final:
                finals[key] = call.state_in
            elif call.records and call.error is None:
                last_batch[key] = call.batch
        names = tuple(f"shardId-{n:012d}" for n in range(shards))
        label = handler if isinstance(handler, str) else "your handler"
        return WindowResult(
            title=(f"Kinesis, {shards} shard{'s' if shards > 1 else ''}, "
                   f"TumblingWindowInSeconds {window}, BatchSize {batch_size}, {label} handler"),
            window=window, shards=names, calls=tuple(calls), arrivals=tuple(arrivals),
            truth=truth, finals=finals, last_batch=last_batch,
            processed=fates["counts"].get("processed", 0), records=orders,
            seconds=time.perf_counter() - began)
    finally:
        lab.close()


def _batch_totals(records) -> dict:
    """A batch's own orders and revenue."""
    amounts = [json.loads(base64.b64decode(r["kinesis"]["data"]))["amount_cents"]
               for r in records]
    return {"orders": len(amounts), "revenue": sum(amounts)}


# --- the picture ---------------------------------------------------------------------------------


def draw(result: WindowResult, ax=None, width: float = 7.0):
    """One row per shard, time across. Windows are shaded bands; small grey ticks are orders as
    they arrive; a circle is an invocation with records (its number: how many), a black diamond
    the window's final invocation, labelled with the state it received; a red cross marks an
    invocation with ``isWindowTerminatedEarly``. Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    shards = list(result.shards)
    if ax is None:
        _, ax = plt.subplots(figsize=(width, 1.9 + 1.15 * len(shards)))
    row = {shard: i for i, shard in enumerate(shards)}
    end = max([c.start for c in result.calls] + [START + 1]) + 4
    w = result.window
    n = 0
    while n * w < end:
        ax.axvspan(n * w, (n + 1) * w, color=PALETTE[n % len(PALETTE)], alpha=0.08, linewidth=0)
        ax.axvline(n * w, color="#999999", linewidth=0.6)
        n += 1
    for moment, shard, _ in result.arrivals:
        ax.plot([moment, moment], [row[shard] - 0.42, row[shard] - 0.28], color="#777777",
                linewidth=0.8)
    previous: dict = {}  # shard -> (time, offset) of its last circle, to keep circles apart
    for call in result.calls:
        y = row.get(call.shard, 0)
        if not call.final:
            last_time, last_offset = previous.get(call.shard, (-9.0, 0.0))
            offset = -0.14 if call.start - last_time < 0.02 * end and last_offset == 0 else 0.0
            previous[call.shard] = (call.start, offset)
            y += offset
        colour = PALETTE[int(call.window // w) % len(PALETTE)]
        if call.final:
            ax.plot(call.start, y, marker="D", color="black", markersize=6, zorder=3)
            ax.annotate(_state_text(call.state_in), (call.start, y), xytext=(0, -13),
                        textcoords="offset points", ha="center", va="top", fontsize=8,
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": colour})
        else:
            ax.plot(call.start, y, marker="o", color=colour, markersize=11, zorder=3,
                    markeredgecolor="black", markeredgewidth=0.5)
            ax.text(call.start, y, str(call.records), ha="center", va="center", fontsize=7,
                    color="white", fontweight="bold", zorder=4)
        if call.state_bytes >= 100 * 1024 and not call.final:  # the 1 MB demo: how big the returned state is
            ax.text(call.start, y + 0.2, f"{call.state_bytes / 1024:,.0f} KB", ha="center",
                    va="top", fontsize=8, color="#d62728" if call.state_bytes > 1024 * 1024
                    else "#333333")
        if call.early:
            ax.plot(call.start, y - 0.25, marker="x", color="#d62728", markersize=7, zorder=4)
        if not call.valid or call.error:
            ax.plot(call.start, y + 0.22, marker="v", color="#d62728", markersize=6, zorder=4)
    ax.set_xlim(0, end)
    ax.set_ylim(len(shards) - 0.3, -0.6)
    ax.set_yticks(range(len(shards)))
    ax.set_yticklabels([f"shard {int(s.rsplit('-', 1)[1])}" for s in shards], fontsize=9)
    ax.set_xlabel("simulated time (s); bands: windows of "
                  f"{w} s", fontsize=9)
    ax.tick_params(axis="x", labelsize=9)
    ax.set_title(f"{result.title}\n{result.invocations} invocations, "
                 f"{sum(1 for c in result.calls if c.final)} final", fontsize=10)
    handles = [Line2D([], [], color="#777777", linewidth=0.8, label="order arrives"),
               Line2D([], [], marker="o", linestyle="", color="#1f77b4", markeredgecolor="black",
                      markersize=8, label="invocation (records in it)"),
               Line2D([], [], marker="D", linestyle="", color="black", markersize=6,
                      label="final invocation: state it got")]
    if result.early:
        handles.append(Line2D([], [], marker="x", linestyle="", color="#d62728",
                              label="isWindowTerminatedEarly"))
    if any(not c.valid or c.error for c in result.calls):
        handles.append(Line2D([], [], marker="v", linestyle="", color="#d62728",
                              label="invocation failed"))
    figure = ax.figure
    figure.legend(handles=handles, fontsize=8, ncol=min(len(handles), 3), loc="lower center",
                  frameon=False)
    rows = (len(handles) + 2) // 3
    figure.tight_layout(rect=(0, (0.1 + 0.22 * rows) / figure.get_figheight(), 1, 1))
    return ax


def _state_text(state: dict) -> str:
    if "orders" in state and "revenue" in state and isinstance(state["revenue"], (int, float)):
        return f"{state['orders']} orders\n${state['revenue'] / 100:,.2f}"
    if "seen" in state and isinstance(state["seen"], list):
        return f"{len(state['seen'])} kept"
    text = json.dumps(state)
    return text if len(text) <= 18 else text[:15] + "..."
