"""Random scenarios in which a mapping changes while it works, and the properties they must keep.

Shared by the property tests (tests/test_properties.py, tests/test_stream_properties.py, driven
by hypothesis) and the soak script (benchmarks/soak.py, driven by a seeded random.Random), so
both check the same things through the learner contract: boto3 clients, ``lab.function``,
``lab.run`` and the trace.

A scenario is a source (``sqs``, ``fifo``, ``kinesis`` or ``dynamodb``), a function, a mapping,
and a timeline of operations at random moments: write a burst of records, disable, enable,
update a random parameter, delete, and recreate a deleted mapping. Calls that AWS refuses for a
mapping in a transitional state (``ResourceInUseException``), or for a mapping that is gone or
still being deleted, are allowed answers. Records fail on their first one or two deliveries
(raise, ``sys.exit()``, be reported with ReportBatchItemFailures, garbage response), so every
run can end. After the timeline every mapping is stopped, the held SQS messages must be
receivable with boto3 once their visibility timeout has passed, and then a mapping is enabled
again and must finish everything.

Properties (:func:`violations` returns the broken ones, as text):

* no exception escapes ``lab.run`` or an allowed API call;
* nothing lost: SQS conservation holds and every message ends deleted or redriven; a stream
  mapping's ledger accounts for every record it read, and the last mapping finishes every record
  it should have read (all of them from ``TRIM_HORIZON``; from ``LATEST``, those written after
  it first became ``Enabled``);
* no invocation starts while its mapping is not ``Enabled`` or ``Updating``;
* FIFO: overlapping invocations never share a message group, and first deliveries within a
  group follow send order; streams: overlapping invocations of one mapping never share a key,
  and first deliveries of a key follow sequence order;
* concurrency: an SQS mapping never runs more than its ``MaximumConcurrency`` (the largest value
  in force during the preceding 3 s: a lowered cap applies after the 2 s update and one scaling
  tick); a stream mapping never runs more than shards x its largest ``ParallelizationFactor``.

Determinism (same seed, same trace) is checked by the callers, by running a scenario twice.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import sys
from dataclasses import dataclass

import botocore.exceptions

from esmlab import Lab

ALLOWED_REFUSALS = ("ResourceInUseException", "ResourceNotFoundException",
                    "ResourceConflictException")
KINDS = ("ok", "ok", "ok", "raise", "report", "exit", "garbage")
SOURCES = ("sqs", "fifo", "kinesis", "dynamodb")
KEYS = ("k0", "k1", "k2", "k3")


class RandomPicker:
    """Draws from a seeded random.Random (the soak script)."""

    def __init__(self, rng):
        self.rng = rng

    def int(self, low, high):
        return self.rng.randint(low, high)

    def choice(self, options):
        return options[self.rng.randrange(len(options))]


class HypothesisPicker:
    """Draws from hypothesis's ``data`` (the property tests), so failures shrink."""

    def __init__(self, data):
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def int(self, low, high):
        return self.data.draw(self.st.integers(low, high))

    def choice(self, options):
        return self.data.draw(self.st.sampled_from(options))


@dataclass
class Scenario:
    source: str
    visibility: int
    timeout: int
    duration: float
    max_receive: int | None
    reserved: int | None
    shards: int
    params: dict
    ops: list  #: (time, op, argument)


def draw_scenario(pick, source) -> Scenario:
    sqs = source in ("sqs", "fifo")
    visibility = pick.int(3, 20)
    timeout = pick.int(1, min(visibility, 8))
    duration = min(float(timeout), pick.choice((0.0, 0.5, 2.0, 6.0)))
    params = {"BatchSize": pick.int(1, 10)}
    if pick.choice((False, True)):
        params["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    if source == "sqs" and pick.choice((False, True)):
        params["MaximumBatchingWindowInSeconds"] = pick.int(0, 3)
    if sqs and pick.choice((False, True)):
        params["ScalingConfig"] = {"MaximumConcurrency": pick.int(2, 5)}
    if not sqs:
        params["StartingPosition"] = pick.choice(("TRIM_HORIZON", "LATEST"))
        params["ParallelizationFactor"] = pick.int(1, 3)
        params["BisectBatchOnFunctionError"] = pick.choice((False, True))
        params["MaximumRetryAttempts"] = pick.choice((-1, 0, 1, 3))
        params["MaximumBatchingWindowInSeconds"] = pick.int(0, 2)
    ops, t = [], 0.0
    for _ in range(pick.int(3, 9)):
        t += pick.int(0, 12) + pick.choice((0.0, 0.4, 1.5))
        op = pick.choice(("send", "send", "send", "disable", "enable", "update", "delete",
                          "recreate"))
        argument = None
        if op == "send":
            argument = tuple((pick.choice(KINDS), pick.int(1, 2), pick.choice(KEYS))
                             for _ in range(pick.int(1, 12)))
        elif op == "update":
            argument = update_params(pick, source)
        ops.append((t, op, argument))
    return Scenario(source, visibility, timeout, duration,
                    max_receive=pick.choice((None, 1, 3)) if sqs else None,
                    reserved=pick.choice((None, None, 1, 3)),
                    shards=pick.int(1, 2) if source == "kinesis" else 1,
                    params=params, ops=ops)


def update_params(pick, source) -> dict:
    sqs = source in ("sqs", "fifo")
    names = ["BatchSize", "FunctionResponseTypes"]
    names += ["ScalingConfig"] if sqs else ["ParallelizationFactor", "MaximumRetryAttempts",
                                            "BisectBatchOnFunctionError"]
    if source != "fifo":
        names.append("MaximumBatchingWindowInSeconds")
    name = pick.choice(tuple(names))
    value = {
        "BatchSize": lambda: pick.int(1, 10),
        "FunctionResponseTypes": lambda: pick.choice(([], ["ReportBatchItemFailures"])),
        "ScalingConfig": lambda: {"MaximumConcurrency": pick.int(2, 5)},
        "ParallelizationFactor": lambda: pick.int(1, 3),
        "MaximumRetryAttempts": lambda: pick.choice((-1, 0, 2)),
        "BisectBatchOnFunctionError": lambda: pick.choice((False, True)),
        "MaximumBatchingWindowInSeconds": lambda: pick.int(0, 3 if sqs else 2),
    }[name]()
    return {name: value}


# --- running -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    scenario: Scenario
    violations: list
    fingerprint: list
    invocations: int


class Runner:
    def __init__(self, sc: Scenario, seed: int):
        self.sc, self.seed = sc, seed
        self.sqs_source = sc.source in ("sqs", "fifo")
        self.problems: list[str] = []
        self.spec: dict = {}  #: record number -> (kind, attempts, key)
        self.deliveries: dict = {}  #: record id -> deliveries so far (streams)
        self.key_of: dict = {}  #: record id -> message group or partition key
        self.number_of: dict = {}  #: record id -> record number (write order)
        self.written = 0
        self.written_at: dict = {}  #: record number -> lab.now when written
        self.mappings: list[str] = []  #: UUIDs, in creation order
        self.caps: dict = {}  #: UUID -> [(t, cap)]
        self.first_enabled: dict = {}

    # the function ------------------------------------------------------------------------------

    def handler(self, event, context):
        failing, reported = [], []
        for rec in event["Records"]:
            rid, number, key = self.identify(rec)
            self.key_of[rid], self.number_of[rid] = key, number
            kind, attempts, _ = self.spec[number]
            if self.sqs_source:
                count = int(rec["attributes"]["ApproximateReceiveCount"])
            else:
                count = self.deliveries[rid] = self.deliveries.get(rid, 0) + 1
            if kind != "ok" and count <= attempts:
                failing.append(kind)
                if kind == "report":
                    reported.append(rid)
        if "exit" in failing:
            sys.exit(1)
        if "raise" in failing:
            raise RuntimeError("poison record")
        if "garbage" in failing:
            return {"batchItemFailures": "all of them"}
        if reported:
            return {"batchItemFailures": [{"itemIdentifier": r} for r in reported]}
        return None

    def identify(self, rec):
        if self.sqs_source:
            body = json.loads(rec["body"])
            return rec["messageId"], body["n"], body["key"]
        if self.sc.source == "kinesis":
            body = json.loads(base64.b64decode(rec["kinesis"]["data"]))
            return rec["kinesis"]["sequenceNumber"], body["n"], rec["kinesis"]["partitionKey"]
        change = rec["dynamodb"]
        image = change.get("NewImage") or change.get("OldImage")
        return change["SequenceNumber"], int(image["n"]["N"]), change["Keys"]["id"]["S"]

    # the timeline ------------------------------------------------------------------------------

    def run(self) -> Outcome:
        sc = self.sc
        with contextlib.redirect_stdout(io.StringIO()), Lab(seed=self.seed) as lab:
            self.lab, self.lam = lab, lab.client("lambda")
            try:
                self.setup()
                self.create()
                for when, op, argument in sc.ops:
                    lab.run(until=max(when, lab.now))
                    getattr(self, f"op_{op}")(argument)
                self.finish()
                self.check_trace()
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # noqa: BLE001 - every escape is a violation
                self.problems.append(f"exception: {type(error).__name__}: {error}")
            return Outcome(sc, self.problems, lab.trace.fingerprint(),
                           len(lab.trace.invocations))

    def setup(self):
        sc, lab = self.sc, self.lab
        lab.function("fn", self.handler, timeout=sc.timeout, duration=sc.duration,
                     reserved_concurrency=sc.reserved)
        if self.sqs_source:
            self.sqs = lab.client("sqs")
            fifo = sc.source == "fifo"
            suffix, attrs = (".fifo", {"FifoQueue": "true"}) if fifo else ("", {})
            queue_attrs = dict(attrs, VisibilityTimeout=str(sc.visibility))
            if sc.max_receive:
                dlq = self.sqs.create_queue(QueueName="dlq" + suffix, Attributes=attrs)
                dlq_arn = self.queue_arn(dlq["QueueUrl"])
                queue_attrs["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(sc.max_receive)})
            self.url = self.sqs.create_queue(QueueName="orders" + suffix,
                                             Attributes=queue_attrs)["QueueUrl"]
            self.arn = self.queue_arn(self.url)
        elif sc.source == "kinesis":
            self.kinesis = lab.client("kinesis")
            self.kinesis.create_stream(StreamName="telemetry", ShardCount=sc.shards)
            self.arn = self.kinesis.describe_stream_summary(StreamName="telemetry")[
                "StreamDescriptionSummary"]["StreamARN"]
        else:
            self.ddb = lab.client("dynamodb")
            self.arn = self.ddb.create_table(
                TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True,
                                     "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )["TableDescription"]["LatestStreamArn"]

    def queue_arn(self, url):
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]

    def call(self, fn, **params):
        """An API call whose refusal for the mapping's state is an allowed answer."""
        try:
            return fn(**params)
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] not in ALLOWED_REFUSALS:
                self.problems.append(f"unexpected API error {error.response['Error']}")
            return None

    @property
    def current(self):
        return self.mappings[-1]

    def create(self, params=None):
        params = dict(self.sc.params if params is None else params)
        response = self.call(self.lam.create_event_source_mapping, FunctionName="fn",
                             EventSourceArn=self.arn, **params)
        if response is not None:
            self.mappings.append(response["UUID"])
            self.note_caps(response["UUID"], params)
        return response

    def note_caps(self, uuid, params):
        cap = (params.get("ScalingConfig") or {}).get("MaximumConcurrency")
        if not self.sqs_source:
            cap = params.get("ParallelizationFactor")
        if cap is not None:
            self.caps.setdefault(uuid, []).append((self.lab.now, cap))

    def op_send(self, burst):
        for kind, attempts, key in burst:
            n = self.written
            self.spec[n] = (kind, attempts, key)
            self.written_at[n] = self.lab.now
            self.written += 1
            body = json.dumps({"n": n, "key": key})
            if self.sqs_source:
                extra = {}
                if self.sc.source == "fifo":
                    extra = {"MessageGroupId": key, "MessageDeduplicationId": str(n)}
                self.sqs.send_message(QueueUrl=self.url, MessageBody=body, **extra)
            elif self.sc.source == "kinesis":
                self.kinesis.put_record(StreamName="telemetry", Data=body.encode(),
                                        PartitionKey=key)
            else:
                self.ddb.put_item(TableName="orders",
                                  Item={"id": {"S": key}, "n": {"N": str(n)}})

    def op_disable(self, _):
        self.call(self.lam.update_event_source_mapping, UUID=self.current, Enabled=False)

    def op_enable(self, _):
        self.call(self.lam.update_event_source_mapping, UUID=self.current, Enabled=True)

    def op_update(self, params):
        if self.call(self.lam.update_event_source_mapping, UUID=self.current, **params):
            self.note_caps(self.current, params)

    def op_delete(self, _):
        self.call(self.lam.delete_event_source_mapping, UUID=self.current)

    def op_recreate(self, _):
        if self.current not in self.lab.mappings:
            params = dict(self.sc.params)
            if not self.sqs_source:
                params["StartingPosition"] = "TRIM_HORIZON"
            self.create(params)

    # the end -----------------------------------------------------------------------------------

    def state(self, uuid):
        mapping = self.lab.mappings.get(uuid)
        return mapping.state if mapping else None

    def settle_states(self):
        self.lab.run(until=self.lab.now + 2.5)

    def finish(self):
        lab, sc = self.lab, self.sc
        self.settle_states()
        if self.state(self.current) == "Enabled":
            self.op_disable(None)
            self.settle_states()
        # every invocation has ended and every held message's visibility timeout has passed
        lab.run(until=lab.now + sc.timeout + sc.visibility + 5)
        if self.sqs_source:
            self.check_receivable()
        if self.state(self.current) == "Disabled":
            self.op_enable(None)
        else:
            params = dict(sc.params)
            if not self.sqs_source:
                params["StartingPosition"] = "TRIM_HORIZON"
            if self.create(params) is None:
                self.problems.append("could not create the final mapping")
                return
        end = lab.now + 1200
        while lab.now < end and not self.done():
            lab.run(until=lab.now + 20)
        if not self.done():
            self.problems.append(f"not finished by t={lab.now:g}: {self.progress()}")

    def check_receivable(self):
        """No mapping holds anything: every message "in queue" is receivable with boto3."""
        counts = self.lab.conservation().counts.get(self.arn, {})
        in_queue, redriven = counts.get("in_queue", 0), counts.get("redriven", 0)
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        visible = int(attributes["ApproximateNumberOfMessages"])
        hidden = int(attributes["ApproximateNumberOfMessagesNotVisible"])
        if (visible, hidden) != (in_queue, 0):
            self.problems.append(f"{in_queue} messages in queue, but {visible} visible and "
                                 f"{hidden} not visible with no mapping running")
        if self.sc.source == "fifo":
            return  # a receive returns only the first messages of each group
        seen, handles = set(), []
        while batch := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                                VisibilityTimeout=60).get("Messages"):
            for message in batch:
                seen.add(message["MessageId"])
                handles.append(message["ReceiptHandle"])
        redriven_now = self.lab.conservation().counts.get(self.arn, {}).get("redriven", 0)
        if len(seen) + redriven_now - redriven != in_queue:
            self.problems.append(f"{in_queue} messages in queue but {len(seen)} receivable "
                                 f"(+{redriven_now - redriven} redriven on receive)")
        for start in range(0, len(handles), 10):  # visible again for the final mapping
            self.sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(handles[start:start + 10])])
        self.lab.run(until=self.lab.now + 0.001)

    def done(self) -> bool:
        if self.sqs_source:
            counts = self.lab.conservation().counts.get(self.arn, {})
            return counts.get("in_queue", 0) == 0
        result = self.lab.stream_conservation(self.current)
        counts = result["counts"]
        return (not counts.get("in_flight") and not result["lost"]
                and sum(counts.values()) >= self.expected_records())

    def expected_records(self) -> int:
        uuid = self.current
        if uuid == self.mappings[0] and self.sc.params.get("StartingPosition") == "LATEST":
            since = self.first_enabled_at(uuid)
            return sum(1 for t in self.written_at.values() if t > since)
        return self.written

    def first_enabled_at(self, uuid) -> float:
        for event in self.lab.trace.of("state"):
            if event.mapping == uuid and event.detail["state"] == "Enabled":
                return event.t
        return float("inf")

    def progress(self):
        if self.sqs_source:
            return self.lab.conservation().counts.get(self.arn)
        return (self.lab.stream_conservation(self.current), self.expected_records())

    # the trace ---------------------------------------------------------------------------------

    def check_trace(self):
        lab = self.lab
        if self.sqs_source:
            conservation = lab.conservation()
            if not conservation.ok:
                self.problems.append(f"conservation: {conservation}")
        else:
            for uuid in self.mappings:
                if uuid in lab.mappings and (lost := lab.stream_conservation(uuid)["lost"]):
                    self.problems.append(f"{uuid}: records lost {lost}")
        state = {}
        for event in lab.trace.events:
            if event.kind == "state":
                state[event.mapping] = event.detail["state"]
            elif event.kind == "invoke_start" and state.get(event.mapping) not in (
                    "Enabled", "Updating"):
                self.problems.append(f"invocation at t={event.t:g} while its mapping was "
                                     f"{state.get(event.mapping)}")
        by_mapping = {}
        for invocation in lab.trace.invocations:
            by_mapping.setdefault(invocation.mapping, []).append(invocation)
        for uuid, invocations in by_mapping.items():
            self.check_exclusive_and_ordered(invocations)
            self.check_concurrency(uuid, invocations)

    def check_exclusive_and_ordered(self, invocations):
        if self.sc.source == "sqs":
            return  # a standard queue promises no order
        running = []
        for inv in invocations:
            running = [other for other in running if other.end is None or other.end > inv.start]
            keys = {self.key_of.get(r) for r in inv.records}
            for other in running:
                if self.sqs_source and self.outlived_visibility(other):
                    continue  # its messages came back while it ran, as SQS does
                shared = keys & {self.key_of.get(r) for r in other.records}
                if shared:
                    self.problems.append(f"t={inv.start:g}: two invocations at once for {shared}")
            running.append(inv)
        first, seen = {}, set()
        for inv in invocations:
            for rid in inv.records:
                if rid not in seen:
                    seen.add(rid)
                    first.setdefault(self.key_of.get(rid), []).append(self.number_of.get(rid))
        for key, numbers in first.items():
            if numbers != sorted(numbers):
                self.problems.append(f"key {key}: first deliveries out of order {numbers}")

    def outlived_visibility(self, inv) -> bool:
        """Whether ``inv`` ran past the visibility timeout of its messages' last receive."""
        if not hasattr(self, "received_at"):
            self.received_at = {}
            for event in self.lab.trace.of("poll"):
                for rid in event.records:
                    self.received_at.setdefault(rid, []).append(event.t)
        received = max(t for r in inv.records for t in self.received_at.get(r, [inv.start])
                       if t <= inv.start)
        return inv.end is None or inv.end > received + self.sc.visibility

    def check_concurrency(self, uuid, invocations):
        caps = self.caps.get(uuid)
        if self.sqs_source and not caps:
            return
        for inv in invocations:
            running = sum(1 for o in invocations
                          if o.start <= inv.start and (o.end is None or o.end > inv.start))
            if self.sqs_source:
                in_force = [cap for t, cap in caps if t <= inv.start]
                if caps[0][0] > inv.start - 3:
                    continue  # no cap yet, or set less than 3 s ago
                recent = [cap for t, cap in caps if inv.start - 3 <= t <= inv.start]
                allowed = max([in_force[-1], *recent])
            else:
                allowed = self.sc.shards * max(cap for _, cap in caps)
            if running > allowed:
                self.problems.append(f"t={inv.start:g}: {running} invocations running, "
                                     f"more than {allowed}")
                return


def run(sc: Scenario, seed: int = 7) -> Outcome:
    return Runner(sc, seed).run()
