"""Property tests of the stream side of event source mappings (Kinesis and DynamoDB Streams).

Each example builds a whole lab from a random :class:`Scenario`: a Kinesis stream (1-4 shards) or
a DynamoDB table's stream, a function that runs 0-2 s, and a mapping with random
``ParallelizationFactor`` (1-10), ``BatchSize`` (1-50), batching window (0-3 s),
``BisectBatchOnFunctionError``, ``ReportBatchItemFailures``, ``MaximumRetryAttempts`` (-1..3; with
-1 a ``MaximumRecordAgeInSeconds`` of 60-300 s is always set so that runs end) and an optional
SQS on-failure destination. Records (numbered 0, 1, 2... in write order, partition keys from a
small set) are written in bursts between ``lab.run`` calls. A few chosen records are faulty: the
handler raises when it sees one, or lists it in ``batchItemFailures``, on the record's first
1, 2 or every delivery.

The handler logs what it saw and what it did, so each test works out on its own, from the
handler's point of view, which records were finished (the whole batch on success; the records
before the lowest reported one on a partial response with ReportBatchItemFailures) and which were
failed on, and compares that with the trace and the stream ledger. The properties (with-kinesis,
services-kinesis-batchfailurereporting, kinesis-on-failure-destination, and modelling choices M1,
M2, M5, M11):

1. per-key order: the first delivery of each record of a partition key happens in sequence
   order, and two invocations that overlap in time never hold records of the same key;
2. nothing skipped: after running long enough every record is processed, sent to the
   destination or dropped (nothing in flight, nothing lost); a record is discarded only after its
   last MaximumRetryAttempts + 1 deliveries all failed on it (retry limit) or once it is past the
   age limit (a record waiting behind a failing one may pass it without ever being delivered, as
   kinesis-on-failure-destination allows); a record the handler finished is never delivered again (with
   ReportBatchItemFailures: records before the lowest reported one are not redelivered); faults
   that last no more deliveries than the retry budget lose nothing;
3. bisect never skips: with bisect on and ``MaximumRetryAttempts`` >= 0, every record the handler
   never fails on is processed;
4. concurrency: at most PF invocations per shard and shards x PF per mapping at once;
5. the same seed and the same calls give the same trace fingerprint;
6. DynamoDB Streams: per-item order of first deliveries and no concurrent invocations of one item;
7. the stream ledger holds every unfinished record at every moment (a batch waiting out a retry
   backoff included), and disabling then re-enabling a mapping (services-dynamodb-eventsourcemapping) skips nothing.

Settings are derandomized (no example database) so CI runs the same examples every time.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from dataclasses import dataclass, field

from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import event as count_case
from hypothesis import strategies as st

from esmlab import Lab

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KEYS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
ALWAYS = 1_000_000  # "attempts" of a fault that fails on every delivery
TIMEOUT = 10  # function timeout; durations are at most 2 s, so nothing times out
STEP = 600.0  # simulated seconds per lab.run while waiting for the mapping to go quiet
HORIZON = 60_000.0  # give up waiting this long after the last burst (well below 24 h retention)
MAX_RECORDS = 200
FATES = {"processed", "destination", "dropped"}


# --- scenarios -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    mode: str  #: "raise" (the whole batch fails) or "report" (listed in batchItemFailures)
    attempts: int  #: the handler fails on the record's first ``attempts`` deliveries


@dataclass(frozen=True)
class Scenario:
    seed: int
    source: str  #: "kinesis" or "dynamodb"
    shards: int
    pf: int
    batch_size: int
    window: int
    bisect: bool
    rbif: bool
    mra: int
    max_age: int
    destination: bool
    duration: float
    bursts: tuple  #: ((seconds to wait before the burst, (key index, ...)), ...)
    faults: dict = field(hash=False)  #: record number -> Fault
    pause: tuple = ()  #: (time, seconds): disable the mapping at that time, re-enable later

    @property
    def keys(self) -> list[str]:
        """The partition key (Kinesis) or item id (DynamoDB) of each record, by record number."""
        return [KEYS[k] for _, burst in self.bursts for k in burst]

    def params(self) -> dict:
        params = {
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.window,
            "ParallelizationFactor": self.pf,
            "BisectBatchOnFunctionError": self.bisect,
            "MaximumRetryAttempts": self.mra,
            "MaximumRecordAgeInSeconds": self.max_age,
        }
        if self.rbif:
            params["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
        return params


@st.composite
def scenarios(draw, source="kinesis", bisect=None, mra=None, age_limit=True, transient=False,
              pause=False):
    """A random configuration, records and faults. ``bisect``/``mra``: fix or restrict them;
    ``age_limit=False``: no MaximumRecordAgeInSeconds unless MaximumRetryAttempts is -1;
    ``transient``: faults last 1 or 2 deliveries; ``pause``: disable and re-enable once."""
    # -1 twice as likely as each other value: retrying until the age limit needs the coverage
    mra = draw(st.sampled_from([-1, -1, 0, 1, 2, 3]) if mra is None else mra)
    if mra == -1:  # retry forever: only the age limit (60-300 s) ends a failing batch
        max_age = draw(st.integers(60, 300))
    elif age_limit:
        max_age = draw(st.one_of(st.just(-1), st.integers(60, 300)))
    else:
        max_age = -1
    n_keys = draw(st.integers(1, len(KEYS)))
    bursts, total = [], 0
    for _ in range(draw(st.integers(1, 5))):
        # sizes drawn as integers (not list lengths) so that big bursts are common too
        size = min(draw(st.integers(1, 80)), MAX_RECORDS - total)
        if size == 0:
            break
        keys = draw(st.lists(st.integers(0, n_keys - 1), min_size=size, max_size=size))
        bursts.append((draw(st.integers(0, 30)), tuple(keys)))
        total += size
    faults = {}
    for n, mode, attempts in draw(st.lists(
            st.tuples(st.integers(0, total - 1), st.sampled_from(["raise", "report"]),
                      st.sampled_from([1, 2] if transient else [1, 2, ALWAYS])),
            max_size=min(total, 12))):
        faults[n] = Fault(mode, attempts)
    span = sum(gap for gap, _ in bursts)
    paused = (draw(st.integers(0, span + 30)) + draw(st.integers(0, 3)) / 4,
              draw(st.integers(5, 60))) if pause else ()
    return Scenario(
        seed=draw(st.integers(0, 2**16)),
        source=source,
        shards=draw(st.integers(1, 4)) if source == "kinesis" else 1,
        pf=draw(st.integers(1, 10)),
        batch_size=draw(st.integers(1, 50)),
        window=draw(st.integers(0, 3)),
        bisect=draw(st.booleans()) if bisect is None else bisect,
        rbif=draw(st.booleans()),
        mra=mra,
        max_age=max_age,
        destination=draw(st.booleans()),
        duration=draw(st.integers(0, 8)) / 4,
        bursts=tuple(bursts),
        faults=faults,
        pause=paused,
    )


# --- running a scenario --------------------------------------------------------------------------


@dataclass
class Call:
    """One handler call, as the handler saw it."""

    t: float
    request_id: str
    ns: tuple  #: record numbers in batch order
    seqs: tuple  #: their sequence numbers
    raised: bool
    reported: tuple  #: record numbers listed in batchItemFailures
    done: tuple = ()  #: records this call finished (handler's view of the mapping's rules)
    failed: tuple = ()  #: records it failed on


@dataclass
class Outcome:
    scenario: Scenario
    uuid: str
    calls: list
    invocations: list  #: lab.trace.invocations
    events: list  #: lab.trace.events
    fingerprint: list
    conservation: dict
    fates: dict  #: record number -> ledger fate (Kinesis only; DynamoDB: {})
    written_at: dict  #: record number -> simulated time it was written
    sequence_of: dict  #: record number -> sequence number the function sees (Kinesis only)
    shard_of: dict  #: record number -> shard id (Kinesis only)
    destination_batch_sizes: list  #: KinesisBatchInfo/DDBStreamBatchInfo batchSize of each
    quiet: bool  #: every record read and finished before the horizon
    lost_during: list  #: (time, lost records) seen by stream_conservation while running


def record_number(record) -> int:
    if "kinesis" in record:
        return json.loads(base64.b64decode(record["kinesis"]["data"]))["n"]
    return int(record["dynamodb"]["NewImage"]["n"]["N"])


def sequence_number(record) -> str:
    if "kinesis" in record:
        return record["kinesis"]["sequenceNumber"]
    return record["dynamodb"]["SequenceNumber"]


def run(sc: Scenario) -> Outcome:
    lab = Lab(seed=sc.seed)
    try:
        return _run(lab, sc)
    finally:
        lab.close()


def _run(lab, sc: Scenario) -> Outcome:
    lam, sqs = lab.client("lambda"), lab.client("sqs")
    calls: list[Call] = []
    deliveries: dict[int, int] = defaultdict(int)

    def handler(event, context):
        records = event["Records"]
        ns = tuple(record_number(r) for r in records)
        seqs = tuple(sequence_number(r) for r in records)
        raised, reported = False, []
        for n in ns:
            deliveries[n] += 1
            fault = sc.faults.get(n)
            if fault is not None and deliveries[n] <= fault.attempts:
                if fault.mode == "raise":
                    raised = True
                else:
                    reported.append(n)
        call = Call(lab.now, context.aws_request_id, ns, seqs, raised, tuple(reported))
        if raised:
            call.failed = ns
        elif reported and sc.rbif:
            lowest = min(range(len(ns)), key=lambda i: int(seqs[i]) if ns[i] in reported
                         else float("inf"))
            call.done, call.failed = ns[:lowest], ns[lowest:]
        else:  # success (without RBIF a batchItemFailures response is ignored)
            call.done = ns
        calls.append(call)
        if raised:
            raise RuntimeError(f"poison record(s) in {ns}")
        if reported:
            return {"batchItemFailures": [{"itemIdentifier": seqs[ns.index(n)]}
                                          for n in reported]}
        return None

    lab.function("fn", handler, timeout=TIMEOUT, duration=sc.duration)
    params = dict(sc.params(), FunctionName="fn", StartingPosition="TRIM_HORIZON")
    if sc.destination:
        url = sqs.create_queue(QueueName="failures")["QueueUrl"]
        target = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        params["DestinationConfig"] = {"OnFailure": {"Destination": target}}
    if sc.source == "kinesis":
        kinesis = lab.client("kinesis")
        kinesis.create_stream(StreamName="telemetry", ShardCount=sc.shards)
        arn = kinesis.describe_stream_summary(StreamName="telemetry")[
            "StreamDescriptionSummary"]["StreamARN"]
    else:
        ddb = lab.client("dynamodb")
        arn = ddb.create_table(
            TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]["LatestStreamArn"]
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, **params)["UUID"]

    keys = sc.keys
    written_at, sequence_of, shard_of, position_of = {}, {}, {}, {}
    t, n = 0.0, 0
    lost_during = []  #: (time, records the ledger has in flight but the poller does not hold)

    def check_lost():
        if lost := lab.stream_conservation(uuid)["lost"]:
            lost_during.append((lab.now, lost))

    actions = []  #: (time, order, action, burst)
    for gap, burst in sc.bursts:
        t += gap
        actions.append((t, len(actions), "burst", burst))
    if sc.pause:
        start, seconds = sc.pause
        actions += [(start, -2, "disable", None), (start + seconds, -1, "enable", None)]
    for when, _, action, burst in sorted(actions):
        lab.run(until=max(when, lab.now))
        check_lost()
        if action != "burst":
            lam.update_event_source_mapping(UUID=uuid, Enabled=action == "enable")
            continue
        numbers = range(n, n + len(burst))
        if sc.source == "kinesis":
            response = kinesis.put_records(StreamName="telemetry", Records=[
                {"Data": json.dumps({"n": m}).encode(), "PartitionKey": keys[m]}
                for m in numbers])
            for m, entry in zip(numbers, response["Records"]):
                # PutRecords answers with the sequence number the function will see (as recorded)
                shard_of[m], sequence_of[m] = entry["ShardId"], entry["SequenceNumber"]
                position_of[m] = int(entry["SequenceNumber"])
        else:
            for m in numbers:
                ddb.put_item(TableName="orders",
                             Item={"id": {"S": keys[m]}, "n": {"N": str(m)}})
        for m in numbers:
            written_at[m] = lab.now
        n += len(burst)

    def settled():
        result = lab.stream_conservation(uuid)
        counts = result["counts"]
        return sum(counts.values()) == n and not counts.get("in_flight") and not result["lost"]

    t = end = lab.now
    while not settled() and end - t < HORIZON:
        end += STEP
        lab.run(until=end)
        check_lost()
    quiet = settled()
    lab.run(until=end + STEP)  # nothing may happen any more: a finished record stays finished

    ledger = lab.stream_ledger.fates
    fates = {m: ledger.get((uuid, shard_of[m], position_of[m])) for m in position_of}
    sizes = []
    if sc.destination:
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages"):
            for message in messages:
                body = json.loads(message["Body"])
                info = body.get("KinesisBatchInfo") or body["DDBStreamBatchInfo"]
                sizes.append(info["batchSize"])
    return Outcome(sc, uuid, calls, list(lab.trace.invocations), list(lab.trace.events),
                   lab.trace.fingerprint(), lab.stream_conservation(uuid), fates, written_at,
                   sequence_of, shard_of, sizes, quiet, lost_during)


# --- checks --------------------------------------------------------------------------------------


def first_deliveries(outcome) -> dict:
    """Record number -> (call index, position in the batch) of its first delivery."""
    first = {}
    for index, call in enumerate(outcome.calls):
        for position, n in enumerate(call.ns):
            first.setdefault(n, (index, position))
    return first


def check_first_deliveries_in_key_order(outcome):
    first = first_deliveries(outcome)
    by_key = defaultdict(list)
    for n, key in enumerate(outcome.scenario.keys):  # record numbers are write order
        if n in first:
            by_key[key].append((first[n], n))
    for key, seen in by_key.items():
        assert seen == sorted(seen), (
            f"first deliveries of key {key} out of order: "
            f"{[n for _, n in sorted(seen)]} (call index, position) {seen}")


def check_no_concurrent_invocations_of_one_key(outcome):
    key_of = {call.request_id: {outcome.scenario.keys[n] for n in call.ns}
              for call in outcome.calls}
    intervals = defaultdict(list)
    for inv in outcome.invocations:
        assert inv.end is not None, f"invocation {inv.request_id} never ended"
        for key in key_of[inv.request_id]:
            intervals[key].append((inv.start, inv.end, inv.request_id))
    for key, spans in intervals.items():
        spans.sort()
        busy_until, holder = float("-inf"), None
        for start, end, request_id in spans:
            assert start >= busy_until - 1e-9, (
                f"key {key}: invocation {request_id} started at {start} while {holder} "
                f"ran until {busy_until}")
            if end > busy_until:
                busy_until, holder = end, request_id


def check_nothing_skipped(outcome):
    sc = outcome.scenario
    total = sum(len(b) for _, b in sc.bursts)
    assert outcome.quiet, f"not finished {HORIZON} s after the last burst: {outcome.conservation}"
    assert outcome.conservation["lost"] == []
    counts = outcome.conservation["counts"]
    assert sum(counts.values()) == total and set(counts) <= FATES, counts
    assert set(outcome.fates) == set(range(total)) and set(outcome.fates.values()) <= FATES, (
        outcome.fates)
    assert (counts.get("dropped", 0) == 0) if sc.destination else (
        counts.get("destination", 0) == 0), counts
    assert sum(outcome.destination_batch_sizes) == counts.get("destination", 0)

    # what the handler finished, and where each record was last delivered
    done_at, last_call = {}, {}
    for index, call in enumerate(outcome.calls):
        for n, seq in zip(call.ns, call.seqs):
            assert seq == outcome.sequence_of[n], (
                f"record {n}: PutRecords said sequence {outcome.sequence_of[n]}, event has {seq}")
        for n in call.ns:
            assert n not in done_at, (
                f"record {n} was finished in call {done_at[n]} and delivered again in {index}")
            last_call[n] = index
        for n in call.done:
            done_at[n] = index
    discards = defaultdict(list)
    number_of = {seq: n for n, seq in outcome.sequence_of.items()}
    for event in outcome.events:
        if event.kind in ("discard", "expire") and event.mapping == outcome.uuid:
            for seq in event.records:
                discards[number_of[seq]].append(event)
    for n, fate in outcome.fates.items():
        if fate == "processed":
            assert n in done_at and not discards[n], (n, discards[n])
            continue
        assert n not in done_at, f"record {n} was finished by the handler but is {fate}"
        assert len(discards[n]) == 1, f"record {n}: {fate}, discard events {discards[n]}"
        (event,) = discards[n]
        if event.outcome == "RetryAttemptsExhausted":
            assert sc.mra >= 0
            # the last MaximumRetryAttempts + 1 deliveries (1 attempt + the retries) failed on it
            deliveries = [c for c in outcome.calls if n in c.ns][-(sc.mra + 1):]
            assert len(deliveries) == sc.mra + 1 and all(n in c.failed for c in deliveries), (
                f"record {n} discarded for retries after these deliveries: {deliveries}")
        else:
            assert event.outcome == "RecordAgeExceeded", event
            assert sc.max_age != -1 and event.t - outcome.written_at[n] > sc.max_age, (
                f"record {n} written at {outcome.written_at[n]} discarded as too old at "
                f"{event.t} (limit {sc.max_age})")


def check_transient_failures_within_budget(outcome):
    """Faults that last at most MaximumRetryAttempts deliveries lose nothing (no age limit)."""
    sc = outcome.scenario
    if sc.max_age == -1 and sc.mra >= 0 and all(f.attempts <= sc.mra for f in sc.faults.values()):
        count_case("transient faults within the retry budget")
        skipped = {n: f for n, f in outcome.fates.items() if f != "processed"}
        assert not skipped, f"transient faults within the retry budget, yet: {skipped}"


def check_good_records_processed(outcome):
    sc = outcome.scenario
    good = [n for n in range(len(sc.keys))
            if (f := sc.faults.get(n)) is None or (f.mode == "report" and not sc.rbif)]
    skipped = {n: outcome.fates[n] for n in good if outcome.fates[n] != "processed"}
    assert not skipped, f"records the handler never failed on were not processed: {skipped}"


def check_concurrency(outcome):
    sc = outcome.scenario
    shard_of = {e.invocation: e.detail["shard"] for e in outcome.events
                if e.kind == "invoke_start" and e.mapping == outcome.uuid}
    changes = []
    for inv in outcome.invocations:
        if inv.mapping == outcome.uuid:
            assert inv.end is not None
            changes += [(inv.start, 1, shard_of[inv.request_id]),
                        (inv.end, -1, shard_of[inv.request_id])]
    changes.sort(key=lambda c: (c[0], c[1]))  # an end frees its slot before a start at that time
    running, per_shard, peak = 0, defaultdict(int), 0
    for t, delta, shard in changes:
        running += delta
        per_shard[shard] += delta
        assert per_shard[shard] <= sc.pf, f"{per_shard[shard]} invocations on {shard} at {t}"
        peak = max(peak, running)
    assert peak <= sc.shards * sc.pf, f"{peak} invocations at once, limit {sc.shards * sc.pf}"
    return peak


def describe(outcome):
    """Label the example for ``--hypothesis-show-statistics`` (are the cases interesting?)."""
    sc, counts = outcome.scenario, outcome.conservation["counts"]
    records = len(sc.keys)
    count_case(f"records: {'1-9' if records < 10 else '10-99' if records < 100 else '100+'}")
    calls = len(outcome.calls)
    count_case(f"calls: {'<10' if calls < 10 else '<100' if calls < 100 else '100+'}")
    kinds = {e.kind for e in outcome.events}
    for kind in ("bisect", "throttle"):
        if kind in kinds:
            count_case(f"trace has {kind}")
    for why in sorted({e.outcome for e in outcome.events if e.kind == "discard"}):
        count_case(f"discard {why}")
    if any(c.raised for c in outcome.calls):
        count_case("handler raised")
    if any(c.reported and c.done for c in outcome.calls if sc.rbif):
        count_case("partial response with progress")
    for fate in sorted(counts):
        count_case(f"fate {fate}")
    note(f"{len(outcome.calls)} calls, counts {counts}")


# --- the properties ------------------------------------------------------------------------------


def kinesis_example(**fields):
    base = {"seed": 7, "source": "kinesis", "shards": 2, "pf": 3, "batch_size": 10, "window": 1,
            "bisect": False, "rbif": False, "mra": -1, "max_age": 60, "destination": True,
            "duration": 0.5, "bursts": ((0, (0, 1, 2, 0, 1, 2) * 4), (30, (2, 1, 0, 3) * 5)),
            "faults": {}}
    return Scenario(**{**base, **fields})


# A record that always fails while MaximumRetryAttempts is -1: it and records waiting behind it
# in its lane pass the 60 s age limit (RecordAgeExceeded), the other lanes go on.
AGE_LIMIT_EXAMPLE = kinesis_example(faults={3: Fault("raise", ALWAYS), 30: Fault("raise", 2)})
# Everything at once: 4 shards x PF 10, BatchSize 50, 200 records, partial responses with
# bisect and a retry limit, permanent and transient faults, no destination.
BUSY_EXAMPLE = kinesis_example(
    seed=11, shards=4, pf=10, batch_size=50, window=2, bisect=True, rbif=True, mra=1,
    max_age=-1, destination=False, duration=2.0,
    bursts=((0, tuple(i % 8 for i in range(120))), (5, tuple((i * 3) % 5 for i in range(80)))),
    faults={0: Fault("raise", ALWAYS), 17: Fault("report", ALWAYS), 18: Fault("report", 1),
            60: Fault("raise", 2), 150: Fault("report", 2), 199: Fault("raise", ALWAYS)})
# Transient faults only, within MaximumRetryAttempts 2: everything ends processed.
TRANSIENT_EXAMPLE = kinesis_example(
    mra=2, max_age=-1, rbif=True, batch_size=7,
    faults={1: Fault("raise", 2), 5: Fault("report", 1), 6: Fault("report", 2),
            40: Fault("raise", 1)})


@PROPERTY_SETTINGS
@example(AGE_LIMIT_EXAMPLE)
@example(BUSY_EXAMPLE)
@given(scenarios())
def test_first_deliveries_keep_per_key_order(sc):
    outcome = run(sc)
    describe(outcome)
    check_first_deliveries_in_key_order(outcome)
    check_no_concurrent_invocations_of_one_key(outcome)


@PROPERTY_SETTINGS
@example(AGE_LIMIT_EXAMPLE)
@example(BUSY_EXAMPLE)
@example(TRANSIENT_EXAMPLE)
@given(scenarios())
def test_nothing_skipped(sc):
    outcome = run(sc)
    describe(outcome)
    check_nothing_skipped(outcome)
    check_transient_failures_within_budget(outcome)


@PROPERTY_SETTINGS
@given(scenarios(bisect=True, mra=st.integers(0, 3), age_limit=False))
def test_bisect_never_skips_a_record(sc):
    outcome = run(sc)
    describe(outcome)
    # A valid partial response is never bisected (§2.5): a record reported first in its batch
    # is retried with the records after it, and they can be discarded together.
    if not (sc.rbif and any(f.mode == "report" for f in sc.faults.values())):
        check_good_records_processed(outcome)
    check_nothing_skipped(outcome)


@PROPERTY_SETTINGS
@example(BUSY_EXAMPLE)
@given(scenarios())
def test_concurrency_at_most_shards_times_pf(sc):
    outcome = run(sc)
    describe(outcome)
    peak = check_concurrency(outcome)
    count_case(f"peak concurrency {'1' if peak <= 1 else '2-4' if peak <= 4 else '5+'}")


@settings(PROPERTY_SETTINGS, max_examples=10)
@given(scenarios())
def test_same_seed_same_trace(sc):
    first, second = run(sc), run(sc)
    assert first.fingerprint == second.fingerprint
    assert [(c.t, c.ns, c.raised) for c in first.calls] == [
        (c.t, c.ns, c.raised) for c in second.calls]


@PROPERTY_SETTINGS
@given(scenarios(source="dynamodb"))
def test_dynamodb_per_item_order(sc):
    outcome = run(sc)
    describe(outcome)
    check_first_deliveries_in_key_order(outcome)
    check_no_concurrent_invocations_of_one_key(outcome)
    counts = outcome.conservation["counts"]
    assert outcome.quiet and outcome.conservation["lost"] == []
    assert sum(counts.values()) == len(sc.keys) and set(counts) <= FATES, counts


# A batch whose first invocation failed waits 1 s, then 2 s... before its retry (M5). The mapping
# is disabled during such a wait here (invocations fail at t=2 and t=3; disabled at t=2.5, the
# poller stops at t=4.5, as Disabling lasts 2 s, while the retry waits for t=5).
BACKOFF_PAUSE_EXAMPLE = kinesis_example(
    shards=1, pf=1, window=0, duration=0.0, mra=3, max_age=-1, destination=False,
    bursts=((0, (0, 0, 1)), (20, (1, 2))), faults={0: Fault("raise", 2)}, pause=(2.5, 10))

@settings(PROPERTY_SETTINGS, max_examples=15)
@example(AGE_LIMIT_EXAMPLE)
@given(scenarios())
def test_ledger_holds_every_unfinished_record_while_running(sc):
    """stream_conservation's ``lost`` is empty at every burst and every check while running."""
    outcome = run(sc)
    assert outcome.lost_during == [], outcome.lost_during[:1]


@settings(PROPERTY_SETTINGS, max_examples=15)
@example(BACKOFF_PAUSE_EXAMPLE)
@given(scenarios(mra=st.integers(2, 3), age_limit=False, transient=True, pause=True))
def test_disable_and_enable_skip_nothing(sc):
    """services-dynamodb-eventsourcemapping: re-enabled, processing resumes where it stopped. Faults last at most 2 deliveries
    and MaximumRetryAttempts is 2 or 3 with no age limit, so every record ends processed
    (records finished after the checkpoint may be delivered again: that is allowed)."""
    outcome = run(sc)
    describe(outcome)
    counts = outcome.conservation["counts"]
    assert outcome.quiet, outcome.conservation
    assert outcome.conservation["lost"] == []
    assert counts == {"processed": len(sc.keys)}, counts


# --- shard throughput and resharding (tests/test_kinesis_throughput.py, test_resharding.py) ----

RESHARDS = ("split", "merge", "double", "halve")


@st.composite
def reshard_scenarios(draw):
    """Bursts of records (some larger than a shard takes in a second), written by a producer that
    sends refused entries again a second later, with reshards between the bursts."""
    keys = draw(st.lists(st.sampled_from([f"key-{n}" for n in range(12)]), min_size=1,
                         max_size=6, unique=True))
    bursts = draw(st.lists(st.integers(1, 1600), min_size=1, max_size=4))
    reshards = draw(st.lists(st.sampled_from(RESHARDS), min_size=len(bursts) - 1,
                             max_size=len(bursts) - 1))
    return {"shards": draw(st.integers(1, 3)), "pf": draw(st.integers(1, 4)),
            "batch_size": draw(st.integers(1, 500)), "duration": draw(st.sampled_from([0.0, 0.3])),
            "keys": keys, "bursts": bursts, "reshards": reshards,
            "gaps": draw(st.lists(st.integers(0, 3), min_size=len(bursts),
                                  max_size=len(bursts)))}


def _reshard(kinesis, how):
    listed = kinesis.list_shards(StreamName="telemetry")["Shards"]
    open_shards = sorted((s for s in listed if "EndingSequenceNumber" not in s[
        "SequenceNumberRange"]), key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
    if how == "split":
        shard = open_shards[0]
        low, high = (int(shard["HashKeyRange"][k]) for k in ("StartingHashKey", "EndingHashKey"))
        kinesis.split_shard(StreamName="telemetry", ShardToSplit=shard["ShardId"],
                            NewStartingHashKey=str((low + high + 1) // 2))
    elif how == "merge" and len(open_shards) > 1:
        kinesis.merge_shards(StreamName="telemetry", ShardToMerge=open_shards[0]["ShardId"],
                             AdjacentShardToMerge=open_shards[1]["ShardId"])
    elif how == "double" and len(open_shards) <= 4:
        kinesis.update_shard_count(StreamName="telemetry", TargetShardCount=2 * len(open_shards),
                                   ScalingType="UNIFORM_SCALING")
    elif how == "halve" and len(open_shards) > 1:
        kinesis.update_shard_count(StreamName="telemetry",
                                   TargetShardCount=(len(open_shards) + 1) // 2,
                                   ScalingType="UNIFORM_SCALING")


@settings(PROPERTY_SETTINGS, max_examples=12)
@example({"shards": 1, "pf": 2, "batch_size": 100, "duration": 0.3, "keys": ["a", "b", "c"],
          "bursts": [1500, 700], "reshards": ["split"], "gaps": [0, 1]})
@given(reshard_scenarios())
def test_throttled_writes_and_resharding_keep_key_order_and_lose_nothing(sc):
    """Every record written is processed exactly once (no function fails), and each key's
    records are first delivered in write order across throttled writes and reshards (M9)."""
    note(repr(sc))
    with Lab(seed=3) as lab:
        kinesis, lam = lab.client("kinesis"), lab.client("lambda")
        kinesis.create_stream(StreamName="telemetry", ShardCount=sc["shards"])
        arn = kinesis.describe_stream_summary(StreamName="telemetry")[
            "StreamDescriptionSummary"]["StreamARN"]
        seen = []
        lab.function("fn", lambda event, context: seen.extend(
            json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]),
            timeout=60, duration=sc["duration"])
        uuid = lam.create_event_source_mapping(
            FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
            BatchSize=sc["batch_size"], ParallelizationFactor=sc["pf"])["UUID"]
        n, throttled = 0, 0
        for index, (size, gap) in enumerate(zip(sc["bursts"], sc["gaps"], strict=True)):
            pending = [{"Data": json.dumps({"k": sc["keys"][m % len(sc["keys"])], "n": m}).encode(),
                        "PartitionKey": sc["keys"][m % len(sc["keys"])]}
                       for m in range(n, n + size)]
            n += size
            while pending:
                entries, pending = pending[:500], pending[500:]
                response = kinesis.put_records(StreamName="telemetry", Records=entries)
                failed = [e for e, r in zip(entries, response["Records"], strict=True)
                          if "ErrorCode" in r]
                if failed:  # the shard's write limit: send them again a second later, in order
                    throttled += len(failed)
                    pending = failed + pending
                    lab.run(until=lab.now + 1)
            lab.run(until=lab.now + gap)
            if index < len(sc["reshards"]):
                _reshard(kinesis, sc["reshards"][index])
        lab.run(until=lab.now + 600)
        count_case(f"throttled writes: {throttled > 0}")
        numbers = [r["n"] for r in seen]
        assert sorted(numbers) == list(range(n))  # each once
        last = {}
        for record in seen:
            assert record["n"] > last.get(record["k"], -1), record
            last[record["k"]] = record["n"]
        assert lab.stream_conservation(uuid)["counts"] == {"processed": n}
