"""Widgets are a thin view: controls -> a pure scenario function -> a drawing.

A lab shows the default case statically first (``draw(scenario(**defaults))``, so the page reads
well where no kernel runs), then the same scenario behind controls::

    panel = explore(batching.simulate, batching.draw,
                    batch_size=IntSlider(10, 1, 100), window=IntSlider(0, 0, 30))
    panel

Every control change re-runs the scenario with all current values and redraws into the panel's
own output area. The callback closes over the two functions only, never over notebook globals.
"""

from __future__ import annotations

import gc


def explore(scenario, draw, *, fixed=None, **controls):
    """A VBox of ``controls`` and an output area showing ``draw(scenario(**values))``."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    output = widgets.Output()
    fixed = dict(fixed or {})

    def redraw(_change=None):
        values = {name: control.value for name, control in controls.items()}
        # Draw with interactive mode off (so the figure is shown once, in the panel), then leave
        # matplotlib as the learner had it: later cells still show their figures on their own.
        interactive = plt.isinteractive()
        plt.ioff()
        try:
            draw(scenario(**fixed, **values))
            figure = plt.gcf()
        finally:
            if interactive:
                plt.ion()
        # Set the output's contents directly rather than capturing with ``with output:``: the
        # capture protocol can stall headless runs (nbclient's Output-widget emulation, see
        # jupyter/nbclient#312), and this way the drawing is the only thing shown.
        output.outputs = ()
        output.append_display_data(figure)
        plt.close(figure)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    # A notebook's heap is large by the time a learner moves a slider (moto's backends, earlier
    # runs), and a full garbage collection of it during a redraw took ~0.4 s of a 0.5 s budget.
    # Freezing what exists now keeps it out of later collections (only cyclic garbage made
    # before this point is never freed; reference counting still frees the rest).
    gc.freeze()
    return widgets.VBox([*controls.values(), output])
