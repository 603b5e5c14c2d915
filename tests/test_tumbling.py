"""Tumbling windows (services-kinesis-windows, M10)."""

import base64
import json


def test_state_carries_within_a_window_and_final_invoke_closes_it(streams):
    calls = []

    def handler(event, context):
        total = event["state"].get("total", 0)
        total += sum(json.loads(base64.b64decode(r["kinesis"]["data"]))["n"]
                     for r in event["Records"])
        calls.append((event["window"], len(event["Records"]), event["isFinalInvokeForWindow"],
                      dict(event["state"]), event["shardId"]))
        return {"state": {"total": total}}

    streams.lab.function("fn", handler, timeout=10)
    arn = streams.stream()
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="LATEST", BatchSize=2,
                                            TumblingWindowInSeconds=30)
    streams.lab.run(until=5)
    streams.put("telemetry", {"n": 1}, {"n": 2}, {"n": 3}, key="k")  # window 0-30 s
    streams.lab.run(until=40)
    streams.put("telemetry", {"n": 10}, key="k")  # window 30-60 s
    streams.lab.run(until=100)
    first = {"start": "2025-01-01T00:00:00Z", "end": "2025-01-01T00:00:30Z"}
    second = {"start": "2025-01-01T00:00:30Z", "end": "2025-01-01T00:01:00Z"}
    assert [(w, n, final, state) for w, n, final, state, _ in calls] == [
        (first, 2, False, {}),
        (first, 1, False, {"total": 3}),
        (first, 0, True, {"total": 6}),
        (second, 1, False, {}),
        (second, 0, True, {"total": 10}),
    ]
    assert calls[0][4] == "shardId-000000000000"


def test_response_without_state_is_a_failure(streams):
    streams.lab.function("fn", lambda e, c: {"batchItemFailures": []}, timeout=10)
    arn = streams.stream()
    uuid = streams.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        TumblingWindowInSeconds=60, MaximumRetryAttempts=1)["UUID"]
    streams.put("telemetry", {"n": 1})
    streams.lab.run(until=30)
    assert [i.outcome for i in streams.lab.trace.invocations] == ["invalid_response"] * 2
    assert streams.lab.stream_conservation(uuid)["counts"] == {"dropped": 1}
