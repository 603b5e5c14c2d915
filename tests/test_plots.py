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
