"""Generate the learner's notebooks, labs/NN-*.ipynb, from the instructor's solutions/NN-*.ipynb.

    python scripts/make_labs.py            # (re)write every lab
    python scripts/make_labs.py --check    # exit 1 if a lab is missing or out of date

solutions/ is the source; labs/ is never edited by hand. For each solution notebook the lab is
the same notebook with:

* in code cells, every region from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` (marker lines
  included) replaced by ``raise NotImplementedError("Exercise: ...")`` at the marker's
  indentation, under a ``# YOUR CODE HERE`` line (what nbgrader's generate_assignment does);
* in markdown cells, such a region replaced by ``YOUR ANSWER HERE``;
* every output, execution count and execution timing removed.

Everything else (cell ids, nbgrader metadata, the check cells) is kept, so an instructor can still
grade the learner's copy with nbgrader.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
LABS = ROOT / "labs"

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
NAME = re.compile(r"^\d\d-[a-z0-9-]+\.ipynb$")
CODE_STUB = (
    '# YOUR CODE HERE\nraise NotImplementedError("Exercise: replace this line with your answer, '
    'then run the check cell below")'
)
MARKDOWN_STUB = "YOUR ANSWER HERE"


class SolutionError(ValueError):
    """A solution notebook that cannot be turned into a lab."""


def strip_solution(source: str, stub: str, where: str) -> str:
    """Replace each BEGIN/END SOLUTION region of ``source`` with ``stub`` (indented as BEGIN)."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise SolutionError(f"{where}, line {number}: {BEGIN} inside another solution")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + part for part in stub.split("\n"))
        elif marker == END:
            if not inside:
                raise SolutionError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise SolutionError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def make_lab(solution):
    """The lab notebook (a new NotebookNode) for a solution NotebookNode."""
    lab = nbformat.from_dict(solution)
    for index, cell in enumerate(lab.cells):
        where = f"cell {index} ({cell.get('id', '?')})"
        marked = BEGIN in cell.source or END in cell.source
        is_solution = cell.get("metadata", {}).get("nbgrader", {}).get("solution", False)
        if cell.cell_type == "code":
            if is_solution and not marked:
                raise SolutionError(f"{where}: an nbgrader solution cell without {BEGIN}/{END}")
            if marked:
                cell.source = strip_solution(cell.source, CODE_STUB, where)
            cell.outputs = []
            cell.execution_count = None
        elif marked:
            cell.source = strip_solution(cell.source, MARKDOWN_STUB, where)
        cell.metadata.pop("execution", None)
    return lab


def render(path: Path) -> str:
    """The exact text the lab for solution ``path`` must have."""
    solution = nbformat.read(path, as_version=4)
    lab = make_lab(solution)
    nbformat.validate(lab)
    return nbformat.writes(lab) + "\n"


def expected_labs() -> dict[Path, str]:
    """Lab path -> lab text, for every solution notebook."""
    labs = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        if not NAME.match(path.name):
            raise SolutionError(f"{path.name}: solution notebooks are named NN-some-title.ipynb")
        labs[LABS / path.name] = render(path)
    return labs


def problems() -> list[str]:
    """Why labs/ does not match solutions/ (empty when it does)."""
    found = []
    expected = expected_labs()
    for path, text in expected.items():
        if not path.exists():
            found.append(f"{path.relative_to(ROOT)} is missing")
        elif path.read_text(encoding="utf-8") != text:
            found.append(f"{path.relative_to(ROOT)} is out of date with solutions/{path.name}")
    for path in sorted(LABS.glob("*.ipynb")):
        if path not in expected:
            found.append(f"{path.relative_to(ROOT)} has no solutions/{path.name}")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report labs that are stale")
    args = parser.parse_args(argv)
    if args.check:
        found = problems()
        for problem in found:
            print(problem, file=sys.stderr)
        if found:
            print("run: python scripts/make_labs.py", file=sys.stderr)
        return 1 if found else 0
    LABS.mkdir(exist_ok=True)
    for path, text in expected_labs().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
