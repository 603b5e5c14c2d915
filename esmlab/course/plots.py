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


def invocation_timeline(trace, ax=None, *, now=None, show_sends=True, show_states=True,
                        title=None):
    """Draw one horizontal bar per invocation on simulated time, labelled with its batch size.

    * x axis: simulated seconds since the lab started; a bar spans an invocation's start to end.
    * y axis: concurrency lanes; invocations that overlap in time are on different rows, so the
      number of rows in use at an instant is the number of invocations running then.
    * colour: the outcome (success, partial, invalid_response, error, timeout; grey if the
      invocation had not ended when the trace was read).
    * ``show_sends``: small ticks under the bars where messages entered a queue.
    * ``show_states``: a dotted vertical line where a mapping changed state (``Enabled``...).
    * ``now``: where an unfinished invocation's bar ends (default: the trace's last event).

    Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3))
    invocations = list(trace.invocations)
    times = [e.t for e in trace.events]
    if now is None:
        now = max(times, default=0.0)
    rows = _lanes(invocations, now)

    used = []
    for inv, row in zip(invocations, rows):
        outcome = inv.outcome if inv.end is not None else "running"
        end = inv.end if inv.end is not None else now
        width = max(end - inv.start, 1e-9)
        colour = OUTCOME_COLOURS.get(outcome, "#607080")
        ax.barh(row, width, left=inv.start, height=0.7, color=colour, edgecolor="black",
                linewidth=0.6)
        ax.annotate(
            str(len(inv.records)), (inv.start + width / 2, row), ha="center", va="center",
            fontsize=8, color="black",
        )
        if outcome not in used:
            used.append(outcome)

    sends = [e.t for e in trace.events if e.kind == "send"] if show_sends else []
    n_rows = max(rows, default=-1) + 1
    if sends:
        ax.plot(sends, [-0.8] * len(sends), "|", color="#404040", markersize=8,
                label="message sent")

    states = [e for e in trace.events if e.kind == "state"] if show_states else []
    for event in states:
        ax.axvline(event.t, color="#5a6b7b", linestyle=":", linewidth=1)
        ax.annotate(event.detail.get("state", ""), (event.t, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(-2, -2), textcoords="offset points", ha="right", va="top", fontsize=7,
                    color="#5a6b7b", rotation=90)

    spans = [inv.start for inv in invocations] + [
        inv.end if inv.end is not None else now for inv in invocations
    ] + sends + [e.t for e in states]
    if spans:
        low, high = min(spans), max(spans)
        pad = max((high - low) * 0.05, 0.25)
        ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(-1.3 if sends else -0.6, max(n_rows, 1) - 0.4)
    ticks = ([-0.8] if sends else []) + list(range(n_rows))
    ax.set_yticks(ticks)
    ax.set_yticklabels((["sends"] if sends else []) + [str(r + 1) for r in range(n_rows)])
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("concurrent invocation")
    ax.set_title(title or f"{len(invocations)} invocations (bar label: records in the batch)")
    handles = [Patch(facecolor=OUTCOME_COLOURS.get(o, "#607080"), edgecolor="black", label=o)
               for o in used]
    if sends:
        handles += ax.get_legend_handles_labels()[0]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
                  frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return ax
