"""Lab 08 (Monitoring): the pipelines behind its demos and widgets, read back from CloudWatch, and
its checks, both ways."""

import pytest

from esmlab.course.checks import lab08
from esmlab.course.scenarios import monitoring as mon


def query(id_, name, stat="Maximum", dims=None, namespace="AWS/SQS"):
    return mon.metric_query(id_, namespace, name, dims or {"QueueName": mon.QUEUE}, stat)


BACKLOG = [query("depth", "ApproximateNumberOfMessagesVisible"),
           query("age", "ApproximateAgeOfOldestMessage")]
ALARM = {"AlarmName": "accounts-lag", "Namespace": "AWS/Lambda", "MetricName": "IteratorAge",
         "Dimensions": [{"Name": "FunctionName", "Value": mon.TABLE_FUNCTION}],
         "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 60_000,
         "ComparisonOperator": "GreaterThanThreshold", "AlarmActions": [mon.TOPIC_ARN]}
RIGHT = {name: (cause, mon.FIX_OF[cause]) for name, cause in mon.SICK.items()}

# --- the pipelines, as CloudWatch shows them -----------------------------------------------------


def values(board, metric):
    return list(board.series(metric).values)


def test_a_slow_function_at_its_cap_builds_a_backlog_without_errors():
    """services-sqs-scaling: MaximumConcurrency caps the mapping; 2 x 8 s invocations do 15 a
    minute where 30 arrive."""
    board = mon.queue_pipeline(duration=8.0, max_concurrency=2)
    depth = values(board, "ApproximateNumberOfMessagesVisible")
    assert depth == sorted(depth) and depth[-1] - depth[0] > 100
    assert values(board, "ConcurrentExecutions") == [2.0] * mon.MINUTES
    assert set(values(board, "Errors")) == {0.0} and values(board, "Throttles") == []
    assert all(14 <= v <= 16 for v in values(board, "Invocations"))
    healed = mon.queue_pipeline(duration=8.0, max_concurrency=10)
    assert max(values(healed, "ApproximateNumberOfMessagesVisible")) < 10


def test_reserved_concurrency_below_the_pollers_shows_as_throttles():
    board = mon.sick("P1")
    assert board.cause == "throttled" and board.facts["throttles"] > 1000
    assert all(v > 100 for v in values(board, "Throttles"))
    assert values(board, "ConcurrentExecutions") == [1.0] * mon.MINUTES
    assert set(values(board, "Errors")) == {0.0}


def test_a_poison_message_without_a_dlq_gives_steady_errors_and_a_climbing_age():
    board = mon.queue_pipeline(poison=True)
    assert set(values(board, "Errors")[1:]) == {2.0}  # one failure per 30 s visibility timeout
    age = values(board, "ApproximateAgeOfOldestMessage")
    assert age == sorted(age) and age[-1] > 400
    assert max(values(board, "ApproximateNumberOfMessagesVisible")) <= 1
    cured = mon.queue_pipeline(poison=True, dlq=True)  # redriven after 3 receives
    assert sum(values(cured, "Errors")) == 3 and cured.cause == "healthy"
    assert len(values(cured, "ApproximateAgeOfOldestMessage")) < 3


def test_a_blocked_shard_shows_in_the_functions_iterator_age():
    """monitoring-metrics-types: IteratorAge is the age of the batch's last record."""
    board = mon.sick("P2")
    age = values(board, "IteratorAge")
    assert age == sorted(age) and age[-1] > 400_000
    assert all(v >= 4 for v in values(board, "Errors")[1:])
    healthy = mon.stream_pipeline(poison=False)
    assert max(values(healthy, "IteratorAge")) < 2000 and sum(values(healthy, "Errors")) == 0


def test_scenarios_reject_bad_arguments_by_name():
    with pytest.raises(ValueError, match="duration must be a number > 0"):
        mon.queue_pipeline(duration=0)
    with pytest.raises(ValueError, match="max_concurrency must be 0 .not set. or 2 to 1000"):
        mon.queue_pipeline(max_concurrency=1)
    with pytest.raises(ValueError, match="reserved must be a whole number"):
        mon.queue_pipeline(reserved=-1)
    with pytest.raises(ValueError, match="name must be one of"):
        mon.sick("P9")
    with pytest.raises(TypeError, match="queries must be a list"):
        mon.query("depth")
    with pytest.raises(TypeError, match="params must be a dict"):
        mon.alarm(["IteratorAge"])


def test_the_dashboard_is_drawn_from_the_metrics():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    board = mon.sick("P4")
    figure = mon.draw(board)
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [title for title, _ in board.panels]
    line = visible[1].lines[0]
    assert list(line.get_ydata()) == values(board, "ApproximateAgeOfOldestMessage")
    assert figure.get_figwidth() == 7.0  # the site's column, ~700 px
    plt.close("all")


# --- exercise 1 ----------------------------------------------------------------------------------


def test_ex1_passes_depth_and_age():
    check = lab08.backlog_query(BACKLOG)
    assert check.passed and "from 14 to 150 visible messages" in check.message


def test_ex1_receive_count_does_not_exist():
    check = lab08.backlog_query([query("r", "ReceiveCount", "Sum")])
    assert not check.passed and "E36" in check.message and "attribute" in check.message


def test_ex1_wrong_dimension_namespace_or_stat_are_explained():
    check = lab08.backlog_query([query("d", "ApproximateNumberOfMessagesVisible",
                                       dims={"QueueUrl": "orders"})])
    assert not check.passed and "one dimension, QueueName" in check.message
    check = lab08.backlog_query([query("d", "ApproximateNumberOfMessagesVisible",
                                       namespace="AWS/Lambda")])
    assert not check.passed and "in the namespace AWS/SQS, not AWS/Lambda" in check.message
    check = lab08.backlog_query([BACKLOG[0], query("a", "ApproximateAgeOfOldestMessage", "Sum")])
    assert not check.passed and "Maximum" in check.message


def test_ex1_one_metric_or_a_bad_shape_is_explained():
    check = lab08.backlog_query(BACKLOG[:1])
    assert not check.passed and "add ApproximateAgeOfOldestMessage" in check.message
    check = lab08.backlog_query([{"Id": "d", "MetricStat": {}}])
    assert not check.passed and "refused the queries" in check.message
    assert not lab08.backlog_query("depth").passed
    assert not lab08.check_backlog_query({}).passed


# --- exercise 2 ----------------------------------------------------------------------------------


def test_ex2_passes_an_iterator_age_alarm_with_the_topic():
    check = lab08.lag_alarm(ALARM)
    assert check.passed and "at t = 180 s" in check.message
    sick = mon.alarm(ALARM, blocked=True)
    assert sick.notifications[0]["NewStateValue"] == "ALARM"
    assert mon.alarm(ALARM, blocked=False).first_alarm() is None


def test_ex2_a_threshold_in_seconds_fires_on_a_healthy_day():
    check = lab08.lag_alarm(dict(ALARM, Threshold=60))
    assert not check.passed and "in milliseconds" in check.message
    assert "healthy run" in check.message


def test_ex2_kinesis_metric_on_a_dynamodb_stream_is_e37():
    check = lab08.lag_alarm(dict(ALARM, Namespace="AWS/Kinesis",
                                 MetricName="GetRecords.IteratorAgeMilliseconds"))
    assert not check.passed and "E37" in check.message
    check = lab08.lag_alarm(dict(ALARM, MetricName="Lambda.OffendingProcessIdentifier"))  # myth
    assert not check.passed and "E38" in check.message


def test_ex2_late_silent_or_dataless_alarms_are_explained():
    check = lab08.lag_alarm(dict(ALARM, Threshold=600_000))
    assert not check.passed and "never went to ALARM" in check.message
    check = lab08.lag_alarm({k: v for k, v in ALARM.items() if k != "AlarmActions"})
    assert not check.passed and "AlarmActions" in check.message
    check = lab08.lag_alarm(dict(ALARM, Dimensions=[{"Name": "FunctionName",
                                                     "Value": "accounts"}]))
    assert not check.passed and "INSUFFICIENT_DATA" in check.message
    check = lab08.lag_alarm(dict(ALARM, Period="sixty"))
    assert not check.passed and "refused" in check.message


# --- exercise 3 ----------------------------------------------------------------------------------


def test_ex3_passes_the_scenarios_causes_and_fixes():
    assert lab08.diagnosis(RIGHT).passed
    assert lab08.check_diagnosis({"ex3_diagnosis": RIGHT}).passed


def test_ex3_wrong_cause_and_wrong_fix_are_explained():
    answer = dict(RIGHT, P1=("slow", "concurrency"), P5=("slow", "reserved"))
    check = lab08.diagnosis(answer)
    assert not check.passed and check.message.startswith("3 of 5 right")
    assert "P1: not 'slow'" in check.message and "Throttles" in check.message
    assert "P5: the cause is right" in check.message and "15 orders a minute" in check.message


def test_ex3_bad_shapes_are_explained():
    assert "must be a dict" in lab08.diagnosis({"P1": "slow"}).message
    assert "not one of the causes" in lab08.diagnosis(dict(RIGHT, P3=("fine", "nothing"))).message
    assert "not one of the fixes" in lab08.diagnosis(dict(RIGHT, P3=("healthy", "x"))).message
