"""esmlab's fixes of moto's SQS hot paths behave like moto where moto is right (esmlab/moto/sqs.py)."""

import json

from moto.core.utils import camelcase_to_underscores

from esmlab.moto import sqs as moto_sqs


def original_attributes(queue):
    """moto 5's Queue.attributes, restated: every attribute computed at once."""
    result = {}
    names = list(queue.BASE_ATTRIBUTES)
    names += queue.FIFO_ATTRIBUTES if queue.fifo_queue else []
    names += queue.KMS_ATTRIBUTES if queue.kms_master_key_id else []
    for name in names:
        result[name] = getattr(queue, camelcase_to_underscores(name))
    if queue.policy:
        result["Policy"] = queue.policy
    if queue.redrive_policy:
        result["RedrivePolicy"] = json.dumps(queue.redrive_policy)
    return {k: str(v).lower() if isinstance(v, bool) else v for k, v in result.items()}


def test_lazy_attributes_equal_moto_attributes(env):
    url, arn = env.queue("orders.fifo", dlq_after=3, ContentBasedDeduplication="true")
    env.send(url, "a", "b", MessageGroupId="g")
    env.sqs.receive_message(QueueUrl=url)
    queue = env.lab.queue_by_arn(arn)
    assert dict(queue.attributes) == original_attributes(queue)
    got = env.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert got["ApproximateNumberOfMessages"] == "1"
    assert got["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert json.loads(got["RedrivePolicy"])["maxReceiveCount"] == 3


def test_receive_matches_moto_rules(env):
    url, _arn = env.queue(VisibilityTimeout=10, dlq_after=2)
    env.send(url, *[str(i) for i in range(15)])
    first = env.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == [str(i) for i in range(10)]  # oldest first, up to 10
    rest = env.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == [str(i) for i in range(10, 15)]  # in-flight ones skipped
    assert env.sqs.receive_message(QueueUrl=url).get("Messages") is None
    env.lab.run(until=10)  # visible again exactly when the visibility timeout ends
    again = env.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert again[0]["Body"] == "0"
    env.lab.run(until=20)
    env.lab.run(until=30)
    # received twice already: maxReceiveCount 2 moves them to the DLQ on the next receive
    env.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert env.lab.trace.count("redrive") >= 10


def test_waiting_receive_on_empty_queue_returns_at_once(env):
    url, _arn = env.queue()
    assert env.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages") is None


def test_install_and_uninstall_restore_moto(env):
    from moto.sqs import models

    assert models.Queue.add_message is moto_sqs.add_message
    env.lab.close()
    assert models.Queue.add_message is not moto_sqs.add_message
    assert isinstance(models.Queue.__dict__["attributes"], property)
