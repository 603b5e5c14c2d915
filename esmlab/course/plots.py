"""Pictures of a trace, for the labs and the site.

Every function takes a :class:`esmlab.trace.Trace`, draws on a matplotlib Axes (a new figure
when ``ax`` is None) and returns that Axes, so a caller can add titles, limits or more layers.
Nothing here calls ``plt.show()``: Jupyter shows the figure, a script saves it.
"""

from __future__ import annotations

#: Bar colour per invocation outcome (the outcomes an ``invoke_end`` event can carry).
OUTCOME_COLOURS = {
    "success": "#4c9f70",
    "partial": "#e0b341",
    "invalid_response": "#9b6bcc",
    "error": "#d1495b",
    "timeout": "#ed7d3a",
    "running": "#9aa5b1",
}


def _lanes(invocations, now) -> list[int]:
    """A row per invocation so that overlapping invocations never share a row.

    Greedy interval partitioning in start order: each invocation takes the lowest row whose
    previous invocation has ended, so the number of rows is the peak concurrency.
    """
    order = sorted(range(len(invocations)), key=lambda k: (invocations[k].start, k))
    row_free_at: list[float] = []
    rows = [0] * len(invocations)
    for k in order:
        inv = invocations[k]
        end = inv.end if inv.end is not None else now
        for row, free_at in enumerate(row_free_at):
            if free_at <= inv.start:
                rows[k] = row
                row_free_at[row] = end
                break
        else:
            rows[k] = len(row_free_at)
            row_free_at.append(end)
    return rows


#: Pixels a bar needs to carry its batch-size label, per character (8 pt text at 100 dpi).
_LABEL_PX_PER_CHAR = 6.5
_MAX_TICKED_ROWS = 12


def invocation_timeline(trace, ax=None, *, now=None, show_sends=True, show_states=True,
                        title=None):
    """Draw one horizontal bar per invocation on simulated time, labelled with its batch size.

    * ``trace``: a :class:`esmlab.trace.Trace`, or the :class:`esmlab.Lab` itself (then ``now``
      defaults to the lab's clock, so an invocation still running is drawn to the end of the run).
    * x axis: simulated seconds since the lab started; a bar spans an invocation's start to end,
      and is never drawn narrower than about 0.4 % of the axis, so a short one stays visible.
    * y axis: concurrency slots. Invocations that overlap in time are on different rows, so two
      that start at the same instant are two bars, and the number of rows in use at an instant is
      the number of invocations running then.
    * colour: the outcome (success, partial, invalid_response, error, timeout); hatched grey for
      an invocation that had not ended at ``now``.
    * a bar carries its batch size when the label fits in it; with many rows or narrow bars
      (hundreds of invocations) the labels are left out rather than drawn on top of each other.
    * ``show_sends``: small ticks under the bars where messages entered a queue.
    * ``show_states``: a dotted vertical line where a mapping changed state, named above the plot
      (names that would overlap are stacked).
    * ``now``: where an unfinished invocation's bar ends (default: the lab's clock, or the trace's
      last event).

    Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.transforms import offset_copy

    if hasattr(trace, "trace"):  # a Lab
        now = trace.now if now is None else now
        trace = trace.trace
    invocations = list(trace.invocations)
    if now is None:
        now = max((e.t for e in trace.events), default=0.0)
    rows = _lanes(invocations, now)
    n_rows = max(rows, default=-1) + 1
    if ax is None:
        _, ax = plt.subplots(figsize=(7, min(1.9 + 0.2 * max(n_rows, 1), 7)), layout="constrained")

    sends = [e.t for e in trace.events if e.kind == "send"] if show_sends else []
    states = _state_marks(trace) if show_states else []
    spans = [inv.start for inv in invocations] + [
        inv.end if inv.end is not None else now for inv in invocations
    ] + sends + [t for t, _ in states]
    low, high = (min(spans), max(spans)) if spans else (0.0, 1.0)
    pad = max((high - low) * 0.03, 0.25)
    ax.set_xlim(low - pad, high + pad)
    span = high - low + 2 * pad
    shortest = span * 0.004

    bars: dict[str, list] = {}
    for inv, row in zip(invocations, rows):
        outcome = inv.outcome if inv.end is not None else "running"
        end = inv.end if inv.end is not None else now
        bars.setdefault(outcome, []).append((row, inv.start, max(end - inv.start, shortest),
                                             len(inv.records)))
    for outcome, drawn in bars.items():
        row, left, width, _ = zip(*drawn)
        running = outcome == "running"
        ax.barh(row, width, left=left, height=0.72, color=OUTCOME_COLOURS.get(outcome, "#607080"),
                edgecolor="black", linewidth=0.5 if len(invocations) < 200 else 0.2,
                hatch="///" if running else None)
    labelled = _label_bars(ax, bars, span, n_rows)

    if sends:
        ax.plot(sends, [-0.8] * len(sends), "|", color="#404040", markersize=8,
                label="message sent")
    _draw_states(ax, states, span)

    ax.set_ylim(-1.3 if sends else -0.6, max(n_rows, 1) - 0.4)
    step = next(k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, n_rows)
                if k * _MAX_TICKED_ROWS >= n_rows)  # at most 12 labelled rows: 1-12, or 5, 10...
    ticks = list(range(step - 1, n_rows, step))
    ax.set_yticks(([-0.8] if sends else []) + ticks)
    ax.set_yticklabels((["sends"] if sends else []) + [str(r + 1) for r in ticks])
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("concurrency slot")
    ax.set_title(title or f"{len(invocations)} invocations, at most {n_rows} at once"
                 + (" (bar label: records in the batch)" if labelled else ""),
                 fontsize=10, pad=6 + 11 * _state_levels(states, ax, span))
    labels = {"running": f"running at t = {now:g} s"}
    handles = [Patch(facecolor=OUTCOME_COLOURS.get(o, "#607080"), edgecolor="black",
                     hatch="///" if o == "running" else None, label=labels.get(o, o))
               for o in OUTCOME_COLOURS if o in bars]
    if sends:
        handles += ax.get_legend_handles_labels()[0]
    if handles:
        # below the x label, at a fixed distance whatever the figure's height
        below = offset_copy(ax.transAxes, fig=ax.figure, y=-30, units="points")
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  bbox_transform=below, ncol=min(len(handles), 4), fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return ax


def _axes_pixels(ax) -> tuple[float, float]:
    """The Axes' size in pixels as laid out now (before a constrained layout's final pass)."""
    box = ax.get_window_extent()
    return max(box.width, 1.0), max(box.height, 1.0)


def _label_bars(ax, bars, span, n_rows) -> int:
    """Write each bar's batch size inside it, where it fits (else leave it out); return how many
    bars got a label."""
    width_px, height_px = _axes_pixels(ax)
    if n_rows and height_px / (n_rows + 1) < 10:  # rows too thin for 8 pt text
        return 0
    labelled = 0
    for drawn in bars.values():
        for row, left, width, size in drawn:
            text = str(size)
            if width / span * width_px >= _LABEL_PX_PER_CHAR * len(text) + 3:
                ax.annotate(text, (left + width / 2, row), ha="center", va="center",
                            fontsize=8, color="black")
                labelled += 1
    return labelled


def _state_marks(trace) -> list[tuple[float, str]]:
    """(t, names) per instant at which a mapping changed state, e.g. (2.0, "Enabled")."""
    marks: dict[float, list[str]] = {}
    for event in trace.events:
        if event.kind == "state":
            names = marks.setdefault(event.t, [])
            if event.detail.get("state", "") not in names:
                names.append(event.detail.get("state", ""))
    return [(t, ", ".join(names)) for t, names in sorted(marks.items())]


def _state_rows(states, ax, span) -> list[int]:
    """A level per state name above the plot: the lowest one where it overlaps no other name."""
    width_px, _ = _axes_pixels(ax)
    low = ax.get_xlim()[0]
    ends: list[float] = []  # per level, the right edge (px) of its last name
    levels = []
    for t, name in states:
        x = (t - low) / span * width_px
        for level, end in enumerate(ends):
            if x >= end + 4:
                ends[level] = x + _LABEL_PX_PER_CHAR * 0.9 * len(name) + 4
                levels.append(level)
                break
        else:
            levels.append(len(ends))
            ends.append(x + _LABEL_PX_PER_CHAR * 0.9 * len(name) + 4)
    return levels


def _state_levels(states, ax, span) -> int:
    return max(_state_rows(states, ax, span), default=-1) + 1


def _draw_states(ax, states, span):
    for (t, name), level in zip(states, _state_rows(states, ax, span)):
        ax.axvline(t, color="#5a6b7b", linestyle=":", linewidth=1)
        ax.annotate(name, (t, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(1, 2 + 11 * level), textcoords="offset points", ha="left",
                    va="bottom", fontsize=7, color="#5a6b7b", annotation_clip=False)
