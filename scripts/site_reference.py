"""The site's reference pages, generated from esmlab's data modules and from a tiny lab run.

    python scripts/site_reference.py OUTDIR      # writes OUTDIR/reference/*.md (for a look)

mkdocs calls :func:`pages` through scripts/site_hooks.py at every build. Nothing in these pages
is typed twice: ranges, defaults, messages, IAM actions and metric names come from
``esmlab.limits``, ``esmlab.mapping_api``, ``esmlab.mapping``, ``esmlab.permissions``,
``esmlab.metrics``, ``esmlab.filtering`` and ``esmlab.streams.destinations``; defaults, event payloads,
destination payloads and API errors come from running the simulator (a few simulated seconds).
If the simulator stops producing what a page states (an error that is no longer raised, a
stimulus that now succeeds), the build fails instead of publishing a page that disagrees.

What *is* written here is the list of sources (the AWS pages) next to each row,
and the short explanations around the tables.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from botocore.exceptions import ClientError

from esmlab import (
    Lab,
    cloudwatch,
    filtering,
    limits,
    mapping,
    mapping_api,
    metrics,
    permissions,
)
from esmlab.streams import destinations

# --- sources (AWS pages) --------------------------------------------------------------------

API = limits.API
SQS_PARAMS = limits.SQS_PARAMS
SQS_SCALING = limits.SQS_SCALING
PROVISIONED = limits.PROVISIONED
PROVISIONED_LAUNCH = limits.PROVISIONED_LAUNCH
SQS_CONFIGURE = limits.SQS_CONFIGURE
KINESIS_PARAMS = "https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html"
DDB_PARAMS = "https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html"
KINESIS_ONFAILURE = "https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html"
DDB_ERRORS = "https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html"
KINESIS_WINDOWS = "https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html"
FILTERING = filtering.DOCS
METRICS = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html"
INVOCATION = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html"
WITH_KINESIS = "https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html"
WITH_DDB = "https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html"
KINESIS_CREATE = "https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-create.html"
KINESIS_PARTIAL = "https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html"
SQS_ERRORS = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"
MANAGED = "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/"
DDB_IAM = ("https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
           "iam-policy-example-lamda-process-dynamodb-streams.html")
DDB_STREAMS_API = ("https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/"
                   "API_Operations_Amazon_DynamoDB_Streams.html")
SQS_METRICS = ("https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
               "sqs-available-cloudwatch-metrics.html")
KINESIS_MONITORING = "https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html"
RECORDED = "observed behaviour of the AWS API (recorded 2025)"

SOURCES = ("SQS standard", "SQS FIFO", "Kinesis", "DynamoDB Streams")

NOTE = (
    '!!! info "Generated from the simulator"\n'
    "    This page is written at build time by `scripts/site_reference.py` from esmlab's data "
    "modules{extra}. The simulator validates, invokes and reports with the same values, so "
    "this page and the labs cannot disagree.\n"
)


#: Short link texts, so that the tables stay narrow.
SHORT = {
    API: "API reference",
    SQS_PARAMS: "SQS parameters",
    SQS_SCALING: "SQS scaling",
    PROVISIONED: "ProvisionedPollerConfig",
    PROVISIONED_LAUNCH: "provisioned mode launch post",
    SQS_CONFIGURE: "SQS configure",
    KINESIS_PARAMS: "Kinesis parameters",
    DDB_PARAMS: "DynamoDB parameters",
    KINESIS_ONFAILURE: "Kinesis on-failure",
    DDB_ERRORS: "DynamoDB errors",
    KINESIS_WINDOWS: "tumbling windows",
    FILTERING: "event filtering",
    METRICS: "Lambda metrics",
    INVOCATION: "how Lambda processes records",
    WITH_KINESIS: "Lambda with Kinesis",
    WITH_DDB: "Lambda with DynamoDB",
    KINESIS_CREATE: "Kinesis create",
    KINESIS_PARTIAL: "Kinesis partial batch",
    SQS_ERRORS: "SQS error handling",
    MANAGED: "AWS managed policies",
    DDB_IAM: "DynamoDB Streams IAM policy",
    DDB_STREAMS_API: "DynamoDB Streams API",
    SQS_METRICS: "SQS metrics",
    KINESIS_MONITORING: "Kinesis monitoring",
}

#: Front matter of every generated page: no right-hand table of contents, so wide tables fit.
FRONT = "---\nhide:\n  - toc\n---\n\n"


def link(url: str, text: str | None = None) -> str:
    if not url.startswith("http"):
        return url
    if text is None:
        text = SHORT.get(url) or url.rsplit("/", 1)[-1].removesuffix(".html") or url
    return f"[{text}]({url})"


def sources(*urls: str) -> str:
    return ", ".join(link(u) for u in urls)


def code(value) -> str:
    if isinstance(value, str):
        return f"`{value}`"
    return f"`{json.dumps(value)}`"


def number(value: int) -> str:
    return f"{value:,}"


def fence(obj, lang="json") -> str:
    return f"```{lang}\n{json.dumps(obj, indent=2)}\n```\n"


# --- a tiny account the pages are generated from ---------------------------------------------


class Account:
    """A lab with one of each source, used to read defaults, events, payloads and errors."""

    def __init__(self, seed: int = 11):
        self.lab = Lab(seed=seed)
        self.sqs = self.lab.client("sqs")
        self.lam = self.lab.client("lambda")
        self.kinesis = self.lab.client("kinesis")
        self.ddb = self.lab.client("dynamodb")
        self.events: dict[str, list] = {}

    def close(self):
        self.lab.close()

    def collector(self, name, timeout=10, **options):
        seen = self.events.setdefault(name, [])
        self.lab.function(name, lambda event, context: seen.append(event), timeout=timeout,
                          **options)
        return seen

    def queue(self, name, **attributes):
        attrs = {"VisibilityTimeout": "60"}
        if name.endswith(".fifo"):
            attrs["FifoQueue"] = "true"
        attrs.update({k: str(v) for k, v in attributes.items()})
        url = self.sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        return url, arn

    def stream(self, name="telemetry"):
        self.kinesis.create_stream(StreamName=name, ShardCount=1)
        return self.kinesis.describe_stream_summary(StreamName=name)[
            "StreamDescriptionSummary"]["StreamARN"]

    def table(self, name="orders"):
        response = self.ddb.create_table(
            TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        return response["TableDescription"]["LatestStreamArn"]

    def create(self, **params):
        """(response, None) or (None, (code, HTTP status, message))."""
        try:
            return self.lam.create_event_source_mapping(**params), None
        except ClientError as error:
            return None, (error.response["Error"]["Code"],
                          error.response["ResponseMetadata"]["HTTPStatusCode"],
                          error.response["Error"]["Message"])


def _clean(response: dict) -> dict:
    response = dict(response)
    response.pop("ResponseMetadata", None)
    return response


def default_responses() -> dict[str, dict]:
    """Create one mapping per source with only the required parameters; return the responses."""
    acc = Account()
    try:
        acc.collector("fn")
        _, sqs_arn = acc.queue("orders")
        _, fifo_arn = acc.queue("orders.fifo")
        stream_arn = acc.stream()
        table_arn = acc.table()
        out = {}
        for label, arn, extra in (
            ("SQS standard", sqs_arn, {}),
            ("SQS FIFO", fifo_arn, {}),
            ("Kinesis", stream_arn, {"StartingPosition": "LATEST"}),
            ("DynamoDB Streams", table_arn, {"StartingPosition": "LATEST"}),
        ):
            response, error = acc.create(FunctionName="fn", EventSourceArn=arn, **extra)
            if error:
                raise RuntimeError(f"default mapping for {label} was rejected: {error}")
            out[label] = _clean(response)
        return out
    finally:
        acc.close()


# --- parameters --------------------------------------------------------------------------------


def _range(param: str) -> str:
    low, high = limits.RANGES[param]
    return f"{number(low)}–{number(high)}"


def parameters_page() -> str:
    defaults = default_responses()
    sqs, fifo, kin, ddb = (defaults[s] for s in SOURCES)
    stream_only = set(mapping_api.STREAM_ONLY)
    not_simulated = set(mapping_api.NOT_SIMULATED)

    def default(resp, key):
        return f"default {code(resp[key])}" if key in resp else "absent from the response"

    def stream_cell(param, resp):
        return f"{_range(param)}; {default(resp, param)}"

    positions = ", ".join(code(p) for p in mapping_api.STARTING_POSITIONS)
    ddb_positions = ", ".join(code(p) for p in mapping_api.STARTING_POSITIONS
                              if p != "AT_TIMESTAMP")
    na = "n/a (rejected)"
    rows = [
        ("BatchSize",
         f"{_range('BatchSize')}; default {code(sqs['BatchSize'])}",
         f"1–{limits.FIFO_MAX_BATCH_SIZE}; default {code(fifo['BatchSize'])}",
         stream_cell("BatchSize", kin), stream_cell("BatchSize", ddb),
         sources(API, SQS_PARAMS, KINESIS_PARAMS, DDB_PARAMS)),
        ("MaximumBatchingWindowInSeconds",
         (f"{_range('MaximumBatchingWindowInSeconds')} s; "
         f"{default(sqs, 'MaximumBatchingWindowInSeconds')}"),
         "cannot be set (rejected)",
         stream_cell("MaximumBatchingWindowInSeconds", kin),
         stream_cell("MaximumBatchingWindowInSeconds", ddb),
         sources(API, SQS_PARAMS)),
        ("StartingPosition", na, na, f"required: {positions}",
         f"required: {ddb_positions} (`AT_TIMESTAMP` is rejected)",
         sources(API, DDB_PARAMS) + f"; {RECORDED}"),
        ("ParallelizationFactor", na, na, stream_cell("ParallelizationFactor", kin),
         stream_cell("ParallelizationFactor", ddb), sources(KINESIS_PARAMS, DDB_PARAMS)),
        ("BisectBatchOnFunctionError", na, na, default(kin, "BisectBatchOnFunctionError"),
         default(ddb, "BisectBatchOnFunctionError"), sources(API)),
        ("MaximumRetryAttempts", f"{na}: the queue's `maxReceiveCount` does this job", na,
         stream_cell("MaximumRetryAttempts", kin) + " (-1 = no limit)",
         stream_cell("MaximumRetryAttempts", ddb),
         sources(KINESIS_PARAMS, DDB_PARAMS)),
        ("MaximumRecordAgeInSeconds", f"{na}: queue retention does this job", na,
         stream_cell("MaximumRecordAgeInSeconds", kin) + " (-1 = no age limit)",
         stream_cell("MaximumRecordAgeInSeconds", ddb), sources(API)),
        ("TumblingWindowInSeconds", na, na, stream_cell("TumblingWindowInSeconds", kin),
         stream_cell("TumblingWindowInSeconds", ddb), sources(KINESIS_WINDOWS, DDB_PARAMS)),
        ("DestinationConfig.OnFailure", "not supported (use a redrive DLQ on the queue)",
         "not supported",
         "ARN of a standard " + ", ".join(mapping_api.DESTINATION_SERVICES).replace(
             "sqs", "SQS queue").replace("sns", "SNS topic").replace("s3", "S3 bucket"),
         "same as Kinesis", sources(KINESIS_ONFAILURE, DDB_ERRORS)),
        ("DestinationConfig.OnSuccess", "rejected", "rejected", "rejected", "rejected",
         sources(API) + f"; {RECORDED}"),
        ("FunctionResponseTypes",
         f'`[]` or `["ReportBatchItemFailures"]`; {default(sqs, "FunctionResponseTypes")}',
         "same", "same", "same", sources(API)),
        ("FilterCriteria",
         (f"up to {filtering.MAX_FILTERS} filters (quota, can be raised to "
         f"{filtering.MAX_FILTERS_RAISED}); each `Pattern` at most "
         f"{number(filtering.MAX_PATTERN_LENGTH)} characters"), "same", "same", "same",
         sources(FILTERING)),
        ("ScalingConfig.MaximumConcurrency",
         f"{_range('ScalingConfig.MaximumConcurrency')}; absent unless set",
         (f"{_range('ScalingConfig.MaximumConcurrency')}; at most the number of message groups "
         "in effect"), na, na, sources(SQS_SCALING)),
        ("MetricsConfig.Metrics", '`["EventCount"]`', "same", "same", "same", sources(METRICS)),
    ]
    for param, default_value in (("MinimumPollers", limits.SQS_DEFAULT_MINIMUM_POLLERS),
                                 ("MaximumPollers", limits.SQS_DEFAULT_MAXIMUM_POLLERS)):
        high = limits.RANGES[f"ProvisionedPollerConfig.{param}"][1]
        rows.append((f"ProvisionedPollerConfig.{param}",
                     (f"{limits.SQS_MIN_POLLERS}–{number(high)}; default {default_value} "
                      "(provisioned mode; absent unless set)"),
                     "same (the docs do not exclude FIFO)", na, na,
                     sources(PROVISIONED, SQS_SCALING)))
    for param in sorted(not_simulated):
        rows.append((param, "optional in AWS; **not simulated by esmlab**", "same", "same",
                     "same", sources(API)))
    for param, *_ in rows:
        base = param.split(".")[0]
        assert base in mapping.SQS_KEYS or base in mapping.STREAM_KEYS or base in not_simulated \
            or base in ("DestinationConfig",) or param in stream_only, param
    lines = [
        "# Parameters",
        "",
        NOTE.format(extra=" (`esmlab.limits`, `esmlab.mapping_api`, `esmlab.filtering`) and the "
                    "responses of mappings created in a tiny simulated account"),
        ("Every parameter of `CreateEventSourceMapping` that applies to SQS, Kinesis or DynamoDB "
        "Streams, per source. *n/a (rejected)*: the parameter does not apply to that source, and "
        "the simulator rejects it."),
        "",
        "## Parameter matrix",
        "",
        "| Parameter | " + " | ".join(SOURCES) + " | Sources |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| `{row[0]}` | " + " | ".join(row[1:]) + " |")
    lines += [
        "",
        ("Numeric ranges are the API model's (`esmlab.limits.RANGES`). Values outside them are "
        "rejected with a `ValidationException` (see [Mapping API errors](errors.md))."),
        "",
        "## Cross-parameter rules",
        "",
        "| Rule | What the simulator does | Sources |",
        "|---|---|---|",
        (f"| SQS: `BatchSize` above {limits.SQS_MAX_BATCH_WITHOUT_WINDOW} needs "
        f"`MaximumBatchingWindowInSeconds` ≥ 1 | rejects with *{limits.MESSAGES['V1']}* (V1) "
        f"| {sources(API)}; {RECORDED} |"),
        (f"| SQS FIFO: `BatchSize` at most {limits.FIFO_MAX_BATCH_SIZE}, no batching window | "
        f"rejects (AWS's message is not recorded; esmlab words its own, marked `[esmlab]`) | "
        f"{sources(SQS_PARAMS)} |"),
        (f"| 6 MB payload cap | closes a batch before its payload would exceed "
        f"{number(limits.PAYLOAD_LIMIT_BYTES)} bytes, so it can hold fewer than `BatchSize` "
        f"records | {sources(INVOCATION, SQS_CONFIGURE)} |"),
        (f"| Function timeout longer than the queue's visibility timeout | rejects (message not "
        f"recorded) | {sources(SQS_CONFIGURE)} |"),
        (f"| One mapping per source and function | a second one is a `ResourceConflictException` "
        f"(V8, V9) | {RECORDED} |"),
        ("| SQS: `ScalingConfig.MaximumConcurrency` and `ProvisionedPollerConfig` are mutually "
        "exclusive | rejects both together (message not recorded; esmlab words its own, marked "
        f"`[esmlab]`) | {sources(SQS_SCALING)} |"),
        "",
        "## SQS scaling constants",
        "",
        "| Constant | Value | Sources |",
        "|---|---|---|",
        (f"| concurrent batches when messages appear | {limits.SQS_START_CONCURRENCY} | "
        f"{sources(SQS_SCALING)} |"),
        (f"| scale-up rate, concurrent invokes per minute | up to {limits.SQS_SCALE_UP_PER_MINUTE}"
        f" | {sources(SQS_SCALING)} |"),
        (f"| default ceiling per mapping | {number(limits.SQS_MAX_CONCURRENCY)} | "
        f"{sources(SQS_SCALING)} |"),
        (f"| lowest poller count at low traffic (not when `MaximumConcurrency` is set) | "
        f"{limits.SQS_IDLE_CONCURRENCY} | {sources(SQS_SCALING)} |"),
        (f"| provisioned mode: concurrent invokes one event poller drives | "
        f"up to {limits.POLLER_CONCURRENCY} | {sources(SQS_SCALING)} |"),
        (f"| provisioned mode: scale-up rate, concurrency per minute | up to "
        f"{number(limits.PROVISIONED_SCALE_UP_PER_MINUTE)} | "
        f"{sources(SQS_SCALING, PROVISIONED_LAUNCH)} |"),
        (f"| provisioned mode: highest concurrency | "
        f"{number(limits.PROVISIONED_MAX_CONCURRENCY)} | "
        f"{sources(SQS_SCALING, PROVISIONED_LAUNCH)} |"),
        (f"| longest `ReceiveMessage` wait (long polling) | {limits.SQS_LONG_POLL_SECONDS} s | "
        "[API_ReceiveMessage](https://docs.aws.amazon.com/AWSSimpleQueueService/latest/"
        "APIReference/API_ReceiveMessage.html) |"),
        "",
        ("How fast the simulator steps between these numbers is a **MODELLING CHOICE** (M4, and "
        "M4-P in provisioned mode): see "
        "[How the simulator works](../simulator.md)."),
        "",
        "## The response of a new mapping",
        "",
        ("The keys and defaults `CreateEventSourceMapping` returns when only the required "
        "parameters are given (key order as in `esmlab.mapping.SQS_KEYS` and `STREAM_KEYS`). "
        f"Source: {RECORDED}; {link(API)}."),
        "",
    ]
    skip = {"UUID", "EventSourceArn", "FunctionArn", "LastModified", "EventSourceMappingArn"}
    keys = [k for k in mapping.STREAM_KEYS if k not in skip]
    keys += [k for k in mapping.SQS_KEYS if k not in keys and k not in skip]
    lines += ["| Key | " + " | ".join(SOURCES) + " |", "|---|---|---|---|---|"]
    for key in keys:
        cells = [code(defaults[s][key]) if key in defaults[s] else "absent" for s in SOURCES]
        lines.append(f"| `{key}` | " + " | ".join(cells) + " |")
    lines += [
        "",
        ("Every response also has `UUID`, `EventSourceArn`, `FunctionArn`, `LastModified` and "
        "`EventSourceMappingArn` "
        "(`arn:aws:lambda:<region>:<account>:event-source-mapping:<UUID>`). "
        "A new mapping answers `Creating` at once and settles to `Enabled`; how long that takes "
        "in the simulator (2 simulated seconds) is a MODELLING CHOICE (M8)."),
        "",
    ]
    return "\n".join(lines)


# --- event payloads ------------------------------------------------------------------------------


def captured_events() -> dict[str, dict]:
    acc = Account(seed=3)
    try:
        sqs_seen = acc.collector("orders-fn")
        fifo_seen = acc.collector("orders-fifo-fn")
        kin_seen = acc.collector("telemetry-fn")
        ddb_seen = acc.collector("ddb-fn")
        url, arn = acc.queue("orders")
        furl, farn = acc.queue("orders.fifo")
        stream = acc.stream()
        table = acc.table()
        acc.create(FunctionName="orders-fn", EventSourceArn=arn)
        acc.create(FunctionName="orders-fifo-fn", EventSourceArn=farn)
        acc.create(FunctionName="telemetry-fn", EventSourceArn=stream,
                   StartingPosition="TRIM_HORIZON")
        acc.create(FunctionName="ddb-fn", EventSourceArn=table, StartingPosition="TRIM_HORIZON",
                   BatchSize=10)
        acc.lab.run(until=3)
        acc.sqs.send_message(
            QueueUrl=url, MessageBody=json.dumps({"orderId": 1001, "status": "NEW"}),
            MessageAttributes={"Channel": {"StringValue": "web", "DataType": "String"},
                               "Priority": {"StringValue": "2", "DataType": "Number"}})
        acc.sqs.send_message(QueueUrl=furl, MessageBody=json.dumps({"orderId": 2002}),
                             MessageGroupId="customer-42",
                             MessageDeduplicationId="order-2002-paid")
        acc.kinesis.put_record(StreamName="telemetry", PartitionKey="sensor-t-1",
                               Data=b'{"sensor": "t-1", "temp": 21.5}')
        acc.ddb.put_item(TableName="orders", Item={"id": {"S": "id_value"}})
        acc.ddb.put_item(TableName="orders", Item={"id": {"S": "id_value"},
                                                   "new_attribute": {"S": "xyz"}})
        acc.lab.run(until=30)
        ddb_records = [r for e in ddb_seen for r in e["Records"]]
        out = {
            "sqs": sqs_seen[0],
            "fifo": fifo_seen[0],
            "kinesis": kin_seen[0],
            "dynamodb": {"Records": ddb_records},
        }
        for name, event in out.items():
            if not event.get("Records"):
                raise RuntimeError(f"the tiny lab delivered no {name} event")
        return out
    finally:
        acc.close()


def events_page() -> str:
    events = captured_events()
    fifo_attrs = events["fifo"]["Records"][0]["attributes"]
    return "\n".join([
        "# Event payloads",
        "",
        NOTE.format(extra=": every event below is what a handler received in a tiny simulated "
                    "run during the build (same seed, same event)"),
        ("Every event is `{\"Records\": [...]}`, one record per message or stream record, keys "
        f"in the recorded order. Sources: {RECORDED}; field lists also at {link(WITH_KINESIS)} "
        f"and {link(WITH_DDB)}. IDs, hashes and timestamps are the simulator's (simulated time "
        "starts at 2025-01-01T00:00:00Z); their formats match the recorded ones."),
        "",
        "## SQS standard queue",
        "",
        "A message sent with two message attributes:",
        "",
        fence(events["sqs"]),
        "* All `attributes` values are strings; `body` is the string that was sent, unchanged.",
        ("* `receiptHandle` is opaque and changes on every receive; `ApproximateReceiveCount` goes "
        f"up by one on each receive ({link(SQS_ERRORS)}; {RECORDED})."),
        ("* With no message attributes, `messageAttributes` is `{}` and `md5OfMessageAttributes` "
        "is `null` or absent (both were recorded)."),
        "",
        "## SQS FIFO queue",
        "",
        "The same record shape, with three more `attributes`:",
        "",
        fence({"attributes": fifo_attrs}),
        "## Kinesis Data Streams",
        "",
        fence(events["kinesis"]),
        ("* `data` is base64 of the exact bytes written (here `{\"sensor\": \"t-1\", \"temp\": "
        "21.5}`); `approximateArrivalTimestamp` is a float, epoch seconds."),
        ("* `eventID` is `<shardId>:<sequenceNumber>`; `invokeIdentityArn` is the function's "
        "execution role."),
        "",
        "## DynamoDB Streams (`NEW_AND_OLD_IMAGES`): INSERT, then MODIFY",
        "",
        fence(events["dynamodb"]),
        ("* An INSERT has no `OldImage`; `eventName` is `INSERT`, `MODIFY` or `REMOVE`; there is "
        "no `invokeIdentityArn`."),
        ("* `SizeBytes` is not documented; the simulator's rule (names plus values over `Keys`, "
        "`NewImage`, `OldImage`) is a **MODELLING CHOICE** (M7) that reproduces the recorded "
        "20 and 46."),
        "",
        "## Partial batch response (returned by your function)",
        "",
        ("With `FunctionResponseTypes: [\"ReportBatchItemFailures\"]`, a function reports the "
        "records that failed:"),
        "",
        fence({"batchItemFailures": [
            {"itemIdentifier": events["sqs"]["Records"][0]["messageId"]}]}),
        ("The identifier is the SQS `messageId`, the Kinesis `kinesis.sequenceNumber` or the "
        f"DynamoDB `dynamodb.SequenceNumber` ({link(SQS_ERRORS)}, {link(KINESIS_PARTIAL)}). "
        "Lambda reads this only when the mapping has `ReportBatchItemFailures`; how the "
        "simulator classifies each response shape is in `esmlab.batch_response`."),
        "",
    ])


# --- on-failure destinations ---------------------------------------------------------------------


def captured_failures() -> dict:
    """Kinesis and DynamoDB failure records as delivered to an SQS queue and to S3."""
    acc = Account(seed=5)
    try:
        def fail(event, context):
            raise RuntimeError("always fails")

        acc.lab.function("telemetry-fn", fail, timeout=10, duration=0.1)
        acc.lab.function("ddb-fn", fail, timeout=10, duration=0.1)
        acc.lab.function("aged-fn", fail, timeout=10, duration=0.1)
        acc.lab.function("s3-fn", fail, timeout=10, duration=0.1)
        acc.lab.function("sns-fn", fail, timeout=10, duration=0.1)
        furl, farn = acc.queue("esm-failures")
        sns = acc.lab.client("sns")
        topic = sns.create_topic(Name="esm-failures")["TopicArn"]
        surl, sarn = acc.queue("topic-subscriber")
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sarn)
        sns_stream = acc.stream("notified")
        s3 = acc.lab.client("s3")
        s3.create_bucket(Bucket="esm-failures")
        stream = acc.stream()
        aged_stream = acc.stream("aged")
        s3_stream = acc.stream("archive")
        table = acc.table()
        dest = {"OnFailure": {"Destination": farn}}
        for fn, arn, extra in (
            ("telemetry-fn", stream, {"MaximumRetryAttempts": 1}),
            ("ddb-fn", table, {"MaximumRetryAttempts": 1}),
            ("aged-fn", aged_stream, {"MaximumRecordAgeInSeconds": 60}),
            ("s3-fn", s3_stream, {"MaximumRetryAttempts": 0, "DestinationConfig": {
                "OnFailure": {"Destination": "arn:aws:s3:::esm-failures"}}}),
            ("sns-fn", sns_stream, {"MaximumRetryAttempts": 0, "DestinationConfig": {
                "OnFailure": {"Destination": topic}}}),
        ):
            params = {"DestinationConfig": dest, **extra}
            _, error = acc.create(FunctionName=fn, EventSourceArn=arn,
                                  StartingPosition="TRIM_HORIZON", **params)
            if error:
                raise RuntimeError(f"destination mapping for {fn} was rejected: {error}")
        acc.kinesis.put_record(StreamName="telemetry", PartitionKey="sensor-t-1",
                               Data=b'{"sensor": "t-1", "temp": 21.5}')
        acc.kinesis.put_record(StreamName="aged", PartitionKey="sensor-t-2",
                               Data=b'{"sensor": "t-2", "temp": 19.0}')
        acc.kinesis.put_record(StreamName="archive", PartitionKey="sensor-t-3",
                               Data=b'{"sensor": "t-3", "temp": 18.5}')
        acc.kinesis.put_record(StreamName="notified", PartitionKey="sensor-t-4",
                               Data=b'{"sensor": "t-4", "temp": 17.5}')
        acc.ddb.put_item(TableName="orders", Item={"id": {"S": "id_value"}})
        acc.lab.run(until=180)
        bodies = []
        while True:
            got = acc.sqs.receive_message(QueueUrl=furl, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                break
            bodies += [json.loads(m["Body"]) for m in got["Messages"]]
        by = {}
        for body in bodies:
            info_key = "KinesisBatchInfo" if "KinesisBatchInfo" in body else "DDBStreamBatchInfo"
            info = body[info_key]
            condition = body["requestContext"]["condition"]
            name = info["streamArn"].rsplit("/", 1)[-1] if info_key == "KinesisBatchInfo" else "ddb"
            by[(name, condition)] = body
        objects = s3.list_objects_v2(Bucket="esm-failures").get("Contents", [])
        if len(objects) != 1:
            raise RuntimeError(f"expected one S3 failure object, found {len(objects)}")
        key = objects[0]["Key"]
        s3_body = json.loads(s3.get_object(Bucket="esm-failures", Key=key)["Body"].read())
        wanted = {
            "kinesis": ("telemetry", "RetryAttemptsExhausted"),
            "dynamodb": ("ddb", "RetryAttemptsExhausted"),
            "aged": ("aged", "RecordAgeExceeded"),
        }
        out = {}
        for label, want in wanted.items():
            if want not in by:
                raise RuntimeError(f"no {want} failure record reached the SQS destination")
            out[label] = by[want]
        out["s3_key"], out["s3"] = key, s3_body
        got = acc.sqs.receive_message(QueueUrl=surl, MaxNumberOfMessages=10).get("Messages", [])
        if len(got) != 1:
            raise RuntimeError(f"expected one SNS notification, found {len(got)}")
        out["sns"] = json.loads(got[0]["Body"])
        return out
    finally:
        acc.close()


def destinations_page() -> str:
    got = captured_failures()
    rows = []
    for kind, actions in permissions.DESTINATION_ACTIONS.items():
        what = {"sqs": "the failure record (metadata only) as the message body",
                "sns": "the same JSON, as the notification's `Message`",
                "s3": "the failure record plus the full invocation event (`payload`)"}[kind]
        target = {"sqs": "standard SQS queue", "sns": "standard SNS topic",
                  "s3": "S3 bucket"}[kind]
        src = {"sqs": KINESIS_ONFAILURE, "sns": DDB_ERRORS, "s3": KINESIS_ONFAILURE}[kind]
        rows.append(f"| {target} | {what} | " + ", ".join(code(a) for a in actions)
                    + f" | {link(src)} |")
    batch_keys = ", ".join(f"{s}: `{k}`" for s, k in destinations.BATCH_INFO_KEY.items())
    return "\n".join([
        "# On-failure destination payloads",
        "",
        NOTE.format(extra=" (`esmlab.streams.destinations`, `esmlab.permissions`): each record below "
                    "was delivered by the simulator during the build, from a function that "
                    "always fails"),
        ("Kinesis and DynamoDB Streams mappings can send a record of a **discarded** batch to an "
        "on-failure destination: only when the retry limit (`MaximumRetryAttempts`), the age "
        "limit (`MaximumRecordAgeInSeconds`) or the stream's retention discards it. SQS mappings "
        "have no on-failure destination: use a redrive policy (dead-letter queue) on the queue "
        f"({link(KINESIS_ONFAILURE)}, {link(SQS_CONFIGURE)})."),
        "",
        "| Destination | What arrives | Actions the execution role needs | Source |",
        "|---|---|---|---|",
        *rows,
        "",
        ("A bucket encrypted with a KMS key also needs `kms:GenerateDataKey`. FIFO queues and "
        "FIFO topics are not supported as destinations: delivery fails and is counted in "
        f"`DestinationDeliveryFailures` ({link(KINESIS_ONFAILURE)}, {link(METRICS)})."),
        "",
        (f"Conditions: {', '.join(code(c) for c in destinations.CONDITIONS)}. Batch-info key: "
        f"{batch_keys}."),
        "",
        "## Kinesis, `RetryAttemptsExhausted` (SQS destination: the message body)",
        "",
        ("`MaximumRetryAttempts` 1 and a function that always raises: 2 invocations, then this "
        "record. `approximateInvokeCount` is MRA + 1 when every attempt fails; `statusCode` is "
        "200 even though the function raised; `functionError` is `\"Unhandled\"` after a raised "
        f"error and `null` after an invalid partial response ({RECORDED})."),
        "",
        fence(got["kinesis"]),
        "## DynamoDB Streams, `RetryAttemptsExhausted`",
        "",
        ("The batch-info key is `DDBStreamBatchInfo`, and its arrival times have **no "
        f"milliseconds**, while the top-level `timestamp` keeps them ({RECORDED})."),
        "",
        fence(got["dynamodb"]),
        "## Kinesis, `RecordAgeExceeded`",
        "",
        ("`MaximumRecordAgeInSeconds` 60 and a function that always raises. There is no "
        "`responseContext`. How many invocations happen before the record is too old depends on "
        "the retry timing, which AWS does not document: the simulator's backoff is a "
        "**MODELLING CHOICE** (M5)."),
        "",
        fence(got["aged"]),
        "## S3 destination",
        "",
        ("One object per discarded batch, under a key of the form "
        "`aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>`:"),
        "",
        f"```\n{got['s3_key']}\n```\n",
        ("The body is the failure record plus `payload`, the invocation event as the function "
        "received it. AWS's documentation describes `payload` as an escaped JSON string; the "
        "recording showed the `{\"Records\": [...]}` structure, which is what the simulator "
        f"writes ({link(KINESIS_ONFAILURE)}; {RECORDED})."),
        "",
        fence(got["s3"]),
        "## SNS destination",
        "",
        ("The failure record, serialised as a JSON string, is the notification's `Message` "
        f"({link(DDB_ERRORS)}; {RECORDED}). As an SQS queue subscribed to the topic receives it "
        "(`MaximumRetryAttempts` 0, a function that always raises), the envelope's other fields "
        "(`MessageId`, `Timestamp`, `SignatureVersion`, `Signature`, `SigningCertURL`, "
        "`UnsubscribeURL`) left out: they are SNS's own, and the simulator's SNS is moto's."),
        "",
        fence({key: got["sns"][key] for key in ("Type", "TopicArn", "Message")}),
    ])


# --- errors --------------------------------------------------------------------------------------


def _stimuli(acc: Account):
    """(id, stimulus, call) for each recorded error (recorded 2025)."""
    acc.collector("fn")
    acc.collector("other-fn")
    _, sqs_arn = acc.queue("orders")
    stream = acc.stream()
    table = acc.table()
    iam = acc.lab.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    bare = iam.create_role(RoleName="no-permissions", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    acc.lab.function("bare-fn", lambda e, c: None, timeout=10, role=bare)
    first, _ = acc.create(FunctionName="fn", EventSourceArn=sqs_arn)
    acc.create(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")
    missing_queue = sqs_arn.replace(":orders", ":no-such-queue")
    missing_stream = stream.replace("stream/telemetry", "stream/no-such-stream")
    c = acc.create
    return [
        ("V1", "SQS mapping with `BatchSize` 11 and no window",
         lambda: c(FunctionName="other-fn", EventSourceArn=sqs_arn, BatchSize=11)),
        ("V2", "Kinesis or DynamoDB mapping without `StartingPosition`",
         lambda: c(FunctionName="other-fn", EventSourceArn=stream)),
        ("V3", "`StartingPosition` `\"invalid\"`",
         lambda: c(FunctionName="other-fn", EventSourceArn=stream, StartingPosition="invalid")),
        ("V4", "DynamoDB stream with `AT_TIMESTAMP`",
         lambda: c(FunctionName="other-fn", EventSourceArn=table, StartingPosition="AT_TIMESTAMP",
                   StartingPositionTimestamp=1)),
        ("V5", "a filter `Pattern` that is not a valid pattern (here a scalar leaf)",
         lambda: c(FunctionName="other-fn", EventSourceArn=sqs_arn, FilterCriteria={
             "Filters": [{"Pattern": '{"eventSource": "aws:sqs"}'}]})),
        ("V6", "the SQS queue does not exist",
         lambda: c(FunctionName="other-fn", EventSourceArn=missing_queue)),
        ("V7", "the Kinesis or DynamoDB stream does not exist",
         lambda: c(FunctionName="other-fn", EventSourceArn=missing_stream,
                   StartingPosition="LATEST")),
        ("V8", "a second SQS mapping for the same function and queue",
         lambda: c(FunctionName="fn", EventSourceArn=sqs_arn)),
        ("V9", "a second stream mapping for the same function and stream",
         lambda: c(FunctionName="fn", EventSourceArn=stream, StartingPosition="LATEST")),
        ("V10", "no `EventSourceArn` (here: an ARN that is not a queue or a stream)",
         lambda: c(FunctionName="other-fn", EventSourceArn="arn:aws:s3:::a-bucket")),
        ("V11", "the function does not exist",
         lambda: c(FunctionName="no-such-fn", EventSourceArn=sqs_arn)),
        ("V12", "`DestinationConfig.OnSuccess` on an SQS mapping",
         lambda: c(FunctionName="other-fn", EventSourceArn=sqs_arn, DestinationConfig={
             "OnSuccess": {"Destination": sqs_arn}})),
        ("V13", "Get, Update or Delete of an unknown UUID",
         lambda: _get(acc, "00000000-0000-4000-8000-000000000000")),
        ("V14", "SQS mapping whose execution role cannot call `sqs:ReceiveMessage`",
         lambda: c(FunctionName="bare-fn", EventSourceArn=sqs_arn)),
        ("V15", "stream mapping whose execution role cannot read the stream",
         lambda: c(FunctionName="bare-fn", EventSourceArn=stream, StartingPosition="LATEST")),
    ], first


def _get(acc, uuid):
    try:
        return acc.lam.get_event_source_mapping(UUID=uuid), None
    except ClientError as error:
        return None, (error.response["Error"]["Code"],
                      error.response["ResponseMetadata"]["HTTPStatusCode"],
                      error.response["Error"]["Message"])


def _matches_template(template: str, message: str) -> bool:
    pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", ".+?", re.escape(template)) + "$"
    return re.match(pattern, message) is not None


def observed_errors() -> list[tuple[str, str, str, int, str]]:
    acc = Account(seed=9)
    try:
        stimuli, _ = _stimuli(acc)
        rows = []
        for ident, stimulus, call in stimuli:
            _, error = call()
            if error is None:
                raise RuntimeError(f"{ident} ({stimulus}): the simulator accepted it")
            code_, status, message = error
            if not _matches_template(limits.MESSAGES[ident], message):
                raise RuntimeError(f"{ident}: the simulator answered {message!r}, "
                                   f"not limits.MESSAGES[{ident!r}]")
            rows.append((ident, stimulus, code_, status, message))
        return rows
    finally:
        acc.close()


def errors_page() -> str:
    rows = observed_errors()
    lines = [
        "# Mapping API errors",
        "",
        NOTE.format(extra=" (`esmlab.limits.MESSAGES`, `UNRECORDED`): each error below was "
                    "raised by the simulator during the build, through a real boto3 call"),
        ("The exceptions and exact messages AWS's Lambda API returns for bad mapping requests. "
        "Catch them as `botocore.exceptions.ClientError` and read "
        "`error.response[\"Error\"][\"Code\"]` and `[\"Message\"]`. The numbers V1–V15 name "
        "the recorded errors; the simulator's docs and code use the same numbers."),
        "",
        "## Recorded AWS errors",
        "",
        (f"Source of every row: {RECORDED}; see also {link(API)}. V14 and V15 are the messages "
        "users of CloudFormation, the CDK and other tools reported in public issue trackers "
        "(for example [aws-cdk#6770](https://github.com/aws/aws-cdk/issues/6770)); V14's older "
        "wording (until about 2023) began *The provided execution role…*."),
        "",
        "| # | Stimulus | Exception | HTTP | Message (as the simulator returned it) |",
        "|---|---|---|---|---|",
    ]
    for ident, stimulus, code_, status, message in rows:
        safe = message.replace("|", "\\|")
        lines.append(f"| {ident} | {stimulus} | `{code_}` | {status} | {safe} |")
    lines += [
        "",
        ("The error body: `InvalidParameterValueException` and `ResourceConflictException` carry "
        "`{\"Error\": {\"Code\", \"Message\"}, \"Type\": \"User\", \"message\"}`; "
        "`ValidationException` only `Error.Code` and `Error.Message`; `ResourceNotFoundException` "
        f"has `Message` and `Type` ({RECORDED})."),
        "",
        "## Rejections whose AWS message was never recorded",
        "",
        ("AWS documents that these are rejected, but their exact text was not recorded. The "
        "simulator rejects them with `InvalidParameterValueException` (`response_types`: "
        "`ValidationException`, as AWS's model refuses an enum value, V3) and a message of its own "
        "that starts with `[esmlab]`, so that it is never mistaken for AWS's words."),
        "",
        "| Case | The simulator's message |",
        "|---|---|",
    ]
    for name, message in limits.UNRECORDED.items():
        shown = re.sub(r"\{(\w+)\}", r"<\1>", message).replace("|", "\\|")
        lines.append(f"| `{name}` | `{shown}` |")
    lines += [
        "",
        "## Messages known from public reports",
        "",
        ("Not recorded by us, but quoted by AWS's users in public issue trackers (numbers vary "
        "with the case), so the simulator returns them as `InvalidParameterValueException`. A "
        "function timeout longer than the queue's visibility timeout is rejected on Create and "
        f"Update ({link(SQS_CONFIGURE)}); reported for example in "
        "[winglang/wing#1507](https://github.com/winglang/wing/issues/1507) and "
        "[18F/identity-terraform#27](https://github.com/18F/identity-terraform/pull/27)."),
        "",
        "| Case | Message |",
        "|---|---|",
    ]
    for name, message in limits.REPORTED.items():
        shown = re.sub(r"\{(\w+)\}", r"<\1>", message).replace("|", "\\|")
        lines.append(f"| `{name}` | `{shown}` |")
    example = limits.range_message("BatchSize", 10_001, limits.RANGES["BatchSize"][1], True)
    lines += [
        "",
        "## Values outside the API model's ranges",
        "",
        ("A value outside a range of the [parameter matrix](parameters.md) is a "
        "`ValidationException` in Lambda's standard constraint format, recorded for another "
        "parameter; applying it to mapping parameters is an inference. For `BatchSize` 10,001:"),
        "",
        f"```\n{example}\n```\n",
    ]
    return "\n".join(lines)


# --- IAM -----------------------------------------------------------------------------------------


def iam_page() -> str:
    managed = {
        "sqs": ("`AWSLambdaSQSQueueExecutionRole`", f"{link(SQS_CONFIGURE)}, {link(MANAGED)}"),
        "kinesis": (("`AWSLambdaKinesisExecutionRole`: these plus `kinesis:ListStreams` and the "
                    "logs actions"), f"{link(KINESIS_CREATE)}, {link(MANAGED)}"),
        "dynamodb": ("`AWSLambdaDynamoDBExecutionRole`: these plus the logs actions",
                     f"{link(MANAGED)}, {link(DDB_IAM)}"),
    }
    names = {"sqs": "SQS", "kinesis": "Kinesis Data Streams", "dynamodb": "DynamoDB Streams"}
    lines = [
        "# IAM actions",
        "",
        NOTE.format(extra=" (`esmlab.permissions.required_actions` and `destination_actions`, "
                    "the lists the simulator checks a function's execution role against)"),
        "## What the execution role needs on the source",
        "",
        "| Source | Actions | AWS managed policy | Sources |",
        "|---|---|---|---|",
    ]
    for kind in permissions.SOURCE_ACTIONS:
        actions = ", ".join(code(a) for a in permissions.required_actions(kind))
        policy, src = managed[kind]
        lines.append(f"| {names[kind]} | {actions} | {policy} | {src} |")
    lines += [
        "",
        ("* A queue encrypted with a customer managed KMS key also needs `kms:Decrypt` "
        f"({link(SQS_CONFIGURE)})."),
        ("* `kinesis:ListStreams` and `kinesis:ListStreamConsumers` are needed only to pick a "
        f"stream in the console, not by the mapping ({link(KINESIS_CREATE)}). "
        "`kinesis:SubscribeToShard` is for enhanced fan-out, which the simulator does not model, "
        "so it does not require it."),
        ("* There is **no** `dynamodb:ListShards` action (a wrong name the errata correct): the "
        "DynamoDB Streams API has exactly "
        f"four operations ({link(DDB_STREAMS_API)})."),
        ("* A DynamoDB stream's resource ARN has the form "
        f"`arn:aws:dynamodb:<region>:<account>:table/<table>/stream/*` ({link(DDB_IAM)})."),
        ("* All three managed policies include `logs:CreateLogGroup`, `logs:CreateLogStream` and "
        f"`logs:PutLogEvents` ({link(MANAGED)})."),
        "",
        "## What the execution role needs on an on-failure destination",
        "",
        "| Destination | Actions | Source |",
        "|---|---|---|",
    ]
    for kind in permissions.DESTINATION_ACTIONS:
        actions = ", ".join(code(a) for a in permissions.destination_actions(kind))
        lines.append(f"| {kind.upper()} | {actions} | {link(KINESIS_ONFAILURE)} |")
    lines += [
        "",
        ("An S3 bucket encrypted with a KMS key also needs `kms:GenerateDataKey` "
        f"({link(KINESIS_ONFAILURE)})."),
        "",
        "## What a missing permission does",
        "",
        (f"`CreateEventSourceMapping` fails: on SQS with *{limits.MESSAGES['V14']}* (V14), on a "
        f"stream with *{limits.MESSAGES['V15'].format(arn='<stream-arn>')}* (V15). See "
        "[Mapping API errors](errors.md). The simulator evaluates the role's identity policies "
        "itself; what it does and does not evaluate is in `esmlab.permissions`."),
        "",
    ]
    return "\n".join(lines)


# --- metrics -------------------------------------------------------------------------------------


def _metric_meanings() -> dict[str, str]:
    """The bullet list of ``esmlab.metrics``' docstring: ``* ``Name``: meaning``."""
    meanings = {}
    for match in re.finditer(r"^\* ``(\w+)``(?: \(([^)]*)\))?: (.+?)(?=^\* |\Z)",
                             metrics.__doc__, flags=re.MULTILINE | re.DOTALL):
        name, scope, text = match.groups()
        text = " ".join(text.split())
        text = re.sub(r"``([^`]+)``", r"`\1`", text)
        meanings[name] = (scope, text)
    return meanings


def metrics_page() -> str:
    meanings = _metric_meanings()
    names = list(metrics.COUNTS) + ["IteratorAge"]
    missing = [n for n in names if n not in meanings]
    if missing:
        raise RuntimeError(f"esmlab.metrics' docstring does not describe {missing}")
    applies = {
        "DroppedEventCount": "Kinesis, DynamoDB",
        "OnFailureDestinationDeliveredEventCount": "Kinesis, DynamoDB",
        "DestinationDeliveryFailures": "Kinesis, DynamoDB (with an on-failure destination)",
        "DeletedEventCount": "SQS",
        "IteratorAge": "Kinesis, DynamoDB",
    }
    not_existing = {
        "ReceiveCount": ("an SQS metric", ("`ApproximateReceiveCount` is a message attribute, "
                         "not a metric"), SQS_METRICS),
        "Lambda.OffendingProcessIdentifier": ("a Lambda metric", "wrong: no such metric exists",
                                              METRICS),
        "an iterator-age metric for DynamoDB Streams": (
            "a DynamoDB Streams metric", ("use the Lambda `IteratorAge` metric, which covers "
            "Kinesis and DynamoDB; `GetRecords.IteratorAgeMilliseconds` is Kinesis-only"),
            KINESIS_MONITORING),
    }
    for name in not_existing:
        assert name not in names, name
    lines = [
        "# Metrics",
        "",
        NOTE.format(extra=" (`esmlab.metrics.COUNTS` and the descriptions in its docstring: "
                    "the names `esmlab.metrics.esm_metrics(trace, uuid)` computes from a trace)"),
        "## Lambda metrics the simulator computes",
        "",
        (f"Namespace `AWS/Lambda`. The event counts are opt-in on a mapping with "
        f"`MetricsConfig: {{\"Metrics\": [\"EventCount\"]}}` ({link(METRICS)})."),
        "",
        "| Metric | Applies to | Meaning |",
        "|---|---|---|",
    ]
    for name in names:
        _scope, text = meanings[name]
        unit = " (ms; the maximum per period)" if name == "IteratorAge" else ""
        lines.append(f"| `{name}` | {applies.get(name, 'SQS, Kinesis, DynamoDB')} | {text}{unit} |")
    lines += [
        "",
        (f"Source: {link(METRICS)}. `DroppedEventCount` does not count records lost to retention "
        "expiry or records sent to an on-failure destination."),
        "",
        "## What a Lab publishes into CloudWatch",
        "",
        ("While a Lab is open, these metrics are in its CloudWatch at simulated 1-minute "
         "timestamps, for the learner's own `get_metric_data` and `get_metric_statistics` "
         "(`esmlab.cloudwatch.PUBLISHED`; how each is counted: the simulator page)."),
        "",
        "| Namespace | Metric | Dimension | Unit | Published | Source |",
        "|---|---|---|---|---|---|",
        *(f"| `{ns}` | `{name}` | `{dim}` | {unit} | {when} | {link(src)} |"
          for ns, name, dim, unit, when, src in cloudwatch.PUBLISHED),
        "",
        "## Other metrics worth watching (not published by the simulator)",
        "",
        "| Metric | Namespace | Meaning | Source |",
        "|---|---|---|---|",
        ("| `ProvisionedPollers` | `AWS/Lambda` | pollers in use (SQS, provisioned mode) | "
        f"{link(METRICS)} |"),
        "",
        "## Metrics that do not exist",
        "",
        "Do not alarm on these: CloudWatch has no such metric.",
        "",
        "| Name | Looks like | What is true | Source |",
        "|---|---|---|---|",
    ]
    for name, (as_, truth, src) in not_existing.items():
        shown = f"`{name}`" if " " not in name else name
        lines.append(f"| {shown} | {as_} | {truth} | {link(src)} |")
    lines.append("")
    return "\n".join(lines)


# --- entry points --------------------------------------------------------------------------------


PAGES = {
    "reference/parameters.md": parameters_page,
    "reference/events.md": events_page,
    "reference/destinations.md": destinations_page,
    "reference/errors.md": errors_page,
    "reference/iam.md": iam_page,
    "reference/metrics.md": metrics_page,
}


def pages() -> dict[str, str]:
    """{site path: markdown} for every generated reference page."""
    return {path: FRONT + make() for path, make in PAGES.items()}


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/reference-preview")
    for path, text in pages().items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print("wrote", target)
