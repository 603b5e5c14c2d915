"""ESM metrics derived from the trace (monitoring-metrics-types)."""

import json

from esmlab.metrics import esm_metrics, totals


def test_sqs_counts(env):
    env.lab.function("worker", lambda e, c: {"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in e["Records"] if r["body"] == "bad"]})
    url, arn = env.queue(VisibilityTimeout=10, dlq_after=1)
    uuid = env.mapping(arn, FunctionResponseTypes=["ReportBatchItemFailures"],
                       FilterCriteria={"Filters": [{"Pattern": json.dumps(
                           {"body": [{"prefix": "b"}, {"prefix": "g"}]})}]})["UUID"]
    env.send(url, "good", "bad", "skip")
    env.lab.run(until=120)
    counts = totals(env.lab.trace, uuid)
    assert counts["PolledEventCount"] == 3
    assert counts["FilteredOutEventCount"] == 1
    assert counts["InvokedEventCount"] == 2
    assert counts["FailedInvokeEventCount"] == 1
    assert counts["DeletedEventCount"] == 2  # the good one, and the filtered one
    frame = esm_metrics(env.lab.trace, uuid)
    assert int(frame["InvokedEventCount"].sum()) == 2


def test_stream_counts(streams):
    _url, dlq = streams.queue("failures")
    streams.lab.function("fn", lambda e, c: 1 / 0, timeout=10)
    arn = streams.stream()
    streams.put("telemetry", {"n": 1}, {"n": 2}, key="k")
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": dlq}})["UUID"]
    streams.lab.run(until=60)
    counts = totals(streams.lab.trace, uuid)
    assert counts["DroppedEventCount"] == 2
    assert counts["OnFailureDestinationDeliveredEventCount"] == 2
    assert counts["FailedInvokeEventCount"] == 4
    assert counts["IteratorAge"] >= 2000
