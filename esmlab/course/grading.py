"""Grade a folder of submitted lab notebooks: one command, a CSV, and feedback per learner.

    python -m esmlab.course.grading SUBMISSIONS [--out grades.csv] [--feedback DIR] [--jobs N]
                             [--course-dir DIR] [--timeout SECONDS]
    make grade SUBMISSIONS=path/ [OUT=grades.csv]

SUBMISSIONS holds one folder per learner with their copy of each lab they did, named as in labs/::

    submissions/ada/00-first-mapping.ipynb
    submissions/ada/01-polling.ipynb
    submissions/grace/00-first-mapping.ipynb

The engine is nbgrader's autograder, run offline through its Python API. The wrapper builds a
temporary nbgrader course (solutions/ as the source notebooks, a sqlite gradebook), runs
``generate_assignment`` for every lab someone submitted, copies each notebook to
``submitted/<learner>/<lab>/``, runs ``autograde`` (nbgrader restores the locked check cells and
executes the notebook in a kernel of this Python), reads the points of every check cell from the
gradebook, writes the CSV, and runs ``generate_feedback`` (one HTML page per learner and lab).
With ``--jobs N`` (default: one per CPU, at most 4), N worker processes share the notebooks out,
each with its own course and gradebook; kernels then talk over Unix sockets, not TCP ports (see
:func:`nbgrader_config`). The wrapper puts this Python's bin on PATH, because nbgrader runs
``alembic`` by name, and gives nbgrader a ``python3`` kernelspec that runs this interpreter.

The CSV has one row per learner: ``learner``, then ``NN/<grade_id>`` for every check cell of
every lab anyone submitted and ``NN/total`` per lab, then ``total``, ``max`` and ``notes``. A lab
the learner did not submit, or that could not be graded, is left empty (and counts as 0 in
``total``); ``notes`` says which. docs/instructor.md is the instructor's version of this.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: esmlab/course/grading.py
SOLUTIONS = ROOT / "solutions"
COURSE_ID = "esmlab"
CELL_TIMEOUT = 120  #: seconds nbgrader lets one cell run before it gives up on the notebook
LAB = re.compile(r"^(?P<id>\d\d)-[a-z0-9-]+$")
LEARNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")


class GradingError(RuntimeError):
    """Grading cannot start: a bad submissions folder, or a missing tool."""


# --- what there is to grade -----------------------------------------------------------------


@dataclass(frozen=True)
class Exercise:
    """One check cell of a lab: nbgrader's unit of points."""

    lab: str  #: the lab's slug, e.g. "00-first-mapping" (nbgrader's assignment and notebook)
    grade_id: str  #: the check cell's nbgrader grade_id, e.g. "ex1-check"
    points: float

    @property
    def column(self) -> str:
        return f"{lab_id(self.lab)}/{self.grade_id}"


def lab_id(slug: str) -> str:
    return slug.split("-", 1)[0]


def exercises(solution: Path) -> list[Exercise]:
    """The graded (check) cells of a solution notebook, in notebook order."""
    import nbformat

    nb = nbformat.read(solution, as_version=4)
    found = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            found.append(Exercise(solution.stem, meta["grade_id"], float(meta.get("points", 0))))
    return found


@dataclass
class Submissions:
    notebooks: dict[str, dict[str, Path]]  #: learner -> lab slug -> notebook
    skipped: list[str] = field(default_factory=list)  #: why some files were not taken


def find_submissions(folder: Path, labs) -> Submissions:
    """The notebooks under ``folder``, laid out as ``<learner>/<lab slug>.ipynb``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GradingError(
            f"{folder} is not a folder: pass the folder that holds one folder per learner"
        )
    labs = set(labs)
    notebooks: dict[str, dict[str, Path]] = {}
    skipped = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            skipped.append(
                f"{entry}: not in a learner's folder (expected {folder}/<learner>/<lab>.ipynb)"
            )
            continue
        if not LEARNER.match(entry.name):
            raise GradingError(
                f"{entry.name!r} cannot be a learner id: use letters, digits, '.', '_', '@' and "
                "'-', starting with a letter or digit"
            )
        for path in sorted(entry.rglob("*")):
            relative = path.relative_to(entry)
            if any(part.startswith(".") for part in relative.parts) or path.is_dir():
                continue
            if path.suffix != ".ipynb" or path.parent != entry:
                skipped.append(f"{path}: not a lab notebook (expected <learner>/<lab>.ipynb)")
            elif path.stem not in labs:
                names = ", ".join(sorted(labs))
                skipped.append(f"{path}: no lab is named {path.stem} (labs: {names})")
            else:
                notebooks.setdefault(entry.name, {})[path.stem] = path
    return Submissions(notebooks, skipped)


# --- the result -----------------------------------------------------------------------------


def number(value: float) -> str:
    return f"{value:g}"


@dataclass
class Grades:
    exercises: dict[str, list[Exercise]]  #: lab slug -> its check cells, for every graded lab
    learners: list[str]
    scores: dict[tuple[str, str], dict[str, float]]  #: (learner, lab) -> grade_id -> points
    notes: dict[tuple[str, str], str]  #: (learner, lab) -> why there are no scores
    feedback: dict[tuple[str, str], Path]  #: (learner, lab) -> HTML feedback page
    seconds: float = 0.0

    @property
    def labs(self) -> list[str]:
        return sorted(self.exercises)

    @property
    def max_total(self) -> float:
        return sum(e.points for lab in self.labs for e in self.exercises[lab])

    def total(self, learner: str, lab: str | None = None) -> float:
        labs = [lab] if lab else self.labs
        return sum(sum(self.scores.get((learner, name), {}).values()) for name in labs)

    def columns(self) -> list[str]:
        columns = ["learner"]
        for lab in self.labs:
            columns += [e.column for e in self.exercises[lab]] + [f"{lab_id(lab)}/total"]
        return columns + ["total", "max", "notes"]

    def rows(self) -> list[dict[str, str]]:
        rows = []
        for learner in self.learners:
            row = {"learner": learner}
            for lab in self.labs:
                scores = self.scores.get((learner, lab))
                for exercise in self.exercises[lab]:
                    value = None if scores is None else scores.get(exercise.grade_id)
                    row[exercise.column] = "" if value is None else number(value)
                total = "" if scores is None else number(self.total(learner, lab))
                row[f"{lab_id(lab)}/total"] = total
            row["total"] = number(self.total(learner))
            row["max"] = number(self.max_total)
            row["notes"] = "; ".join(
                f"{lab}: {self.notes[learner, lab]}"
                for lab in self.labs
                if (learner, lab) in self.notes
            )
            rows.append(row)
        return rows

    def write_csv(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=self.columns())
            writer.writeheader()
            writer.writerows(self.rows())


# --- nbgrader, wrapped ----------------------------------------------------------------------


def _make_labs():
    """scripts/make_labs.py, for the stub the labs use in place of an answer."""
    spec = importlib.util.spec_from_file_location("make_labs", ROOT / "scripts" / "make_labs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nbgrader_config(course: Path, timeout: int = CELL_TIMEOUT, sockets: Path | None = None):
    """The nbgrader configuration of a grading course rooted at ``course``.

    With ``sockets`` (a folder with a short path), kernels talk over Unix sockets there instead
    of TCP ports: jupyter_client picks a kernel's free ports before the kernel binds them, so two
    kernels started at once by two jobs can pick the same port, and one of them then waits for a
    reply that never comes (until the cell timeout, or fails with "Address already in use").
    """
    from traitlets.config import Config

    make_labs = _make_labs()
    c = Config()
    c.CourseDirectory.root = str(course)
    c.CourseDirectory.course_id = COURSE_ID
    # generate_assignment then makes exactly labs/ (less checksums): the same stub, so an
    # untouched answer is recognised ("No response.") and the release matches what learners have.
    c.ClearSolutions.code_stub = {"python": make_labs.CODE_STUB}
    c.ClearSolutions.text_stub = make_labs.MARKDOWN_STUB
    c.Execute.timeout = timeout
    # A check cell the learner managed to delete comes back (and scores as it runs).
    c.OverwriteCells.add_missing_cells = True
    if sockets is not None:
        c.KernelManager.transport = "ipc"
        c.KernelManager.ip = str(Path(sockets) / "kernel")  # absolute: the kernel runs elsewhere
    return c


def _config_file(config) -> str:
    """``config`` as an nbgrader_config.py, so a kept course works with nbgrader's own tools."""
    lines = ["# Written by python -m esmlab.course.grading.", "c = get_config()  # noqa"]
    for section, values in config.items():
        if section == "KernelManager":
            continue  # its socket folder is gone once grading ends
        for key, value in values.items():
            lines.append(f"c.{section}.{key} = {value!r}")
    return "\n".join(lines) + "\n"


@contextmanager
def _tools(course: Path):
    """PATH with this Python's bin (nbgrader runs ``alembic`` by name), a ``python3``
    kernelspec that runs this interpreter, whatever kernels the machine has, and (on POSIX) a
    short folder for the kernels' sockets, which this yields (None elsewhere)."""
    bin_dir = str(Path(sys.executable).parent)  # not resolved: a venv's bin holds alembic
    kernels = course / ".jupyter"
    spec = kernels / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }))
    saved = {name: os.environ.get(name) for name in ("PATH", "JUPYTER_PATH")}
    os.environ["PATH"] = os.pathsep.join(filter(None, [bin_dir, saved["PATH"]]))
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(kernels), saved["JUPYTER_PATH"]])
    )
    try:
        if shutil.which("alembic") is None:
            raise GradingError(
                f"nbgrader needs the alembic command, and it is not in {bin_dir} or on PATH: "
                "install the developer's requirements (pip install -r requirements-dev.txt)"
            )
        if os.name == "posix":  # Unix socket paths must be short (~100 bytes): not in course/
            with tempfile.TemporaryDirectory(prefix="esmlab-kernels-") as sockets:
                yield Path(sockets)
        else:
            yield None
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _Course:
    """A temporary nbgrader course: run its converters in this process, one at a time."""

    def __init__(self, root: Path, timeout: int, sockets: Path | None = None):
        from nbgrader.coursedir import CourseDirectory

        self.root = root
        self.config = nbgrader_config(root, timeout, sockets)
        (root / "nbgrader_config.py").write_text(_config_file(self.config))
        self.coursedir = CourseDirectory(config=self.config)

    def run(self, converter, assignment: str, student: str = "*", **settings) -> dict:
        from nbgrader.utils import capture_log

        self.coursedir.assignment_id = assignment
        self.coursedir.student_id = student
        app = converter(coursedir=self.coursedir, config=self.config)
        app.force = True
        for name, value in settings.items():
            setattr(app, name, value)
        return capture_log(app)

    def generate_assignment(self, lab: str, solution: Path) -> dict:
        from nbgrader.converters import GenerateAssignment

        source = self.root / "source" / lab
        source.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(solution, source / f"{lab}.ipynb")
        return self.run(GenerateAssignment, lab, create_assignment=True)

    def autograde(self, lab: str, learner: str, notebook: Path) -> dict:
        from nbgrader.converters import Autograde

        submitted = self.root / "submitted" / learner / lab
        submitted.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, submitted / f"{lab}.ipynb")
        return self.run(Autograde, lab, learner, create_student=True)

    def generate_feedback(self, lab: str, learner: str) -> dict:
        from nbgrader.converters import GenerateFeedback

        graded = self.root / "autograded" / learner / lab / f"{lab}.ipynb"
        if graded.exists():
            learner_errors(graded, hide=(ROOT, self.root))
        return self.run(GenerateFeedback, lab, learner)  # its HTML template is 'feedback'

    def feedback_page(self, lab: str, learner: str) -> Path:
        return self.root / "feedback" / learner / lab / f"{lab}.html"

    def max_score(self, lab: str) -> float:
        from nbgrader.api import Gradebook

        with Gradebook(self.coursedir.db_url, COURSE_ID) as gradebook:
            return float(gradebook.find_notebook(lab, lab).max_score)

    def scores(self, lab: str, learner: str) -> dict[str, float]:
        from nbgrader.api import Gradebook

        with Gradebook(self.coursedir.db_url, COURSE_ID) as gradebook:
            notebook = gradebook.find_submission_notebook(lab, lab, learner)
            return {grade.name: float(grade.score) for grade in notebook.grades}


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def learner_errors(notebook: Path, hide=()) -> None:
    """Rewrite the error outputs of a graded notebook for its learner, in place.

    A failed check raises ``AssertionError(message)``: the learner reads the message alone, not
    the frames of esmlab's checks. Any other error keeps the frames of the learner's own cells
    and loses those of files (``File /path/...``), which show the instructor's machine and the
    libraries' insides; the folders in ``hide`` are cut from what remains.
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    folders = sorted((str(Path(folder)) + os.sep for folder in hide), key=len, reverse=True)

    def clean(text: str) -> str:
        for folder in folders:
            text = text.replace(folder, "")
        return text

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            output["evalue"] = clean(output.get("evalue", ""))
            if output.get("ename") == "AssertionError" and output["evalue"]:
                output["traceback"] = [output["evalue"]]
                continue
            output["traceback"] = [
                clean(frame) for frame in output.get("traceback", [])
                if not ANSI.sub("", frame).lstrip().startswith("File ")
            ]
    nbformat.write(nb, notebook)


EXCEPTION_LINE = re.compile(
    r"^(?:[A-Za-z_][\w.]*\.)?(?P<name>\w*(?:Error|Exception))\b:?\s*(?P<text>.*)$"
)


def _why(result: dict) -> str:
    """The exception that made an nbgrader step fail, in one line."""
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    raised = [m for m in map(EXCEPTION_LINE.match, lines) if m and m["name"] != "NbGraderException"]
    if raised:
        return f"{raised[-1]['name']}: {raised[-1]['text']}"[:200]
    errors = [line.removeprefix("[ERROR] ") for line in lines if line.startswith("[ERROR]")]
    return (errors or lines or ["unknown error"])[0][:200]


def _unreadable(notebook: Path) -> str | None:
    """Why ``notebook`` is not a notebook nbgrader can read, or None."""
    import nbformat

    try:
        nbformat.read(notebook, as_version=4)
    except Exception as error:  # noqa: BLE001 - any reason is a reason not to grade it
        detail = " ".join(str(error).split())[:120]
        return f"not a readable notebook ({type(error).__name__}: {detail})"
    return None


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _grade_shard(root: Path, work, sources, feedback_dir, timeout, log=_stderr, job=""):
    """Grade ``work`` ((learner, lab, notebook) triples) in a new nbgrader course at ``root``.

    Returns (scores, notes, feedback) keyed by (learner, lab), as in :class:`Grades`. Runs in
    this process or in a worker process (one course, with its own gradebook, per worker). Each
    line logged starts with the notebook's place in ``work`` (and ``job``, the worker's name),
    so the instructor sees how far grading has gone.
    """
    def say(message):  # the log line, with the notebook's place in front
        log(f"[{done_count + 1}/{len(work)}{job}] {message}")

    done_count = 0
    scores, notes, feedback = {}, {}, {}
    root.mkdir(parents=True, exist_ok=True)
    with _tools(root) as sockets, _quiet():
        course = _Course(root, timeout, sockets)
        for lab in sorted({lab for _, lab, _ in work}):
            result = course.generate_assignment(lab, sources[lab])
            if not result["success"]:
                raise GradingError(f"nbgrader could not generate {lab}: {_why(result)}")
        for learner, lab, notebook in work:
            began = time.perf_counter()
            unreadable = _unreadable(notebook)
            result = {"success": False} if unreadable else course.autograde(lab, learner, notebook)
            if not result["success"]:
                notes[learner, lab] = unreadable or f"could not be graded: {_why(result)}"
                say(f"{learner} {lab}: {notes[learner, lab]}")
                done_count += 1
                continue
            scores[learner, lab] = course.scores(lab, learner)
            graded_at = time.perf_counter()
            if feedback_dir is not None:
                result = course.generate_feedback(lab, learner)
                page = course.feedback_page(lab, learner)
                if result["success"] and page.exists():
                    target = Path(feedback_dir) / learner / f"{lab}.html"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(page, target)
                    feedback[learner, lab] = target
                else:
                    say(f"{learner} {lab}: no feedback page ({_why(result)})")
            done = time.perf_counter()
            say(
                f"{learner} {lab}: {number(sum(scores[learner, lab].values()))} / "
                f"{number(course.max_score(lab))} "
                f"(autograde {graded_at - began:.1f} s, feedback {done - graded_at:.1f} s)"
            )
            done_count += 1
    return scores, notes, feedback


def default_jobs() -> int:
    """Notebooks graded at once: one per CPU, at most 4 (each runs its own kernel)."""
    return max(1, min(4, os.cpu_count() or 1))


def grade(
    submissions,
    out=None,
    feedback_dir=None,
    *,
    solutions=SOLUTIONS,
    course_dir=None,
    timeout: int = CELL_TIMEOUT,
    jobs: int = 1,
    log=None,
) -> Grades:
    """Grade every notebook under ``submissions`` (``<learner>/<lab slug>.ipynb``).

    Writes the CSV to ``out`` (if given) and the feedback pages to
    ``feedback_dir/<learner>/<lab slug>.html`` (default: ``feedback/`` next to ``out``; none
    when both are None). ``jobs`` worker processes grade at once, each in its own nbgrader
    course, ``job-1``, ``job-2``, ... in a temporary folder, or in ``course_dir`` (which must
    not exist yet) to keep them. ``log`` gets one line per notebook.
    """
    started = time.perf_counter()
    log = log or (lambda message: None)
    solutions = Path(solutions)
    sources = {p.stem: p for p in sorted(solutions.glob("*.ipynb")) if LAB.match(p.stem)}
    if not sources:
        raise GradingError(f"no solution notebooks in {solutions}")
    found = find_submissions(Path(submissions), sources)
    for reason in found.skipped:
        log(f"skipped {reason}")
    if not found.notebooks:
        raise GradingError(f"no lab notebooks in {submissions} (expected <learner>/<lab>.ipynb)")
    if feedback_dir is None and out is not None:
        feedback_dir = Path(out).parent / "feedback"
    feedback_dir = Path(feedback_dir).resolve() if feedback_dir is not None else None

    learners = sorted(found.notebooks)
    labs = sorted({lab for notebooks in found.notebooks.values() for lab in notebooks})
    grades = Grades({lab: exercises(sources[lab]) for lab in labs}, learners, {}, {}, {})
    work = []
    for lab in labs:
        for learner in learners:
            notebook = found.notebooks[learner].get(lab)
            if notebook is None:
                grades.notes[learner, lab] = "not submitted"
            else:
                work.append((learner, lab, notebook.resolve()))
    # Without Unix sockets for the kernels, parallel jobs could race for TCP ports: one at a time.
    jobs = max(1, min(jobs, len(work))) if os.name == "posix" else 1
    shards = [work[k::jobs] for k in range(jobs)]  # round robin: each lab spread over the jobs
    log(f"grading {len(work)} notebooks of {len(learners)} learners"
        + (f" in {jobs} jobs at once (each counts its own notebooks)" if jobs > 1 else ""))

    with _course_root(course_dir) as root:
        if jobs == 1:
            results = [_grade_shard(root / "job-1", shards[0], sources, feedback_dir, timeout, log)]
        else:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = [
                    pool.submit(_grade_shard, root / f"job-{k + 1}", shard, sources, feedback_dir,
                                timeout, job=f" of job {k + 1}")
                    for k, shard in enumerate(shards)
                ]
                results = [future.result() for future in futures]
    for scores, notes, feedback in results:
        grades.scores.update(scores)
        grades.notes.update(notes)
        grades.feedback.update(feedback)
    if out is not None:
        grades.write_csv(Path(out))
    grades.seconds = time.perf_counter() - started
    return grades


@contextmanager
def _quiet():
    """Silence SQLAlchemy's warnings about nbgrader's session use (harmless, and many)."""
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        yield


@contextmanager
def _course_root(course_dir):
    if course_dir is not None:
        root = Path(course_dir).resolve()
        if root.exists():
            raise GradingError(f"{root} already exists: --course-dir makes a new nbgrader course")
        root.mkdir(parents=True)
        yield root
        return
    with tempfile.TemporaryDirectory(prefix="esmlab-grading-") as tmp:
        yield Path(tmp)


# --- command line ---------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m esmlab.course.grading",
        description="Grade submitted lab notebooks (SUBMISSIONS/<learner>/<NN-slug>.ipynb) with "
        "nbgrader: a CSV with one row per learner, and HTML feedback per learner and lab.",
    )
    parser.add_argument("submissions", type=Path, help="folder with one folder per learner")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"),
                        help="the CSV to write (default: grades.csv)")
    parser.add_argument("--feedback", type=Path, default=None,
                        help="folder for the feedback pages (default: feedback/ next to the CSV)")
    parser.add_argument("--course-dir", type=Path, default=None,
                        help="keep the nbgrader courses here (a new folder; one course per job, "
                        "job-1, job-2, ...) instead of deleting them")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT,
                        help=f"seconds one cell may run (default: {CELL_TIMEOUT})")
    parser.add_argument("--jobs", type=int, default=default_jobs(),
                        help="notebooks graded at once (default: one per CPU, at most 4)")
    args = parser.parse_args(argv)

    say = _stderr
    try:
        grades = grade(args.submissions, args.out, args.feedback, course_dir=args.course_dir,
                       timeout=args.timeout, jobs=args.jobs, log=say)
    except GradingError as error:
        say(f"error: {error}")
        return 2
    feedback = args.feedback or args.out.parent / "feedback"
    print(f"{len(grades.learners)} learners, labs {', '.join(grades.labs)}: "
          f"graded in {grades.seconds:.1f} s")
    for row in grades.rows():
        note = f"  ({row['notes']})" if row["notes"] else ""
        print(f"  {row['learner']}: {row['total']} / {row['max']}{note}")
    print(f"grades: {args.out}")
    print(f"feedback: {feedback}/<learner>/<lab>.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
