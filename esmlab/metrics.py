"""The event source mapping's event counts, derived from the trace, per period or in total.

These are the figures :mod:`esmlab.cloudwatch.publisher` publishes into the lab's CloudWatch
(``AWS/Lambda``, dimension ``EventSourceMappingUUID``, when the mapping has ``MetricsConfig``
``EventCount``); both use :func:`_contributions`, so they always agree. A learner reads them with
``cloudwatch.get_metric_data`` as on AWS; this module is the quick, trace-side view (a
DataFrame) that tests and checks use. Metric names and meanings:
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html. Two names a popular
guide uses do not exist and are not here: an SQS metric ``ReceiveCount``
(``ApproximateReceiveCount`` is a message attribute), and
``Lambda.OffendingProcessIdentifier`` (a wrong name: no such metric exists).

* ``PolledEventCount``: records read from the source (SQS messages received, stream records read).
* ``FilteredOutEventCount``: records removed by the mapping's filters.
* ``InvokedEventCount``: records sent to the function.
* ``FailedInvokeEventCount``: records in invocations that failed. AWS does not say which records
  of a partly failed batch count. MODELLING CHOICE: after an error, a timeout or an invalid
  partial response, every record of the batch; after a valid partial response, only the
  records it reported (docs/simulator.md).
* ``DroppedEventCount`` (streams): records discarded for the age or retry limit.
* ``OnFailureDestinationDeliveredEventCount`` (streams): records whose failure record reached
  the destination.
* ``DestinationDeliveryFailures`` (streams): deliveries to the destination that failed (AWS
  publishes it per function, not per mapping, and without opting in).
* ``DeletedEventCount`` (SQS): messages the mapping deleted (filtered-out messages included:
  Lambda deletes them, https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html).
* ``IteratorAge`` (streams, ms, maximum per period): age of the last record of a batch when it
  was sent to the function (AWS publishes it per function).
"""

from __future__ import annotations

COUNTS = (
    "PolledEventCount",
    "FilteredOutEventCount",
    "InvokedEventCount",
    "FailedInvokeEventCount",
    "DroppedEventCount",
    "OnFailureDestinationDeliveredEventCount",
    "DestinationDeliveryFailures",
    "DeletedEventCount",
)


def _contributions(event):
    """(metric, value) pairs one trace event adds."""
    n = len(event.records)
    kind = event.kind
    if kind == "poll":
        return [("PolledEventCount", n)]
    if kind == "filtered":
        return [("FilteredOutEventCount", n)]
    if kind == "invoke_start":
        pairs = [("InvokedEventCount", n)]
        if "iterator_age_ms" in event.detail:
            pairs.append(("IteratorAge", event.detail["iterator_age_ms"]))
        return pairs
    if kind == "invoke_end" and event.outcome != "success":
        return [("FailedInvokeEventCount", len(event.detail.get("failed", ())))]
    if kind == "discard":
        return [("DroppedEventCount", n)]
    if kind == "destination":
        if event.outcome == "delivered":
            return [("OnFailureDestinationDeliveredEventCount", n)]
        return [("DestinationDeliveryFailures", 1)]
    if kind == "delete":
        return [("DeletedEventCount", n)]
    return []


def esm_metrics(trace, mapping: str, period: float = 60.0):
    """A DataFrame: one row per period (index = period start, s), one column per metric."""
    import pandas as pd

    rows: dict[float, dict] = {}
    for event in trace.events:
        if event.mapping != mapping:
            continue
        for metric, value in _contributions(event):
            start = (event.t // period) * period
            row = rows.setdefault(start, dict.fromkeys(COUNTS, 0))
            if metric == "IteratorAge":
                row[metric] = max(row.get(metric, 0), value)
            else:
                row[metric] += value
    frame = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    frame.index.name = "period_start"
    return frame.fillna(0)


def totals(trace, mapping: str) -> dict:
    """Each metric summed over the whole run (IteratorAge: the maximum)."""
    result = dict.fromkeys(COUNTS, 0)
    for event in trace.events:
        if event.mapping == mapping:
            for metric, value in _contributions(event):
                if metric == "IteratorAge":
                    result[metric] = max(result.get(metric, 0), value)
                else:
                    result[metric] += value
    return result
