"""esmlab.course.dashboard draws what get_metric_data returns, at the site's page width."""

import matplotlib.pyplot as plt
import pytest

from esmlab.course.dashboard import dashboard, pipeline_panels


@pytest.fixture(autouse=True)
def headless_figures():
    plt.switch_backend("Agg")
    yield
    plt.close("all")


def test_pipeline_dashboard_draws_the_published_metrics(env):
    def handler(event, context):
        if event["Records"][0]["body"] == "bad":
            raise ValueError("bad")

    env.lab.function("worker", handler, timeout=10, duration=2.0)
    url, arn = env.queue(VisibilityTimeout=30, dlq_after=2)
    env.mapping(arn, BatchSize=1)
    env.send(url, *["ok"] * 20, "bad")
    env.lab.run(until=300)
    figure = dashboard(env.lab.client("cloudwatch"), pipeline_panels("orders", "worker"),
                       minutes=5)
    assert tuple(figure.get_size_inches()) == (7.0, 4.4)
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [
        "Queue depth", "Age of oldest message (s)", "Invocations", "Concurrent executions"]
    invocations = {line.get_label(): sum(line.get_ydata()) for line in visible[2].get_lines()}
    assert invocations["Invocations (Sum)"] == len(env.lab.trace.invocations) == 22
    assert invocations["Errors (Sum)"] == 2


def test_bad_arguments_are_named(env):
    cw = env.lab.client("cloudwatch")
    with pytest.raises(ValueError, match="minutes must be a whole number"):
        dashboard(cw, pipeline_panels("q", "f"), minutes=0)
    with pytest.raises(ValueError, match="columns must be 1, 2 or 3"):
        dashboard(cw, pipeline_panels("q", "f"), minutes=5, columns=4)
    with pytest.raises(ValueError, match="panels must list"):
        dashboard(cw, [], minutes=5)


def test_iterator_age_per_shard(streams):
    streams.lab.function("fn", lambda e, c: None, timeout=10, duration=1.0)
    arn = streams.stream(shards=2)
    streams.kinesis.enable_enhanced_monitoring(StreamName="telemetry",
                                               ShardLevelMetrics=["IteratorAgeMilliseconds"])
    for n in range(20):
        streams.put("telemetry", {"n": n}, key=f"k{n}")
    streams.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=arn,
                                            StartingPosition="TRIM_HORIZON")
    streams.lab.run(until=120)
    shards = [s["ShardId"] for s in streams.kinesis.list_shards(StreamName="telemetry")["Shards"]]
    figure = dashboard(streams.lab.client("cloudwatch"),
                       pipeline_panels("none", "fn", stream="telemetry", shards=shards),
                       minutes=2)
    per_shard = next(ax for ax in figure.axes if ax.get_title() == "Iterator age per shard (ms)")
    lines = {line.get_label(): list(line.get_ydata()) for line in per_shard.get_lines()}
    assert set(lines) == {f"IteratorAgeMilliseconds (Maximum) {s}" for s in shards}
    polls = [e for e in streams.lab.trace.of("poll") if e.records]
    assert max(max(v) for v in lines.values()) == max(e.t for e in polls) * 1000
    cw = streams.lab.client("cloudwatch")
    not_enabled = cw.list_metrics(Namespace="AWS/Kinesis", MetricName="OutgoingRecords")
    assert not_enabled["Metrics"] == []  # only the shard-level metrics that were enabled
