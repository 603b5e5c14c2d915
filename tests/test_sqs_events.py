"""The event an SQS mapping delivers (as recorded from AWS, 2025)."""

import hashlib


def capture(env, name="orders", **mapping):
    seen = []
    env.lab.function("worker", lambda event, context: seen.append(event))
    url, arn = env.queue(name)
    env.mapping(arn, **mapping)
    return url, arn, seen


def test_standard_record_shape(env):
    url, arn, seen = capture(env)
    env.sqs.send_message(
        QueueUrl=url, MessageBody='{"orderId": 1001}',
        MessageAttributes={"Channel": {"DataType": "String", "StringValue": "web"},
                           "Priority": {"DataType": "Number", "StringValue": "2"}},
    )
    env.sqs.send_message(QueueUrl=url, MessageBody="plain")
    env.lab.run(until=10)
    assert len(seen) == 1 and list(seen[0]) == ["Records"]
    first, second = seen[0]["Records"]
    assert list(first) == [
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes",
        "md5OfMessageAttributes", "md5OfBody", "eventSource", "eventSourceARN", "awsRegion",
    ]
    assert first["body"] == '{"orderId": 1001}'
    assert first["md5OfBody"] == hashlib.md5(b'{"orderId": 1001}').hexdigest()
    assert list(first["attributes"]) == [
        "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
    ]
    assert all(isinstance(v, str) for v in first["attributes"].values())
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    # sent at t=0 of the lab: 2025-01-01T00:00:00Z in epoch milliseconds
    assert first["attributes"]["SentTimestamp"] == "1735689600000"
    assert first["messageAttributes"]["Channel"] == {
        "stringValue": "web", "stringListValues": [], "binaryListValues": [], "dataType": "String",
    }
    assert first["messageAttributes"]["Priority"]["dataType"] == "Number"
    assert len(first["md5OfMessageAttributes"]) == 32
    assert (first["eventSource"], first["eventSourceARN"], first["awsRegion"]) == (
        "aws:sqs", arn, "us-east-1")
    assert second["messageAttributes"] == {} and second["md5OfMessageAttributes"] is None


def test_fifo_attributes_and_increasing_sequence_numbers(env):
    url, _arn, seen = capture(env, "orders.fifo")
    for n in range(3):
        env.sqs.send_message(QueueUrl=url, MessageBody=f"m{n}", MessageGroupId="customer-42",
                             MessageDeduplicationId=f"order-{n}")
    env.lab.run(until=10)
    records = [r for event in seen for r in event["Records"]]
    assert [r["body"] for r in records] == ["m0", "m1", "m2"]
    attributes = records[0]["attributes"]
    assert list(attributes)[-3:] == ["SequenceNumber", "MessageGroupId", "MessageDeduplicationId"]
    assert attributes["MessageGroupId"] == "customer-42"
    assert attributes["MessageDeduplicationId"] == "order-0"
    numbers = [int(r["attributes"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert all(len(r["attributes"]["SequenceNumber"]) == 20 for r in records)


def test_new_receipt_handle_on_every_receive(env):
    seen = []

    def handler(event, context):
        seen.append(event["Records"][0])
        if len(seen) == 1:
            raise RuntimeError("first attempt fails")

    env.lab.function("worker", handler)
    url, arn = env.queue(VisibilityTimeout=5)
    env.mapping(arn)
    env.send(url, "x")
    env.lab.run(until=60)
    assert len(seen) == 2
    assert seen[0]["messageId"] == seen[1]["messageId"] and seen[0]["body"] == seen[1]["body"]
    assert seen[0]["receiptHandle"] != seen[1]["receiptHandle"]
    assert seen[1]["attributes"]["ApproximateReceiveCount"] == "2"


def test_context_object(env):
    contexts = []
    env.lab.function("worker", lambda e, c: contexts.append(
        (c.aws_request_id, c.function_name, c.function_arn, c.get_remaining_time_in_millis())),
        timeout=10)
    url, arn = env.queue()
    env.mapping(arn)
    env.send(url, "x")
    env.lab.run(until=10)
    request_id, name, arn_, remaining = contexts[0]
    assert name == "worker" and arn_.endswith(":function:worker") and remaining == 10_000
    assert env.lab.trace.invocations[0].request_id == request_id
