"""Mappings that change while they work: disable, enable, update and delete mid-run (issue 16).

Every test goes through the learner contract (boto3 clients, lab.function, lab.run, the trace)
and fails without the fix it guards.
"""

import botocore.exceptions
import pytest

from esmlab.trace import peak_concurrency


def test_lowering_batch_size_below_a_gathered_batch_does_not_crash(env):
    """A slot holding 15 messages of a 20-message batch, BatchSize lowered to 5: the batch is
    cut to 5 and the rest follows in later batches (it used to ask SQS for -10 messages)."""
    sizes = []
    env.lab.function("worker", lambda event, context: sizes.append(len(event["Records"])))
    url, arn = env.queue()
    uuid = env.mapping(arn, BatchSize=20, MaximumBatchingWindowInSeconds=10)["UUID"]
    env.lab.run(until=3)
    env.send(url, *[f"m{n}" for n in range(15)])
    env.lab.run(until=4)  # received, waiting for the window
    env.lam.update_event_source_mapping(UUID=uuid, BatchSize=5)
    env.send(url, "late")  # wakes the waiting long poll
    env.lab.run(until=60)
    assert sum(sizes) == 16 and max(sizes) <= 5
    conservation = env.lab.conservation()
    assert conservation.ok and conservation.counts[arn] == {"entered": 16, "deleted": 16}


def test_sys_exit_in_a_handler_is_a_function_error(env):
    """sys.exit() ends Lambda's runtime process: a function error (Runtime.ExitError), retried
    like any other; it must not stop lab.run."""
    import sys

    env.lab.function("worker", lambda event, context: sys.exit(3))
    url, arn = env.queue(VisibilityTimeout=5, dlq_after=2)
    env.mapping(arn)
    (message_id,) = env.send(url, "exit")
    env.lab.run(until=60)
    errors = [i.error for i in env.lab.trace.invocations]
    assert [e["errorType"] for e in errors] == ["Runtime.ExitError"] * 2
    assert errors[0]["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    assert [e.records for e in env.lab.trace.of("redrive")] == [(message_id,)]
    assert env.lab.conservation().ok


def error_code(call, **params):
    try:
        call(**params)
    except botocore.exceptions.ClientError as error:
        return error.response["Error"]["Code"], error.response["Error"]["Message"]
    raise AssertionError(f"{call.__name__} was accepted")


def test_update_while_creating_is_refused_and_the_mapping_stays_as_asked(streams):
    """Kinesis mapping created at t=3, disabled at t=4.6: AWS refuses an update of a mapping
    in the CREATING state with ResourceInUseException (API_UpdateEventSourceMapping)."""
    streams.lab.function("fn", lambda event, context: None)
    arn = streams.stream()
    streams.lab.run(until=3)
    uuid = streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                                   StartingPosition="TRIM_HORIZON")["UUID"]
    streams.lab.run(until=4.6)
    code, message = error_code(streams.lam.update_event_source_mapping, UUID=uuid,
                               Enabled=False)
    assert code == "ResourceInUseException"
    assert message.startswith("[esmlab]") and "Creating" in message
    streams.lab.run(until=10)
    assert streams.lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    streams.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    streams.lab.run(until=20)
    streams.put("telemetry", {"n": 1})
    streams.lab.run(until=60)
    assert streams.lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    assert streams.lab.trace.invocations == []


def test_delete_while_creating_wins(streams):
    """A mapping deleted 1.6 s after its creation never becomes Enabled and never invokes."""
    streams.lab.function("fn", lambda event, context: None)
    arn = streams.stream()
    streams.put("telemetry", {"n": 1}, {"n": 2})
    streams.lab.run(until=3)
    uuid = streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                                   StartingPosition="TRIM_HORIZON")["UUID"]
    streams.lab.run(until=4.6)
    assert streams.lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    streams.lab.run(until=60)
    states = [e.detail["state"] for e in streams.lab.trace.of("state")]
    assert states == ["Creating", "Deleting", "Deleted"]
    assert streams.lab.trace.invocations == []
    assert error_code(streams.lam.get_event_source_mapping, UUID=uuid)[0] == (
        "ResourceNotFoundException")


def test_deleting_twice_is_refused_and_lab_run_goes_on(env):
    env.lab.function("worker", lambda event, context: None)
    _url, arn = env.queue()
    uuid = env.mapping(arn)["UUID"]
    env.lab.run(until=5)
    env.lam.delete_event_source_mapping(UUID=uuid)
    code, message = error_code(env.lam.delete_event_source_mapping, UUID=uuid)
    assert code == "ResourceInUseException" and "Deleting" in message
    env.lab.run(until=30)  # used to raise KeyError from the second settle
    assert uuid not in env.lab.mappings
    assert error_code(env.lam.delete_event_source_mapping, UUID=uuid)[0] == (
        "ResourceNotFoundException")


def test_delete_while_updating_is_refused(env):
    env.lab.function("worker", lambda event, context: None)
    _url, arn = env.queue()
    uuid = env.mapping(arn)["UUID"]
    env.lab.run(until=5)
    env.lam.update_event_source_mapping(UUID=uuid, BatchSize=5)
    assert error_code(env.lam.delete_event_source_mapping, UUID=uuid)[0] == (
        "ResourceInUseException")
    env.lab.run(until=10)
    assert env.lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"


def test_deleted_mapping_stops_throttle_retries_and_releases_its_messages(env):
    """Deleted while throttled batches are being retried: nothing starts after the delete, and
    every message it held is receivable again once its visibility timeout ends."""
    env.lab.function("worker", lambda event, context: None, timeout=10, duration=8.0,
                     reserved_concurrency=1)
    url, arn = env.queue(VisibilityTimeout=20)
    uuid = env.mapping(arn, BatchSize=2)["UUID"]
    env.lab.run(until=3)
    env.send(url, *[f"m{n}" for n in range(40)])
    env.lab.run(until=14)
    assert env.lab.trace.of("throttle")
    held = env.lab.conservation().counts[arn]
    env.lam.update_event_source_mapping(UUID=uuid, BatchSize=3)
    env.lab.run(until=15)  # still Updating: a stale settle used to restart the pollers
    assert error_code(env.lam.delete_event_source_mapping, UUID=uuid)[0] == (
        "ResourceInUseException")
    env.lab.run(until=16)
    env.lam.delete_event_source_mapping(UUID=uuid)
    deleted_at = env.lab.now
    env.lab.run(until=60)
    assert [i for i in env.lab.trace.invocations if i.start >= deleted_at] == []
    conservation = env.lab.conservation()
    assert conservation.ok
    left = conservation.counts[arn].get("in_queue", 0)
    assert left == 40 - conservation.counts[arn].get("deleted", 0) and left > 0, held
    received = 0
    while batch := env.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        received += len(batch)
    assert received == left


def test_maximum_concurrency_counts_invocations_started_before_a_disable(env):
    """MaximumConcurrency 8, disabled and re-enabled while 8 long invocations run: the cap
    still holds (the invocations from before the disable used not to count)."""
    env.lab.function("worker", lambda event, context: None, timeout=60, duration=30.0)
    url, arn = env.queue(VisibilityTimeout=120)
    uuid = env.mapping(arn, BatchSize=1, ScalingConfig={"MaximumConcurrency": 8})["UUID"]
    env.lab.run(until=3)
    env.send(url, *[f"m{n}" for n in range(60)])
    env.lab.run(until=10)  # scaled up to 8 and running
    env.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    env.lab.run(until=12)
    env.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    env.lab.run(until=400)
    assert peak_concurrency(env.lab.trace.invocations) == 8
    conservation = env.lab.conservation()
    assert conservation.ok and conservation.counts[arn] == {"entered": 60, "deleted": 60}


def kinesis_numbers(seen):
    import base64
    import json

    return [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"]
            for event in seen for r in event["Records"]]


def test_latest_is_kept_across_disable_and_enable_when_nothing_was_read(streams):
    """A LATEST mapping that read nothing, disabled, 3 records written, enabled again: it resumes
    where it stopped and delivers all three (LATEST used to be resolved again at re-enable)."""
    seen = []
    streams.lab.function("fn", lambda event, context: seen.append(event))
    arn = streams.stream()
    uuid = streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                                   StartingPosition="LATEST")["UUID"]
    streams.lab.run(until=5)
    streams.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    streams.lab.run(until=10)
    streams.put("telemetry", {"n": 1}, {"n": 2}, {"n": 3})
    streams.lab.run(until=20)
    streams.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    streams.lab.run(until=40)
    assert kinesis_numbers(seen) == [1, 2, 3]
    assert streams.lab.stream_conservation(uuid)["counts"] == {"processed": 3}


def test_latest_is_kept_across_an_update_when_nothing_was_read(streams):
    """Records written just before an update (not yet polled) are not skipped by the restart."""
    seen = []
    streams.lab.function("fn", lambda event, context: seen.append(event))
    arn = streams.stream()
    uuid = streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                                   StartingPosition="LATEST")["UUID"]
    streams.lab.run(until=5.5)
    streams.put("telemetry", {"n": 1}, {"n": 2})
    streams.lam.update_event_source_mapping(UUID=uuid, BatchSize=10)
    streams.lab.run(until=30)
    assert kinesis_numbers(seen) == [1, 2]


def test_update_while_a_batch_is_in_flight_keeps_one_batch_per_key(streams):
    """Updating a stream mapping while a batch runs: the new configuration takes over when that
    batch has finished, so invocations of one shard (PF 1) never overlap and nothing is
    delivered twice (the restart used to start a second batch of the same key at once)."""
    seen = []
    streams.lab.function("fn", lambda event, context: seen.append(event), timeout=30,
                         duration=10.0)
    arn = streams.stream()
    uuid = streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                                   StartingPosition="TRIM_HORIZON",
                                                   BatchSize=2)["UUID"]
    streams.put("telemetry", *[{"n": n} for n in range(6)], key="one-key")
    streams.lab.run(until=4)  # the first batch [0, 1] is running until t=13
    streams.lam.update_event_source_mapping(UUID=uuid, BatchSize=3)
    streams.lab.run(until=120)
    invocations = streams.lab.trace.invocations
    assert peak_concurrency(invocations) == 1
    assert kinesis_numbers(seen) == [0, 1, 2, 3, 4, 5]
    assert [len(event["Records"]) for event in seen] == [2, 3, 1]
    assert streams.lab.stream_conservation(uuid)["counts"] == {"processed": 6}


def test_disable_and_enable_while_a_batch_is_in_flight_keeps_order(ddb_streams):
    """DynamoDB, PF 1: a batch still running when the mapping is disabled and re-enabled
    finishes first; the re-enabled mapping resumes after it, without overlap or repeats."""
    env, seen = ddb_streams
    for n in range(4):
        env.ddb.put_item(TableName="orders", Item={"id": {"S": f"k{n}"}, "n": {"N": str(n)}})
    env.lab.run(until=3)  # batch [0, 1] runs from about t=2 until t=22
    env.lam.update_event_source_mapping(UUID=env.uuid, Enabled=False)
    env.lab.run(until=5)
    env.lam.update_event_source_mapping(UUID=env.uuid, Enabled=True)
    env.lab.run(until=100)
    assert peak_concurrency(env.lab.trace.invocations) == 1
    numbers = [int(r["dynamodb"]["NewImage"]["n"]["N"]) for e in seen for r in e["Records"]]
    assert numbers == [0, 1, 2, 3]
    assert env.lab.stream_conservation(env.uuid)["counts"] == {"processed": 4}


@pytest.fixture
def ddb_streams(streams):
    seen = []
    streams.lab.function("fn", lambda event, context: seen.append(event), timeout=30,
                         duration=20.0)
    arn = streams.table()
    streams.uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        BatchSize=2)["UUID"]
    return streams, seen
