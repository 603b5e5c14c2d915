"""Stream mapping parameters and destinations: MaximumRecordAgeInSeconds below 60, and FIFO
on-failure destinations
(https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html)."""

import pytest
from botocore.exceptions import ClientError

from esmlab.metrics import totals


def age_error(call, **params):
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]


@pytest.mark.parametrize("age", [0, 1, 59])
def test_record_age_below_60_is_rejected_on_create_and_update(streams, age):
    streams.lab.function("fn", lambda e, c: None)
    arn = streams.stream()
    create = streams.lam.create_event_source_mapping
    error = age_error(create, FunctionName="fn", EventSourceArn=arn,
                      StartingPosition="TRIM_HORIZON", MaximumRecordAgeInSeconds=age)
    assert error == {"Code": "ValidationException", "Message": (
        f"1 validation error detected: Value '{age}' at 'maximumRecordAgeInSeconds' failed to "
        "satisfy constraint: Member must have value greater than or equal to 60")}
    uuid = create(FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                  MaximumRecordAgeInSeconds=60)["UUID"]
    streams.lab.run(until=10)
    error = age_error(streams.lam.update_event_source_mapping, UUID=uuid,
                      MaximumRecordAgeInSeconds=age)
    assert error["Code"] == "ValidationException" and "greater than or equal to 60" in (
        error["Message"])
    assert streams.lam.get_event_source_mapping(UUID=uuid)["MaximumRecordAgeInSeconds"] == 60


def test_record_age_minus_one_and_60_are_accepted(streams):
    streams.lab.function("fn", lambda e, c: None)
    table = streams.table()
    for age in (-1, 60):
        streams.lab.function(f"fn{age}", lambda e, c: None)
        response = streams.lam.create_event_source_mapping(
            FunctionName=f"fn{age}", EventSourceArn=table, StartingPosition="TRIM_HORIZON",
            MaximumRecordAgeInSeconds=age)
        assert response["MaximumRecordAgeInSeconds"] == age


def fifo_target(streams, kind):
    if kind == "queue":
        url, arn = streams.queue("failures.fifo", FifoQueue="true")
        return arn, lambda: streams.sqs.receive_message(QueueUrl=url).get("Messages", [])
    topic = streams.lab.client("sns").create_topic(
        Name="failures.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    return topic, list


@pytest.mark.parametrize("kind", ["queue", "topic"])
def test_fifo_destination_fails_delivery_and_counts_it(streams, kind):
    target, received = fifo_target(streams, kind)
    streams.lab.function("fn", lambda e, c: 1 / 0, timeout=10)
    arn = streams.stream()
    streams.put("telemetry", {"n": 1}, {"n": 2}, key="k")
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": target}})["UUID"]
    streams.lab.run(until=30)
    counts = totals(streams.lab.trace, uuid)
    assert counts["DestinationDeliveryFailures"] == 1  # one discarded batch, one failed delivery
    assert counts["OnFailureDestinationDeliveredEventCount"] == 0
    assert counts["DroppedEventCount"] == 2
    (event,) = streams.lab.trace.of("destination")
    assert event.outcome == "failed" and "FIFO" in event.detail["reason"]
    assert received() == []
    assert streams.lab.stream_conservation(uuid) == {"counts": {"dropped": 2}, "lost": []}
