"""Errors, retries, redrive, partial batch responses and FIFO groups (services-sqs-errorhandling, services-sqs-scaling)."""

import itertools
import json

import pytest

from esmlab import Lab


def deliveries(lab):
    """message id -> number of invocations that carried it."""
    counts = {}
    for invocation in lab.trace.invocations:
        for message_id in invocation.records:
            counts[message_id] = counts.get(message_id, 0) + 1
    return counts


def dlq_bodies(env, name="orders-dlq"):
    url = env.sqs.get_queue_url(QueueName=name)["QueueUrl"]
    messages = env.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in messages], [m["MessageId"] for m in messages]


def test_failure_redelivers_after_visibility_timeout_and_redrives(env):
    """Observed in AWS (2025): maxReceiveCount 2 and a failing function: exactly 2 invocations."""
    env.lab.function("worker", lambda e, c: 1 / 0)
    url, arn = env.queue(VisibilityTimeout=5, dlq_after=2)
    env.mapping(arn)
    (message_id,) = env.send(url, "poison")
    env.lab.run(until=6)
    assert len(env.lab.trace.invocations) == 1
    assert env.lab.trace.invocations[0].error["errorType"] == "ZeroDivisionError"
    assert dlq_bodies(env) == ([], [])  # still empty after the first failure
    env.lab.run(until=120)
    starts = [i.start for i in env.lab.trace.invocations]
    assert len(starts) == 2 and starts[1] - starts[0] >= 5
    assert dlq_bodies(env) == (["poison"], [message_id])
    redrive = env.lab.trace.of("redrive")
    assert len(redrive) == 1 and redrive[0].records == (message_id,)
    conservation = env.lab.conservation()
    assert conservation.ok and conservation.counts[arn] == {"entered": 1, "redriven": 1}


def test_whole_batch_fails_without_rbif(env):
    def handler(event, context):
        if any(r["body"] == "bad" for r in event["Records"]):
            raise ValueError("bad record")

    env.lab.function("worker", handler)
    url, arn = env.queue(VisibilityTimeout=10, dlq_after=3)
    env.mapping(arn, BatchSize=10)
    ids = env.send(url, "good1", "bad", "good2")
    env.lab.run(until=200)
    assert [deliveries(env.lab)[i] for i in ids] == [3, 3, 3]  # good ones retried too
    assert sorted(dlq_bodies(env)[0]) == ["bad", "good1", "good2"]


def rbif_run(env, response, receive_limit=2):
    calls = []

    def handler(event, context):
        calls.append([r["messageId"] for r in event["Records"]])
        return response(event) if callable(response) else response

    env.lab.function("worker", handler)
    url, arn = env.queue(VisibilityTimeout=10, dlq_after=receive_limit)
    env.mapping(arn, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    ids = env.send(url, "a", "b", "c")
    env.lab.run(until=200)
    return ids, calls


@pytest.mark.parametrize("response", [
    None, {}, [], {"batchItemFailures": []}, {"batchItemFailures": None}, "ok",
])
def test_rbif_success_shapes(env, response):
    ids, calls = rbif_run(env, response)
    assert calls == [ids]
    assert env.lab.trace.invocations[0].outcome == "success"
    arn = next(iter(env.lab.mappings.values())).source_arn
    assert env.lab.conservation().counts[arn]["deleted"] == 3


@pytest.mark.parametrize("response", [
    {"batchItemFailures": [{"itemIdentifier": ""}]},
    {"batchItemFailures": [{"itemIdentifier": None}]},
    {"batchItemFailures": [{"foo": "notvalid"}]},
    {"batchItemFailures": [{"itemIdentifier": "123"}]},
    {"batchItemFailures": "everything"},
])
def test_rbif_failure_shapes_fail_the_whole_batch(env, response):
    ids, calls = rbif_run(env, response)
    assert calls == [ids, ids]
    assert env.lab.trace.invocations[0].outcome == "invalid_response"
    assert sorted(dlq_bodies(env)[0]) == ["a", "b", "c"]


def test_rbif_partial_failure_returns_only_listed_messages(env):
    ids, calls = rbif_run(
        env, lambda event: {"batchItemFailures": [
            {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "b"]},
    )
    assert calls == [ids, [ids[1]]]
    assert env.lab.trace.invocations[0].outcome == "partial"
    assert env.lab.trace.invocations[0].failed == (ids[1],)
    assert dlq_bodies(env)[0] == ["b"]


def test_partial_response_ignored_without_rbif(env):
    env.lab.function("worker", lambda e, c: {"batchItemFailures": [
        {"itemIdentifier": e["Records"][0]["messageId"]}]})
    url, arn = env.queue()
    env.mapping(arn)
    env.send(url, "a", "b")
    env.lab.run(until=100)
    assert len(env.lab.trace.invocations) == 1
    assert env.lab.conservation().counts[arn]["deleted"] == 2


def test_handler_that_raises_returns_garbage_or_times_out_never_crashes(env):
    outcomes = iter(["raise", "garbage", "slow", "fine"])

    def handler(event, context):
        kind = next(outcomes)
        if kind == "raise":
            raise KeyError("boom")
        if kind == "garbage":
            return {1, 2, 3}  # a set is not JSON
        return "done"

    env.lab.function("worker", handler, timeout=2,
                     duration=lambda event: 5.0 if env.lab.trace.count("invoke_start") == 3 else 0.1)
    url, arn = env.queue(VisibilityTimeout=5)
    env.mapping(arn)
    env.send(url, "x")
    env.lab.run(until=100)
    invocations = env.lab.trace.invocations
    assert [i.outcome for i in invocations] == ["error", "error", "timeout", "success"]
    assert invocations[1].error["errorType"] == "Runtime.MarshalError"
    assert invocations[2].error["errorMessage"] == "Task timed out after 2.00 seconds"
    assert invocations[2].end - invocations[2].start == 2.0


def test_retention_expiry_removes_messages(env):
    env.lab.function("worker", lambda e, c: None)
    url, arn = env.queue(MessageRetentionPeriod=60)
    uuid = env.mapping(arn, Enabled=False)["UUID"]
    (message_id,) = env.send(url, "old")
    env.lab.run(until=100)
    assert [e.records for e in env.lab.trace.of("expire")] == [(message_id,)]
    assert env.lab.trace.of("expire")[0].t == 60.0
    attributes = env.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    env.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    env.lab.run(until=200)
    assert env.lab.trace.invocations == []
    assert env.lab.conservation().counts[arn] == {"entered": 1, "expired": 1}


def test_records_sent_while_disabled_wait_for_reenable(env):
    env.lab.function("worker", lambda e, c: None)
    url, arn = env.queue()
    uuid = env.mapping(arn)["UUID"]
    env.lab.run(until=10)
    env.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    env.lab.run(until=20)
    env.send(url, "while disabled")
    env.lab.run(until=100)
    assert env.lab.trace.invocations == []
    env.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    env.lab.run(until=130)
    assert len(env.lab.trace.invocations) == 1
    assert env.lab.trace.invocations[0].start >= 102


def test_stale_receipt_handle_does_not_delete(env):
    url, arn = env.queue(VisibilityTimeout=1)
    env.send(url, "x")
    first = env.sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    env.lab.run(until=2)
    second = env.sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    env.sqs.delete_message(QueueUrl=url, ReceiptHandle=first)  # succeeds, deletes nothing
    assert env.lab.trace.count("stale_delete") == 1
    env.sqs.delete_message(QueueUrl=url, ReceiptHandle=second)
    assert env.lab.trace.count("delete") == 1
    assert env.lab.conservation().counts[arn] == {"entered": 1, "deleted": 1}


def fifo_env(env, handler, **queue):
    env.lab.function("worker", handler, timeout=10, duration=5.0)
    url, arn = env.queue("orders.fifo", **queue)
    return url, arn


def test_fifo_keeps_group_order_and_one_batch_per_group(env):
    url, arn = fifo_env(env, lambda e, c: None)
    env.lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn, BatchSize=1)
    for n in range(6):
        env.sqs.send_message(QueueUrl=url, MessageBody=f"g{n % 2}-{n}", MessageGroupId=f"g{n % 2}",
                             MessageDeduplicationId=str(n))
    env.lab.run(until=200)
    invocations = env.lab.trace.invocations
    bodies = {i.request_id: i for i in invocations}
    assert len(bodies) == 6
    for group in ("g0", "g1"):
        mine = [i for i in invocations if env.lab.ledger.entries[(arn, i.records[0])].message.group_id == group]
        assert all(a.end <= b.start for a, b in itertools.pairwise(mine))  # never overlap
        sent = [e.records[0] for e in env.lab.trace.of("send")
                if env.lab.ledger.entries[(arn, e.records[0])].message.group_id == group]
        assert [i.records[0] for i in mine] == sent
    # the two groups did run side by side
    assert invocations[0].start == invocations[1].start


def test_fifo_partial_failure_observed_example(env):
    """Observed in AWS (2025): 1-4 in one group; report 2,3,4 then 4; 1 deleted, 4 ends in the DLQ."""
    calls = []

    def handler(event, context):
        bodies = [r["body"] for r in event["Records"]]
        calls.append((bodies, [r["attributes"]["ApproximateReceiveCount"] for r in event["Records"]]))
        failing = bodies[1:] if len(calls) == 1 else bodies[-1:]
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                      for r in event["Records"] if r["body"] in failing]}

    url, arn = fifo_env(env, handler, dlq_after=2)
    env.lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn, BatchSize=10,
                                        FunctionResponseTypes=["ReportBatchItemFailures"])
    for n in range(1, 5):
        env.sqs.send_message(QueueUrl=url, MessageBody=str(n), MessageGroupId="g",
                             MessageDeduplicationId=str(n))
    env.lab.run(until=300)
    assert calls == [(["1", "2", "3", "4"], ["1"] * 4), (["2", "3", "4"], ["2"] * 3)]
    assert dlq_bodies(env, "orders-dlq.fifo")[0] == ["4"]
    assert env.lab.conservation().ok


def test_fifo_failure_blocks_its_group_until_retried(env):
    attempts = []

    def handler(event, context):
        attempts.append((env.lab.now, [r["body"] for r in event["Records"]]))
        if event["Records"][0]["body"] == "a1" and len(attempts) == 1:
            raise RuntimeError("first try of a1 fails")

    url, arn = fifo_env(env, handler, VisibilityTimeout=30)
    env.lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn, BatchSize=1)
    for n, body in enumerate(["a1", "a2"]):
        env.sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="a",
                             MessageDeduplicationId=str(n))
    env.lab.run(until=200)
    assert [b for _, b in attempts] == [["a1"], ["a1"], ["a2"]]
    assert attempts[1][0] >= attempts[0][0] + 30  # a2 waited for a1's retry


def same_scenario(seed):
    lab = Lab(seed=seed)
    sqs, lam = lab.client("sqs"), lab.client("lambda")
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    url = sqs.create_queue(QueueName="q", Attributes={
        "VisibilityTimeout": "5",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})[
        "QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]

    def handler(event, context):
        if lab.random.random() < 0.3:
            raise RuntimeError("flaky")

    lab.function("worker", handler, duration=0.5)
    lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn, BatchSize=3)
    for i in range(40):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    lab.run(until=300)
    result = lab.trace.fingerprint()
    lab.close()
    return result


def test_same_seed_same_trace():
    assert same_scenario(5) == same_scenario(5)
    assert same_scenario(5) != same_scenario(6)


def test_function_longer_than_visibility_timeout_gives_duplicates(env):
    """The VT was shortened after the mapping was made: a message comes back while its
    invocation still runs, a second poller gets it, and the first delete uses a stale handle."""
    env.lab.function("worker", lambda e, c: None, timeout=20, duration=15.0)
    url, arn = env.queue(VisibilityTimeout=30)
    env.mapping(arn)
    env.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "10"})
    (message_id,) = env.send(url, "slow")
    env.lab.run(until=100)
    assert deliveries(env.lab)[message_id] >= 2  # delivered again while still being processed
    assert env.lab.trace.count("stale_delete") >= 1
    assert env.lab.conservation().ok
