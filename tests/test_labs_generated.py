"""labs/ is generated from solutions/ by scripts/make_labs.py and must never drift from it."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("make_labs", ROOT / "scripts" / "make_labs.py")
make_labs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_labs)


def test_there_are_solutions():
    assert sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb")), "no solution notebooks"


def test_every_lab_is_up_to_date_with_its_solution():
    problems = make_labs.problems()
    assert not problems, (
        "labs/ does not match solutions/:\n  " + "\n  ".join(problems)
        + "\nRegenerate with: python scripts/make_labs.py"
    )


def test_strip_keeps_the_code_around_the_solution_and_its_indentation():
    source = "x = 1\nif x:\n    ### BEGIN SOLUTION\n    y = 2\n    ### END SOLUTION\nprint(x)"
    out = make_labs.strip_solution(source, "raise NotImplementedError()", "test")
    assert out == "x = 1\nif x:\n    raise NotImplementedError()\nprint(x)"


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN SOLUTION\nx = 1",
        "x = 1\n### END SOLUTION",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
    ],
)
def test_unbalanced_markers_are_rejected(source):
    with pytest.raises(make_labs.SolutionError):
        make_labs.strip_solution(source, "stub", "test")


def test_lab_has_no_outputs_and_no_solution_code():
    solution = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "a = 1\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION\nanswer",
                execution_count=3,
                outputs=[nbformat.v4.new_output("stream", text="42\n")],
                metadata={"nbgrader": {"solution": True, "grade": False, "locked": False,
                                       "grade_id": "q1", "schema_version": 3}},
            ),
            nbformat.v4.new_markdown_cell("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"),
        ]
    )
    lab = make_labs.make_lab(solution)
    code, markdown = lab.cells
    assert "answer = 42" not in code.source and "NotImplementedError(\"Exercise:" in code.source
    assert code.source.startswith("a = 1\n") and code.source.endswith("\nanswer")
    assert code.outputs == [] and code.execution_count is None
    assert code.metadata["nbgrader"]["grade_id"] == "q1"
    assert markdown.source == "Why?\nYOUR ANSWER HERE"
    assert solution.cells[0].outputs, "make_lab must not modify the solution it reads"


def test_a_solution_cell_without_markers_is_rejected():
    cell = nbformat.v4.new_code_cell(
        "answer = 42",
        metadata={"nbgrader": {"solution": True, "grade": False, "locked": False,
                               "grade_id": "q1", "schema_version": 3}},
    )
    with pytest.raises(make_labs.SolutionError):
        make_labs.make_lab(nbformat.v4.new_notebook(cells=[cell]))


def test_lab_cells_are_protected_as_nbgrader_locks_them():
    meta = {"schema_version": 3, "locked": False, "solution": False, "grade": False}
    answer = nbformat.v4.new_code_cell(
        "### BEGIN SOLUTION\nx = 1\n### END SOLUTION",
        metadata={"nbgrader": {**meta, "solution": True, "grade_id": "a"}})
    check = nbformat.v4.new_code_cell(
        "assert x == 1",
        metadata={"nbgrader": {**meta, "grade": True, "locked": True, "points": 1,
                               "grade_id": "c"}})
    readonly = nbformat.v4.new_markdown_cell(
        "Read me", metadata={"nbgrader": {**meta, "locked": True, "grade_id": "r"}})
    plain = nbformat.v4.new_code_cell("y = 2")
    lab = make_labs.make_lab(nbformat.v4.new_notebook(cells=[answer, check, readonly, plain]))
    flags = [(c.metadata.get("deletable"), c.metadata.get("editable")) for c in lab.cells]
    assert flags == [(False, None), (False, False), (False, False), (None, None)]


def test_the_workshop_plan_comes_from_the_metadata(tmp_path):
    def notebook(name, teaching, exercises, objectives):
        nb = nbformat.v4.new_notebook(metadata={"esmlab": {
            "id": name[:2], "title": name[3:].title(),
            "minutes": {"teaching": teaching, "exercises": exercises}, "objectives": objectives}})
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        return tmp_path / f"{name}.ipynb"

    paths = [notebook("00-one", 20, 15, ["say a"]), notebook("01-two", 25, 30, ["do b", "do c"])]
    guide = f"# Guide\n\n{make_labs.PLAN_BEGIN}\nold plan\n{make_labs.PLAN_END}\n\nafter\n"
    text = make_labs.with_plan(guide, paths)
    assert text.startswith(f"# Guide\n\n{make_labs.PLAN_BEGIN}\n\n| Lab |")
    assert text.endswith(f"{make_labs.PLAN_END}\n\nafter\n") and "old plan" not in text
    assert "| 00 | One | 20 min | 15 min | 35 min | 0:00 |" in text
    assert "| 01 | Two | 25 min | 30 min | 55 min | 0:45 |" in text  # 35 min + a 10 min break
    assert "2 labs: 90 min (1:30) of teaching and exercises; 1:40 with a 10-minute break" in text
    assert "**01 Two**: by the end, a learner can\n\n1. do b\n2. do c" in text
    assert make_labs.with_plan(text, paths) == text
    with pytest.raises(make_labs.SolutionError):
        make_labs.with_plan("# no markers\n", paths)
