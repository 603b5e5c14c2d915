"""The SQS poller reaches moto's backend directly (no boto3 round trip, docs/simulator.md "How the
poller reaches moto"): the records it delivers must be exactly what a boto3 ReceiveMessage of the
same messages gives."""

from __future__ import annotations

import base64
import re

import pytest

from esmlab import Lab
from esmlab.sqs.event import record

ATTRIBUTES = {
    "text": {"DataType": "String", "StringValue": "héllo"},
    "count": {"DataType": "Number.int", "StringValue": "42"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe\xff"},
    "tag": {"DataType": "String.custom", "StringValue": "x"},
}


def sends(sqs, url, fifo):
    extra = {"MessageGroupId": "g1"} if fifo else {}
    for n in range(3):
        if fifo:
            extra["MessageDeduplicationId"] = f"d{n}"
        attributes = ATTRIBUTES if n != 1 else {}  # one message without attributes
        sqs.send_message(QueueUrl=url, MessageBody=f'{{"n": {n}}}', MessageAttributes=attributes,
                         **extra)


def open_queue(lab, fifo):
    sqs = lab.client("sqs")
    name = "orders.fifo" if fifo else "orders"
    attributes = {"VisibilityTimeout": "30"}
    if fifo:
        attributes["FifoQueue"] = "true"
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    return sqs, url, arn


@pytest.mark.parametrize("fifo", [False, True])
def test_records_equal_what_boto3_receive_returns(fifo):
    with Lab(seed=3) as lab:
        sqs, url, arn = open_queue(lab, fifo)
        delivered = []
        lab.function("fn", lambda event, context: delivered.extend(event["Records"]))
        lab.client("lambda").create_event_source_mapping(FunctionName="fn", EventSourceArn=arn)
        lab.run(until=1)  # Creating: nothing received yet
        sends(sqs, url, fifo)
        lab.run(until=2)  # Enabled at 2 s: one receive takes all three
    with Lab(seed=3) as lab:
        sqs, url, arn = open_queue(lab, fifo)
        lab.run(until=1)
        sends(sqs, url, fifo)
        lab.run(until=2)
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                  MessageSystemAttributeNames=["All"],
                                  MessageAttributeNames=["All"])["Messages"]
        expected = [record(m, arn, lab.region) for m in got]

    assert len(delivered) == len(expected) == 3
    for mine, theirs in zip(delivered, expected, strict=True):
        # ids and handles are random draws, which the mapping's set-up shifts in the first lab
        assert re.fullmatch("[a-z]{185}", mine["receiptHandle"])
        assert re.fullmatch("[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", mine["messageId"])
        mine, theirs = dict(mine), dict(theirs)
        for key in ("receiptHandle", "messageId"):
            mine.pop(key), theirs.pop(key)
        assert mine == theirs
        assert list(mine["attributes"]) == list(theirs["attributes"])  # same key order
    with_attributes = delivered[0]["messageAttributes"]
    assert with_attributes["blob"]["binaryValue"] == base64.b64encode(b"\x00\x01\xfe\xff").decode()
    assert delivered[1]["messageAttributes"] == {}
    assert delivered[1]["md5OfMessageAttributes"] is None
