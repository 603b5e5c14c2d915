"""Every lab has the same anatomy, checked here for every notebook in solutions/ and labs/.

The anatomy (course design, "Syllabus"), in this order:

1. **title**: the first cell, markdown, ``# Lab NN — <title>``, with a ``**Time:**`` line and the
   objectives. The time line gives the total (``about T minutes``), the parts (``N min`` each,
   adding up to T) and ends with the exercises (``M min for ... exercises``);
2. ``## Reading ...``, with at least one diagram (a fenced block or an image in a markdown cell,
   or a code cell that draws a figure);
3. ``## Demo ...`` (one or more); from lab 01 on, a demo drives a widget through
   ``esmlab.course.widgets.explore``. Lab 00 is exempt: it is the first contact with the simulator and
   keeps its demo to plain cells (a queue, a handler, a mapping, a timeline);
4. ``## Exercises``: 2 to 4 exercises, headed ``### Exercise k`` (with ``(P points)`` equal to
   the check's points when given), each an nbgrader solution cell followed by a locked check
   cell that calls ``labNN.<check>(...).require()`` from ``esmlab/course/checks/labNN.py``;
5. ``## Key points``;
6. ``## What to read next``.

No other level-2 heading. Notebook metadata: ``esmlab`` = ``{"id": "NN", "title": ...,
"minutes": {"teaching": N, "exercises": M}, "objectives": [...]}`` (id = the file's NN, title =
the heading's, N + M between 30 and 60, every objective shown in the title cell), and the
``python3`` kernelspec. Labs are numbered with the syllabus's ids (00 to 10), starting at 00; a
lab may exist before the ones numbered below it (lab 09 was built before labs 04-08).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
LABS = sorted((ROOT / "labs").glob("*.ipynb"))
NOTEBOOKS = SOLUTIONS + LABS
IDS = [f"{p.parent.name}/{p.name}" for p in NOTEBOOKS]
NAME = re.compile(r"^(?P<id>\d\d)-[a-z0-9]+(-[a-z0-9]+)*\.ipynb$")
SECTIONS = ["reading", "demo", "exercises", "key points", "what to read next"]
REPEATABLE = {"demo"}
MINUTES = (30, 60)  # a lab's teaching + exercises, in minutes (course design: labs of 30-60 min)
EXERCISES = (2, 4)
SYLLABUS_LAST = 10  # the course design's labs are 00 to 10


def nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def esmlab_meta(nb) -> dict:
    return nb.metadata.get("esmlab", {})


def section_of(heading: str) -> str | None:
    text = heading.lower()
    return next((name for name in SECTIONS if text.startswith(name)), None)


def sections(nb) -> list[tuple[str, list]]:
    """[(section name, its cells)] in order. Cells before the first ``##`` belong to "title"; a
    markdown cell with ``##`` headings belongs to each section it opens (and to the current one
    if text comes before its first heading): :func:`section_text` gives a section's own text."""
    found: list[tuple[str, list]] = [("title", [])]
    for cell in nb.cells:
        lines = cell.source.splitlines() if cell.cell_type == "markdown" else []
        if not lines or not lines[0].startswith("## "):
            found[-1][1].append(cell)
        for line in lines:
            if line.startswith("## "):
                found.append((section_of(line[3:].strip()) or f"?{line[3:].strip()}", [cell]))
    return found


def section_text(nb, name: str) -> str:
    """The markdown lines of every section called ``name`` (its headings included)."""
    out, current = [], "title"
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("## "):
                current = section_of(line[3:].strip())
            if current == name:
                out.append(line)
    return "\n".join(out)


def normalise(text: str) -> str:
    """Markdown text without emphasis, code marks, and line breaks, for comparing prose."""
    return re.sub(r"\s+", " ", re.sub(r"[*`]", "", text)).strip()


@pytest.fixture(params=NOTEBOOKS, ids=IDS)
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


# --- the set of labs --------------------------------------------------------------------------


def test_labs_are_numbered_from_00_with_the_syllabus_ids():
    names = [p.name for p in SOLUTIONS]
    assert names, "no solution notebooks"
    bad = [n for n in names if not NAME.match(n)]
    assert not bad, f"notebooks are named NN-some-slug.ipynb: {bad}"
    numbers = [int(NAME.match(n)["id"]) for n in names]
    assert numbers[0] == 0, f"the first lab is 00, not {numbers[0]:02d}"
    assert len(set(numbers)) == len(numbers), f"two labs share a number: {numbers}"
    assert max(numbers) <= SYLLABUS_LAST, (
        f"lab numbers {numbers}: the syllabus (course design) has labs 00 to {SYLLABUS_LAST}")


def test_every_lab_has_its_checks_module():
    for path in SOLUTIONS:
        number = path.name[:2]
        module = ROOT / "esmlab" / "course" / "checks" / f"lab{number}.py"
        assert module.exists(), f"{path.name}: its checks belong in esmlab/course/checks/lab{number}.py"


# --- one notebook -----------------------------------------------------------------------------


def test_kernelspec_is_python3(notebook):
    path, nb = notebook
    assert nb.metadata.get("kernelspec") == {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3",
    }, f"{path.name}: kernelspec"
    assert nb.metadata.get("language_info", {}).get("name") == "python"


def test_metadata_follows_the_convention(notebook):
    path, nb = notebook
    meta = esmlab_meta(nb)
    where = f"{path.name}: metadata.esmlab"
    assert set(meta) == {"id", "title", "minutes", "objectives"}, f"{where} has keys {sorted(meta)}"
    assert meta["id"] == path.name[:2], f"{where}.id is {meta['id']!r}, not {path.name[:2]}"
    assert isinstance(meta["title"], str) and meta["title"].strip() == meta["title"] != ""
    minutes = meta["minutes"]
    assert set(minutes) == {"teaching", "exercises"}, f"{where}.minutes has {sorted(minutes)}"
    assert all(isinstance(v, int) and v > 0 for v in minutes.values()), f"{where}: {minutes}"
    total = minutes["teaching"] + minutes["exercises"]
    assert MINUTES[0] <= total <= MINUTES[1], f"{where}: a lab takes 30-60 min, not {total}"
    objectives = meta["objectives"]
    assert isinstance(objectives, list) and objectives, f"{where}.objectives is a non-empty list"
    assert all(isinstance(o, str) and o.strip() for o in objectives), where


def test_title_cell_shows_title_time_and_objectives(notebook):
    path, nb = notebook
    meta = esmlab_meta(nb)
    title = nb.cells[0]
    assert title.cell_type == "markdown", f"{path.name}: the first cell is the title"
    heading = title.source.splitlines()[0]
    assert heading == f"# Lab {meta['id']} — {meta['title']}", (
        f"{path.name}: the first line is {heading!r}, "
        f"expected '# Lab {meta['id']} — {meta['title']}'"
    )
    times = [line for line in title.source.splitlines() if line.startswith("**Time:**")]
    assert len(times) == 1, f"{path.name}: the title cell has one '**Time:** ...' line"
    time_line = times[0]
    teaching, exercises = meta["minutes"]["teaching"], meta["minutes"]["exercises"]
    assert f"{teaching + exercises} minutes" in time_line, (
        f"{path.name}: {time_line!r} should give the total, '{teaching + exercises} minutes'"
    )
    parts = [int(n) for n in re.findall(r"\b(\d+) min\b", time_line)]
    assert sum(parts) == teaching + exercises, (
        f"{path.name}: the parts of {time_line!r} add up to {sum(parts)}, "
        f"not {teaching + exercises}"
    )
    shown = re.findall(r"\b(\d+) min for [^.;,]*exercises?\b", time_line)
    assert shown == [str(exercises)], (
        f"{path.name}: {time_line!r} should end with '{exercises} min for ... exercises' "
        f"(metadata minutes.exercises = {exercises})"
    )
    text = normalise(title.source)
    missing = [o for o in meta["objectives"] if normalise(o) not in text]
    assert not missing, f"{path.name}: objectives in the metadata, not the title cell: {missing}"


def test_sections_are_named_and_in_order(notebook):
    path, nb = notebook
    names = [name for name, _ in sections(nb)]
    unknown = [n[1:] for n in names if n.startswith("?")]
    assert not unknown, (
        f"{path.name}: level-2 headings must start with one of {SECTIONS}, not {unknown}"
    )
    collapsed = [
        n for i, n in enumerate(names) if i == 0 or n != names[i - 1] or n not in REPEATABLE
    ]
    assert collapsed == ["title", *SECTIONS], (
        f"{path.name}: sections are {names}; the anatomy is title, {', '.join(SECTIONS)} "
        "(demo may repeat)"
    )


def test_reading_has_a_diagram(notebook):
    path, nb = notebook
    markdown = section_text(nb, "reading")
    drawn = [c for name, cells in sections(nb) if name == "reading" for c in cells
             if c.cell_type == "code" and c.source.strip()]
    diagram = drawn or any(mark in markdown for mark in ("```", "![", "<img", "<svg"))
    assert diagram, f"{path.name}: the reading has no diagram (fenced block, image, or figure)"


def test_demo_drives_a_widget_from_lab_01_on(notebook):
    path, nb = notebook
    demos = [c for name, cells in sections(nb) if name == "demo" for c in cells]
    assert any(c.cell_type == "code" for c in demos), f"{path.name}: the demo has no code"
    if esmlab_meta(nb)["id"] == "00":
        return  # lab 00 keeps its demo to plain cells (see the module docstring)
    widgets = [c for c in demos if c.cell_type == "code" and re.search(r"\bexplore\(", c.source)]
    assert widgets, f"{path.name}: a demo cell should call esmlab.course.widgets.explore(...)"


def test_exercises_are_answer_then_check_with_headings_and_points(notebook):
    path, nb = notebook
    number = esmlab_meta(nb)["id"]
    outside = [c.id for name, cells in sections(nb) if name != "exercises" for c in cells
               if nbgrader(c).get("solution") or nbgrader(c).get("grade")]
    assert not outside, f"{path.name}: graded cells outside '## Exercises': {outside}"
    cells = [c for name, found in sections(nb) if name == "exercises" for c in found]
    answers = [c for c in cells if nbgrader(c).get("solution")]
    checks = [c for c in cells if nbgrader(c).get("grade")]
    assert EXERCISES[0] <= len(answers) <= EXERCISES[1], (
        f"{path.name}: {len(answers)} exercises; a lab has 2 to 4"
    )
    assert len(checks) == len(answers), f"{path.name}: every exercise has one check cell"
    headings = [
        re.match(r"### Exercise (\d+)\b.*?(?:\((\d+) points?\))?\s*$", line)
        for c in cells if c.cell_type == "markdown"
        for line in c.source.splitlines() if line.startswith("### Exercise")
    ]
    assert all(headings), f"{path.name}: exercise headings are '### Exercise k — ... (P points)'"
    assert [int(h[1]) for h in headings] == list(range(1, len(answers) + 1)), (
        f"{path.name}: exercise headings should be numbered 1..{len(answers)}"
    )
    for heading, check in zip(headings, checks):
        if heading[2] is not None:
            assert int(heading[2]) == nbgrader(check)["points"], (
                f"{path.name}: Exercise {heading[1]} says {heading[2]} points, its check "
                f"{check.id} gives {nbgrader(check)['points']}"
            )
    for check in checks:
        assert f"lab{number}." in check.source and ".require()" in check.source, (
            f"{path.name}: check cell {check.id} should call lab{number}.<check>(...).require() "
            f"(checks live in esmlab/course/checks/lab{number}.py)"
        )


def test_key_points_and_what_to_read_next_have_content(notebook):
    path, nb = notebook
    for name in ("key points", "what to read next"):
        body = section_text(nb, name)
        lines = [line for line in body.splitlines() if line.strip() and not line.startswith("## ")]
        assert lines, f"{path.name}: '## {name.capitalize()}' is empty"


# --- the checks themselves --------------------------------------------------------------------


def test_sections_parser():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Lab 09 — X"),
        nbformat.v4.new_markdown_cell("## Reading\ntext"),
        nbformat.v4.new_markdown_cell("## Demo 1: a\n## Demo 2: b"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_markdown_cell("## Key points\n* a\n\n## What to read next\n* b"),
        nbformat.v4.new_markdown_cell("## Appendix"),
    ])
    assert [name for name, _ in sections(nb)] == [
        "title", "reading", "demo", "demo", "key points", "what to read next", "?Appendix"]
    assert [c.source for c in sections(nb)[3][1]] == ["## Demo 1: a\n## Demo 2: b", "x = 1"]
    assert [c.source for c in sections(nb)[4][1]] == [nb.cells[4].source]
    assert section_text(nb, "key points") == "## Key points\n* a\n"
    assert section_text(nb, "what to read next") == "## What to read next\n* b"
    assert normalise("*poller → batch*;\n  the `ReceiveMessage`") == (
        "poller → batch; the ReceiveMessage")
