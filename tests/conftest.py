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
            _dlq_url, dlq_arn = self.queue(dlq_name)
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


class StreamSetup(Setup):
    """Adds Kinesis streams and DynamoDB tables with streams."""

    def __init__(self, lab):
        super().__init__(lab)
        self.kinesis = lab.client("kinesis")
        self.ddb = lab.client("dynamodb")

    def stream(self, name="telemetry", shards=1):
        self.kinesis.create_stream(StreamName=name, ShardCount=shards)
        return self.kinesis.describe_stream_summary(StreamName=name)[
            "StreamDescriptionSummary"]["StreamARN"]

    def put(self, name, *items, key=None):
        return [self.kinesis.put_record(StreamName=name, Data=json.dumps(item).encode(),
                                        PartitionKey=key or str(item))["SequenceNumber"]
                for item in items]

    def table(self, name="orders", view="NEW_AND_OLD_IMAGES"):
        response = self.ddb.create_table(
            TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
        return response["TableDescription"]["LatestStreamArn"]


@pytest.fixture
def streams():
    lab = Lab(seed=1)
    try:
        yield StreamSetup(lab)
    finally:
        lab.close()
