"""Shared helpers for the tests: a lab with a queue, and small accessors."""

import json

import pytest

from esmlab import Lab


def queue_arn(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


class Setup:
    """A lab with clients and shortcuts for making queues, functions and mappings."""

    def __init__(self, lab):
        self.lab = lab
        self.sqs = lab.client("sqs")
        self.lam = lab.client("lambda")

    def queue(self, name="orders", dlq_after=None, **attributes):
        attrs = {"VisibilityTimeout": "30"}
        if name.endswith(".fifo"):
            attrs["FifoQueue"] = "true"
        attrs.update({k: str(v) for k, v in attributes.items()})
        if dlq_after is not None:
            dlq_name = name.replace(".fifo", "") + "-dlq" + (".fifo" if name.endswith(".fifo") else "")
            dlq_url, dlq_arn = self.queue(dlq_name)
            attrs["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(dlq_after)}
            )
        url = self.sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        return url, queue_arn(self.sqs, url)

    def send(self, url, *bodies, **kwargs):
        return [self.sqs.send_message(QueueUrl=url, MessageBody=b, **kwargs)["MessageId"] for b in bodies]

    def mapping(self, arn, function="worker", **params):
        return self.lam.create_event_source_mapping(FunctionName=function, EventSourceArn=arn, **params)


@pytest.fixture
def env():
    lab = Lab(seed=1)
    try:
        yield Setup(lab)
    finally:
        lab.close()
