"""Checks for Lab 08, Monitoring. Each returns a :class:`esmlab.course.checks.Check` whose message
teaches.

* :func:`backlog_query` (exercise 1): ``MetricDataQueries`` that show the ``orders`` queue's
  backlog building: its depth and the age of its oldest message, per minute;
* :func:`lag_alarm` (exercise 2): ``put_metric_alarm`` arguments for an alarm that goes to
  ``ALARM`` within :data:`EX2_MINUTES` minutes of a DynamoDB stream's shard blocking, notifies
  the SNS topic, and never fires on the healthy run;
* :func:`diagnosis` (exercise 3): the cause and the fix of each sick pipeline, from its
  dashboard alone.

Every check runs the learner's answer in the simulator (:mod:`esmlab.course.scenarios.monitoring`).
"""

from __future__ import annotations

import itertools

from esmlab.course.checks import Check, defined, failed, passed
from esmlab.course.scenarios import monitoring

SQS_METRICS = monitoring.SQS_METRICS
LAMBDA_METRICS = monitoring.LAMBDA_METRICS
KINESIS_METRICS = monitoring.KINESIS_METRICS
GET_METRIC_DATA = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html"
ALARMS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html"
#: Exercise 2: the alarm must be in ALARM within this many minutes of the poison item's write.
EX2_MINUTES = 4
SQS_GAUGES = ("ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible",
              "ApproximateNumberOfMessagesDelayed", "ApproximateAgeOfOldestMessage")
#: Metrics that do not exist, and what to use instead (E36, E37, E38).
NOT_METRICS = {
    "ReceiveCount": "there is no SQS metric ReceiveCount: ApproximateReceiveCount is an attribute "
                    "of each message, not a CloudWatch metric (E36)",
    "ApproximateReceiveCount": "ApproximateReceiveCount is an attribute of each message, not a "
                               "CloudWatch metric (E36)",
    "Lambda.OffendingProcessIdentifier": "there is no metric Lambda.OffendingProcessIdentifier (a myth) "
                                         "(E38)",
    "OffendingProcessIdentifier": "there is no metric Lambda.OffendingProcessIdentifier (a myth, E38)",
}


def _metric(query) -> tuple:
    """(namespace, name, dimensions dict, stat) of a MetricStat query, or Nones."""
    stat = query.get("MetricStat", {}) if isinstance(query, dict) else {}
    metric = stat.get("Metric", {}) if isinstance(stat, dict) else {}
    dims = {d.get("Name"): d.get("Value") for d in metric.get("Dimensions", [])
            if isinstance(d, dict)}
    return metric.get("Namespace"), metric.get("MetricName"), dims, stat.get("Stat")


def _growing(values) -> bool:
    return len(values) >= 3 and values[-1] > values[0] and all(
        b >= a for a, b in itertools.pairwise(values))


# --- exercise 1 ----------------------------------------------------------------------------------


def backlog_query(queries) -> Check:
    """``queries`` return the queue's depth and age of oldest message, growing, per minute."""
    shape = ('ex1_queries must be a list of MetricDataQueries, e.g. [{"Id": "depth", '
             '"MetricStat": {"Metric": {"Namespace": ..., "MetricName": ..., "Dimensions": '
             '[{"Name": ..., "Value": ...}]}, "Period": 60, "Stat": ...}}, ...]')
    if not isinstance(queries, list) or not queries or not all(isinstance(q, dict)
                                                                for q in queries):
        return failed(f"{shape}; got {str(queries)[:120]}.")
    for q in queries:
        _ns, name, _dims, _stat = _metric(q)
        if name in NOT_METRICS:
            return failed(f"{q.get('Id')}: {NOT_METRICS[name]}. To see a backlog, ask for the "
                          "queue's ApproximateNumberOfMessagesVisible and "
                          f"ApproximateAgeOfOldestMessage ({SQS_METRICS}).")
        if name in SQS_GAUGES and _ns != "AWS/SQS":
            # moto ignores the namespace of a query with dimensions; AWS would return nothing
            return failed(f"{q.get('Id')}: {name} is in the namespace AWS/SQS, not {_ns}; in "
                          "another namespace CloudWatch has no such metric and returns no data "
                          f"({SQS_METRICS}).")
    run = monitoring.query(queries)
    depth = ", ".join(f"{v:g}" for v in run.depth)
    truth = f"(the queue held {depth} visible messages at the end of minutes 0-9)"
    if run.error:
        return failed(f"get_metric_data refused the queries: {run.error}. Each query needs a "
                      "unique Id starting with a lower-case letter and a MetricStat with Metric "
                      f"(Namespace, MetricName, Dimensions), Period and Stat ({GET_METRIC_DATA}).")
    found = {}
    by_id = {r.get("Id"): r for r in run.results}
    for q in queries:
        if "MetricStat" not in q:
            continue  # an expression: it shows what the metrics it uses show
        ns, name, dims, stat = _metric(q)
        values = list(by_id.get(q.get("Id"), {}).get("Values", []))
        if not values:
            why = ""
            if ns not in (None, "AWS/SQS"):
                why = f" Queue metrics are in the namespace AWS/SQS, not {ns}."
            elif name and dims != {"QueueName": monitoring.QUEUE}:
                why = (" SQS metrics have one dimension, QueueName (here "
                       f"\"{monitoring.QUEUE}\"), not {dims or 'none'}; a query must name "
                       "every dimension of the metric exactly.")
            else:
                why = f" CloudWatch has no SQS metric called {name!r} ({SQS_METRICS})."
            return failed(f"Query {q.get('Id')!r} ({ns} {name} {dims}) returned no data "
                          f"{truth}.{why}")
        found[name] = (stat, values)
    wanted = ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage")
    missing = [m for m in wanted if m not in found]
    if missing:
        have = ", ".join(found) or "nothing"
        return failed(f"Your queries return {have}. A backlog shows as a queue that gets deeper "
                      "(ApproximateNumberOfMessagesVisible) and messages that wait longer "
                      "(ApproximateAgeOfOldestMessage); add "
                      f"{' and '.join(missing)} ({SQS_METRICS}). Invocations alone cannot show "
                      "it: here they are steady at 15 a minute.")
    for name in wanted:
        stat, values = found[name]
        if stat not in ("Maximum", "Average"):
            return failed(f"{name} with Stat {stat!r} gives {[round(v) for v in values]}: a "
                          "gauge sampled each minute is read with Maximum (or Average); a Sum "
                          "or a SampleCount adds up samples and means nothing here.")
        if not _growing(values):
            return failed(f"{name} ({stat}) gives {[round(v) for v in values]}: look at the "
                          "Period (60 s shows each minute).")
    d, a = found[wanted[0]][1], found[wanted[1]][1]
    return passed(f"The queue grew from {d[0]:g} to {d[-1]:g} visible messages and its oldest "
                  f"message from {a[0]:g} s to {a[-1]:g} s old in ten minutes, while Invocations "
                  "stayed flat: the mapping is at its concurrency cap and falls behind. Depth "
                  "and age of oldest message are the two metrics that show an SQS backlog.")


def check_backlog_query(namespace: dict) -> Check:
    found = defined(namespace, "ex1_queries")
    return backlog_query(namespace["ex1_queries"]) if found else found


# --- exercise 2 ----------------------------------------------------------------------------------


def lag_alarm(params) -> Check:
    """The alarm fires within EX2_MINUTES of the shard blocking, notifies the topic, and stays
    quiet on the healthy run."""
    if not isinstance(params, dict):
        return failed("ex2_alarm must be a dict of put_metric_alarm arguments (AlarmName, "
                      "Namespace, MetricName, Dimensions, Statistic, Period, EvaluationPeriods, "
                      f"Threshold, ComparisonOperator, AlarmActions); got {str(params)[:120]}.")
    name = params.get("MetricName")
    if name in NOT_METRICS:
        return failed(f"{NOT_METRICS[name]}. A trigger's lag is the function's IteratorAge "
                      f"(AWS/Lambda, dimension FunctionName) ({LAMBDA_METRICS}).")
    if params.get("Namespace") == "AWS/Kinesis" or (name or "").startswith("GetRecords."):
        return failed(f"{params.get('Namespace')} {name} is a Kinesis Data Streams metric "
                      f"({KINESIS_METRICS}); this pipeline reads a DynamoDB stream, which has no "
                      "iterator-age metric of its own (E37). Lambda publishes IteratorAge for "
                      f"every stream mapping, Kinesis or DynamoDB (AWS/Lambda, FunctionName) "
                      f"({LAMBDA_METRICS}).")
    sick = monitoring.alarm(params, blocked=True)
    if sick.error:
        return failed(f"put_metric_alarm refused ex2_alarm: {sick.error} ({ALARMS}).")
    healthy = monitoring.alarm(params, blocked=False)
    ages = ", ".join(f"{v / 1000:.0f}" for v in sick.ages)
    facts = (f"In the blocked run the item written at t = {monitoring.POISON_AT:g} s fails every "
             f"time, and the function's IteratorAge (Maximum per minute) was {ages} s; in the "
             f"healthy run it stayed at {healthy.ages[0]:g} ms.")
    states = " -> ".join(f"{s} (t = {t:g} s)" for t, s in sick.states)
    if healthy.first_alarm() is not None:
        unit = ""
        threshold = params.get("Threshold")
        if isinstance(threshold, int | float) and threshold < 1000:
            unit = (f" IteratorAge is in milliseconds: Threshold {threshold:g} is "
                    f"{threshold:g} ms, less than the healthy run's {healthy.ages[0]:g} ms.")
        return failed(f"{facts} Your alarm went to ALARM at t = {healthy.first_alarm():g} s in "
                      f"the healthy run: it would page someone for nothing.{unit}")
    if "INSUFFICIENT_DATA" in [s for _, s in sick.states] and sick.first_alarm() is None:
        return failed(f"{facts} Your alarm stayed {states}: CloudWatch found no data for "
                      f"{params.get('Namespace')} {name} {params.get('Dimensions')}. "
                      "IteratorAge is in the namespace AWS/Lambda with the dimension "
                      f"FunctionName = {monitoring.TABLE_FUNCTION!r} ({LAMBDA_METRICS}).")
    first = sick.first_alarm()
    deadline = monitoring.POISON_AT + 60 * EX2_MINUTES
    if first is None or first > deadline:
        when = "never went to ALARM" if first is None else f"went to ALARM at t = {first:g} s"
        return failed(f"{facts} Your alarm {when} ({states}); it must fire by t = {deadline:g} s, "
                      f"{EX2_MINUTES} minutes after the shard blocked. Lower the Threshold (in "
                      "milliseconds), or the EvaluationPeriods: an alarm needs "
                      "DatapointsToAlarm of its last EvaluationPeriods periods over the "
                      f"threshold ({ALARMS}).")
    if not sick.notifications:
        return failed(f"{facts} Your alarm went to ALARM at t = {first:g} s, but nobody heard: "
                      "the ops-inbox queue got no notification. Put the topic in "
                      f"AlarmActions: [monitoring.TOPIC_ARN] ({ALARMS}).")
    note = sick.notifications[0]
    return passed(f"{facts} Your alarm went to ALARM at t = {first:g} s, "
                  f"{(first - monitoring.POISON_AT) / 60:.1f} minutes after the shard blocked, "
                  f"never in the healthy run, and the queue subscribed to the topic received "
                  f"{note.get('NewStateValue')}: {note.get('NewStateReason', '')[:90]}...")


def check_lag_alarm(namespace: dict) -> Check:
    found = defined(namespace, "ex2_alarm")
    return lag_alarm(namespace["ex2_alarm"]) if found else found


# --- exercise 3 ----------------------------------------------------------------------------------


def _reading(cause) -> str:
    return {
        "poison": "Errors steady at about 2 a minute (one each time the visibility timeout of "
                  "30 s ends), the age of the oldest message climbing a minute a minute while "
                  "the queue depth stays near 0: one message is received, fails and comes back",
        "slow": "no errors, no throttles, concurrency flat at 2, Invocations flat, and the queue "
                "depth and age climbing: the mapping does all it may and still falls behind",
        "throttled": "Throttles in the hundreds a minute, concurrency stuck at 1, no errors, and "
                     "a backlog building",
        "blocked": "IteratorAge climbing a minute a minute and Errors every minute: one batch "
                   "is retried again and again while its shard waits",
        "healthy": "no errors, no throttles, a queue near empty and no age to speak of",
    }[cause]


def diagnosis(answer) -> Check:
    """``answer``: {pipeline: (cause, fix)} for every pipeline of ``monitoring.SICK``."""
    names = list(monitoring.SICK)
    shape = ("ex3_diagnosis must be a dict {pipeline: (cause, fix)} for "
             f"{', '.join(names)}, with a cause from monitoring.CAUSES "
             f"({', '.join(monitoring.CAUSES)}) and a fix from monitoring.FIXES "
             f"({', '.join(monitoring.FIXES)})")
    if not isinstance(answer, dict) or sorted(answer) != sorted(names) or not all(
            isinstance(v, list | tuple) and len(v) == 2 for v in answer.values()):
        return failed(f"{shape}; got {str(answer)[:160]}.")
    for name, (cause, fix) in answer.items():
        if cause not in monitoring.CAUSES:
            return failed(f"{name}: {cause!r} is not one of the causes: "
                          f"{', '.join(monitoring.CAUSES)}.")
        if fix not in monitoring.FIXES:
            return failed(f"{name}: {fix!r} is not one of the fixes: "
                          f"{', '.join(monitoring.FIXES)}.")
    wrong = []
    for name in names:
        board = monitoring.sick(name)
        cause, fix = answer[name]
        if cause != board.cause:
            wrong.append(f"{name}: not {cause!r}. Its dashboard shows {_reading(board.cause)}. "
                         f"{_against(cause, board)}".strip())
        elif fix != monitoring.FIX_OF[board.cause]:
            wrong.append(f"{name}: the cause is right, but {monitoring.FIXES[fix]!r} does not "
                         f"cure it. {_why_fix(board.cause)}")
    if wrong:
        return failed(f"{len(names) - len(wrong)} of {len(names)} right. " + " ".join(wrong))
    return passed("Every pipeline named from its metrics alone: errors without backlog and an "
                  "age that keeps climbing (a poison message), a backlog with no errors at the "
                  "concurrency cap (too slow), throttles (reserved concurrency), a stream's "
                  "IteratorAge climbing with steady errors (a blocked shard), and a healthy one.")


def _against(cause, board) -> str:
    facts = board.facts
    if cause == "healthy":
        return "A healthy pipeline has no growing age or depth."
    if cause == "throttled" and facts["throttles"] == 0:
        return "Throttles is empty on this dashboard: nothing was throttled."
    if cause in ("poison", "blocked") and facts["errors"] == 0:
        return "Errors is 0 all along: no message or record fails."
    if cause == "blocked" and board.panels[0][0] != "Iterator age (ms)":
        return "This pipeline reads a queue (it has a queue depth), not a stream's shard."
    if cause in ("poison", "slow", "throttled") and board.panels[0][0] == "Iterator age (ms)":
        return "This pipeline reads a stream (it shows IteratorAge), not a queue."
    return ""


def _why_fix(cause) -> str:
    return {
        "poison": "A redrive policy moves the message to a dead-letter queue after "
                  "maxReceiveCount receives, and then the age of the oldest message means "
                  "something again (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/"
                  "SQSDeveloperGuide/capturing-problematic-messages.html).",
        "slow": "Nothing fails: the mapping may run only 2 invocations at once, and 2 "
                "invocations of 8 s handle 15 orders a minute where 30 arrive. Raise "
                "MaximumConcurrency (https://docs.aws.amazon.com/lambda/latest/dg/"
                "services-sqs-scaling.html).",
        "throttled": "The mapping's pollers start more invocations than the function's reserved "
                     "concurrency allows; raise it, and keep it at least the mapping's "
                     "concurrency (https://docs.aws.amazon.com/lambda/latest/dg/"
                     "services-sqs-scaling.html).",
        "blocked": "With the defaults Lambda retries the batch until the record expires; only "
                   "MaximumRetryAttempts (or MaximumRecordAgeInSeconds) unblocks the shard, "
                   "bisect finds the record, and a destination keeps a note of it "
                   "(https://docs.aws.amazon.com/lambda/latest/dg/"
                   "kinesis-on-failure-destination.html).",
        "healthy": "A healthy pipeline needs nothing.",
    }[cause]


def check_diagnosis(namespace: dict) -> Check:
    found = defined(namespace, "ex3_diagnosis")
    return diagnosis(namespace["ex3_diagnosis"]) if found else found
