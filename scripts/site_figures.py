"""Precomputed interactive figures for the site (plotly, served with a local plotly.min.js).

    python scripts/site_figures.py OUT.html     # the batching figure as a standalone page

The batching chapter's figure comes from ``esmlab.course.scenarios.batching.plotly_frames``: the same
scenario function as Lab 02's widget, run for a grid of (BatchSize, window) pairs at build time.
If that function is not available (an older esmlab), :func:`fallback_batching_figure` builds an
equivalent figure from ``esmlab.Lab`` directly.
"""

from __future__ import annotations

import functools
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The slider's steps: each shows a different picture at about one message a second, shared by
# two pollers. Window 0 sends whatever a poll returns; a 5 s window gathers a few; with BatchSize
# 10 a 60 s window is cut short at 10 records; BatchSize 100 with window 0 is rejected (V1); with
# BatchSize 100, 20 s and 60 s windows decide the batch alone. (A full BatchSize x window grid
# repeats pictures: at this rate BatchSize 50 and 100 close the same batches, and so do
# BatchSize 10 and 100 with a 20 s window.)
STEPS = ((10, 0), (10, 5), (10, 60), (100, 0), (100, 20), (100, 60))
BATCH_SIZES = tuple(sorted({b for b, _ in STEPS}))
WINDOWS = tuple(sorted({w for _, w in STEPS}))
ARRIVAL_RATE = 1.0  # messages a second

CAPTION = (
    "Precomputed with the simulator at build time: an SQS standard queue receiving about {rate:g} "
    "message a second for a simulated minute (Poisson arrivals, fixed seed), a function that runs "
    "0.5 s, MaximumConcurrency 2. Move the slider to pick BatchSize / window. A batch closes at "
    "the first of BatchSize records, the window's end or 6 MB "
    '(<a href="https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html">'
    "invocation-eventsourcemapping</a>); with BatchSize above 10 and window 0 the mapping is "
    "rejected (V1). When a window opens is a MODELLING CHOICE of the simulator (M3)."
)


@functools.lru_cache(maxsize=1)
def batching_figure():
    """(plotly Figure, caption) for the batching chapter."""
    try:
        from esmlab.course.scenarios.batching import plotly_frames
    except ImportError:
        figure = fallback_batching_figure()
    else:
        figure = plotly_frames(batch_sizes=BATCH_SIZES, windows=WINDOWS,
                               arrival_rate=ARRIVAL_RATE)
    _keep_steps(figure)
    figure.update_layout(autosize=True, height=520, margin={"l": 60, "r": 20, "t": 90, "b": 40},
                         title_font_size=13)
    # The title is two lines: the configuration, then its figures. A rejected configuration says
    # so in the title, and AWS's message is written across the (empty) plot, wrapped.
    subplot_titles = list(figure.layout.annotations)
    figure.update_layout(title_text=_two_lines(figure.layout.title.text))
    for frame in figure.frames:
        text = frame.layout.title.text if frame.layout and frame.layout.title else None
        notes = list(subplot_titles)
        if text and "rejected" in text:
            head, _, message = text.partition("<br>")
            text = head + "<br>no invocations: the mapping was never created"
            notes.append({"text": "<br>".join(_wrap_lines(message, 60)), "showarrow": False,
                          "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                          "font": {"size": 13, "color": "#b00020"}, "bgcolor": "#fff4f4",
                          "bordercolor": "#b00020", "borderpad": 8})
        frame.layout.title.text = _two_lines(text)
        frame.layout.annotations = notes
    # The slider sits below the x axis titles, its current value on its right.
    for slider in figure.layout.sliders:
        slider.update(pad={"t": 70, "b": 10}, y=0, len=1.0, x=0,
                      currentvalue={"prefix": "BatchSize / window: ", "xanchor": "right",
                                    "font": {"size": 13}})
    return figure, CAPTION.format(rate=ARRIVAL_RATE)


def _keep_steps(figure) -> None:
    """Keep the frames and slider steps of STEPS, in that order."""
    names = [f"{b} / {w} s" for b, w in STEPS]
    frames = {frame.name: frame for frame in figure.frames}
    figure.frames = [frames[name] for name in names if name in frames]
    for slider in figure.layout.sliders:
        steps = {step.label: step for step in slider.steps}
        slider.steps = [steps[name] for name in names if name in steps]


def _two_lines(text: str | None) -> str | None:
    """'BatchSize 10, window 0 s: 25 invocations/min, ...' as two lines, at the first ': '."""
    if not text or "<br>" in text:
        return text
    head, _, rest = text.partition(": ")
    return f"{head}<br>{rest}" if rest else text


def _wrap_lines(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


def _simulate(batch_size: int, window: int, rate: float, seed: int = 0):
    """(batch sizes, per-message latencies, rejection) for one SQS configuration."""
    import random

    from botocore.exceptions import ClientError

    from esmlab import Lab

    lab = Lab(seed=seed)
    try:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "90"})[
            "QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        lab.function("orders-worker", lambda e, c: None, timeout=10, duration=0.5)
        try:
            lam.create_event_source_mapping(
                FunctionName="orders-worker", EventSourceArn=arn, BatchSize=batch_size,
                MaximumBatchingWindowInSeconds=window,
                ScalingConfig={"MaximumConcurrency": 2})
        except ClientError as error:
            err = error.response["Error"]
            return [], [], f"{err['Code']}: {err['Message']}"
        rng = random.Random(seed)
        sent, t = {}, 2.0
        while t < 62.0:
            lab.clock.at(t, lambda: sent.__setitem__(
                sqs.send_message(QueueUrl=url, MessageBody="{}")["MessageId"], lab.now))
            t += rng.expovariate(rate)
        lab.run(until=62 + window + 30)
        first = {}
        for event in lab.trace.events:
            if event.kind == "invoke_start":
                for record in event.records:
                    first.setdefault(record, event.t)
        sizes = [len(i.records) for i in lab.trace.invocations]
        latencies = sorted(first[m] - s for m, s in sent.items() if m in first)
        return sizes, latencies, None
    finally:
        lab.close()


def fallback_batching_figure():
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    runs = {(b, w): _simulate(b, w, ARRIVAL_RATE) for b in BATCH_SIZES for w in WINDOWS}

    def traces(sizes, latencies):
        counts = Counter(sizes)
        xs = sorted(counts)
        share = [(k + 1) / len(latencies) for k in range(len(latencies))]
        return [go.Bar(x=xs, y=[counts[x] for x in xs], marker_color="#3b7dd8",
                       showlegend=False),
                go.Scatter(x=latencies, y=share, mode="lines", line_shape="hv",
                           line_color="#333333", showlegend=False)]

    def title(key, run):
        sizes, _latencies, rejected = run
        label = f"BatchSize {key[0]}, window {key[1]} s"
        if rejected:
            return f"{label}: rejected ({rejected})"
        return f"{label}: {len(sizes)} invocations, mean batch {sum(sizes) / len(sizes):.1f}"

    fig = make_subplots(rows=1, cols=2, subplot_titles=("batch sizes", "latency (cumulative)"))
    first_key = next(iter(runs))
    for trace, col in zip(traces(*runs[first_key][:2]), (1, 2)):
        fig.add_trace(trace, row=1, col=col)
    names = {key: f"{key[0]} / {key[1]} s" for key in runs}
    fig.frames = [go.Frame(data=traces(*run[:2]), name=names[key], traces=[0, 1],
                           layout=go.Layout(title_text=title(key, run)))
                  for key, run in runs.items()]
    fig.update_layout(title_text=title(first_key, runs[first_key]), height=420, sliders=[{
        "currentvalue": {"prefix": "BatchSize / window: "},
        "steps": [{"label": names[key], "method": "animate",
                   "args": [[names[key]], {"mode": "immediate", "frame": {"duration": 0},
                                           "transition": {"duration": 0}}]} for key in runs],
    }])
    fig.update_xaxes(title_text="records in the batch", row=1, col=1)
    fig.update_yaxes(title_text="invocations", row=1, col=1)
    fig.update_xaxes(title_text="send → invocation start (s)", row=1, col=2)
    fig.update_yaxes(title_text="share of messages", range=[0, 1.02], row=1, col=2)
    return fig


if __name__ == "__main__":
    figure, caption = batching_figure()
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/batching-figure.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(out, include_plotlyjs=True, auto_play=False)
    print("wrote", out, "-", caption)
