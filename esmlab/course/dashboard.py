"""A small CloudWatch dashboard: a few graphs of metrics, drawn from ``get_metric_data`` results.

The learner's own CloudWatch client fetches the data, exactly as on AWS; this module only draws
it. A panel is a title and the metrics it shows, each as (namespace, metric, dimensions, stat):

    panels = [
        ("Queue depth", [("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                          {"QueueName": "orders"}, "Maximum")]),
        ("Invocations and errors", [("AWS/Lambda", "Invocations", {"FunctionName": "worker"}, "Sum"),
                                    ("AWS/Lambda", "Errors", {"FunctionName": "worker"}, "Sum")]),
    ]
    dashboard(lab.client("cloudwatch"), panels, minutes=10)

:func:`pipeline_panels` builds the usual set for a queue and a function (and a stream's iterator
age). Figures are 7 inches wide, so that at 100 dpi they fit a ~700 px page column with
readable text. Nothing here calls ``plt.show()``.
"""

from __future__ import annotations

import datetime as dt

from ..clock import START

WIDTH_INCHES = 7.0
PANEL_HEIGHT_INCHES = 2.2


def queries(panels) -> list[dict]:
    """The ``MetricDataQueries`` for every metric of every panel (ids m0, m1, ...)."""
    out = []
    for _title, metrics in panels:
        for namespace, name, dims, stat in metrics:
            out.append({
                "Id": f"m{len(out)}",
                "Label": f"{name} ({stat})" + (f" {dims['ShardId']}" if "ShardId" in dims else ""),
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": name,
                               "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
                    "Period": 60, "Stat": stat},
            })
    return out


def fetch(cloudwatch, panels, minutes: int) -> list[dict]:
    """``get_metric_data`` for the panels over the lab's first ``minutes`` simulated minutes."""
    if not isinstance(minutes, int) or minutes < 1:
        raise ValueError(f"minutes must be a whole number of minutes >= 1, got {minutes!r}")
    response = cloudwatch.get_metric_data(
        MetricDataQueries=queries(panels), StartTime=START,
        EndTime=START + dt.timedelta(minutes=minutes), ScanBy="TimestampAscending")
    return response["MetricDataResults"]


def dashboard(cloudwatch, panels, *, minutes: int, columns: int = 2):
    """Draw one graph per panel (x: simulated minutes); returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("panels must list at least one (title, [metrics]) panel")
    if columns not in (1, 2, 3):
        raise ValueError(f"columns must be 1, 2 or 3, got {columns!r}")
    results = iter(fetch(cloudwatch, panels, minutes))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, squeeze=False, sharex=True,
                                figsize=(WIDTH_INCHES, PANEL_HEIGHT_INCHES * rows))
    for k, (title, metrics) in enumerate(panels):
        ax = axes[k // columns][k % columns]
        for _metric in metrics:
            result = next(results)
            x = [(t - START).total_seconds() / 60 for t in result["Timestamps"]]
            ax.plot(x, result["Values"], marker="o", markersize=3, label=result["Label"])
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0, minutes)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for k in range(len(panels), rows * columns):
        axes[k // columns][k % columns].set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("simulated minute")
    figure.tight_layout()
    return figure


def pipeline_panels(queue: str, function: str, stream: str | None = None,
                    shards: tuple = ()) -> list:
    """Queue depth and age of oldest message beside invocations, errors and throttles; with
    ``stream``, the function's iterator age and the stream's ``GetRecords`` iterator age; with
    ``shards`` (ids), each shard's ``IteratorAgeMilliseconds`` (enhanced monitoring must be on:
    ``kinesis.enable_enhanced_monitoring(StreamName=..., ShardLevelMetrics=["IteratorAgeMilliseconds"])``)."""
    q, f = {"QueueName": queue}, {"FunctionName": function}
    panels = [
        ("Queue depth", [("AWS/SQS", "ApproximateNumberOfMessagesVisible", q, "Maximum"),
                         ("AWS/SQS", "ApproximateNumberOfMessagesNotVisible", q, "Maximum")]),
        ("Age of oldest message (s)", [("AWS/SQS", "ApproximateAgeOfOldestMessage", q,
                                        "Maximum")]),
        ("Invocations", [("AWS/Lambda", "Invocations", f, "Sum"),
                         ("AWS/Lambda", "Errors", f, "Sum"),
                         ("AWS/Lambda", "Throttles", f, "Sum")]),
        ("Concurrent executions", [("AWS/Lambda", "ConcurrentExecutions", f, "Maximum")]),
    ]
    if stream is not None:
        panels.append(("Iterator age (ms)", [
            ("AWS/Lambda", "IteratorAge", f, "Maximum"),
            ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", {"StreamName": stream},
             "Maximum")]))
    if stream is not None and shards:
        panels.append(("Iterator age per shard (ms)", [
            ("AWS/Kinesis", "IteratorAgeMilliseconds", {"ShardId": shard, "StreamName": stream},
             "Maximum") for shard in shards]))
    return panels
