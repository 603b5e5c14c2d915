"""Lab 10 (Choosing a source): run a workload on the source a learner chose and score it.

    from esmlab.course.scenarios import choosing
    choice = choosing.Choice("kinesis", pf=4, retries=2, dlq=True)
    score = choosing.score("payments", choice)     # runs real mappings on moto, then scores
    print(score)                                   # one line per requirement: met or why not
    choosing.draw(score)

A :class:`Scenario` is a workload (keys, a write rate, a function that costs ``per_record``
seconds a record, one poison record that always fails) and its requirements: order per key, a
latency bound, nothing lost, replay, reacting to table changes. A :class:`Choice` is a source and
its configuration, in the mapping's own terms. :func:`run` opens a fresh :class:`esmlab.Lab`,
creates the source, the function and the mapping with boto3 calls (the one-call pipelines of
:mod:`esmlab.testing`), writes the records in simulated time and runs until everything has
settled; :func:`score` checks the run against each requirement. Requirements that a run cannot
show (a standard queue's order, replay, table changes) are scored from what AWS documents,
and the message says so.

What the scoring rests on:

* Order: SQS standard queues promise no order
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html);
  FIFO keeps order per message group
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html); Kinesis per shard
  at PF 1 and per partition key at PF > 1
  (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html); DynamoDB Streams per item
  (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html). The run is checked too: a key's
  records must be processed one after another, in write order (first deliveries).
* Loss: a message that keeps failing on a queue without a dead-letter queue stays until the
  queue's retention deletes it (default 4 days,
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html);
  a stream record is retried until it expires unless ``MaximumRetryAttempts`` or
  ``MaximumRecordAgeInSeconds`` discards it, and a discarded batch is kept only in an on-failure
  destination (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html).
* Replay: Lambda deletes SQS messages it processed
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html); Kinesis keeps
  records for the stream's retention, 24 h by default
  (https://aws.amazon.com/kinesis/data-streams/pricing/) and up to 365 days
  (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html); DynamoDB
  Streams keeps them 24 h (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html).
* Table changes: DynamoDB Streams records every modification of a table's items, each exactly
  once (Streams.html above). A table can also send its changes to a Kinesis stream (Kinesis Data
  Streams for DynamoDB,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/kds_gettingstarted.html);
  esmlab does not simulate that, so here a Kinesis choice writes its records itself.

MODELLING CHOICE (docs/simulator.md, "Lab 10 scenarios"): the function's duration is
``0.2 s + per_record`` seconds per record of the batch, a made-up cost that makes throughput depend
on how many batches run at once; latency is measured from a record's write to the end of the
invocation that processed it.

Cost: a call writes 40-120 records and takes about 0.1-0.4 s. Results are cached.
"""

from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import dataclass, field, fields, replace

START = 2.0  #: the mapping becomes Enabled at t = 2 s (M8); writes begin then
FUNCTION = "worker"
TIMEOUT = 5  #: the function's timeout (s)
BASE = 0.2  #: seconds an invocation costs before its records (MODELLING CHOICE, see above)
TAIL = 60.0  #: simulated seconds run after the last write, for retries and redrives to settle
SOURCES = ("sqs", "sqs-fifo", "kinesis", "dynamodb")
KEYS = ("customer", "event")
KEY_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank")
POISON_N = 3  #: the first key's record number 3 always fails

STANDARD = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html"
SQS_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"
SQS_ERRORS = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"
DLQ_DOC = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"
SET_QUEUE = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html"
KINESIS = "https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html"
KINESIS_FAILURE = "https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html"
KINESIS_LIMITS = "https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html"
KINESIS_PRICING = "https://aws.amazon.com/kinesis/data-streams/pricing/"
DDB = "https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html"
DDB_STREAMS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html"
KDS_FOR_DDB = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/kds_gettingstarted.html"
SQS_PRICING = "https://aws.amazon.com/sqs/pricing/"
LAMBDA_PRICING = "https://aws.amazon.com/lambda/pricing/"


@dataclass(frozen=True)
class Choice:
    """A source and its configuration (the mapping's and the source's own parameters).

    * ``source``: ``"sqs"`` (standard queue), ``"sqs-fifo"``, ``"kinesis"`` or ``"dynamodb"``;
    * ``key``: what orders the records: ``"customer"`` (the ``MessageGroupId`` or partition key
      is the customer) or ``"event"`` (a new one per record). Ignored by a standard queue; a
      DynamoDB table's item is always the customer's;
    * ``batch_size``, ``window`` (``MaximumBatchingWindowInSeconds``), ``pf``
      (``ParallelizationFactor``, streams), ``shards`` (Kinesis);
    * ``dlq``: SQS, a dead-letter queue (redrive after ``max_receive_count`` receives); streams,
      an SQS on-failure destination;
    * ``retries`` (``MaximumRetryAttempts``, streams, -1 = until the record expires),
      ``bisect`` (``BisectBatchOnFunctionError``), ``visibility_timeout`` (SQS, seconds),
      ``retention_hours`` (Kinesis ``RetentionPeriodHours``, 24 to 8,760).
    """

    source: str
    key: str = "customer"
    batch_size: int = 10
    window: int = 0
    pf: int = 1
    shards: int = 1
    dlq: bool = False
    max_receive_count: int = 3
    retries: int = -1
    bisect: bool = False
    visibility_timeout: int = 30
    retention_hours: int = 24

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.key not in KEYS:
            raise ValueError(f"key must be one of {KEYS}, got {self.key!r}")
        fifo_max = 10 if self.source == "sqs-fifo" else 10_000
        _check_int("batch_size", self.batch_size, 1, fifo_max)
        _check_int("window", self.window, 0, 300)
        _check_int("pf", self.pf, 1, 10)
        _check_int("shards", self.shards, 1, 8)
        _check_int("max_receive_count", self.max_receive_count, 1, 1000)
        _check_int("retries", self.retries, -1, 10_000)
        _check_int("visibility_timeout", self.visibility_timeout, TIMEOUT, 43_200)
        _check_int("retention_hours", self.retention_hours, 24, 8760)
        for name in ("dlq", "bisect"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def describe(self) -> str:
        """The choice in a line, with only what differs from the defaults."""
        defaults = Choice(self.source)
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)[1:]
                   if getattr(self, f.name) != getattr(defaults, f.name)]
        return f"{self.source}" + (f" ({', '.join(changed)})" if changed else " (defaults)")


def _check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


@dataclass(frozen=True)
class Scenario:
    """A workload and what it must achieve."""

    name: str
    story: str
    keys: int  #: customers (or table items), writing in turns
    rate: float  #: records written per second, all keys together
    records: int  #: records written
    per_record: float  #: seconds of function time per record (plus BASE per invocation)
    order: bool  #: each key's records processed one after another, in write order
    latency: float  #: every record except the poison one processed within this many s of its write
    nothing_lost: bool  #: the poison record must end in a DLQ or on-failure destination
    replay_hours: int = 0  #: re-read the last N hours (0: not needed)
    table_changes: bool = False  #: the records are changes to a DynamoDB table's items

    def requirements(self) -> list[str]:
        found = [(f"every record processed within {self.latency:g} s of its write "
                 f"({self.records} records at {self.rate:g} a second)")]
        if self.order:
            found.append("each key's records processed in write order, one after another")
        if self.nothing_lost:
            found.append("nothing lost: a record that keeps failing is kept somewhere to look at")
        if self.replay_hours:
            found.append(f"the last {self.replay_hours} h can be read again")
        if self.table_changes:
            found.append("react to every change of the table's items")
        return found


SCENARIOS = {
    "payments": Scenario(
        "payments", "Card payments per customer account: a debit must never be applied before "
        "the credit written before it, and a payment that fails must be kept for a person to "
        "look at.", keys=4, rate=6.0, records=48, per_record=0.4, order=True, latency=12.0,
        nothing_lost=True),
    "thumbnails": Scenario(
        "thumbnails", "Uploaded images to resize: any order, quickly, and an image that breaks "
        "the resizer must be kept.", keys=6, rate=16.0, records=48, per_record=0.4,
        order=False, latency=12.0, nothing_lost=True),
    "audit": Scenario(
        "audit", "Every change to the orders table must reach the audit log, in order per "
        "order, and the audit must be able to read the last day again.", keys=4, rate=4.0,
        records=32, per_record=0.4, order=True, latency=30.0, nothing_lost=True,
        replay_hours=24, table_changes=True),
}


def scenario_of(name) -> Scenario:
    if isinstance(name, Scenario):
        return name
    if name not in SCENARIOS:
        raise ValueError(f"scenario must be one of {tuple(SCENARIOS)}, got {name!r}")
    return SCENARIOS[name]


# --- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One written record and what became of it."""

    key: str
    n: int  #: its place in its key's order
    written: float  #: simulated write time (s)
    poison: bool
    fate: str  #: "processed", "dlq" (dead-letter queue or on-failure destination), "dropped"
    #: (discarded with nowhere to go) or "waiting" (still in the source at the end of the run)
    done: float | None = None  #: end of the invocation that processed it
    deliveries: tuple = ()  #: (start, end, request_id, ok) per delivery


@dataclass(frozen=True)
class RunResult:
    scenario: str
    choice: Choice
    records: tuple = ()
    invocations: int = 0
    peak: int = 0
    sqs_requests: dict = field(default_factory=dict)  #: sends, receives, deletes (SQS only)
    shard_hours: float = 0.0
    lanes: dict = field(default_factory=dict)  #: request_id -> lane label, for the picture
    seconds: float = 0.0  #: wall-clock time the call took
    conserved: bool = True  #: lab.conservation() / stream_conservation found nothing lost

    def latencies(self) -> list[float]:
        return [r.done - r.written for r in self.records if r.done is not None]

    def order_breaks(self) -> list[str]:
        """Where a key's records did not run one after another in write order (first
        deliveries only)."""
        firsts = []
        for r in self.records:
            if r.deliveries:
                start, end, request_id, _ = r.deliveries[0]
                firsts.append((start, r.n, r.key, end, request_id))
        breaks, last = [], {}
        for start, n, key, end, request_id in sorted(firsts):
            before = last.get(key)
            if before is not None:
                _b_start, b_n, b_end, b_request = before
                if n < b_n:
                    breaks.append(f"{key} #{n} started at t = {start:.1f} s, after {key} #{b_n}")
                elif request_id != b_request and start < b_end:
                    breaks.append(f"{key} #{n} started at t = {start:.1f} s while {key} #{b_n} was "
                                  f"still running (until t = {b_end:.1f} s)")
            if before is None or n > before[1]:
                last[key] = (start, n, end, request_id)
        return breaks


def run(scenario="payments", choice: Choice | None = None, **changes) -> RunResult:
    """Run ``scenario`` on ``choice`` (a :class:`Choice`; keyword arguments change its fields,
    so a widget can call ``run("payments", source="kinesis", pf=4)``)."""
    scenario = scenario_of(scenario)
    if choice is None:
        choice = Choice(changes.pop("source", "sqs"))
    if not isinstance(choice, Choice):
        raise TypeError(f"choice must be a choosing.Choice, got {choice!r}")
    if changes:
        unknown = set(changes) - {f.name for f in fields(Choice)}
        if unknown:
            raise ValueError(f"unknown Choice fields {sorted(unknown)}; the fields are "
                             f"{[f.name for f in fields(Choice)]}")
        choice = replace(choice, **changes)
    return _run(scenario, choice)


def _key_of(scenario, i) -> tuple[str, int]:
    return KEY_NAMES[i % scenario.keys], i // scenario.keys


@functools.lru_cache(maxsize=256)
def _run(scenario: Scenario, choice: Choice) -> RunResult:
    from esmlab import Lab
    from esmlab.streams.poller import lane_of
    from esmlab.testing import dynamodb_pipeline, kinesis_pipeline, sqs_pipeline

    began = time.perf_counter()
    lab = Lab(seed=0)
    try:
        seen: list[tuple] = []  # (request_id, record id, key, n, written)
        poison_ids: set = set()

        def handler(event, context):
            failures = []
            for record in event["Records"]:
                body, item = _read(record)
                seen.append((context.aws_request_id, item, body["key"], body["n"], body["t"]))
                if body["key"] == KEY_NAMES[0] and body["n"] == POISON_N:
                    poison_ids.add(item)
                    failures.append({"itemIdentifier": item})
            return {"batchItemFailures": failures}

        def duration(event):
            return BASE + scenario.per_record * len(event["Records"])

        common = {"function_name": FUNCTION, "timeout": TIMEOUT, "duration": duration}
        stream_params = {"BatchSize": choice.batch_size, "ParallelizationFactor": choice.pf,
                             "MaximumRetryAttempts": choice.retries,
                             "BisectBatchOnFunctionError": choice.bisect,
                             "FunctionResponseTypes": ["ReportBatchItemFailures"]}
        if choice.window:
            stream_params["MaximumBatchingWindowInSeconds"] = choice.window
        if choice.source.startswith("sqs"):
            pipe = sqs_pipeline(
                lab, handler, queue_name="work", fifo=choice.source == "sqs-fifo",
                batch_size=choice.batch_size, window=choice.window,
                max_receive_count=choice.max_receive_count if choice.dlq else None,
                visibility_timeout=choice.visibility_timeout, report_batch_item_failures=True,
                **common)
            write = _sqs_writer(lab, pipe.queue_url, choice)
        elif choice.source == "kinesis":
            pipe = kinesis_pipeline(lab, handler, stream_name="work", shards=choice.shards,
                                    destination=choice.dlq, **common, **stream_params)
            if choice.retention_hours != 24:
                lab.client("kinesis").increase_stream_retention_period(
                    StreamName="work", RetentionPeriodHours=choice.retention_hours)
            write = _kinesis_writer(lab, choice)
        else:
            pipe = dynamodb_pipeline(lab, handler, table_name="work", destination=choice.dlq,
                                     **common, **stream_params)
            write = _dynamodb_writer(lab)

        for i in range(scenario.records):
            key, n = _key_of(scenario, i)
            t = START + i / scenario.rate
            lab.clock.at(t, functools.partial(write, key, n, t))
        end = START + scenario.records / scenario.rate + TAIL
        lab.run(until=end)
        return _result(lab, scenario, choice, pipe, seen, poison_ids, end, began, lane_of)
    finally:
        lab.close()


def _read(record) -> tuple[dict, str]:
    """(body, the id a partial batch response names) of an SQS, Kinesis or DynamoDB record."""
    import base64

    if "body" in record:
        return json.loads(record["body"]), record["messageId"]
    if "kinesis" in record:
        data = json.loads(base64.b64decode(record["kinesis"]["data"]))
        return data, record["kinesis"]["sequenceNumber"]
    image = record["dynamodb"]["NewImage"]
    body = {"key": image["id"]["S"], "n": int(image["n"]["N"]), "t": float(image["t"]["N"])}
    return body, record["dynamodb"]["SequenceNumber"]


def _sqs_writer(lab, url, choice):
    sqs = lab.client("sqs")
    fifo = choice.source == "sqs-fifo"

    def write(key, n, t):
        body = json.dumps({"key": key, "n": n, "t": t})
        extra = {}
        if fifo:
            extra["MessageGroupId"] = key if choice.key == "customer" else f"{key}-{n}"
        sqs.send_message(QueueUrl=url, MessageBody=body, **extra)

    return write


def _kinesis_writer(lab, choice):
    kinesis = lab.client("kinesis")

    def write(key, n, t):
        partition = key if choice.key == "customer" else f"{key}-{n}"
        kinesis.put_record(StreamName="work", PartitionKey=partition,
                           Data=json.dumps({"key": key, "n": n, "t": t}).encode())

    return write


def _dynamodb_writer(lab):
    ddb = lab.client("dynamodb")

    def write(key, n, t):  # one item per key: each write is a change to the same item
        ddb.put_item(TableName="work", Item={"id": {"S": key}, "n": {"N": str(n)},
                                             "t": {"N": repr(t)}})

    return write


def _result(lab, scenario, choice, pipe, seen, poison_ids, end, began, lane_of) -> RunResult:
    from esmlab.trace import peak_concurrency

    invocations = {i.request_id: i for i in lab.trace.invocations}
    per_record: dict[tuple, list] = {}
    lanes = {}
    for request_id, item, key, n, _ in seen:
        invocation = invocations[request_id]
        ok = invocation.outcome in ("success", "partial") and item not in invocation.failed
        per_record.setdefault((key, n), []).append(
            (invocation.start, invocation.end if invocation.end is not None else end, request_id,
             ok))
        if choice.source in ("kinesis", "dynamodb"):
            part = key if choice.key == "customer" or choice.source == "dynamodb" else f"{key}-{n}"
            lanes[request_id] = f"lane {lane_of(part, choice.pf)}"
        elif choice.source == "sqs-fifo":
            lanes[request_id] = key if choice.key == "customer" else "a group per record"
    fates = _fates(lab, choice, pipe)
    records = []
    for i in range(scenario.records):
        key, n = _key_of(scenario, i)
        deliveries = tuple(per_record.get((key, n), ()))
        done = next((e for _, e, _, ok in deliveries if ok), None)
        poison = key == KEY_NAMES[0] and n == POISON_N
        fate = "processed" if done is not None else (fates if poison else "waiting")
        records.append(Record(key, n, START + i / scenario.rate, poison, fate, done, deliveries))
    conserved = True
    if choice.source.startswith("sqs"):
        conserved = lab.conservation().ok
        requests = {"sends": scenario.records,
                    "receives": sum(1 for e in lab.trace.of("poll") if e.mapping == pipe.mapping_uuid),
                    "deletes": sum(math.ceil((len(i.records) - len(i.failed)) / 10)
                                   for i in lab.trace.invocations
                                   if i.outcome in ("success", "partial"))}
    else:
        conserved = not lab.stream_conservation(pipe.mapping_uuid)["lost"]
        requests = {}
    shards = choice.shards if choice.source == "kinesis" else 0
    return RunResult(
        scenario=scenario.name, choice=choice, records=tuple(records),
        invocations=len(lab.trace.invocations), peak=peak_concurrency(lab.trace.invocations),
        sqs_requests=requests, shard_hours=shards * (end - START) / 3600, lanes=lanes,
        seconds=time.perf_counter() - began, conserved=conserved)


def _fates(lab, choice, pipe) -> str:
    """Where the poison record is at the end of the run: "dlq", "dropped" or "waiting"."""
    if choice.source.startswith("sqs"):
        counts = lab.conservation().counts
        redriven = sum(c.get("redriven", 0) for c in counts.values())
        return "dlq" if redriven else "waiting"
    counts = lab.stream_conservation(pipe.mapping_uuid)["counts"]
    if counts.get("destination"):
        return "dlq"
    if counts.get("dropped") or counts.get("expired"):
        return "dropped"
    return "waiting"


# --- scoring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    requirement: str
    met: bool
    why: str


@dataclass(frozen=True)
class Score:
    scenario: Scenario
    result: RunResult
    verdicts: tuple = ()

    @property
    def passed(self) -> bool:
        return all(v.met for v in self.verdicts)

    @property
    def broken(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.met]

    def __str__(self):
        head = (f"{self.scenario.name} on {self.result.choice.describe()}: "
                f"{sum(v.met for v in self.verdicts)} of {len(self.verdicts)} requirements met")
        lines = [f"  {'met    ' if v.met else 'BROKEN '} {v.requirement}: {v.why}"
                 for v in self.verdicts]
        return "\n".join([head, *lines])

    def __repr__(self):
        return f"<Score {str(self).splitlines()[0]}>"


def score(scenario="payments", choice: Choice | None = None, **changes) -> Score:
    """Run ``scenario`` on ``choice`` and judge the run against each requirement."""
    scenario = scenario_of(scenario)
    result = run(scenario, choice, **changes)
    verdicts = [_latency(scenario, result)]
    if scenario.order:
        verdicts.append(_order(result))
    if scenario.nothing_lost:
        verdicts.append(_loss(result))
    if scenario.replay_hours:
        verdicts.append(_replay(scenario, result.choice))
    if scenario.table_changes:
        verdicts.append(_table(result.choice))
    return Score(scenario, result, tuple(verdicts))


def _latency(scenario, result) -> Verdict:
    name = f"latency <= {scenario.latency:g} s"
    waiting = [r for r in result.records if not r.poison and r.done is None]
    lat = [r.done - r.written for r in result.records if not r.poison and r.done is not None]
    worst = max(lat, default=0.0)
    choice = result.choice
    if waiting:
        first = waiting[0]
        return Verdict(name, False, (
            f"{len(waiting)} records were still waiting {TAIL:g} s after the last write, e.g. "
            f"{first.key} #{first.n}: they are stuck behind the record that keeps failing. "
            + _blocked_hint(choice)))
    if worst <= scenario.latency:
        return Verdict(name, True, f"the slowest record took {worst:.1f} s "
                                   f"({result.invocations} invocations, at most {result.peak} "
                                   "at once)")
    slowest = max((r for r in result.records if not r.poison and r.done is not None),
                  key=lambda r: r.done - r.written)
    poison = next(r for r in result.records if r.poison)
    if slowest.key == poison.key and slowest.n > poison.n and len(poison.deliveries) > 1:
        return Verdict(name, False, (
            f"{slowest.key} #{slowest.n} took {worst:.1f} s: {slowest.key}'s records waited "
            f"while the failing record #{poison.n} was retried ({len(poison.deliveries)} "
            f"deliveries). " + _blocked_hint(choice)))
    capacity = 1 / scenario.per_record
    hint = _throughput_hint(scenario, choice, result)
    return Verdict(name, False, (
        f"{slowest.key} #{slowest.n} took {worst:.1f} s. Records arrive at "
        f"{scenario.rate:g} a second and one batch at a time handles at most {capacity:g} a "
        f"second (the function costs {scenario.per_record:g} s a record); at most "
        f"{_n(result.peak, 'invocation')} ran at once. {hint}"))


def _n(count, noun) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _blocked_hint(choice) -> str:
    if choice.source == "sqs-fifo":
        return ("On a FIFO queue a failing message holds back its message group while it is "
                f"retried, one visibility timeout ({choice.visibility_timeout} s) at a time, "
                f"until it succeeds or moves to the dead-letter queue ({SQS_SCALING}): "
                + ("" if choice.dlq else "add a DLQ (dlq=True); ")
                + "a low max_receive_count and visibility_timeout move it there sooner.")
    if choice.source == "sqs":
        return "A standard queue does not hold messages back: check the batch settings."
    if choice.retries == -1:
        return ("A stream retries a failing batch until it succeeds or expires (24 h by "
                f"default), and the shard (at PF > 1, the lane) waits ({KINESIS_FAILURE}): set "
                "retries (MaximumRetryAttempts) so the batch is discarded, and a destination "
                "(dlq=True) to keep it.")
    window = (f", and the batching window adds up to {choice.window} s before each batch"
              if choice.window else "")
    return (f"The lane waits while the batch is retried (up to {choice.retries} "
            f"{'retry' if choice.retries == 1 else 'retries'}, each "
            f"after a wait: 1, 2, 4, 8, then 12 s in esmlab, MODELLING CHOICE M5){window}: "
            "fewer retries" + (", a shorter window" if choice.window else "")
            + " or more lanes let the key catch up sooner.")


def _throughput_hint(scenario, choice, result) -> str:
    if choice.source in ("kinesis", "dynamodb"):
        most = choice.pf * (choice.shards if choice.source == "kinesis" else 1)
        return (f"A stream mapping runs at most shards x ParallelizationFactor = {most} batches "
                f"at once ({KINESIS}); raise pf (per-key order is kept) or add shards.")
    if choice.source == "sqs-fifo":
        groups = scenario.keys if choice.key == "customer" else scenario.records
        return (f"On a FIFO queue concurrency is at most the number of active message groups "
                f"({groups} here, {SQS_SCALING}).")
    if choice.window:
        return (f"The batching window ({choice.window} s) is spent waiting before each batch: "
                "a shorter one starts batches sooner.")
    return "Smaller batches let more invocations share the work."


def _order(result) -> Verdict:
    name = "order per key"
    choice = result.choice
    breaks = result.order_breaks()
    if choice.source == "sqs":
        seen = (f"In this run: {breaks[0]}." if breaks else
                "This run happened to keep it (esmlab does not reorder a standard queue's "
                "messages yet), but nothing promises it.")
        return Verdict(name, False, (
            f"a standard queue promises no order at all and may deliver a message twice "
            f"({STANDARD}); Lambda also runs several batches at once. {seen} Use a FIFO queue "
            "with one message group per key, or a stream with the key as partition key."))
    if choice.key == "event" and choice.source != "dynamodb":
        unit = "MessageGroupId" if choice.source == "sqs-fifo" else "partition key"
        seen = (f"In this run: {breaks[0]}." if breaks else
                "This run happened to keep it, but nothing promises it.")
        return Verdict(name, False, (
            f"order is kept only per {unit}, and key='event' gives every record its own "
            f"({SQS_SCALING if choice.source == 'sqs-fifo' else KINESIS}), so a customer's "
            f"records may run side by side. {seen} Use key='customer'."))
    if breaks:
        return Verdict(name, False, f"{breaks[0]}.")
    unit = {"sqs-fifo": "message group", "kinesis": "partition key",
            "dynamodb": "item"}[choice.source]
    return Verdict(name, True, f"every key's records ran one after another, in order (kept per "
                               f"{unit})")


def _loss(result) -> Verdict:
    name = "nothing lost"
    choice = result.choice
    poison = next(r for r in result.records if r.poison)
    tries = len(poison.deliveries)
    if poison.fate == "dlq":
        where = "dead-letter queue" if choice.source.startswith("sqs") else "on-failure destination"
        return Verdict(name, True, f"the failing record was delivered {_n(tries, 'time')}, then kept in "
                                   f"the {where}")
    if poison.fate == "dropped":
        return Verdict(name, False, (
            f"the failing record was delivered {_n(tries, 'time')} and then discarded with nowhere to "
            f"go: MaximumRetryAttempts {choice.retries} ends the retries, but only an on-failure "
            f"destination keeps what is discarded ({KINESIS_FAILURE}). Set dlq=True."))
    if choice.source.startswith("sqs") and choice.dlq:
        return Verdict(name, True, (
            f"the failing message was received {_n(tries, 'time')} and is still in the queue, "
            f"but it is not lost: SQS moves it to the dead-letter queue once it has been "
            f"received more than max_receive_count ({choice.max_receive_count}) times, one "
            f"visibility timeout ({choice.visibility_timeout} s) apart ({DLQ_DOC})"))
    if choice.source.startswith("sqs"):
        return Verdict(name, False, (
            f"the failing message was received {_n(tries, 'time')} and is still in the queue: without "
            "a dead-letter queue it comes back after every visibility timeout until the queue's "
            f"retention (default 4 days) deletes it ({SET_QUEUE}). Set dlq=True."))
    return Verdict(name, False, (
        f"the failing record was delivered {_n(tries, 'time')} and is still being retried: "
        "with retries=-1 the stream retries it until it expires (24 h by default), and a "
        "destination alone does not end the retries "
        f"({KINESIS_FAILURE}). Set retries" + ("." if choice.dlq else " and dlq=True.")))


def _replay(scenario, choice) -> Verdict:
    name = f"replay the last {scenario.replay_hours} h"
    if choice.source.startswith("sqs"):
        return Verdict(name, False, (
            "Lambda deletes each SQS message once it is processed "
            f"({SQS_ERRORS}): nothing is left to read again. Streams keep records for their "
            "retention period."))
    hours = 24 if choice.source == "dynamodb" else choice.retention_hours
    if hours >= scenario.replay_hours:
        return Verdict(name, True, f"records stay {hours} h; a new mapping with StartingPosition "
                                   "TRIM_HORIZON reads them again")
    return Verdict(name, False, (
        f"records stay only {hours} h "
        + (f"in a DynamoDB stream ({DDB_STREAMS})." if choice.source == "dynamodb" else
           f"(retention_hours; up to 8,760 h, {KINESIS_LIMITS}).")))


def _table(choice) -> Verdict:
    name = "react to table changes"
    if choice.source == "dynamodb":
        return Verdict(name, True, "DynamoDB Streams records every change of an item, exactly "
                                   f"once, in order per item ({DDB_STREAMS})")
    also = (f" A table can also send its changes to a Kinesis stream ({KDS_FOR_DDB}), which "
            "esmlab does not simulate." if choice.source == "kinesis" else "")
    return Verdict(name, False, (
        "here the application writes the table and, separately, the "
        f"{'queue' if choice.source.startswith('sqs') else 'stream'}: a change made by any "
        "other writer, or a second write that fails, never reaches the function. DynamoDB "
        f"Streams captures every change of the table itself ({DDB_STREAMS})." + also))


# --- a simple decision tree ----------------------------------------------------------------------


def simple_tree(scenario) -> Choice:
    """A three-question decision tree of the kind popular guides draw: table changes -> DynamoDB
    Streams; order needed -> Kinesis; otherwise -> an SQS standard queue. It picks a source and
    leaves every setting at its default."""
    scenario = scenario_of(scenario)
    if scenario.table_changes:
        return Choice("dynamodb")
    if scenario.order:
        return Choice("kinesis")
    return Choice("sqs")


# --- cost ----------------------------------------------------------------------------------------


PRICE_NAMES = ("lambda_per_million_requests", "sqs_per_million_requests", "kinesis_per_shard_hour")


def cost(result: RunResult, prices: dict) -> dict:
    """What the run used, priced by a formula whose prices you give (``PRICE_NAMES``; look them
    up on the pricing pages: Lambda requests, SQS requests, Kinesis shard hours in provisioned
    mode). Returns {term: (quantity, price, amount)} and "total". Lambda's duration charge, data
    transfer, free tiers and DynamoDB's stream charges are left out."""
    if not isinstance(prices, dict) or set(prices) - set(PRICE_NAMES):
        raise ValueError(f"prices must be a dict with keys from {PRICE_NAMES}, got {prices!r}")
    for name, value in prices.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"prices[{name!r}] must be a number >= 0, got {value!r}")
    terms = {"lambda requests": (result.invocations, prices.get("lambda_per_million_requests", 0),
                                 1e6)}
    if result.sqs_requests:
        terms["sqs requests"] = (sum(result.sqs_requests.values()),
                                 prices.get("sqs_per_million_requests", 0), 1e6)
    if result.shard_hours:
        terms["kinesis shard hours"] = (result.shard_hours,
                                        prices.get("kinesis_per_shard_hour", 0), 1)
    out = {term: (qty, price, qty / per * price) for term, (qty, price, per) in terms.items()}
    out["total"] = sum(amount for _, _, amount in out.values())
    return out


# --- picture -------------------------------------------------------------------------------------


ENDED = {"dlq": "kept (DLQ or destination)", "dropped": "dropped", "waiting": "still in the source",
         "processed": "processed"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def draw(what, ax=None, width: float = 7.0):
    """Latency of every record against its write time, coloured by key; the poison record as a
    cross where it ended; the latency bound as a dashed line; the verdicts in the title. Takes a
    :class:`Score` (or a :class:`RunResult`). Returns the Axes."""
    import matplotlib.pyplot as plt

    result = what.result if isinstance(what, Score) else what
    scenario = SCENARIOS[result.scenario]
    if ax is None:
        _, ax = plt.subplots(figsize=(width, 4.0))
    keys = KEY_NAMES[:scenario.keys]
    for i, key in enumerate(keys):
        mine = [r for r in result.records if r.key == key and not r.poison and r.done is not None]
        ax.plot([r.written for r in mine], [r.done - r.written for r in mine], "o",
                markersize=3.5, color=PALETTE[i], label=key, linestyle="-", linewidth=0.8)
    end = START + scenario.records / scenario.rate + TAIL
    stuck = [r for r in result.records if not r.poison and r.done is None]
    if stuck:
        ax.plot([r.written for r in stuck], [end - r.written for r in stuck], "v", color="black",
                markersize=4, label=f"never processed ({len(stuck)}; at the run's end)")
    poison = next(r for r in result.records if r.poison)
    ax.plot([poison.written], [0], "x", color="#b0263b", markersize=10, markeredgewidth=2.5,
            clip_on=False, zorder=5, label=f"failing record: {ENDED[poison.fate]}")
    ax.axhline(scenario.latency, color="#555555", linestyle="--", linewidth=1)
    ax.text(START, scenario.latency, f" bound {scenario.latency:g} s", va="bottom", fontsize=8,
            color="#555555")
    ax.set_xlabel("written at (simulated s)", fontsize=9)
    ax.set_ylabel("latency (s)", fontsize=9)
    ax.tick_params(labelsize=8)
    top = max([r.done - r.written for r in result.records if r.done is not None]
              + [scenario.latency * 1.3] + [end - r.written for r in stuck])
    ax.set_ylim(0, top * 1.08)
    title = f"{scenario.name} on {result.choice.describe()}"
    if isinstance(what, Score):
        marks = "   ".join(("met: " if v.met else "BROKEN: ") + v.requirement
                           for v in what.verdicts)
        title += "\n" + _wrap(marks, 95)
    ax.set_title(title, fontsize=8.5)
    ax.grid(color="#dddddd", linewidth=0.5)
    ax.set_axisbelow(True)
    figure = ax.figure
    handles, labels = ax.get_legend_handles_labels()
    figure.legend(handles, labels, fontsize=7, ncol=min(len(labels), 4), loc="lower center",
                  frameon=False)
    figure.tight_layout(rect=(0, 0.55 / figure.get_figheight(), 1, 1))  # room for the legend
    return ax


def _wrap(text, width):
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
