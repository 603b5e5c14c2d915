"""The Lambda mapping API as esmlab answers it: shapes, defaults, states and errors (recorded from AWS, 2025)."""

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError

from esmlab.limits import MESSAGES


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def test_create_returns_aws_shape_and_defaults(env):
    _url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None)
    response = env.mapping(arn)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    assert set(body) == {
        "UUID", "BatchSize", "MaximumBatchingWindowInSeconds", "EventSourceArn", "FunctionArn",
        "LastModified", "State", "StateTransitionReason", "FunctionResponseTypes",
        "EventSourceMappingArn",
    }
    assert body["BatchSize"] == 10
    assert body["MaximumBatchingWindowInSeconds"] == 0
    assert body["FunctionResponseTypes"] == []
    assert body["State"] == "Creating"
    assert body["StateTransitionReason"] == "USER_INITIATED"
    assert body["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:worker"
    assert body["EventSourceMappingArn"] == (
        f"arn:aws:lambda:us-east-1:123456789012:event-source-mapping:{body['UUID']}"
    )
    assert "StartingPosition" not in body and "ParallelizationFactor" not in body


def test_scaling_config_echoed_only_when_set(env):
    _url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None)
    response = env.mapping(arn, ScalingConfig={"MaximumConcurrency": 2})
    assert response["ScalingConfig"] == {"MaximumConcurrency": 2}


def test_state_machine(env):
    _url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None)
    uuid = env.mapping(arn)["UUID"]
    get = lambda: env.lam.get_event_source_mapping(UUID=uuid)
    assert get()["ResponseMetadata"]["HTTPStatusCode"] == 200
    env.lab.run(until=5)
    assert get()["State"] == "Enabled"
    assert env.lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    env.lab.run(until=10)
    assert get()["State"] == "Disabled"
    assert env.lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    env.lab.run(until=15)
    assert get()["State"] == "Enabled"
    assert env.lam.update_event_source_mapping(UUID=uuid, BatchSize=5)["State"] == "Updating"
    env.lab.run(until=20)
    assert get()["State"] == "Enabled" and get()["BatchSize"] == 5
    deleted = env.lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["State"] == "Deleting"
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    env.lab.run(until=25)
    assert error_of(env.lam.get_event_source_mapping, UUID=uuid)["Error"]["Code"] == (
        "ResourceNotFoundException"
    )


def test_created_disabled_stays_disabled(env):
    url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None)
    uuid = env.mapping(arn, Enabled=False)["UUID"]
    env.send(url, "a")
    env.lab.run(until=60)
    assert env.lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    assert env.lab.trace.invocations == []


def test_list_filters_by_source_and_function(env):
    _url, arn = env.queue()
    _url2, arn2 = env.queue("other")
    env.lab.function("worker", lambda e, c: None)
    env.lab.function("second", lambda e, c: None)
    env.mapping(arn)
    env.mapping(arn, function="second")  # same source, different function: accepted (recorded 2025)
    env.mapping(arn2)
    assert len(env.lam.list_event_source_mappings()["EventSourceMappings"]) == 3
    assert len(env.lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]) == 2
    assert len(env.lam.list_event_source_mappings(FunctionName="second")["EventSourceMappings"]) == 1


def test_v1_batch_over_10_needs_a_window(env):
    _url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None)
    response = error_of(env.mapping, arn=arn, BatchSize=11)
    assert response["Error"] == {"Code": "InvalidParameterValueException", "Message": MESSAGES["V1"]}
    assert response["Type"] == "User" and response["message"] == MESSAGES["V1"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    uuid = env.mapping(arn, BatchSize=11, MaximumBatchingWindowInSeconds=1)["UUID"]
    response = error_of(env.lam.update_event_source_mapping, UUID=uuid,
                        MaximumBatchingWindowInSeconds=0)
    assert response["Error"]["Message"] == MESSAGES["V1"]


def test_v6_queue_missing(env):
    env.lab.function("worker", lambda e, c: None)
    response = error_of(env.mapping, arn="arn:aws:sqs:us-east-1:123456789012:nope")
    assert response["Error"]["Message"] == MESSAGES["V6"]


def test_v8_duplicate_mapping(env):
    _url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None)
    uuid = env.mapping(arn)["UUID"]
    response = error_of(env.mapping, arn=arn)
    assert response["Error"]["Code"] == "ResourceConflictException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert response["Error"]["Message"] == (
        f'An event source mapping with SQS arn (" {arn} ") and function (" worker ") already '
        f"exists. Please update or delete the existing mapping with UUID {uuid}"
    )


def test_v10_unrecognised_source(env):
    env.lab.function("worker", lambda e, c: None)
    response = error_of(env.lam.create_event_source_mapping, FunctionName="worker")
    assert response["Error"]["Message"] == "Unrecognized event source."


def test_v11_function_missing(env):
    _url, arn = env.queue()
    response = error_of(env.mapping, arn=arn, function="ghost")
    assert response["Error"] == {"Code": "InvalidParameterValueException",
                                 "Message": "Function does not exist"}


def test_v12_destination_on_sqs_checked_before_function(env):
    _url, arn = env.queue()
    response = error_of(env.mapping, arn=arn, function="ghost",
                        DestinationConfig={"OnSuccess": {"Destination": arn}})
    assert response["Error"]["Message"] == MESSAGES["V12"]


def test_v13_unknown_uuid(env):
    ghost = "00000000-0000-4000-8000-000000000000"
    for call in (env.lam.get_event_source_mapping, env.lam.delete_event_source_mapping,
                 env.lam.update_event_source_mapping):
        response = error_of(call, UUID=ghost)
        assert response["Error"] == {"Code": "ResourceNotFoundException",
                                     "Message": "The resource you requested does not exist."}
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_fifo_rules(env):
    _url, arn = env.queue("orders.fifo")
    env.lab.function("worker", lambda e, c: None)
    assert "[esmlab]" in error_of(env.mapping, arn=arn, BatchSize=11,
                                  MaximumBatchingWindowInSeconds=1)["Error"]["Message"]
    assert "[esmlab]" in error_of(env.mapping, arn=arn,
                                  MaximumBatchingWindowInSeconds=5)["Error"]["Message"]
    assert env.mapping(arn, BatchSize=10)["BatchSize"] == 10


def test_function_timeout_longer_than_visibility_timeout_rejected(env):
    _url, arn = env.queue(VisibilityTimeout=10)
    env.lab.function("worker", lambda e, c: None, timeout=30)
    response = error_of(env.mapping, arn=arn)
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    # the text AWS's users report publicly (esmlab.limits.REPORTED)
    assert response["Error"]["Message"] == (
        "Queue visibility timeout: 10 seconds is less than Function timeout: 30 seconds")


def test_ranges(env):
    _url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None)
    response = error_of(env.mapping, arn=arn, BatchSize=10_001, MaximumBatchingWindowInSeconds=1)
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy "
        "constraint: Member must have value less than or equal to 10000"
    )
    assert "Type" not in response
    assert error_of(env.mapping, arn=arn, MaximumBatchingWindowInSeconds=301)["Error"]["Code"] == (
        "ValidationException"
    )
    assert error_of(env.mapping, arn=arn, ScalingConfig={"MaximumConcurrency": 1001})["Error"][
        "Code"] == "ValidationException"
    # below the minimum, the SDK itself refuses before any request is made (as with AWS)
    with pytest.raises(ParamValidationError):
        env.mapping(arn, BatchSize=0)


def test_plain_boto3_client_is_routed_too(env):
    _url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None)
    plain = boto3.client("lambda", region_name="us-east-1")
    assert plain.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn)[
        "State"] == "Creating"


def test_moto_never_learns_of_the_mapping(env):
    url, arn = env.queue()
    calls = []
    env.lab.function("worker", lambda e, c: calls.append(e))
    env.mapping(arn)
    queue = env.lab.queue_by_arn(arn)
    env.send(url, "x")  # before the mapping is enabled: moto must not invoke anything
    assert queue.lambda_event_source_mappings == {}
    assert calls == []


def test_a_closed_lab_client_never_reaches_aws(env):
    sqs = env.sqs
    env.lab.close()
    with pytest.raises(RuntimeError, match="belongs to a Lab that is closed"):
        sqs.list_queues()


def test_a_plain_moto_test_after_a_lab_still_works(env):
    """A practitioner's suite loads esmlab's plugin beside its own moto tests: once the Lab is
    closed, a plain mock_aws() with the usual fake keys must answer, not be refused."""
    import boto3
    from moto import mock_aws

    env.lab.close()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing")
        assert sqs.create_queue(QueueName="plain")["QueueUrl"].endswith("/plain")


def test_a_closed_lab_client_cannot_reach_the_next_lab(env):
    from esmlab import Lab

    old_sqs = env.sqs
    newer = Lab(seed=2)
    try:
        with pytest.raises(RuntimeError, match="belongs to a Lab that is closed"):
            old_sqs.create_queue(QueueName="x")
        assert newer.client("sqs").list_queues().get("QueueUrls") is None
    finally:
        newer.close()


def test_on_failure_destination_on_sqs_is_refused_in_esmlab_words(env):
    _url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None)
    message = error_of(env.mapping, arn=arn,
                       DestinationConfig={"OnFailure": {"Destination": arn}})["Error"]["Message"]
    assert message.startswith("[esmlab]") and "redrive policy" in message


def test_stream_conservation_refuses_an_sqs_or_unknown_uuid(env):
    _url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None)
    uuid = env.mapping(arn)["UUID"]
    for ident in (uuid, "nope"):
        with pytest.raises(ValueError, match="not the UUID of a Kinesis or DynamoDB"):
            env.lab.stream_conservation(ident)
