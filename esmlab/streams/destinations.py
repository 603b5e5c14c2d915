"""On-failure destinations of stream mappings (Kinesis, DynamoDB Streams): the failure record and
its delivery to SQS, SNS or S3.

When a stream mapping discards a batch (retry limit or record-age limit reached), Lambda writes one
failure record to the mapping's ``DestinationConfig.OnFailure`` target and moves on to the shard's
next records (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html). The stream poller calls, for each discarded batch::

    record = failure_record(source="kinesis", condition="RetryAttemptsExhausted", ...)
    ok, reason = deliver(lab.internal_client, destination_arn, record, event,
                         mapping_uuid=mapping.uuid, random_uuid=lab.new_request_id())

``ok`` False is one ``DestinationDeliveryFailures``; the records are still discarded.

What is modelled (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html, and the payloads recorded in 2025):

- The record's keys and key order are the recorded ones: ``requestContext`` (``requestId``,
  ``functionArn``, ``condition``, ``approximateInvokeCount``), ``responseContext``
  (``statusCode`` 200, ``executedVersion`` ``"$LATEST"``, ``functionError``), ``version``
  ``"1.0"``, ``timestamp``, then ``KinesisBatchInfo`` (``shardId``, ``startSequenceNumber``,
  ``endSequenceNumber``, ``approximateArrivalOfFirstRecord``, ``approximateArrivalOfLastRecord``,
  ``batchSize``, ``streamArn``).
- ``functionError`` is kept as ``null`` when the failure was not a thrown error (an invalid
  partial batch response).
- DynamoDB: the batch key is ``DDBStreamBatchInfo`` and the two arrival times have no
  milliseconds (``"2025-11-25T09:30:00Z"``); Kinesis arrival times and the top-level
  ``timestamp`` always have them (``"2025-11-25T09:30:00.123Z"``).
- ``RecordAgeExceeded``: no ``responseContext`` at all.
- SQS: the record is the message body. SNS: the record is the notification ``Message``; an SQS
  subscriber of the topic receives SNS's own envelope (as recorded), which moto's SNS->SQS subscription
  builds (``Type`` "Notification", ``TopicArn``, ``Message``, ...). S3: the record plus
  ``"payload"`` at ``aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>``,
  one object per discarded batch (as recorded).
- A FIFO queue or FIFO topic is not a supported target: delivery fails and counts as
  ``DestinationDeliveryFailures`` (kinesis-on-failure-destination). So does any error from the target service
  (missing queue, topic or bucket).

Permissions (``sqs:SendMessage``, ``sns:Publish``, ``s3:PutObject`` + ``s3:ListBucket``, kinesis-on-failure-destination)
are checked by the caller, which passes the outcome as ``permitted``.

Sources:
- https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
- https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
- https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
- observed behaviour of the AWS API (recorded 2025).

MODELLING CHOICE (S3 payload form): the docs describe ``payload`` as the invocation serialised
into an escaped JSON string; the recording showed the ``{"Records": [...]}`` structure (the two
sources disagree, so either is accepted). esmlab writes the structure: the event dict exactly as the function
received it.

MODELLING CHOICE (serialisation): the SQS body, SNS message and S3 object are compact JSON
(``separators=(",", ":")``), as in the recorded SNS ``Message``; the key order is the
record's. Whitespace in the real bodies was not otherwise recorded.

MODELLING CHOICE (times): epoch seconds are formatted in UTC. Milliseconds are rounded to the
nearest millisecond; DynamoDB arrival times and the S3 key time drop the fraction (truncate to the
second) after that rounding, so the S3 key's time always equals the seconds of ``timestamp``.

MODELLING CHOICE (SNS envelope): the envelope an SQS subscriber sees is moto's, not esmlab's.
moto writes ``SignatureVersion`` "2" (the recording shows "1") and a pretty-printed body; the
``Message`` string inside it is exactly what `deliver` published.

MODELLING CHOICE (regions): the destination is reached with the client that ``clients`` returns
for its service, i.e. in the lab's Region. A cross-Region target is not modelled.
"""

from __future__ import annotations

import datetime as dt
import json

from botocore.exceptions import ClientError

SOURCES = ("kinesis", "dynamodb")
CONDITIONS = ("RetryAttemptsExhausted", "RecordAgeExceeded")
BATCH_INFO_KEY = {"kinesis": "KinesisBatchInfo", "dynamodb": "DDBStreamBatchInfo"}


# --- times ---------------------------------------------------------------------------------------

def _utc(epoch_ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=epoch_ms)


def _to_ms(epoch: float) -> int:
    return round(epoch * 1000)


def iso_ms(epoch: float) -> str:
    """``2025-11-25T09:31:07.412Z``: UTC with milliseconds (top-level timestamp, Kinesis arrivals)."""
    t = _utc(_to_ms(epoch))
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def iso_s(epoch: float) -> str:
    """``2025-11-25T09:30:00Z``: UTC without milliseconds (DynamoDB arrival times)."""
    return _utc(_to_ms(epoch)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch_of(timestamp) -> float:
    """Epoch seconds of a number or of a record's ISO ``timestamp`` string."""
    if isinstance(timestamp, str):
        return dt.datetime.fromisoformat(timestamp).timestamp()
    return float(timestamp)


# --- the failure record --------------------------------------------------------------------------

def failure_record(
    *,
    source: str,
    condition: str,
    request_id: str,
    function_arn: str,
    invoke_count: int,
    function_error: str | None,
    timestamp: float,
    shard_id: str,
    start_sequence: str,
    end_sequence: str,
    first_arrival: float,
    last_arrival: float,
    batch_size: int,
    stream_arn: str,
) -> dict:
    """The JSON record Lambda sends to an on-failure destination (as recorded in 2025).

    Times are epoch seconds. ``function_error`` ("Unhandled", or None for an invalid partial
    batch response) is used only for ``RetryAttemptsExhausted``; a ``RecordAgeExceeded`` record
    has no ``responseContext``.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, not {condition!r}")
    arrival = iso_ms if source == "kinesis" else iso_s
    record: dict = {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": int(invoke_count),
        }
    }
    if condition == "RetryAttemptsExhausted":
        record["responseContext"] = {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": function_error,
        }
    record["version"] = "1.0"
    record["timestamp"] = iso_ms(timestamp)
    record[BATCH_INFO_KEY[source]] = {
        "shardId": shard_id,
        "startSequenceNumber": start_sequence,
        "endSequenceNumber": end_sequence,
        "approximateArrivalOfFirstRecord": arrival(first_arrival),
        "approximateArrivalOfLastRecord": arrival(last_arrival),
        "batchSize": int(batch_size),
        "streamArn": stream_arn,
    }
    return record


def batch_info(record: dict) -> dict:
    """The record's ``KinesisBatchInfo`` or ``DDBStreamBatchInfo``."""
    for key in BATCH_INFO_KEY.values():
        if key in record:
            return record[key]
    raise KeyError("record has neither KinesisBatchInfo nor DDBStreamBatchInfo")


def s3_key(mapping_uuid: str, shard_id: str, timestamp, random_uuid: str) -> str:
    """``aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>`` (as recorded in 2025).

    ``timestamp``: the record's ``timestamp`` (epoch seconds, or its ISO string); the key uses it
    at second precision, in UTC.
    """
    t = _utc(_to_ms(_epoch_of(timestamp)))
    return (
        f"aws/lambda/{mapping_uuid}/{shard_id}/{t:%Y/%m/%d}/{t:%Y-%m-%dT%H.%M.%S}-{random_uuid}"
    )


# --- delivery ------------------------------------------------------------------------------------

def _dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _client_error(exc: ClientError) -> str:
    err = exc.response.get("Error", {})
    return f"{err.get('Code', 'ClientError')}: {err.get('Message', str(exc))}"


def deliver(
    clients,
    destination_arn: str,
    record: dict,
    payload: dict | None,
    *,
    mapping_uuid: str,
    random_uuid: str,
    permitted: bool = True,
) -> tuple[bool, str | None]:
    """Send ``record`` to the on-failure destination ``destination_arn``.

    ``clients``: ``service name -> boto3 client``. ``payload``: the invocation event of the
    discarded batch (``{"Records": [...]}``), written only to S3. ``mapping_uuid`` and
    ``random_uuid`` name the S3 object. ``permitted`` False (the execution role lacks the
    action) fails the delivery without calling the service.

    Returns ``(True, None)`` when delivered, else ``(False, reason)``: a FIFO queue or topic,
    a missing queue, topic or bucket, any other service error, or no permission. Each failure is
    one ``DestinationDeliveryFailures``.
    """
    parts = destination_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return False, f"InvalidDestination: not an ARN: {destination_arn}"
    service, _region, account, resource = parts[2], parts[3], parts[4], parts[5]
    if service not in ("sqs", "sns", "s3"):
        return False, f"InvalidDestination: unsupported on-failure destination {destination_arn}"
    if not permitted:
        action = {"sqs": "sqs:SendMessage", "sns": "sns:Publish", "s3": "s3:PutObject"}[service]
        return False, f"AccessDenied: the execution role is not allowed {action} on {destination_arn}"
    try:
        if service == "sqs":
            if resource.endswith(".fifo"):
                return False, f"FIFO queue is not a supported on-failure destination: {destination_arn}"
            sqs = clients("sqs")
            url = sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=_dumps(record))
        elif service == "sns":
            if resource.endswith(".fifo"):
                return False, f"FIFO topic is not a supported on-failure destination: {destination_arn}"
            clients("sns").publish(TopicArn=destination_arn, Message=_dumps(record))
        else:
            bucket = resource.split("/", 1)[0]
            key = s3_key(mapping_uuid, batch_info(record)["shardId"], record["timestamp"],
                         random_uuid)
            body = dict(record)
            body["payload"] = payload
            clients("s3").put_object(Bucket=bucket, Key=key, Body=_dumps(body).encode())
    except ClientError as exc:
        return False, _client_error(exc)
    return True, None
