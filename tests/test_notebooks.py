"""The notebooks: well-formed, nbgrader-compatible, and the untouched labs score zero.

The solution notebooks are executed by nbval (``--nbval-lax`` in pyproject.toml, with
``solutions`` in ``testpaths``): every cell, check cells included, must run without error, which
is "solutions score full marks". The labs cannot go through nbval because their exercise cells
raise on purpose, so this module executes them with nbclient and checks each cell:

* exercise cells (nbgrader ``solution``) raise ``NotImplementedError``;
* check cells (nbgrader ``grade``) fail with an ``AssertionError``, i.e. a message that teaches,
  not a crash;
* every other cell runs without error, so a learner can work through the lab top to bottom.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
LABS = sorted((ROOT / "labs").glob("*.ipynb"))
CELL_TIMEOUT = 120  # seconds, per cell
GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]+$")
NBGRADER_KEYS = {"grade", "solution", "locked", "points", "grade_id", "schema_version", "task"}


def ids(paths):
    return [f"{p.parent.name}/{p.name}" for p in paths]


def nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


# --- the suite really runs the notebooks ----------------------------------------------------


def test_pytest_runs_the_solution_notebooks_through_nbval():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "solutions" in options["testpaths"] and "tests" in options["testpaths"]
    assert "--nbval-lax" in options["addopts"].split()


def test_every_solution_has_a_lab_and_there_is_at_least_one():
    assert SOLUTIONS, "no notebooks in solutions/"
    assert [p.name for p in SOLUTIONS] == [p.name for p in LABS]


# --- static checks --------------------------------------------------------------------------


@pytest.mark.parametrize("path", SOLUTIONS + LABS, ids=ids(SOLUTIONS + LABS))
def test_notebook_is_stored_clean_with_the_python3_kernel(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: cell {cell.id} is stored with outputs; notebooks are committed "
                "without them"
            )


@pytest.mark.parametrize("path", SOLUTIONS + LABS, ids=ids(SOLUTIONS + LABS))
def test_nbgrader_metadata_follows_schema_version_3(path):
    nb = nbformat.read(path, as_version=4)
    seen = set()
    exercises = checks = 0
    pending_exercise = None
    for cell in nb.cells:
        meta = nbgrader(cell)
        if not meta:
            continue
        where = f"{path.name}: cell {cell.id}"
        assert set(meta) <= NBGRADER_KEYS, f"{where}: unknown nbgrader keys {set(meta) - NBGRADER_KEYS}"
        assert meta["schema_version"] == 3, where
        for key in ("grade", "solution", "locked"):
            assert isinstance(meta[key], bool), f"{where}: {key} must be true or false"
        assert GRADE_ID.match(meta.get("grade_id", "")), f"{where}: grade_id missing or invalid"
        assert meta["grade_id"] not in seen, f"{where}: duplicate grade_id {meta['grade_id']}"
        seen.add(meta["grade_id"])
        if meta["grade"]:
            assert meta.get("points", -1) >= 0, f"{where}: a graded cell needs points"
            assert meta["locked"] and not meta["solution"], f"{where}: check cells are locked"
            assert cell.cell_type == "code"
            assert pending_exercise is not None, f"{where}: a check with no exercise above it"
            pending_exercise = None
            checks += 1
        else:
            assert "points" not in meta, f"{where}: points belong to graded cells only"
        if meta["solution"]:
            assert cell.cell_type == "code" and not meta["locked"], where
            assert pending_exercise is None, f"{where}: the previous exercise has no check"
            pending_exercise = cell.id
            exercises += 1
    assert pending_exercise is None, f"{path.name}: exercise {pending_exercise} has no check cell"
    assert exercises >= 1 and checks >= 1, f"{path.name}: a lab has graded exercises"


@pytest.mark.parametrize("path", SOLUTIONS, ids=ids(SOLUTIONS))
def test_solution_cells_hold_their_answer_between_markers(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if nbgrader(cell).get("solution"):
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source


# --- the labs, executed ----------------------------------------------------------------------


def execute(path: Path):
    """Run every cell of ``path`` in a kernel of this Python, keeping errors in the outputs."""
    from ipykernel.kernelspec import get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    class ThisPython(KernelSpecManager):
        """Whatever kernelspecs the machine has, run the kernel with this interpreter."""

        def get_kernel_spec(self, kernel_name):
            return KernelSpec(resource_dir=str(path.parent), **get_kernel_dict())

    nb = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())
    client = NotebookClient(
        nb,
        km=manager,
        timeout=CELL_TIMEOUT,
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return nb


def errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


@pytest.mark.parametrize("path", LABS, ids=ids(LABS))
def test_untouched_lab_runs_but_scores_zero(path):
    nb = execute(path)
    problems = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta, found = nbgrader(cell), errors(cell)
        names = [e.ename for e in found]
        if meta.get("solution"):
            if names != ["NotImplementedError"]:
                problems.append(f"exercise cell {cell.id}: expected NotImplementedError, got {names}")
        elif meta.get("grade"):
            if names != ["AssertionError"]:
                problems.append(
                    f"check cell {cell.id}: an untouched exercise must fail its check with an "
                    f"AssertionError that explains what to do, got {names or 'no error'}"
                )
        elif found:
            detail = "; ".join(f"{e.ename}: {e.evalue}" for e in found)
            problems.append(f"cell {cell.id} must run in an untouched lab, but raised {detail}")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)

