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

BATCH_SIZES = (10, 50, 100)
WINDOWS = (0, 5, 10, 20)
ARRIVAL_RATE = 1.0  # messages a second

CAPTION = (
    "Precomputed with the simulator at build time: an SQS standard queue receiving about {rate:g} "
    "message a second for a simulated minute (Poisson arrivals, fixed seed), a function that runs "
    "0.5 s, MaximumConcurrency 2. Move the slider to pick BatchSize / window. A batch closes at "
    "the first of BatchSize records, the window's end or 6 MB "
    "(docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html); with BatchSize "
    "above 10 and window 0 the mapping is rejected (V1). When a window opens is a MODELLING "
    "CHOICE of the simulator (M3)."
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
    figure.update_layout(autosize=True, height=520, margin={"l": 60, "r": 20, "t": 90, "b": 40},
                         title_font_size=13)
    # Long titles (a rejected configuration quotes AWS's message) wrap instead of running off.
    figure.update_layout(title_text=_wrap(figure.layout.title.text))
    for frame in figure.frames:
        if frame.layout and frame.layout.title and frame.layout.title.text:
            frame.layout.title.text = _wrap(frame.layout.title.text)
    # The slider sits below the x axis titles, its current value on its right.
    for slider in figure.layout.sliders:
        slider.update(pad={"t": 70, "b": 10}, y=0, len=1.0, x=0,
                      currentvalue={"prefix": "BatchSize / window: ", "xanchor": "right",
                                    "font": {"size": 13}})
    return figure, CAPTION.format(rate=ARRIVAL_RATE)


def _wrap(text: str | None, width: int = 95) -> str | None:
    import textwrap

    if not text or "<br>" in text:
        return text
    return "<br>".join(textwrap.wrap(text, width))


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
