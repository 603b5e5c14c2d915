"""Test your own Lambda handler under real event source mapping semantics, from pytest.

The pytest plugin (``esmlab.testing.pytest_plugin``, registered by the ``pytest11`` entry point
when esmlab is installed) gives a test the ``esm_lab`` fixture: an open `esmlab.Lab`, closed
after the test, whose run is printed in the test's report when the test fails. The helpers here
make the usual set-ups one call each; everything a test asserts on stays a real boto3 call:

    from esmlab.testing import sqs_pipeline, deliveries, assert_nothing_lost

    def test_poison_message_reaches_the_dlq(esm_lab):
        pipe = sqs_pipeline(esm_lab, my_handler, max_receive_count=3,
                            report_batch_item_failures=True)
        sqs = esm_lab.client("sqs")
        for body in ["ok-1", "poison", "ok-2"]:
            sqs.send_message(QueueUrl=pipe.queue_url, MessageBody=body)
        esm_lab.run(until=600)
        dead = sqs.receive_message(QueueUrl=pipe.dlq_url)["Messages"]
        assert [m["Body"] for m in dead] == ["poison"]
        assert_nothing_lost(esm_lab)

The handler under test may be imported inside the test with `load_handler`, so that boto3
clients it creates at import time are made while the Lab is open (fake credentials, moto).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from unittest import mock

from .report import report

__all__ = [
    "SqsPipeline",
    "StreamPipeline",
    "assert_nothing_lost",
    "deliveries",
    "dynamodb_pipeline",
    "kinesis_pipeline",
    "load_handler",
    "report",
    "sqs_pipeline",
]


@dataclass
class SqsPipeline:
    """What `sqs_pipeline` made: use the URLs with your own boto3 SQS client."""

    queue_url: str
    queue_arn: str
    dlq_url: str | None
    mapping_uuid: str
    function_name: str


@dataclass
class StreamPipeline:
    """What `kinesis_pipeline` or `dynamodb_pipeline` made."""

    source_name: str  #: the stream's name (Kinesis) or the table's name (DynamoDB)
    stream_arn: str
    destination_url: str | None  #: the on-failure destination queue, when one was asked for
    mapping_uuid: str
    function_name: str


def load_handler(target: str):
    """Import ``"package.module:function"`` now (again, if it was imported before) and return
    the function, so that clients the module makes at import time belong to the open Lab."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"target must look like 'package.module:function', got {target!r}")
    if module_name in sys.modules:
        module = importlib.reload(sys.modules[module_name])
    else:
        module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r}") from None


def with_environment(handler, function_name, region, environment):
    """The handler, run with the variables Lambda sets and the function's own ``environment``.

    Lambda's runtime sets AWS_REGION, AWS_LAMBDA_FUNCTION_NAME and friends
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-runtime.html).
    """
    variables = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        **{str(k): str(v) for k, v in (environment or {}).items()},
    }

    def run(event, context):
        with mock.patch.dict(os.environ, variables):  # restored exactly after the call
            return handler(event, context)

    run.__wrapped__ = handler
    return run


def _function(lab, handler, name, timeout, duration, environment):
    if not callable(handler):
        raise TypeError(f"handler must be a function of (event, context), got {handler!r}")
    wrapped = with_environment(handler, name, lab.region, environment)
    lab.function(name, wrapped, timeout=timeout, duration=duration)
    if environment:  # also visible to get_function_configuration, as on AWS
        lab.client("lambda").update_function_configuration(
            FunctionName=name, Environment={"Variables": {k: str(v) for k, v in environment.items()}}
        )
    return name


def sqs_pipeline(lab, handler, *, queue_name="queue", function_name="handler", fifo=False,
                 batch_size=10, window=0, max_receive_count=None, visibility_timeout=30,
                 report_batch_item_failures=False, maximum_concurrency=None, timeout=3,
                 duration=0.0, environment=None) -> SqsPipeline:
    """A queue (with a dead-letter queue when ``max_receive_count`` is given), your handler as a
    function, and an enabled SQS mapping between them. Arguments mirror the AWS parameters."""
    if max_receive_count is not None and not (
        isinstance(max_receive_count, int) and 1 <= max_receive_count <= 1000
    ):
        # maxReceiveCount range: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
        raise ValueError(f"max_receive_count must be 1 to 1,000 or None, got {max_receive_count!r}")
    sqs = lab.client("sqs")
    suffix = ".fifo" if fifo else ""
    attributes = {"VisibilityTimeout": str(visibility_timeout)}
    if fifo:
        attributes.update(FifoQueue="true", ContentBasedDeduplication="true")
    dlq_url = None
    if max_receive_count is not None:
        dlq_url = sqs.create_queue(QueueName=f"{queue_name}-dlq{suffix}",
                                   Attributes={k: v for k, v in attributes.items()
                                               if k != "VisibilityTimeout"})["QueueUrl"]
        dlq_arn = _queue_arn(sqs, dlq_url)
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
    url = sqs.create_queue(QueueName=f"{queue_name}{suffix}", Attributes=attributes)["QueueUrl"]
    arn = _queue_arn(sqs, url)
    _function(lab, handler, function_name, timeout, duration, environment)
    params = {"FunctionName": function_name, "EventSourceArn": arn, "BatchSize": batch_size}
    if window:
        params["MaximumBatchingWindowInSeconds"] = window
    if report_batch_item_failures:
        params["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    if maximum_concurrency is not None:
        params["ScalingConfig"] = {"MaximumConcurrency": maximum_concurrency}
    uuid = lab.client("lambda").create_event_source_mapping(**params)["UUID"]
    return SqsPipeline(url, arn, dlq_url, uuid, function_name)


def kinesis_pipeline(lab, handler, *, stream_name="stream", shards=1, function_name="handler",
                     starting_position="TRIM_HORIZON", destination=False, timeout=3, duration=0.0,
                     environment=None, **mapping) -> StreamPipeline:
    """A Kinesis stream of ``shards`` shards, your handler, and a mapping. ``mapping`` takes the
    mapping's own parameters by their AWS names (``BatchSize=``, ``BisectBatchOnFunctionError=``,
    ``MaximumRetryAttempts=``...); ``destination=True`` adds an SQS on-failure destination."""
    if not isinstance(shards, int) or shards < 1:
        raise ValueError(f"shards must be a whole number >= 1, got {shards!r}")
    kinesis = lab.client("kinesis")
    kinesis.create_stream(StreamName=stream_name, ShardCount=shards)
    arn = kinesis.describe_stream_summary(StreamName=stream_name)[
        "StreamDescriptionSummary"]["StreamARN"]
    return _stream_mapping(lab, handler, stream_name, arn, function_name, starting_position,
                           destination, timeout, duration, environment, mapping)


def dynamodb_pipeline(lab, handler, *, table_name="table", key="id", function_name="handler",
                      stream_view_type="NEW_AND_OLD_IMAGES", starting_position="TRIM_HORIZON",
                      destination=False, timeout=3, duration=0.0, environment=None,
                      **mapping) -> StreamPipeline:
    """A DynamoDB table (string partition key ``key``) with a stream, your handler, a mapping."""
    ddb = lab.client("dynamodb")
    table = ddb.create_table(
        TableName=table_name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": stream_view_type},
    )
    arn = table["TableDescription"]["LatestStreamArn"]
    return _stream_mapping(lab, handler, table_name, arn, function_name, starting_position,
                           destination, timeout, duration, environment, mapping)


def _stream_mapping(lab, handler, name, arn, function_name, starting_position, destination,
                    timeout, duration, environment, mapping):
    _function(lab, handler, function_name, timeout, duration, environment)
    params = dict(FunctionName=function_name, EventSourceArn=arn,
                  StartingPosition=starting_position, **mapping)
    destination_url = None
    if destination:
        sqs = lab.client("sqs")
        destination_url = sqs.create_queue(QueueName=f"{name}-failures")["QueueUrl"]
        params["DestinationConfig"] = {"OnFailure": {"Destination": _queue_arn(sqs, destination_url)}}
    uuid = lab.client("lambda").create_event_source_mapping(**params)["UUID"]
    return StreamPipeline(name, arn, destination_url, uuid, function_name)


def _queue_arn(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]


def deliveries(lab, mapping_uuid: str | None = None) -> Counter:
    """How many times each record was delivered to a function: message id (SQS) or sequence
    number (streams) -> count. ``mapping_uuid`` narrows it to one mapping."""
    counts = Counter()
    for invocation in lab.trace.invocations:
        if mapping_uuid in (None, invocation.mapping):
            counts.update(invocation.records)
    return counts


def assert_nothing_lost(lab) -> None:
    """Every message and stream record is accounted for; otherwise an AssertionError that says
    which, followed by the run's report."""
    problems = []
    queues = lab.conservation()
    if not queues.ok:
        problems.append(f"queues: {len(queues.lost)} messages lost, {len(queues.unknown)} "
                        f"unaccounted for: {queues.lost[:5] + queues.unknown[:5]}")
    for uuid, mapping in lab.mappings.items():
        if mapping.kind != "sqs":
            lost = lab.stream_conservation(uuid)["lost"]
            if lost:
                problems.append(f"mapping {uuid}: {len(lost)} stream records lost: {lost[:5]}")
    if problems:
        raise AssertionError("\n".join(problems) + "\n\n" + report(lab))
