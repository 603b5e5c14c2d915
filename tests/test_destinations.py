"""On-failure destination records and their delivery (kinesis-on-failure-destination, services-dynamodb-errors)."""

import datetime as dt
import json

import pytest

from esmlab import Lab
from esmlab.streams.destinations import deliver, failure_record, iso_ms, iso_s, s3_key

UTC = dt.UTC


def epoch(*args) -> float:
    return dt.datetime(*args, tzinfo=UTC).timestamp()


SEQ = "49657216348736232549818937212592392722458226539651678210"
FN = "arn:aws:lambda:us-east-1:123456789012:function:orders-fn"
STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/telemetry"
DDB_STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2025-11-25T09:00:00.000"
ESM = "6d9bc3a1-2f4e-4b7a-9c1d-0e8f7a6b5c4d"
RANDOM = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

# The recorded example's inputs.
EXAMPLE = {
    "source": "kinesis",
    "condition": "RetryAttemptsExhausted",
    "request_id": "c9b8d7e6-1a2b-4c3d-9e8f-0a1b2c3d4e5f",
    "function_arn": FN,
    "invoke_count": 2,
    "function_error": "Unhandled",
    "timestamp": epoch(2025, 11, 25, 9, 31, 7, 412000),
    "shard_id": "shardId-000000000000",
    "start_sequence": SEQ,
    "end_sequence": SEQ,
    "first_arrival": epoch(2025, 11, 25, 9, 30, 0, 123000),
    "last_arrival": epoch(2025, 11, 25, 9, 30, 0, 123000),
    "batch_size": 1,
    "stream_arn": STREAM,
}

# The record as recorded from AWS (2025), verbatim.
EXPECTED_41 = {
    "requestContext": {"requestId": "c9b8d7e6-1a2b-4c3d-9e8f-0a1b2c3d4e5f",
                       "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders-fn",
                       "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 2},
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
    "version": "1.0",
    "timestamp": "2025-11-25T09:31:07.412Z",
    "KinesisBatchInfo": {"shardId": "shardId-000000000000",
                         "startSequenceNumber": "49657216348736232549818937212592392722458226539651678210",
                         "endSequenceNumber": "49657216348736232549818937212592392722458226539651678210",
                         "approximateArrivalOfFirstRecord": "2025-11-25T09:30:00.123Z",
                         "approximateArrivalOfLastRecord": "2025-11-25T09:30:00.123Z",
                         "batchSize": 1, "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/telemetry"}}


def keys(d):
    """Key order, recursively (dict equality ignores it; the recorded order matters)."""
    return [(k, keys(v) if isinstance(v, dict) else None) for k, v in d.items()]


# --- the record ---------------------------------------------------------------------------------

def test_kinesis_retry_exhausted_matches_recorded_example():
    record = failure_record(**EXAMPLE)
    assert record == EXPECTED_41
    assert keys(record) == keys(EXPECTED_41)
    # Serialised, it is the compact JSON of the recorded SNS Message, in the recorded order.
    assert json.dumps(record, separators=(",", ":")).startswith(
        '{"requestContext":{"requestId":"c9b8d7e6-')


def test_invalid_partial_response_keeps_function_error_as_null():
    record = failure_record(**{**EXAMPLE, "function_error": None})
    assert "functionError" in record["responseContext"]
    assert record["responseContext"]["functionError"] is None
    assert '"functionError":null' in json.dumps(record, separators=(",", ":"))


def test_dynamodb_variant():
    record = failure_record(**{**EXAMPLE, "source": "dynamodb", "stream_arn": DDB_STREAM})
    expected = {k: v for k, v in EXPECTED_41.items() if k != "KinesisBatchInfo"}
    expected["DDBStreamBatchInfo"] = {
        **EXPECTED_41["KinesisBatchInfo"],
        "approximateArrivalOfFirstRecord": "2025-11-25T09:30:00Z",
        "approximateArrivalOfLastRecord": "2025-11-25T09:30:00Z",
        "streamArn": DDB_STREAM,
    }
    assert record == expected
    assert keys(record) == keys(expected)
    assert record["timestamp"] == "2025-11-25T09:31:07.412Z"  # the top level keeps milliseconds


def test_record_age_exceeded_has_no_response_context():
    record = failure_record(**{**EXAMPLE, "condition": "RecordAgeExceeded", "invoke_count": 1,
                               "timestamp": epoch(2025, 11, 25, 9, 32, 10, 4000)})
    expected = {
        "requestContext": {**EXPECTED_41["requestContext"], "condition": "RecordAgeExceeded",
                           "approximateInvokeCount": 1},
        "version": "1.0",
        "timestamp": "2025-11-25T09:32:10.004Z",
        "KinesisBatchInfo": EXPECTED_41["KinesisBatchInfo"],
    }
    assert record == expected
    assert keys(record) == keys(expected)


def test_bad_source_or_condition_raise():
    with pytest.raises(ValueError):
        failure_record(**{**EXAMPLE, "source": "sqs"})
    with pytest.raises(ValueError):
        failure_record(**{**EXAMPLE, "condition": "Timeout"})


def test_time_formats():
    # Rounded to the millisecond (0.412 is not exact in binary), with carry into the second.
    assert iso_ms(epoch(2025, 11, 25, 9, 31, 7, 412000)) == "2025-11-25T09:31:07.412Z"
    assert iso_ms(epoch(2025, 11, 25, 9, 31, 7) - 0.0001) == "2025-11-25T09:31:07.000Z"
    assert iso_ms(epoch(2025, 11, 25, 9, 31, 7)) == "2025-11-25T09:31:07.000Z"
    assert iso_s(epoch(2025, 11, 25, 9, 30, 0, 999000)) == "2025-11-25T09:30:00Z"


def test_s3_key():
    ts = epoch(2025, 11, 25, 9, 31, 7, 412000)
    key = f"aws/lambda/{ESM}/shardId-000000000000/2025/11/25/2025-11-25T09.31.07-{RANDOM}"
    assert s3_key(ESM, "shardId-000000000000", ts, RANDOM) == key
    assert s3_key(ESM, "shardId-000000000000", "2025-11-25T09:31:07.412Z", RANDOM) == key
    # Single-digit fields are zero-padded.
    assert s3_key(ESM, "s", epoch(2025, 1, 2, 3, 4, 5, 999000), "u") == (
        "aws/lambda/" + ESM + "/s/2025/01/02/2025-01-02T03.04.05-u")


# --- delivery -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab():
    lab = Lab(seed=3)
    try:
        yield lab
    finally:
        lab.close()


def make_queue(lab, name, **attrs):
    sqs = lab.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive_one(lab, url):
    msgs = lab.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(msgs) == 1
    return msgs[0]["Body"]


PAYLOAD = {"Records": [{"kinesis": {"sequenceNumber": SEQ, "data": "eyJ4IjoxfQ=="},
                        "eventSource": "aws:kinesis", "eventSourceARN": STREAM}]}


def test_sqs_body_is_the_record(lab):
    url, arn = make_queue(lab, "esm-failures")
    record = failure_record(**EXAMPLE)
    assert deliver(lab.client, arn, record, PAYLOAD, mapping_uuid=ESM, random_uuid=RANDOM) == (
        True, None)
    body = receive_one(lab, url)
    assert json.loads(body) == record
    assert keys(json.loads(body)) == keys(record)
    assert "payload" not in body  # SQS and SNS get metadata only (kinesis-on-failure-destination)


def test_sns_via_sqs_subscriber_gets_the_envelope(lab):
    sns = lab.client("sns")
    topic = sns.create_topic(Name="esm-failures")["TopicArn"]
    url, qarn = make_queue(lab, "topic-subscriber")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    record = failure_record(**EXAMPLE)
    assert deliver(lab.client, topic, record, PAYLOAD, mapping_uuid=ESM, random_uuid=RANDOM) == (
        True, None)
    envelope = json.loads(receive_one(lab, url))
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == topic
    assert isinstance(envelope["Message"], str)
    assert json.loads(envelope["Message"]) == record
    assert envelope["Message"] == json.dumps(record, separators=(",", ":"))
    for key in ("MessageId", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL",
                "UnsubscribeURL"):
        assert key in envelope
    assert "Subject" not in envelope


def test_s3_object_key_and_payload(lab):
    s3 = lab.client("s3")
    s3.create_bucket(Bucket="esm-failures-bucket")
    record = failure_record(**{**EXAMPLE, "source": "dynamodb", "stream_arn": DDB_STREAM})
    ok = deliver(lab.client, "arn:aws:s3:::esm-failures-bucket", record, PAYLOAD,
                 mapping_uuid=ESM, random_uuid=RANDOM)
    assert ok == (True, None)
    listed = s3.list_objects_v2(Bucket="esm-failures-bucket")["Contents"]
    key = f"aws/lambda/{ESM}/shardId-000000000000/2025/11/25/2025-11-25T09.31.07-{RANDOM}"
    assert [o["Key"] for o in listed] == [key]  # exactly one object per discarded batch
    body = json.loads(s3.get_object(Bucket="esm-failures-bucket", Key=key)["Body"].read())
    assert body == {**record, "payload": PAYLOAD}
    assert list(body) == [*record, "payload"]


def test_fifo_queue_is_refused(lab):
    url, arn = make_queue(lab, "esm-failures.fifo", FifoQueue="true")
    ok, reason = deliver(lab.client, arn, failure_record(**EXAMPLE), PAYLOAD,
                         mapping_uuid=ESM, random_uuid=RANDOM)
    assert not ok and "FIFO" in reason
    assert "Messages" not in lab.client("sqs").receive_message(QueueUrl=url)


def test_fifo_topic_is_refused(lab):
    topic = lab.client("sns").create_topic(
        Name="esm-failures.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    ok, reason = deliver(lab.client, topic, failure_record(**EXAMPLE), PAYLOAD,
                         mapping_uuid=ESM, random_uuid=RANDOM)
    assert not ok and "FIFO" in reason


@pytest.mark.parametrize("arn", [
    "arn:aws:sqs:us-east-1:123456789012:no-such-queue",
    "arn:aws:sns:us-east-1:123456789012:no-such-topic",
    "arn:aws:s3:::no-such-bucket",
])
def test_missing_target_is_refused(lab, arn):
    ok, reason = deliver(lab.client, arn, failure_record(**EXAMPLE), PAYLOAD,
                         mapping_uuid=ESM, random_uuid=RANDOM)
    assert not ok and reason


def test_not_permitted_is_refused_without_sending(lab):
    url, arn = make_queue(lab, "esm-failures-denied")
    ok, reason = deliver(lab.client, arn, failure_record(**EXAMPLE), PAYLOAD,
                         mapping_uuid=ESM, random_uuid=RANDOM, permitted=False)
    assert not ok and reason.startswith("AccessDenied")
    assert "Messages" not in lab.client("sqs").receive_message(QueueUrl=url)
