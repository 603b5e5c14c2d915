"""Parameter ranges, defaults and the mapping API's error messages: one place for the numbers.

The simulator validates with these values and the site's reference pages are generated from them,
so the two cannot disagree. Each entry names its source: the AWS page, or the AWS
responses recorded in 2025.
"""

from __future__ import annotations

API = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"
SQS_PARAMS = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html"
SQS_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"
SQS_CONFIGURE = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"
RECORDED = "observed behaviour of the AWS API (recorded 2025)"

#: (minimum, maximum) of numeric parameters, from the API model (API, above).
RANGES = {
    "BatchSize": (1, 10_000),
    "MaximumBatchingWindowInSeconds": (0, 300),
    "ParallelizationFactor": (1, 10),
    "MaximumRetryAttempts": (-1, 10_000),
    "MaximumRecordAgeInSeconds": (-1, 604_800),
    "TumblingWindowInSeconds": (0, 900),
    "ScalingConfig.MaximumConcurrency": (2, 1_000),
    # The API model's ranges, shared with Kafka sources; SQS needs at least 2 of each
    # (SQS_MIN_POLLERS): https://docs.aws.amazon.com/lambda/latest/api/API_ProvisionedPollerConfig.html
    "ProvisionedPollerConfig.MinimumPollers": (1, 200),
    "ProvisionedPollerConfig.MaximumPollers": (1, 10_000),
}

#: MaximumRecordAgeInSeconds is -1 (no limit) or at least 60: values 0-59 lie inside the API
#: range but are rejected. The API model's documentation says so ("The minimum valid value for
#: maximum record age is 60s"): https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/lambda/
#: aws.sdk.kotlin.services.lambda.model/-event-source-mapping-configuration/-builder/
#: maximum-record-age-in-seconds.html (also an older edition of the Lambda API reference's
#: EventSourceMappingConfiguration, and the AWS CDK). The message is not recorded: esmlab uses
#: Lambda's constraint format (range_message), as for the other ranges.
MIN_RECORD_AGE_SECONDS = 60

#: Defaults per source kind (API, above; the recorded Create responses).
DEFAULT_BATCH_SIZE = {"sqs": 10, "kinesis": 100, "dynamodb": 100}
FIFO_MAX_BATCH_SIZE = 10  # SQS_PARAMS
SQS_MAX_BATCH_WITHOUT_WINDOW = 10  # API, rule V1

#: The synchronous invocation payload limit that closes a batch early
#: (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html).
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024

#: SQS scaling (SQS_SCALING).
SQS_START_CONCURRENCY = 5
SQS_SCALE_UP_PER_MINUTE = 300
SQS_MAX_CONCURRENCY = 1_250
SQS_IDLE_CONCURRENCY = 2
#: Longest ReceiveMessage wait SQS allows (WaitTimeSeconds 0-20):
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
SQS_LONG_POLL_SECONDS = 20
SQS_MAX_MESSAGES_PER_RECEIVE = 10

#: SQS provisioned mode (ProvisionedPollerConfig). Defaults and the SQS minimum of 2 are from the
#: API reference (PROVISIONED, below); older SQS pages and the CDK give MaximumPollers up to 2,000.
#: What one event poller drives, the scale-up rate and the 20,000 ceiling are from SQS_SCALING and
#: the launch post (PROVISIONED_LAUNCH).
PROVISIONED = "https://docs.aws.amazon.com/lambda/latest/api/API_ProvisionedPollerConfig.html"
PROVISIONED_LAUNCH = (
    "https://aws.amazon.com/blogs/aws/aws-lambda-enhances-sqs-processing-with-new-provisioned-"
    "mode-3x-faster-scaling-16x-higher-capacity/"
)
SQS_MIN_POLLERS = 2
SQS_DEFAULT_MINIMUM_POLLERS = 2
SQS_DEFAULT_MAXIMUM_POLLERS = 200
POLLER_CONCURRENCY = 10  # concurrent invokes one event poller drives
POLLER_BYTES_PER_SECOND = 1_000_000  # 1 MB/s per event poller
PROVISIONED_SCALE_UP_PER_MINUTE = 1_000
PROVISIONED_MAX_CONCURRENCY = 20_000

#: Exact messages recorded from AWS (2025); ``{}`` fields are filled in.
MESSAGES = {
    "V1": "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
    "greater than 10",
    "V2": "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
    "constraint: Member must not be null.",
    "V3": "1 validation error detected: Value '{value}' at 'startingPosition' failed to satisfy "
    "constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
    "V4": "Unsupported starting position for arn type: {arn}",
    "V5": "Invalid filter pattern definition.",
    "V6": "Error occurred while ReceiveMessage. SQS Error Code: "
    "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does "
    "not exist.",
    "V8": 'An event source mapping with SQS arn (" {arn} ") and function (" {function} ") '
    "already exists. Please update or delete the existing mapping with UUID {uuid}",
    "V7": "Stream not found: {arn}",
    "V9": 'The event source arn (" {arn} ") and function (" {function} ") provided mapping '
    "already exists. Please update or delete the existing mapping with UUID {uuid}",
    "V10": "Unrecognized event source.",
    "V11": "Function does not exist",
    "V12": "Unsupported DestinationConfig parameter for given event source mapping type.",
    "V13": "The resource you requested does not exist.",
    "V14": "The function execution role does not have permissions to call ReceiveMessage on SQS",
    "V15": "Cannot access stream {arn}. Please ensure the role can perform the GetRecords, "
    "GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.",
}

#: Messages we did not record but that AWS's users quote in public reports; each names them.
REPORTED = {
    # A function timeout longer than the queue's visibility timeout (rejected on Create and
    # Update: SQS_CONFIGURE). Not an AWS page and not our recording: the API's
    # InvalidParameterValueException as users quote it, with the numbers of their case, e.g.
    # https://github.com/winglang/wing/issues/1507 (Terraform, 2023: "Queue visibility timeout:
    # 30 seconds is less than Function timeout: 60 seconds", Type "User") and
    # https://github.com/18F/identity-terraform/pull/27 (2019: 60 and 120 seconds).
    "timeout_vs_vt": "Queue visibility timeout: {vt} seconds is less than Function timeout: "
    "{timeout} seconds",
}

#: The one value of the FunctionResponseType enum, and at most one item in the list (API, above).
FUNCTION_RESPONSE_TYPES = ("ReportBatchItemFailures",)

#: Rejections AWS documents but whose text was never recorded. esmlab words
#: them itself and says so, rather than passing its words off as AWS's.
UNRECORDED = {
    "fifo_batch": "[esmlab] FIFO queues accept a BatchSize of at most 10 (AWS rejects this; "
    "its exact message is not recorded).",
    "fifo_window": "[esmlab] FIFO queues do not support MaximumBatchingWindowInSeconds (AWS "
    "rejects this; its exact message is not recorded).",
    "response_types": "[esmlab] FunctionResponseTypes accepts at most one item, and the only "
    "value is ReportBatchItemFailures; got {value}. AWS rejects this with a ValidationException "
    "(its exact message is not recorded).",
    "not_for_sqs": "[esmlab] {param} does not apply to an SQS event source (AWS's message "
    "for this is not recorded).",
    "not_for_streams": "[esmlab] {param} does not apply to a stream event source (AWS's message "
    "for this is not recorded).",
    "at_timestamp": "[esmlab] AT_TIMESTAMP needs StartingPositionTimestamp (AWS's message for "
    "this is not recorded).",
    "on_failure_sqs": "[esmlab] An SQS event source has no on-failure destination: use a "
    "redrive policy on the queue (AWS rejects this; its exact message is not recorded).",
    "future_timestamp": "[esmlab] StartingPositionTimestamp must not lie in the future (AWS "
    "rejects this; its exact message is not recorded).",
    "destination": "[esmlab] {arn} is not an SQS queue, SNS topic or S3 bucket ARN (AWS's "
    "message for this is not recorded).",
    "not_simulated": "[esmlab] {param} is not simulated by esmlab yet.",
    "pollers_sqs_minimum": "[esmlab] ProvisionedPollerConfig.{param} must be at least 2 for an "
    "SQS event source (AWS rejects {value}; its exact message is not recorded).",
    "pollers_order": "[esmlab] ProvisionedPollerConfig.MinimumPollers ({minimum}) must not be "
    "greater than MaximumPollers ({maximum}) (AWS's message for this is not recorded).",
    "provisioned_with_maximum_concurrency": "[esmlab] ScalingConfig.MaximumConcurrency cannot be "
    "used together with ProvisionedPollerConfig: choose maximum concurrency or provisioned mode "
    "(AWS rejects this; its exact message is not recorded).",
}


def range_message(param: str, value, bound: int, above: bool) -> str:
    """Lambda's standard constraint message (recorded for another parameter: applying it here is an inference)."""
    name = param[0].lower() + param[1:]
    relation = "less than or equal to" if above else "greater than or equal to"
    return (
        f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy "
        f"constraint: Member must have value {relation} {bound}"
    )


#: ``LastProcessingResult`` of an SQS mapping after its execution role was denied a call the
#: poller made (IAM at run time, MODELLING CHOICE in docs/simulator.md). AWS documents the
#: field's values for Kafka permission errors
#: (https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-troubleshoot.html) but none for SQS,
#: and no SQS response recorded in 2025 carried the field, so the text is esmlab's, after V14's.
SQS_DENIED_RESULT = (
    "PROBLEM: [esmlab] The function execution role does not have permissions to call {call} "
    "on SQS"
)
#: What the field says once a batch has been processed and deleted again (the stream value).
SQS_RECOVERED_RESULT = "OK"
#: Kinesis Data Streams per-shard throughput (provisioned mode, shared-throughput consumers):
#: https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
KINESIS_QUOTAS = "https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html"
KINESIS_WRITE_RECORDS_PER_SECOND = 1_000
KINESIS_WRITE_BYTES_PER_SECOND = 1024 * 1024  # data blob plus partition key
KINESIS_READ_CALLS_PER_SECOND = 5  # GetRecords, every consumer of the shard together
KINESIS_READ_BYTES_PER_SECOND = 2 * 1024 * 1024  # shared by every consumer of the shard
KINESIS_READ_RECORDS_PER_SECOND = 2_000  # the current quotas page; older text gives only 2 MB/s
KINESIS_GET_RECORDS_MAX_RECORDS = 10_000  # one GetRecords call
KINESIS_GET_RECORDS_MAX_BYTES = 10 * 1024 * 1024  # one call; then 5 s of refused reads
KINESIS_PENALTY_SECONDS = 5  # after a 10 MB GetRecords response

#: Kinesis throttling messages. The PutRecordsResultEntry reference says only that the message
#: "includes the account ID, stream name, and shard ID"
#: (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecordsResultEntry.html);
#: the exact text is not documented, so it is marked as esmlab's.
KINESIS_THROTTLED = ("[esmlab] Rate exceeded for shard {shard} in stream {stream} under account "
                     "{account}.")

#: Resharding rejections whose AWS text is not documented (UpdateShardCount's limits:
#: https://docs.aws.amazon.com/kinesis/latest/APIReference/API_UpdateShardCount.html).
KINESIS_RESHARD = {
    "double": "[esmlab] UpdateShardCount may at most double the open shard count: the stream "
    "{stream} has {open} open shard(s), and TargetShardCount {target} is more than {limit}.",
    "half": "[esmlab] UpdateShardCount may at most halve the open shard count: the stream "
    "{stream} has {open} open shard(s), and TargetShardCount {target} is less than {limit}.",
    "not_adjacent": "[esmlab] Shards {a} and {b} in stream {stream} under account {account} "
    "are not adjacent (their hash key ranges do not touch), so they cannot be merged.",
}
