"""How long a lab's widget takes to answer: the time from a control's new value to the redrawn
figure, for every widget of every lab, measured the way a learner meets it.

    python benchmarks/widgets.py               # every solution notebook
    python benchmarks/widgets.py 03 05         # only these labs

Each solution notebook runs top to bottom in an IPython shell in this process (so the widgets
are the notebook's own, with its controls and values). Every ``explore`` panel it builds is
kept; then every control of every panel is moved, one at a time, to each of up to three other
values, and the time from setting ``control.value`` to the panel holding its new figure is
measured (wall and CPU). That is the whole answer a learner waits for after letting go of a
slider (``continuous_update=False``): the scenario run, the drawing and the PNG the notebook
shows. The target is 0.5 s of wall time on an idle machine; the CPU column is what to compare
on a busy one.

The figures are written to the README by hand; tests do not time anything (a timed assert
measures the machine's load as much as the code).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.5
CHANGES_PER_CONTROL = 3


def run_notebook(path: Path, panels: list) -> None:
    """Execute the notebook's code cells in one IPython shell, keeping every explore panel."""
    import matplotlib
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    from esmlab.course import widgets

    original = widgets.explore

    def keeping(scenario, draw, **kwargs):
        panel = original(scenario, draw, **kwargs)
        panels.append((scenario.__name__, panel))
        return panel

    widgets.explore = keeping
    matplotlib.use("Agg")
    shell = InteractiveShell.instance()
    select_figure_formats(shell, {"png"})  # a figure shown becomes a PNG, as in a notebook
    try:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                result = shell.run_cell(cell.source, silent=True)
                if not result.success:
                    raise RuntimeError(f"{path.name}: a cell failed: {result.error_in_exec!r}")
    finally:
        widgets.explore = original


def other_values(control) -> list:
    """Up to CHANGES_PER_CONTROL values the control can take, other than its current one."""
    current = control.value
    if hasattr(control, "options") and control.options:
        values = [v[1] if isinstance(v, tuple) else v for v in control.options]
        if getattr(control, "_options_values", None) is not None:
            values = list(control._options_values)
    elif isinstance(current, bool):
        values = [not current]
    elif hasattr(control, "min") and hasattr(control, "max"):
        values = [control.min, control.max, (control.min + control.max) // 2]
    elif isinstance(current, str):
        values = [current + " "]  # the same pattern, retyped: a fresh run of the scenario
    else:
        return []
    others = [v for v in values if v != current]
    step = max(1, len(others) // CHANGES_PER_CONTROL)
    return others[::step][:CHANGES_PER_CONTROL]


def measure(panel) -> list[tuple[str, float, float]]:
    """(control description, wall s, cpu s) for each change of each control of ``panel``."""
    *controls, output = panel.children
    rows = []
    for control in controls:
        start = control.value
        for value in other_values(control):
            output.outputs = ()
            wall, cpu = time.perf_counter(), time.process_time()
            control.value = value
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if not output.outputs:
                raise RuntimeError(f"{control.description}={value!r} drew nothing")
            rows.append((control.description, wall, cpu))
        control.value = start
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labs", nargs="*", help="lab numbers (default: every solution)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import esmlab  # noqa: F401  (fake credentials before any client, as in a lab)

    notebooks = sorted((ROOT / "solutions").glob("*.ipynb"))
    if args.labs:
        notebooks = [p for p in notebooks if p.name[:2] in args.labs]
    slow = 0
    print(f"{'lab':<26} {'widget':<22} {'changes':>7} {'median wall':>11} {'max wall':>9} "
          f"{'max cpu':>8}")
    for path in notebooks:
        panels: list = []
        with contextlib.redirect_stdout(io.StringIO()):  # the lab's own printing
            run_notebook(path, panels)
        for name, panel in panels:
            with contextlib.redirect_stdout(io.StringIO()):
                rows = measure(panel)
            if not rows:
                continue
            walls = [w for _, w, _ in rows]
            worst = max(walls)
            slow += worst > TARGET_SECONDS
            flag = "" if worst <= TARGET_SECONDS else "  over 0.5 s"
            print(f"{path.stem:<26} {name:<22} {len(rows):>7} {statistics.median(walls):>10.2f}s "
                  f"{worst:>8.2f}s {max(c for _, _, c in rows):>7.2f}s{flag}")
    print(f"\n{slow} widget(s) over {TARGET_SECONDS} s of wall time at their slowest change")
    return 0


if __name__ == "__main__":
    sys.exit(main())
