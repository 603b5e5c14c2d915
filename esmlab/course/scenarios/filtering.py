"""Lab 09 (Filtering): which records a mapping's ``FilterCriteria`` passes, per source.

    from esmlab.course.scenarios import filtering
    result = filtering.compare("sqs")                       # the preset patterns, side by side
    result = filtering.compare("dynamodb", [{"eventName": ["REMOVE"]}])
    result = filtering.try_pattern("kinesis", '{"data": {"temp": [{"numeric": [">", 30]}]}}')
    filtering.draw(result)

Each call is a pure function of its arguments: it opens a fresh :class:`esmlab.Lab`, creates the
source (an SQS queue per pattern, or one Kinesis stream, or one DynamoDB table with a stream),
one function and one mapping per pattern with ``FilterCriteria`` and ``MetricsConfig``, writes the
records at t = 2 s (when the mappings become ``Enabled``, M8), runs until t = 6 s and
returns a :class:`FilterResult`: for every pattern, which records reached the function, which
were filtered out, ``FilteredOutEventCount`` as read back from CloudWatch, what is left in the
queue, or the error AWS returns for an invalid pattern. Results are cached.

What the pictures rest on
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html):

* a record passes if it matches at least one of the mapping's filters;
* an SQS message that matches none is deleted from the queue; a stream's iterator moves past a
  record that matches none (the record stays in the stream, the mapping does not deliver it);
* SQS patterns on ``body`` fields match a JSON body; Kinesis patterns on ``data`` match the
  decoded JSON; DynamoDB patterns carry the attribute type (``{"S": [...]}``).

How esmlab matches patterns, and its MODELLING CHOICES for cases AWS does not document, are in
:mod:`esmlab.filtering` (docs/simulator.md, "Event filtering").

Cost: a call with six patterns takes about 0.1-0.3 s.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from dataclasses import dataclass

START = 2.0  #: the mappings become Enabled at t = 2 s (M8); every record is written then
RUN_UNTIL = 6.0
SOURCES = ("sqs", "kinesis", "dynamodb")
PASSED, FILTERED, REJECTED = "#2ca02c", "#c7c7c7", "#d62728"
LINE = 0.14  #: inches per line of the pattern list under the grid

#: The demo's SQS messages: JSON order events, a string total, and a plain-text body.
SQS_MESSAGES = (
    {"type": "order", "country": "DE", "total": 120},
    {"type": "order", "country": "US", "total": 80},
    {"type": "refund", "country": "FR", "total": 30},
    {"type": "order", "country": "FR", "total": 15, "coupon": "SPRING"},
    {"type": "order", "country": "NL", "total": "99"},
    "ping",
    {"type": "order", "country": "DE", "total": 250, "express": True},
)
#: The demo's Kinesis records: (partition key, data). ``data`` is JSON, or bytes that are not.
KINESIS_RECORDS = (
    ("sensor-1", {"sensor": "s1", "temp": 21.5}),
    ("sensor-2", {"sensor": "s2", "temp": 35.0}),
    ("sensor-3", {"sensor": "s3", "temp": 80, "alarm": "overheat"}),
    ("sensor-1", b"temp=22 (not JSON)"),
    ("sensor-2", {"sensor": "s2", "temp": -5}),
)
#: The demo's DynamoDB writes, in order: ("put", item) or ("delete", id). Items are plain values;
#: strings are written as S, numbers as N.
DYNAMODB_WRITES = (
    ("put", {"id": "p1", "status": "PENDING", "amount": 120}),
    ("put", {"id": "p2", "status": "SETTLED", "amount": 40}),
    ("put", {"id": "p1", "status": "FAILED", "amount": 120}),
    ("put", {"id": "p1", "status": "FAILED", "amount": 120, "attempts": 2}),
    ("delete", "p2"),
)

#: The demo's patterns, one mapping each. A list is several filters (a record passes if it
#: matches any of them).
PRESETS = {
    "sqs": (
        {"body": {"type": ["order"]}},
        {"body": {"country": ["DE", "FR", "NL"]}},
        {"body": {"total": [{"numeric": [">=", 100]}]}},
        {"body": {"coupon": [{"exists": True}]}},
        {"body": {"express": [{"exists": False}]}},
        [{"body": {"type": ["refund"]}}, {"body": {"total": [{"numeric": [">", 200]}]}}],
    ),
    "kinesis": (
        {"data": {"temp": [{"numeric": [">", 30]}]}},
        {"data": {"alarm": [{"exists": True}]}},
        {"partitionKey": ["sensor-1"]},
        {"data": {"sensor": [{"prefix": "s"}]}},
    ),
    "dynamodb": (
        {"dynamodb": {"NewImage": {"status": {"S": ["FAILED"]}}}},
        {"dynamodb": {"NewImage": {"status": ["FAILED"]}}},
        {"dynamodb": {"NewImage": {"amount": {"N": [{"numeric": [">", 100]}]}}}},
        {"dynamodb": {"NewImage": {"attempts": [{"exists": False}]}}},
        {"eventName": ["INSERT", "MODIFY"]},
        {"eventName": ["REMOVE"]},
    ),
}


@dataclass(frozen=True)
class FilterResult:
    source: str
    patterns: tuple  #: the Filters of each mapping, as JSON text (one string per filter)
    labels: tuple  #: one short description per record, in writing order
    records: tuple  #: what was written: SQS bodies, Kinesis data, DynamoDB stream records
    passed: tuple  #: per pattern: a tuple of bools per record (empty if the pattern was rejected)
    errors: tuple  #: per pattern: None, or "Code: message" of the rejected create call
    invocations: tuple  #: per pattern: how many invocations the function got
    filtered_metric: tuple  #: per pattern: FilteredOutEventCount, read from CloudWatch
    left: tuple  #: per pattern: messages left in the SQS queue (streams: None)
    accounted: bool = True  #: every record processed or filtered (conservation)
    seconds: float = 0.0

    def passed_labels(self, index: int = 0) -> list[str]:
        return [label for label, ok in zip(self.labels, self.passed[index]) if ok]

    def summary(self) -> str:
        lines = [f"{self.source}: {len(self.labels)} records, {len(self.patterns)} patterns"]
        for i, filters in enumerate(self.patterns):
            text = " OR ".join(filters)
            if self.errors[i]:
                lines.append(f"  P{i + 1} {text}\n      rejected: {self.errors[i]}")
                continue
            kept = sum(self.passed[i])
            where = (f", {self.left[i]} left in the queue" if self.left[i] is not None else "")
            lines.append(f"  P{i + 1} {text}\n      {kept} passed, "
                         f"FilteredOutEventCount {self.filtered_metric[i]:g}{where}")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()

    def __repr__(self):
        return f"<FilterResult {self.source}, {len(self.patterns)} patterns>"


# --- arguments -----------------------------------------------------------------------------------


def _filters(pattern) -> tuple[str, ...]:
    """One mapping's Filters as JSON strings: a dict, a JSON string, or a list of either."""
    items = list(pattern) if isinstance(pattern, (list, tuple)) else [pattern]
    if not items:
        raise ValueError("a pattern list must hold at least one pattern (a dict or a JSON string)")
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append(json.dumps(item))
        elif isinstance(item, str):
            out.append(item)
        else:
            raise TypeError(f"each pattern must be a dict or a JSON string, got {item!r}")
    return tuple(out)


def _source(source):
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    return source


def _records_key(source, records):
    if records is None:
        records = {"sqs": SQS_MESSAGES, "kinesis": KINESIS_RECORDS,
                   "dynamodb": DYNAMODB_WRITES}[source]
    if not isinstance(records, (list, tuple)) or not records:
        raise ValueError("records must be a non-empty list")
    return json.dumps([_jsonable(r) for r in records])


def _jsonable(value):
    if isinstance(value, bytes):
        return {"__bytes__": value.decode("latin-1")}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _unjson(value):
    if isinstance(value, dict) and set(value) == {"__bytes__"}:
        return value["__bytes__"].encode("latin-1")
    if isinstance(value, list):
        return [_unjson(v) for v in value]
    if isinstance(value, dict):
        return {k: _unjson(v) for k, v in value.items()}
    return value


def compare(source: str = "sqs", patterns=None, records=None) -> FilterResult:
    """Run one mapping per pattern on the same records of ``source`` (``"sqs"``, ``"kinesis"``
    or ``"dynamodb"``).

    * ``patterns``: a list; each element is one mapping's filter: a dict, a JSON string (passed
      to the API as it is, so it may be invalid), or a list of those (several filters). Default:
      :data:`PRESETS` of the source.
    * ``records``: SQS message bodies (dict: sent as JSON; str: sent as it is), Kinesis
      ``(partition key, data)`` pairs, or DynamoDB writes (``("put", item)`` / ``("delete",
      id)``). Default: the demo's records of the source.
    """
    _source(source)
    if patterns is None:
        patterns = PRESETS[source]
    if not isinstance(patterns, (list, tuple)) or not patterns:
        raise ValueError("patterns must be a non-empty list of patterns")
    if len(patterns) > 8:
        raise ValueError(f"patterns: at most 8 at once, got {len(patterns)}")
    return _compare(source, tuple(_filters(p) for p in patterns), _records_key(source, records))


def try_pattern(source: str = "sqs", pattern: str = '{"body": {"type": ["order"]}}'):
    """One pattern (JSON text, as typed into a widget) on the demo's records of ``source``."""
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be JSON text, got {pattern!r}")
    return compare(source, [pattern])


# --- running -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _compare(source, patterns, records_key) -> FilterResult:
    from botocore.exceptions import ClientError

    from esmlab import Lab

    records = _unjson(json.loads(records_key))
    began = time.perf_counter()
    lab = Lab(seed=0)
    try:
        lam = lab.client("lambda")
        delivered: list[set] = [set() for _ in patterns]
        invocations = [0] * len(patterns)
        arns = _create_sources(lab, source, len(patterns))
        uuids, errors = [], []
        for i, filters in enumerate(patterns):
            lab.function(f"consumer-{i + 1}", _collector(source, delivered[i], invocations, i),
                         timeout=10)
            params = {"StartingPosition": "TRIM_HORIZON"} if source != "sqs" else {}
            try:
                response = lam.create_event_source_mapping(
                    FunctionName=f"consumer-{i + 1}", EventSourceArn=arns[i], BatchSize=10,
                    FilterCriteria={"Filters": [{"Pattern": p} for p in filters]},
                    MetricsConfig={"Metrics": ["EventCount"]}, **params)
            except ClientError as error:
                uuids.append(None)
                errors.append(f"{error.response['Error']['Code']}: "
                              f"{error.response['Error']['Message']}")
            else:
                uuids.append(response["UUID"])
                errors.append(None)
        ids: list = []
        lab.clock.at(START, lambda: ids.extend(_write(lab, source, arns, records)))
        lab.run(until=RUN_UNTIL)
        written = _written(lab, source, arns, ids, records)
        passed = tuple(() if errors[i] else tuple(
            (key[i] if source == "sqs" else key) in delivered[i] for key, _, _ in written)
            for i in range(len(patterns)))
        return FilterResult(
            source=source, patterns=patterns, labels=tuple(label for _, label, _ in written),
            records=tuple(record for _, _, record in written), passed=passed,
            errors=tuple(errors), invocations=tuple(invocations),
            filtered_metric=tuple(_filtered_metric(lab, u) for u in uuids),
            left=tuple(_left(lab, arns[i]) if source == "sqs" and not errors[i] else None
                       for i in range(len(patterns))),
            accounted=_accounted(lab, source, uuids, len(written)),
            seconds=time.perf_counter() - began)
    finally:
        lab.close()


def _create_sources(lab, source, count) -> list[str]:
    if source == "sqs":
        sqs = lab.client("sqs")
        arns = []
        for i in range(count):
            url = sqs.create_queue(QueueName=f"orders-{i + 1}")["QueueUrl"]
            arns.append(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"])
        return arns
    if source == "kinesis":
        kinesis = lab.client("kinesis")
        kinesis.create_stream(StreamName="sensors", ShardCount=1)
        arn = kinesis.describe_stream_summary(StreamName="sensors")[
            "StreamDescriptionSummary"]["StreamARN"]
        return [arn] * count
    ddb = lab.client("dynamodb")
    arn = ddb.create_table(
        TableName="payments", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    return [arn] * count


def _collector(source, delivered: set, invocations: list, index: int):
    def handler(event, context):
        invocations[index] += 1
        for record in event["Records"]:
            if source == "sqs":
                delivered.add(record["messageId"])
            elif source == "kinesis":
                delivered.add(record["kinesis"]["sequenceNumber"])
            else:
                delivered.add(record["dynamodb"]["SequenceNumber"])
    return handler


def attribute(value) -> dict:
    """A plain value as a DynamoDB attribute value (S, N or BOOL)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": str(value)}
    return {"S": str(value)}


def _write(lab, source, arns, records) -> list:
    if source == "sqs":
        sqs = lab.client("sqs")
        ids = []
        for arn in arns:
            url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
            ids.append([sqs.send_message(
                QueueUrl=url, MessageBody=r if isinstance(r, str) else json.dumps(r))["MessageId"]
                for r in records])
        return ids
    if source == "kinesis":
        kinesis = lab.client("kinesis")
        return [kinesis.put_record(
            StreamName="sensors", PartitionKey=key,
            Data=data if isinstance(data, bytes) else json.dumps(data).encode())["SequenceNumber"]
            for key, data in records]
    ddb = lab.client("dynamodb")
    for action, value in records:
        if action == "put":
            ddb.put_item(TableName="payments", Item={k: attribute(v) for k, v in value.items()})
        else:
            ddb.delete_item(TableName="payments", Key={"id": {"S": value}})
    return []


def _written(lab, source, arns, ids, records) -> list[tuple]:
    """(id the collector sees, label, the record as written) per record, in writing order."""
    if source == "sqs":
        # one queue per pattern: a message's id differs per queue, so the row key is its position
        return [(tuple(queue[n] for queue in ids), sqs_label(body), body)
                for n, body in enumerate(records)]
    if source == "kinesis":
        return [(seq, kinesis_label(key, data), {"partitionKey": key, "data": data})
                for seq, (key, data) in zip(ids, records, strict=True)]
    streams = lab.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=arns[0])["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(StreamArn=arns[0], ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    found = streams.get_records(ShardIterator=iterator)["Records"]
    return [(r["dynamodb"]["SequenceNumber"], dynamodb_label(r), _plain_record(r))
            for r in found]


def _plain_record(record) -> dict:
    """A stream record as the function gets it (eventName and the dynamodb images)."""
    dynamodb = {k: v for k, v in record["dynamodb"].items() if k in ("Keys", "NewImage",
                                                                      "OldImage")}
    return {"eventName": record["eventName"], "dynamodb": dynamodb}


def sqs_label(body) -> str:
    if isinstance(body, str):
        return f'"{body}" (plain text)'
    parts = [str(body.get(k)) if not isinstance(body.get(k), str) or k != "total"
             else f'"{body[k]}"' for k in ("type", "country", "total") if k in body]
    extra = [k for k in body if k not in ("type", "country", "total")]
    return " ".join(parts) + (f" +{','.join(extra)}" if extra else "")


def kinesis_label(key, data) -> str:
    if isinstance(data, bytes):
        return f"{key}: not JSON"
    extra = f" {data['alarm']}" if "alarm" in data else ""
    return f"{key}: {data.get('temp')} °C{extra}"


def dynamodb_label(record) -> str:
    images = record["dynamodb"]
    old = images.get("OldImage", {}).get("status", {}).get("S")
    new = images.get("NewImage", {}).get("status", {}).get("S")
    item = images["Keys"]["id"]["S"]
    attempts = images.get("NewImage", {}).get("attempts", {}).get("N")
    more = f", attempts {attempts}" if attempts else ""
    if record["eventName"] == "INSERT":
        return f"INSERT {item} {new}{more}"
    if record["eventName"] == "REMOVE":
        return f"REMOVE {item} (was {old})"
    return f"MODIFY {item} {old}→{new}{more}"


def _filtered_metric(lab, uuid) -> float:
    """FilteredOutEventCount of the mapping, summed over the run, from the lab's CloudWatch."""
    import datetime as dt

    from esmlab.clock import START as start

    if uuid is None:
        return 0.0
    cloudwatch = lab.client("cloudwatch")
    data = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "filtered", "MetricStat": {"Metric": {
            "Namespace": "AWS/Lambda", "MetricName": "FilteredOutEventCount",
            "Dimensions": [{"Name": "EventSourceMappingUUID", "Value": uuid}]},
            "Period": 60, "Stat": "Sum"}}],
        StartTime=start, EndTime=start + dt.timedelta(minutes=5))
    return float(sum(data["MetricDataResults"][0]["Values"]))


def _left(lab, arn) -> int:
    sqs = lab.client("sqs")
    url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in attributes.values())


def _accounted(lab, source, uuids, count) -> bool:
    if source == "sqs":
        return lab.conservation().ok
    for uuid in uuids:
        if uuid is None:
            continue
        fates = lab.stream_conservation(uuid)
        counts = fates["counts"]
        if fates["lost"] or counts.get("processed", 0) + counts.get("filtered", 0) != count:
            return False
    return True


def decoded(data: str) -> str:
    """A Kinesis record's ``data`` (base64) as text."""
    return base64.b64decode(data).decode("utf-8", "replace")


# --- the picture ---------------------------------------------------------------------------------


def draw(result: FilterResult, ax=None, width: float = 7.0):
    """One row per record, one column per pattern (P1, P2, ...): green if the record reached the
    function, grey if the mapping filtered it out (SQS: deleted; streams: skipped), a red column
    if AWS rejected the pattern. The patterns are written out under the grid. Returns the Axes."""
    import textwrap

    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    rows, cols = len(result.labels), len(result.patterns)
    legend_lines = []
    for i, filters in enumerate(result.patterns):
        text = " OR ".join(filters)
        wrapped = textwrap.wrap(f"P{i + 1}: {text}", 90, subsequent_indent="     ")
        if result.errors[i]:
            wrapped += textwrap.wrap(f"     rejected: {result.errors[i]}", 90)
        legend_lines += wrapped
    if ax is None:
        height = 1.5 + 0.32 * rows + LINE * len(legend_lines)
        _, ax = plt.subplots(figsize=(width, height))
    gone = "deleted from the queue" if result.source == "sqs" else "skipped (stays in the stream)"
    for j in range(cols):
        for r in range(rows):
            if result.errors[j]:
                colour, text = REJECTED, "rejected"
            elif result.passed[j][r]:
                colour, text = PASSED, "passed"
            else:
                colour, text = FILTERED, "filtered"
            ax.add_patch(Rectangle((j, r), 0.94, 0.9, facecolor=colour, edgecolor="white"))
            ax.text(j + 0.47, r + 0.45, text, ha="center", va="center", fontsize=8,
                    color="white" if colour != FILTERED else "#333333")
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_xticks([j + 0.47 for j in range(cols)])
    ax.set_xticklabels([f"P{j + 1}" for j in range(cols)], fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks([r + 0.45 for r in range(rows)])
    ax.set_yticklabels(result.labels, fontsize=9)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    title = {"sqs": "SQS: a queue and a mapping per pattern",
             "kinesis": "Kinesis: one stream, a mapping per pattern",
             "dynamodb": "DynamoDB Streams: one table, a mapping per pattern"}
    ax.set_title(title[result.source], fontsize=10, pad=18, loc="left")
    figure = ax.figure
    figure.text(0.02, 0.01, "\n".join(legend_lines), fontsize=8, family="monospace",
                va="bottom", ha="left")
    handles = [Patch(color=PASSED, label="passed: sent to the function"),
               Patch(color=FILTERED, label=f"filtered out: {gone}")]
    if any(result.errors):
        handles.append(Patch(color=REJECTED, label="pattern rejected by the API"))
    legend_rows = 1 if len(handles) <= 2 else 2
    bottom = (0.1 + LINE * len(legend_lines)) / figure.get_figheight()
    figure.legend(handles=handles, fontsize=8, ncol=min(len(handles), 2), loc="lower center",
                  bbox_to_anchor=(0.5, bottom), frameon=False)
    figure.tight_layout(rect=(0, bottom + 0.22 * legend_rows / figure.get_figheight(), 1, 1))
    return ax
