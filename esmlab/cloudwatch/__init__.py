"""CloudWatch inside a Lab: metrics (publisher.py), the functions' logs (logs.py), alarms (alarms.py).

Every boto3 client made while a Lab is open reaches moto's CloudWatch and CloudWatch Logs as
usual. Just before a CloudWatch or Logs call, esmlab writes what it has not written yet (metrics
from the trace, log lines of finished invocations), so the learner's own ``get_metric_data``,
``filter_log_events`` or ``describe_alarms`` see everything up to ``lab.now``.
"""

from __future__ import annotations

import botocore.handlers

from .alarms import Alarms
from .logs import Logs
from .publisher import Publisher

_active = None  #: the open lab's CloudWatch

LAMBDA = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html"
SQS = ("https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
       "sqs-available-cloudwatch-metrics.html")
KINESIS = "https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html"
DYNAMODB = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html"

#: Every metric a Lab publishes: (namespace, metric, dimension, unit, when, source). The site's
#: metrics reference is generated from it; tests check that nothing else is published.
PUBLISHED = (
    ("AWS/Lambda", "Invocations", "FunctionName", "Count", "each invocation (1)", LAMBDA),
    ("AWS/Lambda", "Errors", "FunctionName", "Count", "each invocation (1 or 0)", LAMBDA),
    ("AWS/Lambda", "Duration", "FunctionName", "Milliseconds", "each invocation", LAMBDA),
    ("AWS/Lambda", "Throttles", "FunctionName", "Count", "each throttled invocation", LAMBDA),
    ("AWS/Lambda", "ConcurrentExecutions", "FunctionName", "Count",
     "each invocation start, and each minute one is running", LAMBDA),
    ("AWS/Lambda", "IteratorAge", "FunctionName", "Milliseconds",
     "each stream invocation", LAMBDA),
    ("AWS/Lambda", "DestinationDeliveryFailures", "FunctionName", "Count",
     "each failed on-failure delivery", LAMBDA),
    *(("AWS/Lambda", name, "EventSourceMappingUUID", "Count",
       "with MetricsConfig EventCount only", LAMBDA)
      for name in ("PolledEventCount", "FilteredOutEventCount", "InvokedEventCount",
                   "FailedInvokeEventCount", "DeletedEventCount", "DroppedEventCount",
                   "OnFailureDestinationDeliveredEventCount")),
    ("AWS/SQS", "NumberOfMessagesSent", "QueueName", "Count",
     "each message sent (not those SQS redrives to a DLQ)", SQS),
    ("AWS/SQS", "SentMessageSize", "QueueName", "Bytes", "each message sent", SQS),
    ("AWS/SQS", "NumberOfMessagesReceived", "QueueName", "Count", "each mapping receive", SQS),
    ("AWS/SQS", "NumberOfEmptyReceives", "QueueName", "Count", "each mapping receive", SQS),
    ("AWS/SQS", "NumberOfMessagesDeleted", "QueueName", "Count", "each delete", SQS),
    *(("AWS/SQS", name, "QueueName", "Count", "sampled at each minute's end", SQS)
      for name in ("ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible",
                   "ApproximateNumberOfMessagesDelayed")),
    ("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "Seconds",
     "sampled at each minute's end, while the queue holds a message", SQS),
    ("AWS/Kinesis", "IncomingRecords", "StreamName", "Count", "each put (moto publishes it)",
     KINESIS),
    ("AWS/Kinesis", "IncomingBytes", "StreamName", "Bytes", "each put (moto publishes it)",
     KINESIS),
    *(("AWS/Kinesis", name, "StreamName", unit, "each mapping GetRecords call", KINESIS)
      for name, unit in (("GetRecords.Records", "Count"), ("GetRecords.Bytes", "Bytes"),
                         ("GetRecords.IteratorAgeMilliseconds", "Milliseconds"))),
    *(("AWS/Kinesis", name, "ShardId, StreamName", unit,
       "each mapping GetRecords call, once enable_enhanced_monitoring names it", KINESIS)
      for name, unit in (("IteratorAgeMilliseconds", "Milliseconds"),
                         ("OutgoingRecords", "Count"), ("OutgoingBytes", "Bytes"))),
    ("AWS/Kinesis", "WriteProvisionedThroughputExceeded", "StreamName", "Count",
     "each record a put refused for the shard's write limit", KINESIS),
    ("AWS/Kinesis", "ReadProvisionedThroughputExceeded", "StreamName", "Count",
     "each GetRecords call refused for the shard's read limit", KINESIS),
    ("AWS/DynamoDB", "ReturnedRecordsCount", "Operation, StreamLabel, TableName", "Count",
     "each mapping GetRecords call on a table's stream", DYNAMODB),
)


class CloudWatch:
    def __init__(self, lab):
        self.lab = lab
        self.publisher = Publisher(lab)
        self.logs = Logs(lab)
        self.alarms = Alarms(lab, self.publisher)
        self.publisher._minute_hooks.append(self.alarms.evaluate)


def _keep_params(params, model, context, **kwargs):
    if _active is not None:
        context["esmlab_params"] = dict(params)


def _before_cloudwatch(model, context, **kwargs):
    if _active is None:
        return None
    _active.publisher.flush()
    return _active.alarms.before_call(model.name, context.get("esmlab_params", {}))


def _after_cloudwatch(model, parsed, context, **kwargs):
    if _active is not None:
        _active.alarms.after_call(model.name, context.get("esmlab_params", {}), parsed)


def _before_sqs(**kwargs):
    """Any SQS call may change what a queue holds: its gauges are counted again."""
    if _active is not None:
        _active.publisher.sqs_called = True


def _before_logs(**kwargs):
    if _active is not None:
        _active.logs.flush()


botocore.handlers.BUILTIN_HANDLERS += [
    ("before-parameter-build.cloudwatch", _keep_params),
    ("before-call.cloudwatch", _before_cloudwatch),
    ("after-call.cloudwatch", _after_cloudwatch),
    ("before-call.cloudwatch-logs", _before_logs),
    ("before-call.sqs", _before_sqs),
]


def install(lab) -> CloudWatch:
    global _active
    _active = CloudWatch(lab)
    _active.publisher.start()
    _active.logs.install()
    return _active


def uninstall(lab) -> None:
    global _active
    if _active is not None and _active.lab is lab:
        _active.publisher.stop()
        _active.logs.uninstall()
        _active = None
