"""Lab 05 (Errors with streams): a poison record in a Kinesis shard, and what each setting does.

    from esmlab.course.scenarios import stream_errors as se
    run = se.blocked(max_retries=-1)             # two shards; shard 0 holds a poison record
    se.draw_blocked(run)                         # checkpoint and iterator age per shard
    run = se.bisect(batch_size=8, bad=(5,))      # one batch, bisected; read back from the trace
    se.draw_bisect(run)                          # the bisect tree: which halves, in which order
    se.destination("s3")                         # what an on-failure destination receives
    se.poison({"BisectBatchOnFunctionError": True, ...})   # exercise 1
    se.replay(my_function)                       # exercise 2: fetch discarded records back

Each scenario is a pure function of its arguments: it opens a fresh :class:`esmlab.Lab` (which
closes any other open lab), creates a Kinesis stream, a function whose handler raises
``ValueError`` on a poison record, a mapping and (where asked) an on-failure destination with
ordinary boto3 calls, writes the records, runs simulated time, and returns a :class:`StreamRun`
read from the lab's trace: every invocation, every bisect, every discarded batch and every
destination message. Results are cached (same arguments, same object).

What the runs rest on (docs/simulator.md, "Errors, retries and limits"):

* A failing batch is retried, and its shard reads nothing else meanwhile, until it succeeds, its
  records expire or pass ``MaximumRecordAgeInSeconds``, or ``MaximumRetryAttempts`` is used up;
  then the batch is discarded, sent to the on-failure destination when there is one, and the
  shard goes on (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html,
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html).
* ``BisectBatchOnFunctionError`` splits a failed batch in two without using a retry and never
  discards a record by itself (same page).
* MODELLING CHOICES: the split point, order and depth of bisect (M1: ceil(n/2), first half
  first, down to one record); the waits between retries (M5: 1, 2, 4, 8, then 12 s); with
  ``-1``/``-1`` a poison record blocks its shard until it leaves the stream (M11: 24 h here).

Cost: a call takes about 0.05-0.4 s (the first of a session longer, while moto loads).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import time
from dataclasses import dataclass, field

START = 2.0  #: the mapping becomes Enabled at t = 2 s (M8)
FUNCTION = "telemetry-worker"
STREAM = "telemetry"
TIMEOUT = 10  #: the function's timeout (s)
DURATION = 0.5  #: seconds one invocation runs
FAILURE_QUEUE = "telemetry-failures"
#: The standard SQS queue every scenario creates, for ``DestinationConfig``.
FAILURE_QUEUE_ARN = f"arn:aws:sqs:us-east-1:123456789012:{FAILURE_QUEUE}"
FAILURE_TOPIC = "telemetry-failures-topic"
FAILURE_BUCKET = "telemetry-failures-bucket"
DESTINATIONS = ("sqs", "sns", "s3")
EVERY = 5  #: demo 1: seconds between two writes of the sensor (one record to each shard)
POISON = 3  #: demo 1: the poison record's number in shard 0
#: The error-handling parameters of CreateEventSourceMapping a learner may set (exercise 1).
ERROR_PARAMETERS = ("MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
                    "BisectBatchOnFunctionError", "DestinationConfig", "FunctionResponseTypes")
#: Colours: one per shard (blue, orange), and per outcome.
SHARD_COLOURS = ("#1f77b4", "#e66100")
OK, FAILED, PARTIAL = "#4daf4a", "#d62728", "#f0a202"
#: Hash keys that put a record in shard 0 or shard 1 of a two-shard stream (each shard owns half
#: of the 128-bit hash key range: https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecord.html).
SHARD_HASH_KEYS = ("0", str(2**127))


@dataclass(frozen=True)
class Call:
    """One invocation, read from the trace."""

    number: int  #: 1 for the first invocation of the run, 2 for the next, ...
    start: float
    end: float
    shard: int  #: 0 or 1
    records: tuple  #: the records' numbers, in batch order (n = 0, 1, ... per shard)
    outcome: str  #: success, error, partial, ...
    failed: tuple = ()  #: numbers of the records the outcome sends back (retried or discarded)
    request_id: str = ""


@dataclass(frozen=True)
class Discard:
    """A batch given up for a limit: a ``discard`` event and its destination message."""

    t: float
    shard: int
    records: tuple  #: record numbers
    condition: str  #: RetryAttemptsExhausted or RecordAgeExceeded
    invocations: int  #: approximateInvokeCount of the failure record
    delivered: bool  #: whether a destination received it


@dataclass(frozen=True)
class StreamRun:
    title: str
    config: dict  #: the error-handling parameters of the mapping
    calls: tuple = ()  #: every invocation, in start order
    discards: tuple = ()
    bisects: tuple = ()  #: (t, records split, first half, second half) in record numbers
    written: tuple = ()  #: per shard: ((t, n), ...) when each record was written
    checkpoints: tuple = ()  #: per shard: ((t, next record number not yet finished), ...)
    ages: tuple = ()  #: per shard: ((t, IteratorAge in s), ...) at each invocation's start
    bad: tuple = ()  #: (shard, n) of the poison records
    fates: dict = field(default_factory=dict)  #: stream_conservation counts
    lost: tuple = ()
    processed: dict = field(default_factory=dict)  #: (shard, n) -> times processed
    messages: tuple = ()  #: what the destination received (parsed JSON), in order
    until: float = 0.0  #: simulated seconds the run lasted
    shards: int = 1
    seconds: float = 0.0  #: wall-clock time the call took

    @property
    def invocations(self) -> int:
        return len(self.calls)

    def calls_with(self, n: int, shard: int = 0) -> list[Call]:
        """The invocations whose batch held record ``n`` of ``shard``."""
        return [c for c in self.calls if c.shard == shard and n in c.records]

    def blocked_for(self, shard: int = 0) -> float:
        """Seconds the shard's checkpoint stood still on its longest stop."""
        points = self.checkpoints[shard] if shard < len(self.checkpoints) else ()
        ends = [t for t, _ in points[1:]] + [self.until]
        return max((end - t for (t, _), end in zip(points, ends, strict=True)), default=0.0)

    def summary(self) -> str:
        fates = ", ".join(f"{count} {fate}" for fate, count in sorted(self.fates.items()))
        gone = "; ".join(f"{_records(d.records)} of shard {d.shard} discarded at "
                         f"t = {d.t:g} s ({d.condition}, approximateInvokeCount "
                         f"{d.invocations})" for d in self.discards)
        return (f"{self.title}: {self.invocations} invocations, {len(self.bisects)} bisects; "
                f"{gone or 'nothing discarded'}; after {self.until:g} s: {fates}")

    def __str__(self):
        return self.summary()

    def __repr__(self):
        return f"<StreamRun {self.summary()}>"


def _span(numbers) -> str:
    numbers = list(numbers)
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}-{numbers[-1]}"
    return ", ".join(str(n) for n in numbers)


def _records(numbers) -> str:
    return f"record{'s' if len(numbers) != 1 else ''} {_span(numbers)}"


def _check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


# --- one lab: stream, failing function, mapping, destination ------------------------------------


class _Setup:
    """A fresh lab with the stream, the function, the failure queue, topic and bucket."""

    def __init__(self, shards, bad, report=False, duration=DURATION):
        from esmlab import Lab

        self.lab = lab = Lab(seed=0)
        self.kinesis, self.lam = lab.client("kinesis"), lab.client("lambda")
        self.sqs = lab.client("sqs")
        self.number: dict[str, tuple[int, int]] = {}  #: sequence number -> (shard, n)
        self.written: list[list] = [[] for _ in range(shards)]
        self.bad = set(bad)
        self.shards = shards
        self.kinesis.create_stream(StreamName=STREAM, ShardCount=shards)
        self.arn = self.kinesis.describe_stream_summary(StreamName=STREAM)[
            "StreamDescriptionSummary"]["StreamARN"]
        self.queue_url = self.sqs.create_queue(QueueName=FAILURE_QUEUE)["QueueUrl"]
        poison = self.bad

        def handler(event, context):
            failures = []
            for record in event["Records"]:
                body = json.loads(base64.b64decode(record["kinesis"]["data"]))
                if (body["shard"], body["n"]) in poison:
                    if not report:
                        raise ValueError(f"cannot parse reading {body['n']} of shard "
                                         f"{body['shard']}")
                    failures.append({"itemIdentifier": record["kinesis"]["sequenceNumber"]})
                    break  # stop at the first failure: everything after it is retried anyway
            return {"batchItemFailures": failures} if report else None

        lab.function(FUNCTION, handler, timeout=TIMEOUT, duration=duration)

    def run(self, until):
        """``lab.run`` without its printed failure notice: the failures are the point here."""
        with contextlib.redirect_stdout(io.StringIO()):
            self.lab.run(until=until)

    def mapping(self, batch_size, **params):
        return self.lam.create_event_source_mapping(
            FunctionName=FUNCTION, EventSourceArn=self.arn, StartingPosition="TRIM_HORIZON",
            BatchSize=batch_size, **params)["UUID"]

    def write(self, rows):
        """Write records now, one ``PutRecords`` call: ``rows`` are (shard, n) pairs."""
        entries = []
        for shard, n in rows:
            entry = {"PartitionKey": f"sensor-{shard}",
                     "Data": json.dumps({"shard": shard, "n": n, "temp": 20 + n % 7}).encode()}
            if self.shards > 1:
                entry["ExplicitHashKey"] = SHARD_HASH_KEYS[shard]
            entries.append(entry)
        response = self.kinesis.put_records(StreamName=STREAM, Records=entries)
        for (shard, n), written in zip(rows, response["Records"], strict=True):
            self.number[written["SequenceNumber"]] = (shard, n)
            self.written[shard].append((self.lab.now, n))

    def write_batch(self, shard, count):
        self.write([(shard, n) for n in range(count)])

    def result(self, title, config, uuid, until, began) -> StreamRun:
        lab = self.lab
        shard_index = {f"shardId-{i:012d}": i for i in range(self.shards)}
        calls, processed = [], {}
        for number, invocation in enumerate(lab.trace.invocations, start=1):
            if invocation.end is None:
                continue
            records = tuple(self.number[s][1] for s in invocation.records)
            failed = tuple(self.number[s][1] for s in invocation.failed)
            shard = self.number[invocation.records[0]][0] if invocation.records else 0
            calls.append(Call(number, invocation.start, invocation.end, shard, records,
                              invocation.outcome, failed, invocation.request_id))
            if invocation.failed:
                cut = invocation.records.index(min(invocation.failed, key=int))
                done = invocation.records[:cut]
            else:
                done = invocation.records
            for sequence in done:
                key = self.number[sequence]
                processed[key] = processed.get(key, 0) + 1
        discards, messages, bisects = [], [], []
        delivered = {e.records: e.outcome == "delivered" for e in lab.trace.of("destination")}
        for event in lab.trace.events:
            if event.kind == "discard":
                shard, _ = self.number[event.records[0]]
                discards.append(Discard(
                    event.t, shard, tuple(self.number[s][1] for s in event.records),
                    event.outcome, max(1, event.detail["invocations"]),  # as lab.send_to_destination
                    delivered.get(event.records, False)))
            elif event.kind == "bisect":
                first, second = event.detail["halves"]
                bisects.append((event.t, *(tuple(self.number[s][1] for s in part)
                                           for part in (event.records, first, second))))
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                break
            for message in got["Messages"]:
                messages.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url,
                                        ReceiptHandle=message["ReceiptHandle"])
        fates = lab.stream_conservation(uuid)
        return StreamRun(
            title=title, config=dict(config), calls=tuple(calls), discards=tuple(discards),
            bisects=tuple(bisects), written=tuple(tuple(w) for w in self.written),
            checkpoints=_checkpoints(lab, self.number, shard_index, self.shards),
            ages=_ages(lab, shard_index, self.shards), bad=tuple(sorted(self.bad)),
            fates=dict(fates["counts"]), lost=tuple(fates["lost"]), processed=processed,
            messages=tuple(messages),
            until=until, shards=self.shards, seconds=time.perf_counter() - began)


def _checkpoints(lab, number, shard_index, shards) -> tuple:
    """Per shard, (t, the number of the next record not yet finished) after each change: a
    record is finished when it was processed or discarded (the checkpoint passes it)."""
    finished = [set() for _ in range(shards)]
    points = [[(START, 0)] for _ in range(shards)]
    for event in lab.trace.events:
        ends = ()
        if event.kind == "invoke_end":
            failed = event.detail.get("failed", ())
            if failed:
                cut = event.records.index(min(failed, key=int))
                ends = event.records[:cut]
            else:
                ends = event.records
        elif event.kind in ("discard", "expire"):
            ends = event.records
        changed = set()
        for sequence in ends:
            shard, n = number[sequence]
            finished[shard].add(n)
            changed.add(shard)
        for shard in changed:
            nxt = points[shard][-1][1]
            while nxt in finished[shard]:
                nxt += 1
            if nxt != points[shard][-1][1]:
                points[shard].append((event.t, nxt))
    return tuple(tuple(p) for p in points)


def _ages(lab, shard_index, shards) -> tuple:
    """Per shard, (t, IteratorAge in seconds) at each invocation's start: the age of the last
    record of the batch (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html)."""
    ages = [[] for _ in range(shards)]
    for event in lab.trace.of("invoke_start"):
        shard = shard_index.get(event.detail.get("shard"), 0)
        if "iterator_age_ms" in event.detail:
            ages[shard].append((event.t, event.detail["iterator_age_ms"] / 1000))
    return tuple(tuple(a) for a in ages)


# --- demo 1: a poison record blocks its shard ----------------------------------------------------


def blocked(max_retries: int = -1, max_age: int = -1, bisect: bool = False,
            seconds: int = 150) -> StreamRun:
    """Two shards; a sensor writes one record to each every 5 s from t = 2 s for ``seconds`` s.
    Record 3 of shard 0 (written at t = 17 s) is poison: the handler raises on it every time.
    ``max_retries``/``max_age`` are the mapping's ``MaximumRetryAttempts`` (-1 or 0-10,000)
    and ``MaximumRecordAgeInSeconds`` (-1 or 60-604,800); ``BatchSize`` is 10."""
    _check_int("max_retries", max_retries, -1, 10_000)
    if max_age != -1:
        _check_int("max_age", max_age, 60, 604_800)
    _check_int("seconds", seconds, 30, 600)
    return _blocked(max_retries, max_age, bool(bisect), seconds)


@functools.lru_cache(maxsize=128)
def _blocked(max_retries, max_age, bisect, seconds) -> StreamRun:
    began = time.perf_counter()
    setup = _Setup(shards=2, bad={(0, POISON)})
    try:
        config = {"MaximumRetryAttempts": max_retries, "MaximumRecordAgeInSeconds": max_age,
                  "BisectBatchOnFunctionError": bisect,
                  "DestinationConfig": {"OnFailure": {"Destination": FAILURE_QUEUE_ARN}}}
        uuid = setup.mapping(10, **config)
        for n in range(seconds // EVERY):
            setup.lab.clock.at(START + EVERY * n, setup.write, [(0, n), (1, n)])
        until = START + seconds
        setup.run(until)
        title = (f"MaximumRetryAttempts {max_retries}, MaximumRecordAgeInSeconds {max_age}"
                 + (", bisect" if bisect else ""))
        return setup.result(title, config, uuid, until, began)
    finally:
        setup.lab.close()


# --- demo 2: the bisect tree ---------------------------------------------------------------------


def bisect(batch_size: int = 8, bad=(5,), max_retries: int = 1, bisect: bool = True,
           report: bool = False) -> StreamRun:
    """One shard, ``batch_size`` records (numbered 0, 1, ...) written at once, so that they form
    one batch; the handler raises on the records in ``bad`` (or, with ``report``, returns them
    in ``batchItemFailures`` with ``ReportBatchItemFailures`` on). ``MaximumRetryAttempts``
    ``max_retries`` (0-10), the failure queue as the on-failure destination."""
    _check_int("batch_size", batch_size, 1, 16)
    _check_int("max_retries", max_retries, 0, 10)
    if isinstance(bad, int):
        bad = (bad,)
    bad = tuple(sorted(set(bad)))
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < batch_size
               for n in bad):
        raise ValueError(f"bad must list record numbers from 0 to {batch_size - 1}, got {bad!r}")
    return _bisect(batch_size, bad, max_retries, bool(bisect), bool(report))


@functools.lru_cache(maxsize=256)
def _bisect(batch_size, bad, max_retries, bisect, report) -> StreamRun:
    config = {"MaximumRetryAttempts": max_retries, "BisectBatchOnFunctionError": bisect,
              "DestinationConfig": {"OnFailure": {"Destination": FAILURE_QUEUE_ARN}}}
    if report:
        config["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    title = (f"BatchSize {batch_size}, bad record{'s' if len(bad) != 1 else ''} "
             f"{_span(bad) or 'none'}, MaximumRetryAttempts {max_retries}"
             + (", bisect" if bisect else ", no bisect")
             + (", ReportBatchItemFailures" if report else ""))
    return _one_batch(batch_size, bad, config, title, report)


def _one_batch(batch_size, bad, config, title, report=False, horizon=600.0) -> StreamRun:
    began = time.perf_counter()
    setup = _Setup(shards=1, bad={(0, n) for n in bad}, report=report)
    try:
        uuid = setup.mapping(batch_size, **config)
        setup.lab.clock.at(START, setup.write_batch, 0, batch_size)
        until = START
        while until < horizon:  # run until the batch is settled, or the horizon
            until += 30
            setup.run(until)
            fates = setup.lab.stream_conservation(uuid)["counts"]
            if not fates.get("in_flight"):
                break
        return setup.result(title, config, uuid, until, began)
    finally:
        setup.lab.close()


# --- demo 3: what each destination receives ------------------------------------------------------


def destination(kind: str = "sqs") -> dict:
    """One batch of 4 records whose record 2 always fails, ``MaximumRetryAttempts`` 0 and no
    bisect, so the whole batch is discarded at once; the on-failure destination is a standard
    SQS queue (``"sqs"``), an SNS topic with an SQS subscriber (``"sns"``) or an S3 bucket
    (``"s3"``). Returns ``{"kind", "received", "key"}``: what arrived, parsed (the SQS message
    body; the SNS notification as the subscriber got it; the S3 object), and the S3 key."""
    if kind not in DESTINATIONS:
        raise ValueError(f"kind must be one of {DESTINATIONS}, got {kind!r}")
    return _destination(kind)


@functools.lru_cache(maxsize=8)
def _destination(kind) -> dict:
    setup = _Setup(shards=1, bad={(0, 2)})
    lab = setup.lab
    try:
        target, read = FAILURE_QUEUE_ARN, None
        if kind == "sns":
            sns = lab.client("sns")
            target = sns.create_topic(Name=FAILURE_TOPIC)["TopicArn"]
            sns.subscribe(TopicArn=target, Protocol="sqs", Endpoint=FAILURE_QUEUE_ARN,
                          Attributes={"RawMessageDelivery": "false"})
        elif kind == "s3":
            s3 = lab.client("s3")
            s3.create_bucket(Bucket=FAILURE_BUCKET)
            target = f"arn:aws:s3:::{FAILURE_BUCKET}"
        setup.mapping(4, MaximumRetryAttempts=0,
                      DestinationConfig={"OnFailure": {"Destination": target}})
        lab.clock.at(START, setup.write_batch, 0, 4)
        setup.run(START + 10)
        if kind == "s3":
            key = s3.list_objects_v2(Bucket=FAILURE_BUCKET)["Contents"][0]["Key"]
            body = s3.get_object(Bucket=FAILURE_BUCKET, Key=key)["Body"].read()
            return {"kind": kind, "received": json.loads(body), "key": key}
        got = setup.sqs.receive_message(QueueUrl=setup.queue_url)["Messages"][0]
        read = json.loads(got["Body"])
        return {"kind": kind, "received": read, "key": None}
    finally:
        lab.close()


# --- exercise 1: a poison record's budget -------------------------------------------------------


def poison(config: dict, batch_size: int = 8, bad: int = 5) -> StreamRun:
    """One batch of ``batch_size`` records, record ``bad`` poison (the handler raises on it), and
    a mapping created with ``config``: keyword arguments of ``create_event_source_mapping`` from
    :data:`ERROR_PARAMETERS` (the failure queue is :data:`FAILURE_QUEUE_ARN`). Runs up to 600 s.
    An AWS error for a bad value is raised as it is (``lambda.exceptions...``)."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict of create_event_source_mapping arguments, got "
                         f"{config!r}")
    unknown = sorted(set(config) - set(ERROR_PARAMETERS))
    if unknown:
        raise ValueError(f"config may set only {', '.join(ERROR_PARAMETERS)}; not "
                         f"{', '.join(unknown)}")
    _check_int("batch_size", batch_size, 1, 16)
    _check_int("bad", bad, 0, batch_size - 1)
    return _poison(json.dumps(config, sort_keys=True), batch_size, bad)


@functools.lru_cache(maxsize=64)
def _poison(config_json, batch_size, bad) -> StreamRun:
    config = json.loads(config_json)
    return _one_batch(batch_size, (bad,), config, f"BatchSize {batch_size}, record {bad} poison, "
                      f"your configuration {config_json}")


# --- exercise 2: replay a discarded batch -------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    message: dict  #: the SQS destination's message body, parsed
    expected: tuple  #: the discarded records' sequence numbers, in order
    returned: object  #: what the learner's function returned
    error: Exception | None = None
    written: tuple = ()  #: every record of the stream: (shard id, sequence number)


def replay(fetch) -> Replay:
    """Two shards with 12 records each, ``BatchSize`` 4, ``MaximumRetryAttempts`` 0, no bisect:
    record 6 of shard 1 is poison, so its batch (records 4-7 of shard 1) is discarded to the SQS
    failure queue. Then ``fetch(kinesis, message)`` is called with the lab's Kinesis client and
    the destination message (the parsed body); it should return the discarded records, as
    ``GetRecords`` returns them, in order."""
    if not callable(fetch):
        raise TypeError(f"fetch must be a function (kinesis, message), got {fetch!r}")
    setup = _Setup(shards=2, bad={(1, 6)})
    lab = setup.lab
    try:
        setup.mapping(4, MaximumRetryAttempts=0,
                      DestinationConfig={"OnFailure": {"Destination": FAILURE_QUEUE_ARN}})
        for shard in (0, 1):
            lab.clock.at(START, setup.write_batch, shard, 12)
        setup.run(START + 20)
        got = setup.sqs.receive_message(QueueUrl=setup.queue_url)["Messages"]
        message = json.loads(got[0]["Body"])
        discarded = lab.trace.of("discard")[0].records
        written = tuple(sorted((f"shardId-{s:012d}", seq)
                               for seq, (s, _) in setup.number.items()))
        try:
            returned = fetch(setup.kinesis, json.loads(json.dumps(message)))
            error = None
        except Exception as exc:  # noqa: BLE001 - the learner's code: report what it raised
            returned, error = None, exc
        return Replay(message, tuple(discarded), returned, error, written)
    finally:
        lab.close()


# --- pictures ------------------------------------------------------------------------------------


def _at(points, t):
    """The value of a step function given as sorted (t, value) points, at time t."""
    value = points[0][1]
    for when, v in points:
        if when > t:
            break
        value = v
    return value


def draw_blocked(run: StreamRun, width: float = 7.0):
    """Two panels, time across. Top: each shard's checkpoint (the next record not yet finished,
    solid), the records written (dotted) and, shaded, the records waiting between the two; a
    cross where a batch was discarded. Bottom: each
    shard's IteratorAge at each invocation. Returns the figure."""
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(width, 5.2), sharex=True,
                                         gridspec_kw={"height_ratios": [1.15, 1]})
    styles = (("-", "o"), ("--", "s"))
    for shard in range(run.shards):
        colour, (line, marker) = SHARD_COLOURS[shard], styles[shard]
        points = list(run.checkpoints[shard]) + [(run.until, run.checkpoints[shard][-1][1])]
        top.step([t for t, _ in points], [n for _, n in points], where="post", color=colour,
                 linestyle=line, linewidth=2, label=f"shard {shard}: checkpoint")
        written = [(START, 0)] + [(t, n + 1) for t, n in run.written[shard]]
        alike = all(w == run.written[0] for w in run.written)
        if shard == 0 or not alike:  # the shards got the same writes: one line for all
            top.step([t for t, _ in written] + [run.until], [n for _, n in written]
                     + [written[-1][1]], where="post", color="#555555" if alike else colour,
                     linestyle=":", linewidth=1.2,
                     label="written (each shard)" if alike and run.shards > 1 else
                     f"shard {shard}: written")
        times = sorted({t for t, _ in points} | {t for t, _ in written})
        done = [_at(points, t) for t in times]
        top.fill_between(times, done, [_at(written, t) for t in times], step="post",
                         color=colour, alpha=0.14, linewidth=0,
                         label=f"shard {shard}: waiting" if shard == 0 else None)
        ages = run.ages[shard]
        bottom.plot([t for t, _ in ages], [a for _, a in ages], color=colour, linestyle=line,
                    marker=marker, markersize=3.5, linewidth=1.5, label=f"shard {shard}")
    marked = set()
    for d in run.discards:
        if (d.t, d.shard, d.condition) in marked:  # one mark per moment
            continue
        marked.add((d.t, d.shard, d.condition))
        n = next((m for t, m in run.checkpoints[d.shard] if t >= d.t), None)
        top.plot([d.t], [n if n is not None else max(d.records) + 1], marker="X", color="black",
                 markersize=9, linestyle="none")
        top.annotate(f"discarded: {d.condition}", (d.t, n or 0), textcoords="offset points",
                     xytext=(6, -14), fontsize=7.5)
    for shard, n in run.bad:
        t = run.written[shard][n][0]
        top.annotate("poison record", (t, n), textcoords="offset points", xytext=(-10, 32),
                     fontsize=7.5, color=SHARD_COLOURS[shard],
                     arrowprops={"arrowstyle": "->", "color": SHARD_COLOURS[shard]})
    top.set_ylabel("records", fontsize=9)
    top.legend(fontsize=7, loc="upper left", ncol=2, frameon=False)
    top.set_title(f"{run.title}\nshard 0 blocked for {run.blocked_for(0):g} s of "
                  f"{run.until - START:g} s", fontsize=9)
    bottom.set_ylabel("IteratorAge (s)", fontsize=9)
    bottom.set_xlabel("simulated time (s)", fontsize=9)
    bottom.legend(fontsize=7, loc="upper left", frameon=False)
    for ax in (top, bottom):
        ax.tick_params(labelsize=8)
        ax.grid(color="#dddddd", linewidth=0.5)
        ax.set_axisbelow(True)
    bottom.set_xlim(0, run.until + 2)
    figure.tight_layout()
    return figure


def _next_step(run: StreamRun, call: Call) -> str:
    """What Lambda did after ``call``: split it, retry it, discard it, or went on."""
    if call.outcome == "success":
        return "success"
    if any(t == call.end and records == call.records for t, records, *_ in run.bisects):
        return f"{call.outcome}: split in two"
    if any(d.t == call.end and set(d.records) <= set(call.records) for d in run.discards):
        return f"{call.outcome}: discarded"
    if call.outcome == "partial" and call.failed and call.records.index(min(call.failed)) > 0:
        return "partial: rest retried"
    return f"{call.outcome}: retried"


def draw_bisect(run: StreamRun, width: float = 7.0):
    """The bisect tree read from the trace: one row per invocation, top to bottom in the order
    they ran, one column per record of the batch. A cell is a record the invocation carried:
    green if it was processed, red if it failed (the invocation raised, or the record was
    reported in ``batchItemFailures``), amber if it was sent back only because it came after a
    reported record. On the right, what Lambda did next. A last row shows where each record
    ended: processed (how many times), or discarded (to the destination). Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    size = max((max(c.records) for c in run.calls if c.records), default=0) + 1
    rows = len(run.calls) + 1
    figure, ax = plt.subplots(figsize=(width, 1.5 + 0.36 * rows))
    for row, call in enumerate(run.calls):
        cut = len(call.records)
        if call.outcome == "partial" and call.failed:
            cut = call.records.index(min(call.failed))
        elif call.outcome != "success":
            cut = 0
        for position, n in enumerate(call.records):
            fill = OK if position < cut else (
                FAILED if call.outcome != "partial" or n in call.failed else PARTIAL)
            ax.add_patch(Rectangle((n, row), 1, 0.8, facecolor=fill, edgecolor="black",
                                   linewidth=0.6))
            ax.text(n + 0.5, row + 0.4, str(n), ha="center", va="center", fontsize=8,
                    color="white" if fill != PARTIAL else "black", fontweight="bold")
        ax.text(-0.15, row + 0.4, f"#{call.number}  t = {call.start:g} s", ha="right",
                va="center", fontsize=7.5)
        ax.text(size + 0.15, row + 0.4, _next_step(run, call), ha="left", va="center",
                fontsize=7.5)
    last = len(run.calls)
    for n in range(size):
        gone = next((d for d in run.discards if n in d.records), None)
        if gone is not None:
            ax.add_patch(Rectangle((n, last), 1, 0.8, facecolor="#dddddd", edgecolor="black",
                                   linewidth=2.2))
            label = "dest." if gone.delivered else "dropped"
        else:
            label = f"{run.processed.get((0, n), 0)}x"
        ax.text(n + 0.5, last + 0.4, label, ha="center", va="center", fontsize=7.5,
                fontweight="bold" if gone is not None else "normal")
    ax.text(-0.15, last + 0.4, "ended", ha="right", va="center", fontsize=7.5,
            fontweight="bold")
    ax.set_xlim(-2.6, size + 2.6)
    ax.set_ylim(rows + 0.1, -0.3)
    ax.axis("off")
    gone = "; ".join(f"{_records(d.records)} "
                     f"{'sent to the destination' if d.delivered else 'dropped'} "
                     f"(approximateInvokeCount {d.invocations})"
                     for d in run.discards) or "nothing discarded"
    ax.set_title(f"{run.title}\n{run.invocations} invocations, {len(run.bisects)} bisects; "
                 f"{gone}", fontsize=8.5)
    handles = [Patch(facecolor=OK, label="processed"), Patch(facecolor=FAILED, label="failed")]
    if any(c.outcome == "partial" for c in run.calls):
        handles.append(Patch(facecolor=PARTIAL, label="after a reported record"))
    handles.append(Patch(facecolor="#dddddd", edgecolor="black", linewidth=2,
                         label="discarded (1x = processed once)"))
    figure.legend(handles=handles, fontsize=7, ncol=len(handles), loc="lower center",
                  frameon=False)
    figure.tight_layout(rect=(0, 0.3 / figure.get_figheight(), 1, 1))
    return figure
