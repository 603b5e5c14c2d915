"""Lab 07 (IAM): what a mapping's execution role needs, and what a missing permission does.

    from esmlab.course.scenarios import iam
    result = iam.creation("dynamodb", policy="least", resource="table")   # CreateEventSourceMapping
    iam.draw_creation(result)
    result = iam.stalled(denied="sqs:DeleteMessage", deny_at=60, fix_at=300)  # SQS at run time
    iam.draw_stalled(result)
    result = iam.destination(send_allowed=False)   # a discarded batch, its on-failure destination

Each scenario is a pure function of its arguments: it opens a fresh :class:`esmlab.Lab`, makes
the execution role with real boto3 ``iam`` calls (``create_role``, ``put_role_policy``,
``attach_role_policy``, ``delete_role_policy``), creates the source, a function with that role
and a mapping, and lets the simulator evaluate the role's policies (``esmlab.permissions``).
Nothing here decides what is allowed: the policies do. Results are cached (same arguments, same
result object).

What the pictures rest on (docs/simulator.md, "IAM" and "IAM at run time"):

* the actions each source needs: SQS
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html), Kinesis
  (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-create.html), DynamoDB Streams
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/iam-policy-example-lamda-process-dynamodb-streams.html);
* an explicit ``Deny`` wins over any ``Allow``
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html);
* on-failure destinations need ``sqs:SendMessage`` (or ``sns:Publish``, ``s3:PutObject`` +
  ``s3:ListBucket``), and a failed delivery counts in ``DestinationDeliveryFailures``
  (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html,
  https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html).
* MODELLING CHOICE (docs/simulator.md, "IAM at run time"): an SQS mapping checks its role on
  every call; a denied call is a ``denied`` trace event and sets ``LastProcessingResult``. Stream
  mappings are checked when they are created only.

Cost: a call takes about 0.05-0.3 s (the first of a session longer, while moto loads).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import textwrap
import time
from dataclasses import dataclass

FUNCTION = "orders-worker"
ROLE = "orders-worker-role"
SOURCES = ("sqs", "kinesis", "dynamodb")
POLICIES = ("least", "managed", "none")
RESOURCES = ("source", "table", "*")
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})

#: The actions a mapping needs on its source, as AWS lists them: SQS (services-sqs-configure),
#: Kinesis (services-kinesis-create: SubscribeToShard is for enhanced fan-out consumers; the
#: console also uses ListStreams), DynamoDB Streams (iam-policy-example-lamda-process-dynamodb-streams:
#: there is no dynamodb:ListShards, a myth).
LEAST = {
    "sqs": ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
    "kinesis": ("kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:SubscribeToShard"),
    "dynamodb": ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                 "dynamodb:ListStreams"),
}
#: The AWS managed execution-role policy of each source
#: (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/).
MANAGED = {
    "sqs": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
    "kinesis": "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
    "dynamodb": "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
}
ALLOWED, DENIED = "#2ca02c", "#b0263b"  # green / red, told apart by the text in each cell too


def policy(actions, resource) -> dict:
    """An identity policy: one ``Allow`` statement of ``actions`` on ``resource``."""
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}]}


def make_role(iam_client, *, inline=None, managed=(), name=ROLE) -> str:
    """Create the execution role with boto3; ``inline``: {policy name: document}. Its ARN."""
    arn = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    for policy_name, document in (inline or {}).items():
        iam_client.put_role_policy(RoleName=name, PolicyName=policy_name,
                                   PolicyDocument=json.dumps(document))
    for policy_arn in managed:
        iam_client.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return arn


def make_table(ddb, name="orders") -> tuple[str, str]:
    """A DynamoDB table with a stream; (table ARN, stream ARN)."""
    response = ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    table = response["TableDescription"]
    return table["TableArn"], table["LatestStreamArn"]


def queue_arn(sqs, url) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]


def make_source(lab, source) -> dict:
    """The source of ``source`` in ``lab``: {"arn": ..., "table": table ARN or None, ...}."""
    if source == "sqs":
        sqs = lab.client("sqs")
        url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "30"})[
            "QueueUrl"]
        return {"arn": queue_arn(sqs, url), "table": None, "url": url}
    if source == "kinesis":
        kinesis = lab.client("kinesis")
        kinesis.create_stream(StreamName="orders", ShardCount=1)
        arn = kinesis.describe_stream_summary(StreamName="orders")[
            "StreamDescriptionSummary"]["StreamARN"]
        return {"arn": arn, "table": None}
    table, stream = make_table(lab.client("dynamodb"))
    return {"arn": stream, "table": table}


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


# --- creation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreationResult:
    source: str
    policy: str  #: "least", "managed" or "none"
    drop: str | None  #: the action left out of the least-privilege policy, if any
    resource: str  #: what the policy's Resource was: "source", "table" or "*"
    source_arn: str
    resource_arn: str | None  #: the Resource written in the policy (None for managed / none)
    document: dict | None  #: the inline policy, as written
    checks: tuple = ()  #: (action, allowed on the source ARN?), evaluated on the role
    created: bool = False
    error: str | None = None  #: the exception's code and message, as boto3 raised it
    state: str | None = None  #: the new mapping's State
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        what = {"least": "least-privilege inline policy", "managed": "AWS managed policy",
                "none": "no policy"}[self.policy]
        if self.drop:
            what += f" without {self.drop}"
        if self.resource_arn:
            what += f" on {self.resource_arn}"
        outcome = f"created ({self.state})" if self.created else f"rejected: {self.error}"
        return f"{self.source}, {what}: {outcome}"

    def __str__(self):
        return self.summary


def creation(source: str = "dynamodb", policy: str = "least", drop: str | None = None,
             resource: str = "source") -> CreationResult:
    """Create a mapping on ``source`` for a function whose role carries ``policy``:

    * ``"least"``: an inline policy of the source's actions (:data:`LEAST`), less ``drop`` (one
      of them, or None), on ``resource``: ``"source"`` (the queue or stream ARN; for DynamoDB the
      table's ``/stream/*``), ``"table"`` (the DynamoDB *table* ARN, a common mistake) or ``"*"``;
    * ``"managed"``: the source's AWS managed policy (:data:`MANAGED`); ``"none"``: no policy.
    """
    _check_choice("source", source, SOURCES)
    _check_choice("policy", policy, POLICIES)
    _check_choice("resource", resource, RESOURCES)
    if resource == "table" and source != "dynamodb":
        raise ValueError("resource 'table' is for source 'dynamodb' only (a Kinesis stream or a "
                         "queue has no table)")
    if drop is not None:
        _check_choice("drop", drop, LEAST[source])
        if policy != "least":
            raise ValueError("drop leaves an action out of the least-privilege policy: use it "
                             "with policy 'least'")
    return _creation(source, policy, drop, resource)


@functools.lru_cache(maxsize=256)
def _creation(source, policy_name, drop, resource) -> CreationResult:
    return _create(source, policy_name, drop, resource)


def with_policy(source: str, make_document, probes=()) -> CreationResult:
    """Create a mapping on ``source`` for a role whose only policy is the inline
    ``make_document(source_arn, table_arn)`` (``table_arn`` None unless DynamoDB). ``probes``:
    extra ``(action, resource)`` pairs evaluated on the role, where ``resource`` may contain
    ``{table}`` and ``{stream}``; their answers come after the source's actions in ``checks``."""
    _check_choice("source", source, SOURCES)
    return _create(source, "least", None, "source", make_document, tuple(probes))


def _create(source, policy_name, drop, resource, make_document=None, probes=()):
    from esmlab import Lab
    from esmlab.permissions import allowed

    began = time.perf_counter()
    lab = Lab(seed=0)
    try:
        iam, lam = lab.client("iam"), lab.client("lambda")
        made = make_source(lab, source)
        document = resource_arn = None
        if make_document is not None:
            document = make_document(made["arn"], made["table"])
            role = make_role(iam, inline={"mapping-source": document})
        elif policy_name == "least":
            resource_arn = {"source": f"{made['table']}/stream/*" if made["table"] else made["arn"],
                            "table": made["table"], "*": "*"}[resource]
            document = policy([a for a in LEAST[source] if a != drop], resource_arn)
            role = make_role(iam, inline={"mapping-source": document})
        elif policy_name == "managed":
            role = make_role(iam, managed=[MANAGED[source]])
        else:
            role = make_role(iam)
        lab.function(FUNCTION, lambda event, context: None, timeout=10, duration=1.0, role=role)
        checks = [(a, allowed(role, a, made["arn"])) for a in LEAST[source]]
        for action, where in probes:
            where = where.format(table=made["table"], stream=made["arn"])
            checks.append((f"{action} on {where}", allowed(role, action, where)))
        params = {} if source == "sqs" else {"StartingPosition": "TRIM_HORIZON"}
        try:
            response = lam.create_event_source_mapping(FunctionName=FUNCTION,
                                                       EventSourceArn=made["arn"], **params)
            created, error, state = True, None, response["State"]
        except lam.exceptions.ClientError as exc:
            created, state = False, None
            error = f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"
        return CreationResult(source, policy_name, drop, resource, made["arn"], resource_arn,
                              document, tuple(checks), created, error, state,
                              time.perf_counter() - began)
    finally:
        lab.close()


def _wrap(text: str, width: int) -> str:
    return textwrap.fill(text, width, break_on_hyphens=False)


def draw_creation(result: CreationResult, ax=None, width: float = 7.0):
    """One row per action the source needs: allowed (green) or denied (red) by the role on the
    source ARN, and what ``CreateEventSourceMapping`` answered. Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rows = list(result.checks)
    if ax is None:
        _, ax = plt.subplots(figsize=(width, 1.9 + 0.36 * len(rows)))
    for i, (action, ok) in enumerate(rows):
        ax.add_patch(Rectangle((0, i - 0.4), 1, 0.8, facecolor=ALLOWED if ok else DENIED,
                               edgecolor="black", linewidth=0.5))
        ax.text(0.03, i, action, va="center", ha="left", fontsize=9, color="white",
                fontweight="bold")
        ax.text(0.97, i, "allowed" if ok else "DENIED", va="center", ha="right", fontsize=9,
                color="white", fontweight="bold")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(len(rows) - 0.5, -0.6)
    ax.axis("off")
    where = result.resource_arn or {"managed": "the AWS managed policy (Resource *)",
                                    "none": "no policy"}[result.policy]
    names = {"least": "least-privilege inline policy", "managed": "the AWS managed policy",
             "none": "no policy"}
    head = f"{result.source} mapping, role: {names[result.policy]}" + (
        f" without {result.drop}" if result.drop else "")
    outcome = (f"CreateEventSourceMapping: created, State {result.state}" if result.created
               else "CreateEventSourceMapping: " + (result.error or ""))
    lines = [head, f"Resource: {where}", "evaluated on the source ARN: " + result.source_arn]
    ax.set_title("\n".join(_wrap(line, 88) for line in lines), fontsize=8, loc="left")
    colour = ALLOWED if result.created else DENIED
    ax.figure.text(0.01, 0.02, _wrap(outcome, 95), fontsize=8, color=colour,
                   fontweight="bold", va="bottom")
    ax.figure.tight_layout(rect=(0, 0.1 + 0.1 * (len(outcome) > 95), 1, 1))
    return ax


# --- SQS at run time -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StalledResult:
    denied: str  #: the action a Deny statement took away
    deny_at: float  #: when the Deny was put on the role (s)
    fix_at: float | None  #: when it was removed (s), or None
    horizon: float
    sent: int
    invocations: tuple = ()  #: (start, end, batch size, highest ApproximateReceiveCount)
    denials: tuple = ()  #: (t, action) of every denied call
    samples: tuple = ()  #: (t, sent, deleted, in the DLQ, LastProcessingResult or None)
    counts: dict | None = None  #: lab.conservation() per queue ARN at the end
    ok: bool = False  #: the conservation check held
    seconds: float = 0.0
    probes: tuple = ()  #: (action, allowed on the queue at the end?) for PROBE_ACTIONS
    fix_error: Exception | None = None  #: what the fix raised, if it raised
    label: str = ""  #: what was put on the role, for titles ("Deny sqs:DeleteMessage")

    @property
    def deleted(self) -> int:
        return self.samples[-1][2] if self.samples else 0

    @property
    def in_dlq(self) -> int:
        return self.samples[-1][3] if self.samples else 0

    @property
    def results(self) -> tuple:
        """The distinct ``LastProcessingResult`` values in the order they appeared."""
        seen = []
        for *_, value in self.samples:
            if not seen or seen[-1][1] != value:
                seen.append((_[0], value))
        return tuple(seen)

    @property
    def summary(self) -> str:
        fix = f", changed at t = {self.fix_at:g} s" if self.fix_at is not None else ", never changed"
        return (f"{self.label} from t = {self.deny_at:g} s{fix}: {self.sent} sent, "
                f"{len(self.invocations)} invocations, {len(self.denials)} denied calls, "
                f"{self.deleted} deleted, {self.in_dlq} in the DLQ, "
                f"{self.sent - self.deleted - self.in_dlq} still in the queue at "
                f"t = {self.horizon:g} s")

    def __str__(self):
        return self.summary


DENIABLE = LEAST["sqs"]
#: Evaluated on the role at the end of :func:`stalled`: the mapping's three, and DeleteQueue.
PROBE_ACTIONS = (*LEAST["sqs"], "sqs:DeleteQueue")
STALLED_VT = 30  #: the queue's visibility timeout (s)
STALLED_MAX_RECEIVE = 3  #: the redrive policy's maxReceiveCount


def stalled(denied: str = "sqs:DeleteMessage", deny_at: float = 60, fix_at: float | None = 300,
            messages: int = 30, horizon: float = 420) -> StalledResult:
    """An SQS mapping (role: the AWS managed SQS policy), one message every 10 s from t = 2 s;
    at ``deny_at`` an inline policy ``guardrail`` that denies ``denied`` is put on the role, and
    at ``fix_at`` (None: never) it is deleted. Queue visibility timeout 30 s, DLQ after 3
    receives. Sampled every 10 s with ``GetEventSourceMapping``."""
    _check_choice("denied", denied, DENIABLE)
    for name, value in (("deny_at", deny_at), ("horizon", horizon)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    if fix_at is not None and (isinstance(fix_at, bool) or not isinstance(fix_at, (int, float))
                               or fix_at <= deny_at):
        raise ValueError(f"fix_at must be None or a time after deny_at ({deny_at}), got {fix_at!r}")
    if isinstance(messages, bool) or not isinstance(messages, int) or not 1 <= messages <= 100:
        raise ValueError(f"messages must be a whole number from 1 to 100, got {messages!r}")
    return _stalled(denied, float(deny_at), None if fix_at is None else float(fix_at), messages,
                    float(horizon), None)


def deny(action, resource="*") -> dict:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": action, "Resource": resource}]}


@functools.lru_cache(maxsize=256)
def _stalled(denied, deny_at, fix_at, messages, horizon, fix=None, guardrail=None,
             managed=(MANAGED["sqs"],)) -> StalledResult:
    """``fix``: a function ``fix(iam, role_name)`` run at ``fix_at`` instead of deleting the
    guardrail (what it raises is kept in ``fix_error``); ``guardrail``: the Deny document as
    JSON text (default: Deny ``denied`` on *); ``managed``: the role's managed policies."""
    from esmlab import Lab
    from esmlab.permissions import allowed

    began = time.perf_counter()
    lab = Lab(seed=0)
    try:
        sqs, lam, iam = lab.client("sqs"), lab.client("lambda"), lab.client("iam")
        dlq = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
        dlq_arn = queue_arn(sqs, dlq)
        url = sqs.create_queue(QueueName="orders", Attributes={
            "VisibilityTimeout": str(STALLED_VT), "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(STALLED_MAX_RECEIVE)})})[
            "QueueUrl"]
        arn = queue_arn(sqs, url)
        role = make_role(iam, managed=list(managed))
        receives: dict[str, int] = {}

        def handler(event, context):
            for record in event["Records"]:
                receives[context.aws_request_id] = max(
                    receives.get(context.aws_request_id, 0),
                    int(record["attributes"]["ApproximateReceiveCount"]))

        lab.function(FUNCTION, handler, timeout=10, duration=1.0, role=role)
        uuid = lam.create_event_source_mapping(FunctionName=FUNCTION, EventSourceArn=arn,
                                               BatchSize=10)["UUID"]
        document = guardrail or json.dumps(deny(denied))
        for n in range(messages):
            lab.clock.at(2 + 10 * n, lambda n=n: sqs.send_message(QueueUrl=url,
                                                                  MessageBody=f"order {n}"))
        lab.clock.at(deny_at, lambda: iam.put_role_policy(
            RoleName=ROLE, PolicyName="guardrail", PolicyDocument=document))
        fix_error = []

        def apply_fix():
            try:
                fix(iam, ROLE)
            except Exception as error:  # noqa: BLE001 - the learner's code: kept for the check
                fix_error.append(error)

        if fix_at is not None:
            lab.clock.at(fix_at, apply_fix if fix else (
                lambda: iam.delete_role_policy(RoleName=ROLE, PolicyName="guardrail")))
        samples = []

        def sample():
            kinds = {"send": 0, "delete": 0, "redrive": 0}
            for e in lab.trace.events:
                if e.kind in kinds and e.source == arn:
                    kinds[e.kind] += 1
            value = lam.get_event_source_mapping(UUID=uuid).get("LastProcessingResult")
            samples.append((lab.now, kinds["send"], kinds["delete"], kinds["redrive"], value))

        for t in range(0, int(horizon) + 1, 10):
            lab.clock.at(t + 0.5, sample)
        lab.run(until=horizon + 1)
        invocations = tuple((i.start, i.end, len(i.records), receives.get(i.request_id, 0))
                            for i in lab.trace.invocations)
        denials = tuple((e.t, e.detail["action"]) for e in lab.trace.of("denied"))
        done = lab.conservation()
        probes = tuple((action, allowed(role, action, arn)) for action in PROBE_ACTIONS)
        return StalledResult(denied, deny_at, fix_at, horizon, messages, invocations, denials,
                             tuple(samples), {k: dict(v) for k, v in done.counts.items()},
                             done.ok, time.perf_counter() - began, probes,
                             fix_error[0] if fix_error else None,
                             f"Deny {denied}" if guardrail is None else "the guardrail policy")
    finally:
        lab.close()


def draw_stalled(result: StalledResult, width: float = 7.0):
    """Top: each invocation at its start, its height the batch's highest receive count, and
    every denied call (red ticks); the Deny's time span shaded. Bottom: messages sent, deleted
    and moved to the DLQ over time. Returns the Figure."""
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(width, 5.2), sharex=True,
                                         gridspec_kw={"height_ratios": [1, 1.2]})
    end = result.fix_at if result.fix_at is not None else result.horizon
    for ax in (top, bottom):
        ax.axvspan(result.deny_at, end, color="#f4d6db", zorder=0)
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
    xs = [s for s, *_ in result.invocations]
    heights = [r for *_, r in result.invocations]
    top.vlines(xs, 0, heights, color="#1f77b4", linewidth=2)
    top.plot(xs, heights, "o", color="#1f77b4", markersize=4, label="invocation (height: receive "
             "count)")
    if result.denials:
        actions = ", ".join(sorted({a for _, a in result.denials}))
        top.plot([t for t, _ in result.denials], [-0.5] * len(result.denials), "|",
                 color=DENIED, markersize=10, label=f"denied call ({actions})")
    top.set_ylim(-1, max(heights + [STALLED_MAX_RECEIVE]) + 1)
    top.set_ylabel("receive count", fontsize=9)
    top.legend(fontsize=7, loc="upper left", frameon=False)
    ts = [s[0] for s in result.samples]
    bottom.plot(ts, [s[1] for s in result.samples], color="#7f7f7f", label="sent")
    bottom.plot(ts, [s[2] for s in result.samples], color=ALLOWED, linewidth=2, label="deleted")
    bottom.plot(ts, [s[3] for s in result.samples], color="#9467bd", linewidth=2,
                linestyle="--", label="moved to the DLQ")
    bottom.set_ylabel("messages", fontsize=9)
    bottom.set_xlabel(f"simulated time (s); shaded: {result.label} is on the role", fontsize=9)
    bottom.legend(fontsize=7, loc="upper left", frameon=False)
    for ax in (top, bottom):
        ax.tick_params(labelsize=8)
    fix = f", changed at {result.fix_at:g} s" if result.fix_at is not None else ", never changed"
    top.set_title(_wrap(
        f"{result.label} from {result.deny_at:g} s{fix}: {result.deleted} deleted, "
        f"{result.in_dlq} in the DLQ, {len(result.denials)} denied calls", 80), fontsize=9)
    figure.tight_layout()
    return figure


# --- on-failure destination ----------------------------------------------------------------------


@dataclass(frozen=True)
class DestinationResult:
    send_allowed: bool
    created: bool
    destinations: tuple = ()  #: (t, outcome, reason) of every destination event
    fates: dict | None = None  #: lab.stream_conservation(uuid)
    delivered_messages: int = 0  #: failure records found in the destination queue
    failures_metric: float = 0.0  #: DestinationDeliveryFailures summed, from CloudWatch
    seconds: float = 0.0
    probes: tuple = ()  #: (action, resource, allowed?) evaluated on the role
    error: str | None = None  #: CreateEventSourceMapping's error, if it was rejected
    document: dict | None = None  #: the role's inline policy

    @property
    def works(self) -> bool:
        """Created, and the discarded batch's failure record reached the destination."""
        return self.created and any(o == "delivered" for _, o, _ in self.destinations)

    @property
    def summary(self) -> str:
        outcomes = ", ".join(f"{o} at t = {t:g} s" for t, o, _ in self.destinations) or "none"
        return (f"sqs:SendMessage {'allowed' if self.send_allowed else 'not allowed'}: "
                f"destination {outcomes}; {self.delivered_messages} failure record(s) in the "
                f"queue; DestinationDeliveryFailures {self.failures_metric:g}; "
                f"record fates {self.fates['counts'] if self.fates else None}")

    def __str__(self):
        return self.summary


def destination_policy(table_arn: str, destination_arn: str, send: bool = True) -> dict:
    """The least-privilege policy of :func:`destination`'s role."""
    statements = [{"Effect": "Allow", "Action": list(LEAST["dynamodb"]),
                   "Resource": f"{table_arn}/stream/*"}]
    if send:
        statements.append({"Effect": "Allow", "Action": "sqs:SendMessage",
                           "Resource": destination_arn})
    return {"Version": "2012-10-17", "Statement": statements}


def destination(send_allowed: bool = True) -> DestinationResult:
    """A DynamoDB Streams mapping whose function always fails (``MaximumRetryAttempts`` 1) with
    an SQS on-failure destination; the role may or may not ``sqs:SendMessage`` to it."""
    if not isinstance(send_allowed, bool):
        raise TypeError(f"send_allowed must be True or False, got {send_allowed!r}")
    return _pipeline(None, send_allowed)


def pipeline(make_document, probes=()) -> DestinationResult:
    """:func:`destination` with the role's inline policy ``make_document(table_arn,
    destination_arn)``. ``probes``: ``(action, resource)`` pairs evaluated on the role, where
    ``resource`` may contain ``{table}``, ``{stream}`` and ``{destination}``."""
    return _pipeline(None, True, make_document, tuple(probes))


@functools.lru_cache(maxsize=256)
def _pipeline(document_json, send_allowed=True, make_document=None,
              probes=()) -> DestinationResult:
    """Run the DynamoDB -> function (fails) -> SQS destination pipeline with the role's inline
    policy ``document_json`` (None: ``make_document`` or :func:`destination_policy`)."""
    from esmlab import Lab
    from esmlab.permissions import allowed

    began = time.perf_counter()
    lab = Lab(seed=0)
    try:
        ddb, sqs, lam, iam = (lab.client(s) for s in ("dynamodb", "sqs", "lambda", "iam"))
        table, stream = make_table(ddb)
        target = sqs.create_queue(QueueName="orders-failures")["QueueUrl"]
        target_arn = queue_arn(sqs, target)
        if document_json is not None:
            document = json.loads(document_json)
        elif make_document is not None:
            document = make_document(table, target_arn)
        else:
            document = destination_policy(table, target_arn, send_allowed)
        role = make_role(iam, inline={"mapping": document})
        names = {"table": table, "stream": stream, "destination": target_arn}
        answers = tuple((action, where.format(**names), allowed(role, action, where.format(**names)))
                        for action, where in probes)

        def handler(event, context):
            raise RuntimeError("the orders database is down")

        lab.function(FUNCTION, handler, timeout=10, duration=1.0, role=role)
        try:
            uuid = lam.create_event_source_mapping(
                FunctionName=FUNCTION, EventSourceArn=stream, StartingPosition="TRIM_HORIZON",
                MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": target_arn}},
            )["UUID"]
        except lam.exceptions.ClientError as exc:
            return DestinationResult(send_allowed, False, (), None, 0, 0.0,
                                     time.perf_counter() - began, answers,
                                     exc.response["Error"]["Message"], document)
        lab.clock.at(3, lambda: ddb.put_item(TableName="orders", Item={"id": {"S": "order-1"}}))
        with contextlib.redirect_stdout(io.StringIO()):  # the failures are the point: no notice
            lab.run(until=60)
        events = tuple((e.t, e.outcome, e.detail.get("reason"))
                       for e in lab.trace.of("destination"))
        found = sqs.receive_message(QueueUrl=target, MaxNumberOfMessages=10).get("Messages", [])
        stats = lab.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="DestinationDeliveryFailures",
            Dimensions=[{"Name": "FunctionName", "Value": FUNCTION}],
            StartTime=lab.datetime() - _minutes(5), EndTime=lab.datetime(), Period=60,
            Statistics=["Sum"])["Datapoints"]
        return DestinationResult(send_allowed, True, events, lab.stream_conservation(uuid),
                                 len(found), sum(p["Sum"] for p in stats),
                                 time.perf_counter() - began, answers, None, document)
    finally:
        lab.close()


def _minutes(n):
    import datetime as dt

    return dt.timedelta(minutes=n)
