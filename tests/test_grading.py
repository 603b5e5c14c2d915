"""Grading with nbgrader, both ways: solutions score full marks, untouched labs score zero.

One grading run, shared by the module (nbgrader executes every notebook, which is the slow
part): the documented command, ``python -m esmlab.course.grading``, in a subprocess whose PATH does not
hold this venv's bin (so the wrapper must find ``alembic`` itself), over a submissions folder
built from the repository:

* learner ``solution`` submits every solutions/NN-slug.ipynb: full marks on every exercise;
* learner ``untouched`` submits every labs/NN-slug.ipynb as generated: zero on every exercise;
* learner ``partial`` submits lab 00, with exercise 1 answered correctly, exercise 2 wrong,
  and exercise 2's locked check cell replaced by ``pass`` (nbgrader puts the original back);
  and lab 03, with exercise 1 right, exercise 2 wrong and exercise 3 untouched;
  and lab 04, with exercise 1 wrong (no ReportBatchItemFailures), exercises 2 and 3 right and
  exercise 4 untouched;
  and lab 05, with exercise 1 right, exercise 2 wrong (AFTER_SEQUENCE_NUMBER) and exercise 3
  untouched;
  and lab 06, with exercise 1 right, exercise 2 wrong (one shard) and exercise 3 untouched;
  and lab 07, with exercise 1 right, exercise 2 wrong (no sqs:SendMessage for the destination)
  and exercise 3 untouched;
  and lab 08, with exercise 1 right, exercise 2 wrong (the Kinesis metric on a DynamoDB
  stream, E37) and exercise 3 untouched;
  and lab 09, with exercise 1 right, exercise 2 wrong (no attribute type) and exercise 3
  untouched;
  and lab 10, with exercise 1 right, exercise 2 wrong (Kinesis for table changes) and exercise 3
  untouched.

Every solution and lab is picked up from the folders, so new labs are graded without a change
here. The run's duration is written to the terminal.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from esmlab.course import grading
from esmlab.course.checks import lab00

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
LABS = sorted((ROOT / "labs").glob("*.ipynb"))
LAB00 = "00-first-mapping"
LAB03 = "03-ordering"
LAB04 = "04-sqs-errors"
LAB05 = "05-stream-errors"
LAB06 = "06-scaling"
LAB09 = "09-filtering-windows"
LAB08 = "08-monitoring"
LAB10 = "10-choosing"
LAB07 = "07-iam"
WRONG_COUNT = 'empty_receives = len(events2[events2["kind"] == "poll"])  # every poll, all 120 s'

_spec = importlib.util.spec_from_file_location("make_labs", ROOT / "scripts" / "make_labs.py")
make_labs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_labs)


def cell(nb, cell_id):
    return next(c for c in nb.cells if c.get("id") == cell_id)


def partial_submission() -> nbformat.NotebookNode:
    """Lab 00 as a learner might hand it in: exercise 1 right, exercise 2 wrong, and the check
    of exercise 2 emptied (a locked cell: nbgrader restores it before running)."""
    lab = nbformat.read(ROOT / "labs" / f"{LAB00}.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / f"{LAB00}.ipynb", as_version=4)
    answer = cell(solution, "ex1-answer").source.split("\n")
    markers = (make_labs.BEGIN, make_labs.END)
    cell(lab, "ex1-answer").source = "\n".join(x for x in answer if x.strip() not in markers)
    cell(lab, "ex2-answer").source = WRONG_COUNT
    cell(lab, "ex2-check").source = "pass"
    return lab


def partial_ordering_submission() -> nbformat.NotebookNode:
    """Lab 03 half right: exercise 1 right, exercise 2 a lane per key (wrong), exercise 3 left
    untouched."""
    lab = nbformat.read(ROOT / "labs" / f"{LAB03}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c for c in lab.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    answers["ex1-answer"].source = 'def ex1_group_id(message):\n    return message["customer"]'
    answers["ex2-answer"].source = (
        'ex2_lanes = {"alice": 0, "bob": 1, "carol": 2, "dave": 3}\nex2_peak = 4')
    return lab


def partial_sqs_errors_submission() -> nbformat.NotebookNode:
    """Lab 04 half right: exercise 1 without ReportBatchItemFailures (wrong), exercises 2 and 3
    right, exercise 4 left untouched."""
    lab = nbformat.read(ROOT / "labs" / f"{LAB04}.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / f"{LAB04}.ipynb", as_version=4)
    markers = (make_labs.BEGIN, make_labs.END)
    for grade_id in ("ex2-answer", "ex3-answer"):
        answer = graded_cell(solution, grade_id).source.split("\n")
        graded_cell(lab, grade_id).source = "\n".join(x for x in answer if x.strip() not in markers)
    graded_cell(lab, "ex1-answer").source = (
        'ex1_queue_attributes = {"RedrivePolicy": json.dumps({"deadLetterTargetArn": '
        'lab04.DLQ_ARN, "maxReceiveCount": "4"})}\nex1_mapping = {}')
    return lab


def graded_cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def partial_stream_errors_submission() -> nbformat.NotebookNode:
    """Lab 05 half right: exercise 1 right, exercise 2 reads AFTER the first discarded record
    (wrong), exercise 3 left untouched."""
    lab = nbformat.read(ROOT / "labs" / f"{LAB05}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c for c in lab.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    answers["ex1-answer"].source = (
        'ex1_config = {"BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 0,\n'
        '              "DestinationConfig": {"OnFailure": {"Destination": se.FAILURE_QUEUE_ARN}}}')
    answers["ex2-answer"].source = (
        "def ex2_fetch(kinesis, message):\n"
        '    info = message["KinesisBatchInfo"]\n'
        "    iterator = kinesis.get_shard_iterator(\n"
        '        StreamName="telemetry", ShardId=info["shardId"],\n'
        '        ShardIteratorType="AFTER_SEQUENCE_NUMBER",\n'
        '        StartingSequenceNumber=info["startSequenceNumber"])["ShardIterator"]\n'
        '    return kinesis.get_records(ShardIterator=iterator, Limit=info["batchSize"])["Records"]')
    return lab


def partial_scaling_submission() -> nbformat.NotebookNode:
    """Lab 06 half right: exercise 1 right, exercise 2 one shard (wrong: the writes need two),
    exercise 3 left untouched."""
    lab = nbformat.read(ROOT / "labs" / f"{LAB06}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c for c in lab.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    answers["ex1-answer"].source = 'ex1_config = {"orders": 6, "refunds": 4, "reserved": 10}'
    answers["ex2-answer"].source = "ex2_shards = 1\nex2_pf = 3"
    return lab


def partial_filtering_submission() -> nbformat.NotebookNode:
    """Lab 09 half right: exercise 1 right, exercise 2 without the DynamoDB attribute type
    (wrong), exercise 3 left untouched."""
    lab = nbformat.read(ROOT / "labs" / f"{LAB09}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c for c in lab.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    answers["ex1-answer"].source = (
        'ex1_pattern = {"body": {"type": ["order"], "country": ["DE", "FR", "NL"],\n'
        '                        "total": [{"numeric": [">=", 100]}]}}')
    answers["ex2-answer"].source = (
        'ex2_filters = [{"dynamodb": {"NewImage": {"status": ["FAILED"]}}}]')
    return lab


def partial_monitoring_submission() -> nbformat.NotebookNode:
    """Lab 08 half right: exercise 1 right, exercise 2 alarms on the Kinesis metric for a
    DynamoDB stream (wrong, E37), exercise 3 left untouched."""
    lab = nbformat.read(ROOT / "labs" / f"{LAB08}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c for c in lab.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    answers["ex1-answer"].source = (
        "ex1_queries = [mon.metric_query(id_, 'AWS/SQS', name, {'QueueName': 'orders'}, 'Maximum')\n"
        "               for id_, name in (('depth', 'ApproximateNumberOfMessagesVisible'),\n"
        "                                 ('age', 'ApproximateAgeOfOldestMessage'))]")
    answers["ex2-answer"].source = (
        'ex2_alarm = {"AlarmName": "lag", "Namespace": "AWS/Kinesis",\n'
        '             "MetricName": "GetRecords.IteratorAgeMilliseconds",\n'
        '             "Dimensions": [{"Name": "StreamName", "Value": "accounts"}],\n'
        '             "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1,\n'
        '             "Threshold": 60000, "ComparisonOperator": "GreaterThanThreshold",\n'
        '             "AlarmActions": [mon.TOPIC_ARN]}')
    return lab


def partial_choosing_submission() -> nbformat.NotebookNode:
    """Lab 10 half right: exercise 1 right, exercise 2 a Kinesis stream for a table's changes
    (wrong), exercise 3 left untouched."""
    lab = nbformat.read(ROOT / "labs" / f"{LAB10}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c for c in lab.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    answers["ex1-answer"].source = 'ex1_choice = Choice("kinesis", pf=4, retries=1, dlq=True)'
    answers["ex2-answer"].source = 'ex2_choice = Choice("kinesis", retries=1, dlq=True)'
    return lab


def partial_iam_submission() -> nbformat.NotebookNode:
    """Lab 07 half right: exercise 1 right, exercise 2 without sqs:SendMessage on the
    destination (wrong), exercise 3 left untouched."""
    lab = nbformat.read(ROOT / "labs" / f"{LAB07}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c for c in lab.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    answers["ex1-answer"].source = (
        'def ex1_resource(table_arn):\n    return f"{table_arn}/stream/*"')
    answers["ex2-answer"].source = (
        'def ex2_policy(table_arn, destination_arn):\n'
        '    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",\n'
        '            "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords",\n'
        '                       "dynamodb:GetShardIterator", "dynamodb:ListStreams"],\n'
        '            "Resource": f"{table_arn}/stream/*"}]}')
    return lab


@pytest.fixture(scope="module")
def graded(tmp_path_factory, request):
    """Run the grading command once; return its CSV rows (by learner), header and paths."""
    base = tmp_path_factory.mktemp("grading")
    submissions = base / "submissions"
    for learner, notebooks in (("solution", SOLUTIONS), ("untouched", LABS)):
        (submissions / learner).mkdir(parents=True)
        for path in notebooks:
            (submissions / learner / path.name).write_bytes(path.read_bytes())
    (submissions / "partial").mkdir()
    nbformat.write(partial_submission(), submissions / "partial" / f"{LAB00}.ipynb")
    nbformat.write(partial_ordering_submission(), submissions / "partial" / f"{LAB03}.ipynb")
    nbformat.write(partial_sqs_errors_submission(), submissions / "partial" / f"{LAB04}.ipynb")
    nbformat.write(partial_stream_errors_submission(),
                   submissions / "partial" / f"{LAB05}.ipynb")
    nbformat.write(partial_filtering_submission(), submissions / "partial" / f"{LAB09}.ipynb")
    nbformat.write(partial_monitoring_submission(), submissions / "partial" / f"{LAB08}.ipynb")
    nbformat.write(partial_choosing_submission(), submissions / "partial" / f"{LAB10}.ipynb")
    nbformat.write(partial_scaling_submission(), submissions / "partial" / f"{LAB06}.ipynb")
    nbformat.write(partial_iam_submission(), submissions / "partial" / f"{LAB07}.ipynb")
    (submissions / "partial" / ".ipynb_checkpoints").mkdir()
    nbformat.write(partial_submission(), submissions / "partial" / ".ipynb_checkpoints" / "x.ipynb")
    (submissions / "README.txt").write_text("not a learner")

    out = base / "out" / "grades.csv"
    course = base / "course"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "JUPYTER_PATH")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep)
        if p and not (Path(p) / "alembic").exists()
    ) or "/usr/bin:/bin"
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "esmlab.course.grading", str(submissions), "--out", str(out),
         "--course-dir", str(course), "--jobs", "2"],
        cwd=base, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )
    seconds = time.perf_counter() - started
    assert run.returncode == 0, f"grading failed:\n{run.stdout}\n{run.stderr}"
    count = len(SOLUTIONS) + len(LABS) + 1
    report(request, f"graded {count} notebooks ({len(SOLUTIONS)} labs) in {seconds:.1f} s, "
                    f"{seconds / count:.1f} s a notebook (nbgrader's start included):")
    for line in run.stderr.splitlines():
        if re.search(r"\(autograde \d+\.\d s", line):
            report(request, f"  {line}")
    with open(out, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = {row["learner"]: row for row in reader}
        header = reader.fieldnames
    return {"rows": rows, "header": header, "out": out, "course": course, "run": run,
            "feedback": out.parent / "feedback", "seconds": seconds}


def report(request, line):
    """Write ``line`` to the terminal, past pytest's capture (the run's timings)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"[test_grading] {line}")


def lab_exercises():
    return {path.stem: grading.exercises(path) for path in SOLUTIONS}


# --- both directions ----------------------------------------------------------------------------


def test_the_csv_has_one_row_per_learner_and_the_documented_columns(graded):
    assert sorted(graded["rows"]) == ["partial", "solution", "untouched"]
    expected = ["learner"]
    for lab, found in lab_exercises().items():
        assert found, f"{lab} has no graded cells"
        expected += [f"{lab[:2]}/{e.grade_id}" for e in found] + [f"{lab[:2]}/total"]
    assert graded["header"] == expected + ["total", "max", "notes"]
    most = sum(e.points for found in lab_exercises().values() for e in found)
    assert {row["max"] for row in graded["rows"].values()} == {grading.number(most)}


@pytest.mark.parametrize("lab", [p.stem for p in SOLUTIONS])
def test_every_solution_scores_full_marks(graded, lab):
    row = graded["rows"]["solution"]
    for exercise in grading.exercises(ROOT / "solutions" / f"{lab}.ipynb"):
        assert row[exercise.column] == grading.number(exercise.points), (
            f"solutions/{lab}.ipynb scores {row[exercise.column]} on {exercise.grade_id}, "
            f"not {grading.number(exercise.points)}: open its feedback, "
            f"{graded['feedback'] / 'solution' / (lab + '.html')}"
        )
    assert not row["notes"]


@pytest.mark.parametrize("lab", [p.stem for p in LABS])
def test_every_untouched_lab_scores_zero_on_every_exercise(graded, lab):
    row = graded["rows"]["untouched"]
    for exercise in grading.exercises(ROOT / "solutions" / f"{lab}.ipynb"):
        assert row[exercise.column] == "0", f"labs/{lab}.ipynb scores {row[exercise.column]}"
    assert row[f"{lab[:2]}/total"] == "0"


def test_totals(graded):
    rows = graded["rows"]
    assert rows["solution"]["total"] == rows["solution"]["max"]
    assert rows["untouched"]["total"] == "0"


def test_a_partly_right_submission_scores_in_between(graded):
    row = graded["rows"]["partial"]
    assert (row["00/ex1-check"], row["00/ex2-check"], row["00/total"]) == ("2", "0", "2")
    assert (row["03/ex1-check"], row["03/ex2-check"], row["03/ex3-check"],
            row["03/total"]) == ("3", "0", "0", "3")
    assert (row["04/ex1-check"], row["04/ex2-check"], row["04/ex3-check"], row["04/ex4-check"],
            row["04/total"]) == ("0", "3", "2", "0", "5")
    assert (row["05/ex1-check"], row["05/ex2-check"], row["05/ex3-check"],
            row["05/total"]) == ("4", "0", "0", "4")
    assert (row["09/ex1-check"], row["09/ex2-check"], row["09/ex3-check"],
            row["09/total"]) == ("3", "0", "0", "3")
    assert (row["06/ex1-check"], row["06/ex2-check"], row["06/ex3-check"],
            row["06/total"]) == ("4", "0", "0", "4")
    assert (row["07/ex1-check"], row["07/ex2-check"], row["07/ex3-check"],
            row["07/total"]) == ("3", "0", "0", "3")
    assert (row["08/ex1-check"], row["08/ex2-check"], row["08/ex3-check"],
            row["08/total"]) == ("3", "0", "0", "3")
    assert (row["10/ex1-check"], row["10/ex2-check"], row["10/ex3-check"],
            row["10/total"]) == ("3", "0", "0", "3")
    # 2 (lab 00) + 3 (lab 03) + 5 (lab 04) + 4 (lab 05) + 4 (lab 06) + 3 (lab 07) + 3 (lab 08)
    # + 3 (lab 09) + 3 (lab 10)
    assert row["total"] == "30"
    partial = (LAB00, LAB03, LAB04, LAB05, LAB06, LAB07, LAB08, LAB09, LAB10)
    for lab in (p.stem for p in SOLUTIONS if p.stem not in partial):
        found = grading.exercises(ROOT / "solutions" / f"{lab}.ipynb")
        assert all(row[e.column] == "" for e in found)
        assert row[f"{lab[:2]}/total"] == ""
        assert f"{lab}: not submitted" in row["notes"]


def test_the_partly_right_feedback_says_what_is_right_and_what_is_wrong(graded):
    page = graded["feedback"] / "partial" / f"{LAB00}.html"
    html = page.read_text(encoding="utf-8")
    assert "Correct: 5 invocations of 5 records" in html  # exercise 1's check passed
    assert "You counted " in html  # exercise 2's check (restored by nbgrader) explains the error
    assert "Score: 2.0 / 4.0" in html


def test_the_half_right_ordering_feedback_teaches(graded):
    html = (graded["feedback"] / "partial" / f"{LAB03}.html").read_text(encoding="utf-8")
    assert "Each customer&#x27;s orders ran one after another" in html or (
        "Each customer's orders ran one after another" in html)
    assert "bob, carol share a lane" in html  # exercise 2's check says what is wrong
    assert "Score: 3.0 / 10.0" in html


def test_the_half_right_filtering_feedback_teaches(graded):
    html = (graded["feedback"] / "partial" / f"{LAB09}.html").read_text(encoding="utf-8")
    assert "held-out messages" in html  # exercise 1's check passed
    assert "without the attribute type" in html  # exercise 2's check says what is wrong
    assert "ex3_handler is not defined yet" in html
    assert "Score: 3.0 / 10.0" in html


def test_the_half_right_monitoring_feedback_teaches(graded):
    html = (graded["feedback"] / "partial" / f"{LAB08}.html").read_text(encoding="utf-8")
    assert "Depth and age of oldest message are the two metrics" in html  # exercise 1 passed
    assert "no iterator-age metric of its own (E37)" in html  # exercise 2 explains the erratum
    assert "Score: 3.0 / 10.0" in html


def test_the_half_right_sqs_errors_feedback_teaches(graded):
    html = (graded["feedback"] / "partial" / f"{LAB04}.html").read_text(encoding="utf-8")
    assert "Lambda ignored the response" in html  # exercise 1's check says what is wrong
    assert "the five good orders were deleted after one delivery" in html  # exercise 2 passed
    assert "Score: 5.0 / 10.0" in html


def test_the_half_right_choosing_feedback_teaches(graded):
    html = (graded["feedback"] / "partial" / f"{LAB10}.html").read_text(encoding="utf-8")
    assert "meets all 3 requirements" in html  # exercise 1's check passed
    assert "react to table changes" in html  # exercise 2's check says what is wrong
    assert "ex3_decide is not defined yet" in html
    assert "Score: 3.0 / 10.0" in html


def test_the_half_right_iam_feedback_teaches(graded):
    html = (graded["feedback"] / "partial" / f"{LAB07}.html").read_text(encoding="utf-8")
    assert "reaches this table&#x27;s stream" in html or "reaches this table's stream" in html
    assert "DestinationDeliveryFailures 1" in html  # exercise 2's check says what is wrong
    assert "ex3_action, ex3_fix are not defined yet" in html
    assert "Score: 3.0 / 10.0" in html


def test_the_half_right_scaling_feedback_teaches(graded):
    html = (graded["feedback"] / "partial" / f"{LAB06}.html").read_text(encoding="utf-8")
    assert "so the database never saw more than 10 writers" in html  # exercise 1 passed
    assert "the stream needs at least 2 shards" in html  # exercise 2's check says what is wrong
    assert "ex3_config is not defined yet" in html
    assert "Score: 4.0 / 10.0" in html


def test_the_untouched_feedback_teaches(graded):
    html = (graded["feedback"] / "untouched" / f"{LAB00}.html").read_text(encoding="utf-8")
    assert "mapping1 is not defined yet" in html
    assert "No response." in html  # nbgrader recognises the untouched stub


def test_feedback_shows_the_checks_message_not_the_instructors_paths(graded):
    for page in graded["feedback"].rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert str(ROOT) not in html and str(graded["course"]) not in html, page
        assert "site-packages" not in html and "checks/__init__.py" not in html, page
    html = (graded["feedback"] / "untouched" / f"{LAB00}.html").read_text(encoding="utf-8")
    before_message = html.split("mapping1 is not defined yet")[0][-300:]
    assert "Traceback (most recent call last)" not in before_message  # the check's message alone


def test_the_command_shows_its_progress(graded):
    stderr = graded["run"].stderr
    assert re.search(r"grading \d+ notebooks of 3 learners in 2 jobs", stderr)
    assert re.search(r"^\[1/\d+ of job 1\] ", stderr, re.MULTILINE)
    assert re.search(r"^\[1/\d+ of job 2\] ", stderr, re.MULTILINE)


def test_learner_errors_keeps_the_learners_frames_and_drops_the_machinerys(tmp_path):
    nb = nbformat.v4.new_notebook()
    check = nbformat.v4.new_code_cell("lab00.smaller_batch(globals()).require()")
    check.outputs = [nbformat.v4.new_output(
        "error", ename="AssertionError", evalue="mapping1 is not defined yet: run your answer",
        traceback=["\x1b[0;31m----\x1b[0m\nAssertionError   Traceback (most recent call last)",
                   "Cell \x1b[0;32mIn[31], line 3\x1b[0m\n----> 3 lab00.smaller_batch(...)",
                   f"File \x1b[0;32m{ROOT}/esmlab/course/checks/__init__.py:31\x1b[0m, in require",
                   "\x1b[0;31mAssertionError\x1b[0m: mapping1 is not defined yet: run your answer"])]
    own = nbformat.v4.new_code_cell("records[0]['bdy']")
    own.outputs = [nbformat.v4.new_output(
        "error", ename="KeyError", evalue="'bdy'",
        traceback=["KeyError   Traceback (most recent call last)",
                   "Cell In[12], line 1\n----> 1 records[0]['bdy']",
                   "File /usr/lib/python3/site-packages/pandas/core/frame.py:4102, in getitem",
                   "KeyError: 'bdy'"])]
    nb.cells = [check, own]
    path = tmp_path / "graded.ipynb"
    nbformat.write(nb, path)
    grading.learner_errors(path, hide=(ROOT,))
    check, own = nbformat.read(path, as_version=4).cells
    assert check.outputs[0].traceback == ["mapping1 is not defined yet: run your answer"]
    assert own.outputs[0].traceback == ["KeyError   Traceback (most recent call last)",
                                        "Cell In[12], line 1\n----> 1 records[0]['bdy']",
                                        "KeyError: 'bdy'"]


def test_every_graded_notebook_has_a_feedback_page(graded):
    pages = sorted(p.relative_to(graded["feedback"]).as_posix()
                   for p in graded["feedback"].rglob("*.html"))
    expected = sorted([f"solution/{p.stem}.html" for p in SOLUTIONS]
                      + [f"untouched/{p.stem}.html" for p in LABS]
                      + [f"partial/{LAB00}.html", f"partial/{LAB03}.html",
                         f"partial/{LAB04}.html", f"partial/{LAB05}.html",
                         f"partial/{LAB06}.html", f"partial/{LAB07}.html",
                         f"partial/{LAB08}.html", f"partial/{LAB09}.html",
                         f"partial/{LAB10}.html"])
    assert pages == expected


def test_the_command_reports_what_it_skipped_and_how_long_it_took(graded):
    run = graded["run"]
    assert "README.txt: not in a learner's folder" in run.stderr
    assert ".ipynb_checkpoints" not in run.stderr
    assert re.search(r"graded in \d+\.\d s", run.stdout)


def test_nbgrader_generates_exactly_the_labs(graded):
    """A course running nbgrader (with our stub) gets labs/ from solutions/, less checksums."""
    for path in LABS:
        releases = sorted(graded["course"].glob(f"job-*/release/{path.stem}/{path.name}"))
        assert releases, f"nbgrader did not generate {path.stem}"
        release = releases[0]
        ours = nbformat.read(path, as_version=4)
        theirs = nbformat.read(release, as_version=4)
        for c in theirs.cells:
            c.get("metadata", {}).get("nbgrader", {}).pop("checksum", None)
            c.get("metadata", {}).get("nbgrader", {}).pop("cell_type", None)
        assert [c.id for c in theirs.cells] == [c.id for c in ours.cells]
        for a, b in zip(ours.cells, theirs.cells):
            assert a == b, f"{path.name}: cell {a.id} differs from nbgrader's release"
        assert theirs.metadata == ours.metadata


def test_one_job_in_this_process_and_an_unreadable_notebook(tmp_path):
    """The in-process path (jobs=1), a kept course, and a file that is not a notebook: it gets a
    note, no points, and does not stop the run."""
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    (tmp_path / "subs" / "ada" / f"{LAB00}.ipynb").write_text("{not json")
    lines = []
    grades = grading.grade(tmp_path / "subs", tmp_path / "g.csv", course_dir=tmp_path / "course",
                           jobs=1, log=lines.append)
    assert grades.scores == {} and "not a readable notebook" in grades.notes["ada", LAB00]
    assert (tmp_path / "course" / "job-1" / "gradebook.db").exists()
    assert (tmp_path / "course" / "job-1" / "release" / LAB00 / f"{LAB00}.ipynb").exists()
    assert any("not a readable notebook" in line for line in lines)
    assert lines[0] == "grading 1 notebooks of 1 learners"
    assert any(line.startswith("[1/1] ada 00-first-mapping: ") for line in lines)
    with open(tmp_path / "g.csv", encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    assert (row["00/ex1-check"], row["total"]) == ("", "0") and "NotJSONError" in row["notes"]


# --- the pieces, without nbgrader (fast) --------------------------------------------------------


def test_submissions_layout(tmp_path):
    (tmp_path / "ada").mkdir()
    (tmp_path / "ada" / f"{LAB00}.ipynb").write_text("{}")
    (tmp_path / "ada" / "99-nope.ipynb").write_text("{}")
    (tmp_path / "ada" / "work").mkdir()
    (tmp_path / "ada" / "work" / f"{LAB00}.ipynb").write_text("{}")
    (tmp_path / "ada" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "ada" / ".ipynb_checkpoints" / f"{LAB00}-checkpoint.ipynb").write_text("{}")
    (tmp_path / "grace@example.org").mkdir()
    (tmp_path / ".DS_Store").write_text("")
    found = grading.find_submissions(tmp_path, [LAB00])
    assert found.notebooks == {"ada": {LAB00: tmp_path / "ada" / f"{LAB00}.ipynb"}}
    assert len(found.skipped) == 2
    assert "no lab is named 99-nope" in found.skipped[0]
    assert "not a lab notebook" in found.skipped[1]


def test_a_learner_folder_name_must_be_an_id(tmp_path):
    (tmp_path / "ada lovelace").mkdir()
    with pytest.raises(grading.GradingError, match="cannot be a learner id"):
        grading.find_submissions(tmp_path, [LAB00])


def test_the_command_explains_a_bad_folder(tmp_path, capsys):
    assert grading.main([str(tmp_path / "missing"), "--out", str(tmp_path / "g.csv")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert grading.main([str(tmp_path), "--out", str(tmp_path / "g.csv")]) == 2
    assert "no lab notebooks" in capsys.readouterr().err


def test_rows_leave_a_lab_that_was_not_submitted_empty():
    exercises = {
        LAB00: [grading.Exercise(LAB00, "ex1-check", 2), grading.Exercise(LAB00, "ex2-check", 2)],
        "01-polling": [grading.Exercise("01-polling", "ex1-check", 1.5)],
    }
    grades = grading.Grades(
        exercises, ["ada"], {("ada", LAB00): {"ex1-check": 2.0, "ex2-check": 0.0}},
        {("ada", "01-polling"): "not submitted"}, {},
    )
    assert grades.columns() == ["learner", "00/ex1-check", "00/ex2-check", "00/total",
                                "01/ex1-check", "01/total", "total", "max", "notes"]
    assert grades.rows() == [{
        "learner": "ada", "00/ex1-check": "2", "00/ex2-check": "0", "00/total": "2",
        "01/ex1-check": "", "01/total": "", "total": "2", "max": "5.5",
        "notes": "01-polling: not submitted",
    }]


def test_the_release_stub_is_the_labs_stub():
    config = grading.nbgrader_config(Path("/tmp/course"))
    assert config.ClearSolutions.code_stub == {"python": make_labs.CODE_STUB}
    assert config.ClearSolutions.text_stub == make_labs.MARKDOWN_STUB


def test_make_grade_runs_the_command():
    run = subprocess.run(["make", "-n", "grade", "SUBMISSIONS=subs/", "OUT=out/g.csv"],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert '-m esmlab.course.grading "subs/" --out "out/g.csv"' in run.stdout
    run = subprocess.run(["make", "grade"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert run.returncode != 0 and "usage: make grade SUBMISSIONS=path/" in run.stderr


# --- lab 00's checks, on the learner's objects ----------------------------------------------------


def test_lab00_checks_fail_with_a_message_when_nothing_is_defined():
    for check, name in ((lab00.smaller_batch, "mapping1"), (lab00.idle_minute, "empty_receives")):
        result = check({})
        assert not result and f"{name} is not defined yet" in result.message
        with pytest.raises(AssertionError, match="not defined yet"):
            result.require()


def test_lab00_exercise1_check_explains_a_wrong_mapping():
    class Lab:
        now = 0

    assert "not the response" in lab00.batch_of_five(None, Lab(), "arn").message
    mapping = {"EventSourceArn": "arn", "BatchSize": 10}
    assert "BatchSize 10" in lab00.batch_of_five(mapping, Lab(), "arn").message
    assert "another source" in lab00.batch_of_five(mapping, Lab(), "other").message
    mapping["BatchSize"] = 5
    assert "lab1 is at t = 0 s" in lab00.batch_of_five(mapping, Lab(), "arn").message


def test_the_half_right_stream_errors_feedback_teaches(graded):
    html = (graded["feedback"] / "partial" / f"{LAB05}.html").read_text(encoding="utf-8")
    assert "Bisect found the record without using retries" in html  # exercise 1 passed
    assert "Use AT_SEQUENCE_NUMBER" in html  # exercise 2's check says what is wrong
