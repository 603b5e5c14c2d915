"""Standard queues: best-effort order and at-least-once delivery (esmlab/sqs/delivery.py).

A standard queue delivers "generally" in send order, occasionally out of order, and occasionally
more than once
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html);
a FIFO queue keeps its order and invents no duplicate. esmlab models both effects with
``Lab(reorder=..., duplicates=...)``, off by default.
"""

from collections import Counter
from itertools import pairwise

import pytest

from esmlab import BEST_EFFORT, Lab
from esmlab.lab import DEFAULT_DELIVERY


def drain(lab, n=300, fifo=False, handler=None, timeout=10, **mapping):
    """Send n numbered messages, map a function on the queue, run until all are processed.
    Returns (deliveries: [(number, messageId, receiptHandle, ApproximateReceiveCount)], url)."""
    sqs, lam = lab.client("sqs"), lab.client("lambda")
    attributes = {"VisibilityTimeout": "60"}
    name = "orders"
    if fifo:
        attributes.update(FifoQueue="true", ContentBasedDeduplication="true")
        name += ".fifo"
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    seen = []

    def record(event, context):
        for r in event["Records"]:
            seen.append((int(r["body"]), r["messageId"], r["receiptHandle"],
                         int(r["attributes"]["ApproximateReceiveCount"])))
        return handler(event, context) if handler else None

    lab.function("worker", record, timeout=timeout, duration=0.5)
    lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn, **mapping)
    extra = {"MessageGroupId": "one"} if fifo else {}
    for number in range(n):
        sqs.send_message(QueueUrl=url, MessageBody=str(number), **extra)
    lab.run(until=600)
    return seen, url


def descents(numbers):
    """How often a message arrives after one sent later than it."""
    return sum(1 for a, b in pairwise(numbers) if b < a)


def test_off_by_default_standard_queues_keep_send_order_and_deliver_once():
    assert DEFAULT_DELIVERY == {"reorder": 0.0, "duplicates": 0.0}
    with Lab(seed=3) as lab:
        seen, _ = drain(lab)
        numbers = [number for number, *_ in seen]
        assert numbers == list(range(300))
        assert lab.trace.count("duplicate") == 0
        assert lab.conservation().duplicates == {}


def test_best_effort_delivers_out_of_order_and_twice_and_loses_nothing():
    with Lab(seed=3, **BEST_EFFORT) as lab:
        seen, url = drain(lab)
        numbers = [number for number, *_ in seen]
        assert descents(numbers) > 0  # out of order
        assert set(numbers) == set(range(300))
        twice = [number for number, count in Counter(numbers).items() if count > 1]
        assert twice, "a few hundred messages should show a duplicate"
        for number in twice:
            copies = [d for d in seen if d[0] == number]
            assert len({mid for _, mid, _, _ in copies}) == 1  # the same message ...
            assert len({handle for _, _, handle, _ in copies}) == len(copies)  # new handles
            counts = sorted(count for *_, count in copies)
            assert counts == list(range(1, len(copies) + 1))  # receives, as SQS counts them
        # the ledger counts every message once, and the duplicate deliveries beside them
        verdict = lab.conservation()
        assert verdict.ok
        counts = next(iter(verdict.counts.values()))
        assert counts == {"entered": 300, "deleted": 300}
        assert sum(verdict.duplicates.values()) == lab.trace.count("duplicate") == (
            len(seen) - 300)
        assert lab.trace.count("delete") == 300
        assert lab.trace.count("duplicate_delete") == lab.trace.count("duplicate")
        attributes = lab.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                          "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        assert attributes == {"ApproximateNumberOfMessages": "0",
                              "ApproximateNumberOfMessagesNotVisible": "0"}


def test_same_seed_same_trace_and_another_seed_another_order():
    def run(seed):
        with Lab(seed=seed, **BEST_EFFORT) as lab:
            seen, _ = drain(lab, n=200)
            return [number for number, *_ in seen], lab.trace.fingerprint()

    first, again, other = run(5), run(5), run(6)
    assert first == again
    assert first[0] != other[0] or first[1] != other[1]


def test_fifo_queues_stay_ordered_with_no_duplicate_even_at_full_rates():
    with Lab(seed=3, reorder=0.9, duplicates=1.0) as lab:
        seen, _ = drain(lab, n=100, fifo=True)
        assert [number for number, *_ in seen] == list(range(100))
        assert lab.trace.count("duplicate") == 0


def test_a_deleted_message_is_never_resurrected_by_its_copy():
    # every receive leaves a copy: each message is delivered exactly twice, then never again
    with Lab(seed=3, duplicates=1.0) as lab:
        seen, url = drain(lab, n=50)
        assert Counter(number for number, *_ in seen) == {n: 2 for n in range(50)}
        assert lab.conservation().ok
        lab.run(until=3600)  # an hour later: nothing comes back
        assert len(seen) == 100
        assert lab.client("sqs").receive_message(QueueUrl=url).get("Messages") is None


def test_a_copy_that_fails_ends_at_its_visibility_timeout():
    def fail_copies(event, context):
        if any(r["attributes"]["ApproximateReceiveCount"] != "1" for r in event["Records"]):
            raise RuntimeError("not idempotent")

    with Lab(seed=3, duplicates=1.0) as lab:
        seen, _ = drain(lab, n=30, handler=fail_copies, BatchSize=1)
        # the originals (count 1) were deleted; each failed copy was delivered once, no more
        assert Counter(number for number, *_ in seen) == {n: 2 for n in range(30)}
        assert list(lab.conservation().counts.values()) == [{"entered": 30, "deleted": 30}]


def test_a_learner_sees_the_copy_through_boto3():
    with Lab(seed=1, duplicates=1.0) as lab:
        sqs = lab.client("sqs")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        attrs = {"MessageSystemAttributeNames": ["ApproximateReceiveCount"]}
        first = sqs.receive_message(QueueUrl=url, **attrs)["Messages"][0]
        second = sqs.receive_message(QueueUrl=url, **attrs)["Messages"][0]  # original in flight
        assert second["MessageId"] == first["MessageId"] and second["Body"] == "hello"
        assert second["ReceiptHandle"] != first["ReceiptHandle"]
        assert (first["Attributes"]["ApproximateReceiveCount"],
                second["Attributes"]["ApproximateReceiveCount"]) == ("1", "2")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])  # the copy only
        arn = f"arn:aws:sqs:us-east-1:{lab.account_id}:q"
        assert lab.ledger.fate(arn, first["MessageId"]) == "in_queue"
        sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
        assert lab.conservation().ok
        assert [e.kind for e in lab.trace.events if e.kind != "send"] == [
            "duplicate", "duplicate_delete", "delete"]


def test_a_learners_receive_can_return_a_later_message_first():
    with Lab(seed=2, reorder=0.5) as lab:
        sqs = lab.client("sqs")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        for n in range(10):
            sqs.send_message(QueueUrl=url, MessageBody=str(n))
        got = []
        while len(got) < 10:
            got += [int(m["Body"]) for m in
                    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3).get("Messages", [])]
        assert sorted(got) == list(range(10)) and got != list(range(10))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"reorder": 1.0}, "reorder must be a probability from 0 to below 1"),
    ({"reorder": -0.1}, "reorder must be a probability"),
    ({"duplicates": 1.5}, "duplicates must be a probability from 0 to 1"),
    ({"duplicates": float("nan")}, "duplicates must be a probability"),
    ({"duplicates": "0.1"}, "duplicates must be a probability"),
])
def test_bad_rates_are_refused_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Lab(**kwargs)


@pytest.mark.esmlab(seed=3, duplicates=1.0)
def test_the_practitioners_fixture_takes_the_rates(esm_lab):
    # the example of docs/testing.md: an idempotent handler writes each order once
    from esmlab.testing import deliveries, sqs_pipeline

    written = {}

    def handler(event, context):
        for record in event["Records"]:
            written.setdefault(record["messageId"], record["body"])

    pipeline = sqs_pipeline(esm_lab, handler)
    for n in range(20):
        esm_lab.client("sqs").send_message(QueueUrl=pipeline.queue_url, MessageBody=str(n))
    esm_lab.run(until=60)
    assert set(deliveries(esm_lab).values()) == {2}
    assert len(written) == 20
