"""Metric alarms evaluated in simulated time, as CloudWatch evaluates them.

moto stores ``put_metric_alarm`` but never evaluates an alarm (and starts it in ``OK``). esmlab
starts it in ``INSUFFICIENT_DATA`` and, at every simulated minute, looks at the last
``EvaluationPeriods`` periods of the alarm's metric: if at least ``DatapointsToAlarm`` of them
breach the threshold the alarm is in ``ALARM``, otherwise ``OK``; missing periods are treated as
``TreatMissingData`` says (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html).
A change of state is written to the alarm (``describe_alarms``: state, reason, reason data), to
its history (``describe_alarm_history``, which esmlab answers), and runs the alarm's actions for
the new state: an SNS topic gets the alarm's JSON message, which a subscribed queue receives.
A ``Period`` that is not a whole number of minutes is refused too: every metric here has
1-minute resolution.

What esmlab cannot evaluate is refused at ``put_metric_alarm`` with an ``[esmlab]`` message
instead of sitting in ``INSUFFICIENT_DATA`` for ever: metric math (``Metrics``), anomaly
detection (``ThresholdMetricId``) and percentiles (``ExtendedStatistic``; the published data are
per-minute statistic sets, from which no percentile can be computed).

MODELLING CHOICES (docs/simulator.md): the periods evaluated end at the last whole period before
the evaluation minute (CloudWatch does not document its exact evaluation instant); the state
reason and the SNS message follow the shape of AWS's, but their exact wording is not documented.
"""

from __future__ import annotations

import datetime as dt
import json

from botocore.awsrequest import AWSResponse

from ..clock import START
from .publisher import timestamp

COMPARISONS = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
REGION_NAMES = {"us-east-1": "US East (N. Virginia)"}

UNSUPPORTED = {
    "Metrics": "[esmlab] Alarms on metric math (Metrics) are not evaluated by this simulator; "
               "alarm on one metric with MetricName, Namespace, Dimensions and Statistic.",
    "ThresholdMetricId": "[esmlab] Anomaly detection alarms (ThresholdMetricId) are not "
                         "evaluated by this simulator; use a static Threshold.",
    "ExtendedStatistic": "[esmlab] Percentile alarms (ExtendedStatistic) are not evaluated by "
                         "this simulator: it keeps per-minute statistic sets, which have no "
                         "percentiles. Use Statistic (SampleCount, Average, Sum, Minimum, "
                         "Maximum).",
}
#: Datums are stored in time order give or take this: an invocation's Duration and Errors are
#: stamped at its start and stored when it ends (at most 900 s later, plus a minute's flush).
LATEST_ARRIVAL = dt.timedelta(seconds=900 + 2 * 60)

#: AWS's ComparisonOperator enum also has three anomaly detection operators, which need a band
#: this simulator does not evaluate; anything else is not an operator at all.
BAD_OPERATOR = ("[esmlab] ComparisonOperator {value!r} is not one of "
                "GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold, "
                "LessThanOrEqualToThreshold (https://docs.aws.amazon.com/AmazonCloudWatch/latest/"
                "APIReference/API_PutMetricAlarm.html; the anomaly detection operators are not "
                "evaluated by this simulator).")

HIGH_RESOLUTION = ("[esmlab] Period {period} is not a whole number of minutes: the simulator "
                   "publishes metrics at 1-minute resolution, so use a Period of 60 seconds or a "
                   "multiple of 60.")


def _error(message):
    body = {"Error": {"Code": "ValidationError", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}, "RetryAttempts": 0}}
    return AWSResponse("https://monitoring.esmlab", 400, {}, None), body


def statistic(datums, name):
    """A statistic over stored datums (statistic sets, or single values a learner put)."""
    count = total = 0.0
    low, high = float("inf"), float("-inf")
    for d in datums:
        if hasattr(d, "sample_count"):
            count += d.sample_count
            total += d.sum
            low, high = min(low, d.min), max(high, d.max)
        else:
            count += 1
            total += d.value
            low, high = min(low, d.value), max(high, d.value)
    if not count:
        return None
    return {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high,
            "Average": total / count}[name]


def _utc(moment) -> dt.datetime:
    """A StartDate/EndDate as given to boto3 (a datetime, naive meaning UTC, or ISO text)."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def when(t_seconds: float) -> str:
    return (START + dt.timedelta(seconds=t_seconds)).strftime("%d/%m/%y %H:%M:%S")


class Alarms:
    def __init__(self, lab, publisher):
        self.lab = lab
        self.publisher = publisher
        self.history: list[dict] = []  #: newest last
        self._kept = None  #: the state of an alarm that put_metric_alarm is updating
        self._by_metric: dict = {}  #: (namespace, metric) -> stored datums, in storing order
        self._indexed = 0  #: datums of moto's metric_data already in _by_metric

    # --- the CloudWatch API --------------------------------------------------------------------

    def before_call(self, operation, params):
        if operation == "PutMetricAlarm":
            for key, message in UNSUPPORTED.items():
                if params.get(key):
                    return _error(message)
            if params.get("ComparisonOperator") not in COMPARISONS:
                # checked at the call: an unknown operator used to fail later, inside lab.run
                return _error(BAD_OPERATOR.format(value=params.get("ComparisonOperator")))
            if params.get("Period") and params["Period"] % 60:
                return _error(HIGH_RESOLUTION.format(period=params["Period"]))
            old = self.publisher.backend().alarms.get(params.get("AlarmName"))
            self._kept = None if old is None else (
                old.state_value, old.state_reason, old.state_reason_data,
                old.state_updated_timestamp)
        if operation == "DescribeAlarmHistory":
            return self.describe_history(params)
        return None

    def after_call(self, operation, params, parsed):
        if operation != "PutMetricAlarm" or "Error" in parsed:
            return
        alarm = self.publisher.backend().alarms[params["AlarmName"]]
        alarm.history.clear()
        if self._kept is not None:
            # Updating an alarm keeps its state (moto would reset it to OK):
            # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
            (alarm.state_value, alarm.state_reason, alarm.state_reason_data,
             alarm.state_updated_timestamp) = self._kept
            self._history(alarm.name, "ConfigurationUpdate", f'Alarm "{alarm.name}" updated', {})
            return
        # A new alarm is INSUFFICIENT_DATA until it is evaluated (moto would say OK).
        alarm.state_value = "INSUFFICIENT_DATA"
        alarm.state_reason = "Unchecked: Initial alarm creation"
        alarm.state_updated_timestamp = self.lab.datetime()
        self._history(alarm.name, "ConfigurationUpdate", f'Alarm "{alarm.name}" created', {})

    def describe_history(self, params):
        items = [h for h in self.history
                 if params.get("AlarmName") in (None, h["AlarmName"])
                 and params.get("HistoryItemType") in (None, h["HistoryItemType"])]
        if params.get("StartDate"):
            items = [h for h in items if h["Timestamp"] >= _utc(params["StartDate"])]
        if params.get("EndDate"):
            items = [h for h in items if h["Timestamp"] <= _utc(params["EndDate"])]
        if params.get("ScanBy") != "TimestampAscending":
            items = items[::-1]
        if params.get("MaxRecords"):
            items = items[:params["MaxRecords"]]
        body = {"AlarmHistoryItems": items,
                "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}}
        return AWSResponse("https://monitoring.esmlab", 200, {}, None), body

    def _history(self, name, kind, summary, data):
        self.history.append({"AlarmName": name, "AlarmType": "MetricAlarm",
                             "Timestamp": self.lab.datetime(), "HistoryItemType": kind,
                             "HistorySummary": summary, "HistoryData": json.dumps(data)})

    # --- evaluation, every simulated minute ----------------------------------------------------

    def evaluate(self, now: float) -> None:
        alarms = [a for a in self.publisher.backend().alarms.values() if not a.rule]
        if not alarms:
            return
        data = self.publisher.backend().metric_data
        for datum in data[self._indexed:]:
            self._by_metric.setdefault((datum.namespace, datum.name), []).append(datum)
        self._indexed = len(data)
        for alarm in alarms:
            period = int(alarm.period or 60)
            end = (now // period) * period
            if getattr(alarm, "_esmlab_evaluated", None) == end:
                continue
            alarm._esmlab_evaluated = end
            self._evaluate(alarm, end, period,
                           self._by_metric.get((alarm.namespace, alarm.metric_name), []))

    def _values(self, alarm, end, period, data):
        dims = sorted((d.name, d.value) for d in alarm.dimensions)
        first = end - period * alarm.evaluation_periods
        start, stop = timestamp(first), timestamp(end)
        oldest = start - LATEST_ARRIVAL
        chosen = []
        for d in reversed(data):  # newest first: stop well before the evaluated range
            if d.timestamp < oldest:
                break
            if (start <= d.timestamp < stop and (not alarm.unit or d.unit == alarm.unit)
                    and sorted((x.name, x.value) for x in d.dimensions) == dims):
                chosen.append(d)
        values = []
        for k in range(alarm.evaluation_periods):
            low = timestamp(first + k * period)
            high = low + dt.timedelta(seconds=period)
            values.append((first + k * period,
                           statistic([d for d in chosen if low <= d.timestamp < high],
                                     alarm.statistic)))
        return values

    def _evaluate(self, alarm, end, period, data):
        values = self._values(alarm, end, period, data)
        breaches, phrase = COMPARISONS[alarm.comparison_operator]
        treat = alarm.treat_missing_data or "missing"
        needed = alarm.datapoints_to_alarm or alarm.evaluation_periods
        present = [(t, v) for t, v in values if v is not None]
        missing = len(values) - len(present)
        breaching = sum(1 for _, v in present if breaches(v, alarm.threshold))
        if treat == "breaching":
            breaching += missing
        old = alarm.state_value
        if not present and treat in ("missing", "ignore"):
            if treat == "ignore":
                return
            new = "INSUFFICIENT_DATA"
            reason = (f"Insufficient Data: {len(values)} datapoint"
                      f"{'s were' if len(values) > 1 else ' was'} unknown.")
        else:
            new = "ALARM" if breaching >= needed else "OK"
            shown = ", ".join(f"{v} ({when(t)})" for t, v in reversed(present))
            verb = "was" if new == "ALARM" else "was not"
            reason = (f"Threshold Crossed: {breaching if new == 'ALARM' else len(present)} out "
                      f"of the last {len(values)} datapoints [{shown}] {verb} {phrase} the "
                      f"threshold ({alarm.threshold}) (minimum {needed} datapoint"
                      f"{'s' if needed > 1 else ''} for {old} -> {new} transition).")
        if new == old:
            return
        reason_data = {"version": "1.0", "queryDate": self.lab.datetime().isoformat(),
                       "statistic": alarm.statistic, "period": period,
                       "recentDatapoints": [v for _, v in present], "threshold": alarm.threshold}
        alarm.update_state(reason, json.dumps(reason_data), new)
        self._history(alarm.name, "StateUpdate", f"Alarm updated from {old} to {new}",
                      {"version": "1.0", "oldState": {"stateValue": old},
                       "newState": {"stateValue": new, "stateReason": reason}})
        self._act(alarm, old, new, reason)

    def _act(self, alarm, old, new, reason):
        if not alarm.actions_enabled:
            return
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
                   "INSUFFICIENT_DATA": alarm.insufficient_data_actions}[new] or []
        for arn in actions:
            if not arn.startswith("arn:aws:sns:"):
                continue
            self.lab.internal_client("sns").publish(
                TopicArn=arn, Subject=self.subject(alarm, new),
                Message=json.dumps(self.message(alarm, old, new, reason)))
            self._history(alarm.name, "Action", f"Successfully executed action {arn}", {})

    def subject(self, alarm, new) -> str:
        region = REGION_NAMES.get(self.lab.region, self.lab.region)
        return f'{new}: "{alarm.name}" in {region}'[:100]

    def message(self, alarm, old, new, reason) -> dict:
        return {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description or None,
            "AWSAccountId": self.lab.account_id,
            "AlarmConfigurationUpdatedTimestamp": alarm.configuration_updated_timestamp.isoformat(),
            "NewStateValue": new,
            "NewStateReason": reason,
            "StateChangeTime": self.lab.datetime().isoformat(),
            "Region": REGION_NAMES.get(self.lab.region, self.lab.region),
            "AlarmArn": alarm.alarm_arn,
            "OldStateValue": old,
            "OKActions": alarm.ok_actions,
            "AlarmActions": alarm.alarm_actions,
            "InsufficientDataActions": alarm.insufficient_data_actions,
            "Trigger": {
                "MetricName": alarm.metric_name,
                "Namespace": alarm.namespace,
                "StatisticType": "Statistic",
                "Statistic": (alarm.statistic or "").upper(),
                "Unit": alarm.unit,
                "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
                "Period": alarm.period,
                "EvaluationPeriods": alarm.evaluation_periods,
                "DatapointsToAlarm": alarm.datapoints_to_alarm or alarm.evaluation_periods,
                "ComparisonOperator": alarm.comparison_operator,
                "Threshold": alarm.threshold,
                "TreatMissingData": alarm.treat_missing_data or "missing",
                "EvaluateLowSampleCountPercentile": "",
            },
        }
