"""Metric alarms evaluated in simulated time, through the learner's own clients."""

import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError

from esmlab.clock import START


def errors_alarm(cw, topic=None, **overrides):
    params = {
        "AlarmName": "worker-errors", "Namespace": "AWS/Lambda", "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": "worker"}], "Statistic": "Sum", "Period": 60,
        "EvaluationPeriods": 1, "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching"}
    if topic:
        params.update(AlarmActions=[topic], OKActions=[topic])
    params.update(overrides)
    cw.put_metric_alarm(**params)


def failing_pipeline(env):
    """Two bad messages fail twice each and are redriven to the DLQ; the rest succeed."""
    def handler(event, context):
        if event["Records"][0]["body"] == "bad":
            raise ValueError("bad")

    env.lab.function("worker", handler, timeout=10, duration=1.0)
    url, arn = env.queue(VisibilityTimeout=30, dlq_after=2)
    env.mapping(arn, BatchSize=1)
    env.send(url, "bad", "good", "bad")


def state(cw, name="worker-errors"):
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    return alarm["StateValue"], alarm["StateReason"]


def test_new_alarm_is_insufficient_data(env):
    cw = env.lab.client("cloudwatch")
    errors_alarm(cw)
    assert state(cw) == ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation")


def test_alarm_fires_and_recovers_at_the_right_minute_and_notifies_sns(env):
    sns, cw = env.lab.client("sns"), env.lab.client("cloudwatch")
    topic = sns.create_topic(Name="pager")["TopicArn"]
    pager_url, pager_arn = env.queue("pager")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=pager_arn)
    errors_alarm(cw, topic)
    failing_pipeline(env)
    env.lab.run(until=59)
    assert state(cw)[0] == "INSUFFICIENT_DATA"
    env.lab.run(until=60)  # minute 0 had errors: evaluated at its end
    value, reason = state(cw)
    assert value == "ALARM"
    errors = sum(1 for e in env.lab.trace.of("invoke_end") if e.outcome == "error" and e.t < 60)
    assert reason.startswith(f"Threshold Crossed: 1 out of the last 1 datapoints [{float(errors)} "
                             "(01/01/25 00:00:00)] was greater than the threshold (0.0)")
    last_error = max(i.start for i in env.lab.trace.invocations if i.outcome == "error")
    recovered = (last_error // 60 + 2) * 60  # the end of the first minute without errors
    env.lab.run(until=recovered - 1)
    assert state(cw)[0] == "ALARM"
    env.lab.run(until=recovered)
    assert state(cw)[0] == "OK"

    history = cw.describe_alarm_history(AlarmName="worker-errors",
                                        HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history] == [
        "Alarm updated from ALARM to OK", "Alarm updated from INSUFFICIENT_DATA to ALARM"]
    assert history[0]["Timestamp"] == START + dt.timedelta(seconds=recovered)

    sqs = env.lab.client("sqs")
    got = sqs.receive_message(QueueUrl=pager_url, MaxNumberOfMessages=10)["Messages"]
    notes = [json.loads(json.loads(m["Body"])["Message"]) for m in got]
    assert [(n["OldStateValue"], n["NewStateValue"]) for n in notes] == [
        ("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK")]
    assert notes[0]["AlarmName"] == "worker-errors"
    assert notes[0]["Trigger"]["MetricName"] == "Errors"
    assert json.loads(got[0]["Body"])["Subject"] == 'ALARM: "worker-errors" in US East (N. Virginia)'


def test_datapoints_to_alarm_needs_m_of_n_breaching_periods(env):
    cw = env.lab.client("cloudwatch")
    env.lab.function("worker", lambda e, c: None, timeout=10, duration=1.0)
    url, arn = env.queue()
    env.mapping(arn, BatchSize=1)
    cw.put_metric_alarm(
        AlarmName="busy", Namespace="AWS/SQS", MetricName="NumberOfMessagesSent",
        Dimensions=[{"Name": "QueueName", "Value": "orders"}], Statistic="Sum", Period=60,
        EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=5,
        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="missing")
    env.send(url, *["x"] * 5)  # minute 0: 5 sent
    env.lab.run(until=60)
    assert state(cw, "busy")[0] == "OK"  # 1 of 2 needed
    env.lab.run(until=61)
    env.send(url, *["x"] * 6)  # minute 1: 6 sent
    env.lab.run(until=120)
    assert state(cw, "busy")[0] == "ALARM"
    env.lab.run(until=240)  # minutes 2 and 3 send nothing: missing, 1 breaching left
    assert state(cw, "busy")[0] == "OK"
    env.lab.run(until=300)  # nothing in the last 3 periods
    assert state(cw, "busy")[0] == "INSUFFICIENT_DATA"


@pytest.mark.parametrize("extra", [
    {"ExtendedStatistic": "p99"},
    {"ThresholdMetricId": "ad1", "Metrics": [{"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1)"}]},
])
def test_what_cannot_be_evaluated_is_refused(env, extra):
    cw = env.lab.client("cloudwatch")
    params = {"AlarmName": "x", "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold"}
    if "ExtendedStatistic" in extra:
        params.update(Namespace="AWS/Lambda", MetricName="Duration", Period=60, Threshold=1)
    params.update(extra)
    with pytest.raises(ClientError) as error:
        cw.put_metric_alarm(**params)
    assert error.value.response["Error"]["Message"].startswith("[esmlab]")
    assert cw.describe_alarms()["MetricAlarms"] == []


@pytest.mark.parametrize("operator", ["Bigger", "GreaterThanUpperThreshold"])
def test_an_operator_it_cannot_evaluate_is_refused_at_the_call(env, operator):
    cw = env.lab.client("cloudwatch")
    with pytest.raises(ClientError) as error:
        cw.put_metric_alarm(AlarmName="x", Namespace="AWS/Lambda", MetricName="Errors",
                            Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                            ComparisonOperator=operator)
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert repr(operator) in error.value.response["Error"]["Message"]
    assert cw.describe_alarms()["MetricAlarms"] == []
    env.lab.run(until=120)  # and nothing fails later, inside lab.run


def test_updating_an_alarm_keeps_its_state(env):
    cw = env.lab.client("cloudwatch")
    failing_pipeline(env)
    errors_alarm(cw)
    env.lab.run(until=60)
    assert state(cw)[0] == "ALARM"
    errors_alarm(cw, Threshold=100)  # the same alarm, a new threshold
    assert state(cw)[0] == "ALARM"
    history = cw.describe_alarm_history(AlarmName="worker-errors",
                                        HistoryItemType="ConfigurationUpdate")
    assert [h["HistorySummary"] for h in history["AlarmHistoryItems"]] == [
        'Alarm "worker-errors" updated', 'Alarm "worker-errors" created']


def test_sub_minute_periods_are_refused(env):
    cw = env.lab.client("cloudwatch")
    with pytest.raises(ClientError, match=r"\[esmlab\] Period 30 is not a whole number"):
        errors_alarm(cw, Period=30)


def test_history_filters(env):
    cw = env.lab.client("cloudwatch")
    failing_pipeline(env)
    errors_alarm(cw)
    env.lab.run(until=300)
    everything = cw.describe_alarm_history(AlarmName="worker-errors")["AlarmHistoryItems"]
    assert len(everything) >= 3  # created, -> ALARM, -> OK
    later = cw.describe_alarm_history(AlarmName="worker-errors",
                                      StartDate=START + dt.timedelta(seconds=61))
    assert all(h["Timestamp"] > START + dt.timedelta(seconds=60)
               for h in later["AlarmHistoryItems"])
    assert len(later["AlarmHistoryItems"]) < len(everything)
    one = cw.describe_alarm_history(AlarmName="worker-errors", MaxRecords=1,
                                    ScanBy="TimestampAscending")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in one] == ['Alarm "worker-errors" created']


def test_a_day_of_evaluations_is_cheap(env):
    import time

    env.lab.function("worker", lambda e, c: None)
    _url, arn = env.queue()
    env.mapping(arn, MetricsConfig={"Metrics": ["EventCount"]})
    cw = env.lab.client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="idle", Namespace="AWS/SQS", MetricName="NumberOfEmptyReceives",
        Dimensions=[{"Name": "QueueName", "Value": "orders"}], Statistic="Sum", Period=60,
        EvaluationPeriods=5, Threshold=1000, ComparisonOperator="GreaterThanThreshold")
    alarms = env.lab.cloudwatch.alarms
    spent = []
    evaluate = alarms.evaluate

    def timed(now):
        began = time.process_time()
        evaluate(now)
        spent.append(time.process_time() - began)

    env.lab.cloudwatch.publisher._minute_hooks[:] = [timed]
    env.lab.run(until=86400)
    assert len(spent) == 1440
    assert sum(spent) < 1.0
    assert state(cw, "idle")[0] == "OK"
