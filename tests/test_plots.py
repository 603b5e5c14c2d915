"""esmlab.course.plots draws what the trace says: one labelled bar per invocation, no overlaps."""

import matplotlib
import matplotlib.pyplot as plt
import pytest

from esmlab.course.plots import _lanes, invocation_timeline
from esmlab.trace import Invocation, Trace


def make_trace(spans):
    trace = Trace()
    trace.add(0.0, "send", records=("m1",))
    for n, (start, end, size) in enumerate(spans):
        inv = Invocation(f"r{n}", "f", "uuid", start, tuple(f"m{k}" for k in range(size)), end=end,
                         outcome=None if end is None else "success")
        trace.invocations.append(inv)
        trace.add(start, "invoke_start", invocation=inv.request_id)
    return trace


@pytest.fixture(autouse=True)
def headless_figures():
    plt.switch_backend("Agg")
    yield
    plt.close("all")


def test_overlapping_invocations_get_separate_rows_and_rows_are_reused():
    trace = make_trace([(2.0, 3.0, 10), (2.0, 3.0, 10), (2.5, 4.0, 5), (3.0, 3.5, 1)])
    rows = _lanes(trace.invocations, now=10.0)
    assert rows[0] != rows[1] and rows[2] not in (rows[0], rows[1])
    assert rows[3] in (rows[0], rows[1])  # starts when the first two have ended
    assert max(rows) + 1 == 3  # rows used = peak concurrency


def test_timeline_returns_the_axes_with_one_labelled_bar_per_invocation():
    trace = make_trace([(2.0, 3.0, 10), (2.0, 3.0, 10), (2.0, 3.0, 5)])
    ax = invocation_timeline(trace)
    assert isinstance(ax, matplotlib.axes.Axes)
    bars = list(ax.patches)
    assert len(bars) == 3
    assert sorted(round(b.get_x(), 6) for b in bars) == [2.0, 2.0, 2.0]
    assert sorted(round(b.get_width(), 6) for b in bars) == [1.0, 1.0, 1.0]
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == ["10", "10", "5"]
    assert ax.get_xlabel() == "simulated time (s)"


def test_timeline_draws_on_a_given_axes_and_shows_unfinished_invocations():
    _, given = plt.subplots()
    trace = make_trace([(1.0, None, 3)])
    ax = invocation_timeline(trace, ax=given, now=4.0, show_sends=False)
    assert ax is given
    (bar,) = ax.patches
    assert bar.get_x() == 1.0 and bar.get_width() == pytest.approx(3.0)


def test_empty_trace_draws_an_empty_timeline():
    ax = invocation_timeline(Trace())
    assert len(ax.patches) == 0 and ax.get_xlabel() == "simulated time (s)"


def run_lab(messages, batch_size, duration, until, seed=3):
    """A lab through the learner contract: a queue, a function, a mapping, lab.run."""
    from esmlab import Lab

    lab = Lab(seed=seed)
    sqs, lam = lab.client("sqs"), lab.client("lambda")
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "300"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    lab.function("worker", lambda event, context: None, timeout=60, duration=duration)
    lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn,
                                    BatchSize=batch_size)
    for start in range(0, messages, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "MessageBody": "x"} for n in range(start, min(start + 10, messages))])
    lab.run(until=until)
    return lab


def test_concurrent_invocations_that_start_together_are_told_apart():
    lab = run_lab(messages=25, batch_size=10, duration=1.0, until=60)
    starts = [i.start for i in lab.trace.invocations]
    assert len(set(starts)) == 1 and len(starts) == 3  # three pollers invoke at the same instant
    ax = invocation_timeline(lab)
    rows = sorted(bar.get_y() for bar in ax.patches)
    assert len(set(rows)) == 3  # three bars on three rows, not one on top of another
    lab.close()


def test_a_running_invocation_is_drawn_to_the_end_of_the_run_and_hatched():
    lab = run_lab(messages=10, batch_size=10, duration=30.0, until=12)
    (inv,) = lab.trace.invocations
    assert inv.end is None and lab.now == 12
    ax = invocation_timeline(lab)  # a Lab: "now" is its clock, not the last event (t = 2 s)
    (bar,) = ax.patches
    assert bar.get_x() == inv.start and bar.get_x() + bar.get_width() == pytest.approx(12.0)
    assert bar.get_hatch() == "///"
    assert "running at t = 12 s" in [t.get_text() for t in ax.get_legend().get_texts()]
    lab.close()


def test_a_zero_length_invocation_stays_visible():
    trace = make_trace([(2.0, 2.0, 1), (50.0, 52.0, 4)])
    ax = invocation_timeline(trace)
    widths = [bar.get_width() for bar in ax.patches]
    span = ax.get_xlim()[1] - ax.get_xlim()[0]
    assert min(widths) >= 0.004 * span * 0.99


def test_hundreds_of_invocations_stay_readable():
    lab = run_lab(messages=400, batch_size=1, duration=8.0, until=60)
    assert len(lab.trace.invocations) > 200
    ax = invocation_timeline(lab)
    rows = {bar.get_y() for bar in ax.patches}
    assert len(rows) > 30
    assert len(ax.get_yticklabels()) <= 13  # at most 12 numbered rows, plus "sends"
    assert [t for t in ax.texts if t.get_text().isdigit()] == []  # no labels piled on thin rows
    assert "bar label" not in ax.get_title()  # the title does not promise labels it left out
    figure = ax.figure
    assert figure.get_figwidth() * figure.dpi <= 700  # drawn for the site's column
    lab.close()


def test_state_names_do_not_collide_with_each_other_or_the_bars():
    lab = run_lab(messages=25, batch_size=10, duration=1.0, until=60)
    lab.client("sqs").send_message(QueueUrl=lab.client("sqs").get_queue_url(
        QueueName="orders")["QueueUrl"], MessageBody="late")
    lab.run(until=120)
    ax = invocation_timeline(lab)
    ax.figure.canvas.draw()
    names = [t for t in ax.texts if t.get_text() in ("Creating", "Enabled")]
    assert len(names) == 2
    boxes = [t.get_window_extent() for t in names]
    assert not boxes[0].overlaps(boxes[1])  # t = 0 and t = 2 s are close on a 2-minute axis
    plot = ax.get_window_extent()
    assert all(box.y0 >= plot.y1 - 1 for box in boxes)  # above the plot, clear of the bars
    lab.close()
