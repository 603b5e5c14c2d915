"""Lab 01 (Polling): its scenarios (esmlab/course/scenarios/polling.py) and checks (esmlab/course/checks/lab01.py).

Checks are tested both ways: the right answer passes, and each typical wrong answer fails with
the message meant to teach it.
"""

import datetime as dt

import matplotlib
import pytest

from esmlab.clock import START
from esmlab.course.checks import lab01
from esmlab.course.scenarios import polling

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


# --- idle_queue -------------------------------------------------------------------------------


def test_idle_hour_five_pollers_then_two_and_only_empty_receives():
    idle = polling.idle_queue(minutes=60)
    assert idle.enabled_at == 2.0
    assert idle.scale[0] == (2.0, 5)
    assert idle.scale[-1][1] == 2 and idle.scale[-1][0] == pytest.approx(122.0)
    assert idle.invocations == 0 and idle.requests == idle.empty_receives > 0
    minutes = idle.per_minute()
    assert len(minutes) == 60
    assert minutes.loc[1, "empty_receives"] == 15  # 5 pollers, one 20 s long poll after another
    assert set(minutes.loc[3:, "empty_receives"]) == {6}  # then 2 pollers
    assert set(minutes.loc[3:, "pollers"]) == {2}
    assert idle.pollers_at(0) == 0 and idle.pollers_at(60) == 5 and idle.pollers_at(600) == 2
    assert list(idle.polls_frame().columns) == ["t", "messages"]


def test_idle_queue_is_cached():
    assert polling.idle_queue(minutes=10) is polling.idle_queue(minutes=10.0)


def test_maximum_concurrency_keeps_five_pollers():
    capped = polling.idle_queue(minutes=30, maximum_concurrency=10)
    assert [c for _, c in capped.scale] == [5]
    assert set(capped.per_minute().loc[2:, "empty_receives"]) == {15}


def test_messages_scale_up_then_back_to_five_then_two():
    busy = polling.idle_queue(minutes=6, messages=1000)
    counts = [c for _, c in busy.scale]
    assert busy.invocations == 100  # 1,000 messages, BatchSize 10
    assert max(counts) > 5 and counts[-2:] == [5, 2]
    assert busy.requests > busy.empty_receives


def test_simulated_idle_day_matches_the_arithmetic():
    """About 7 s: 2 pollers x 3 requests a minute x 1,440 minutes, plus the first minutes at 5."""
    day = lab01.simulated_idle_day()
    assert abs(day - 2 * 3 * 1440) <= 0.01 * day
    assert polling.idle_queue(minutes=1440).scale[-1][1] == 2


def test_draw_idle_and_long_polls():
    idle = polling.idle_queue(minutes=6)
    top, bottom = polling.draw_idle(idle)
    assert top.get_ylabel() == "pollers"
    assert len(bottom.patches) == 2 * 6  # empty and non-empty receives, per minute
    ax = polling.draw_long_polls(idle)
    assert len(ax.get_yticks()) == 5  # one row per poller
    busy = polling.draw_idle(polling.idle_queue(minutes=6, messages=100))
    assert busy[1].get_legend() is not None


# --- starting_positions -----------------------------------------------------------------------


def by_phase(records):
    return {phase: sum(1 for r in records if r.phase == phase) for phase in polling.PHASES}


def test_starting_positions_default():
    positions = polling.starting_positions()
    assert positions.enabled_at == 32.0 and positions.timestamp_at == 20.0
    assert len(positions.records) == 34 and len(positions.shards) == 2
    assert positions.missed_by("TRIM_HORIZON") == []
    latest = positions.read_by("LATEST")
    assert by_phase(latest) == {"before": 0, "creating": 0, "after": 10}  # M8: Creating missed
    at = positions.read_by("AT_TIMESTAMP")
    assert {r.n for r in at} == {r.n for r in positions.records if r.t >= 20.0}


def test_starting_positions_tables_show_sequence_numbers_per_shard():
    positions = polling.starting_positions()
    table = positions.table()
    assert list(table.columns) == ["written_at", "phase", "shard", "sequence_number",
                                   *polling.POSITIONS]
    for shard in positions.shards:
        numbers = [int(s) for s in table[table["shard"] == shard]["sequence_number"]]
        assert numbers == sorted(numbers) and all(len(str(n)) == 56 for n in numbers)
    iterators = positions.iterators()
    assert len(iterators) == 3 * 2
    trim = iterators.loc["TRIM_HORIZON"]
    assert trim["missed"].sum() == 0 and trim["read"].sum() == 34
    assert iterators.loc["LATEST"]["missed"].sum() == 24


def test_at_timestamp_at_the_create_call_still_reads_what_latest_misses():
    positions = polling.starting_positions(timestamp_before=0)
    assert by_phase(positions.read_by("AT_TIMESTAMP")) == {"before": 0, "creating": 4,
                                                           "after": 10}


def test_starting_positions_rejects_values_outside_the_scenario():
    with pytest.raises(ValueError):
        polling.starting_positions(before=31)
    with pytest.raises(ValueError):
        polling.starting_positions(timestamp_before=40)


def test_draw_positions():
    axes = polling.draw_positions(polling.starting_positions(shards=3))
    assert len(axes) == 3
    assert axes[1].get_title(loc="left").startswith("LATEST: read 10 of")


# --- exercise 1: check_replay -----------------------------------------------------------------


def replay(position="TRIM_HORIZON", run_until=60, **params):
    history = polling.stream_with_history()
    mapping = history.lam.create_event_source_mapping(
        FunctionName="replay", EventSourceArn=history.arn, StartingPosition=position, **params)
    history.lab.run(until=run_until)
    return lab01.check_replay(mapping, history)


def test_stream_with_history():
    history = polling.stream_with_history()
    assert history.lab.now == 30.0 and len(history.written) == 20
    assert history.lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert history.first_write == START


def test_replay_with_trim_horizon_passes():
    result = replay()
    assert result.passed and "all 20 records" in result.message


def test_replay_with_latest_fails_and_says_why():
    result = replay("LATEST")
    assert not result.passed
    assert "LATEST" in result.message and "never read" in result.message
    assert "0 of 20" in result.message and "TRIM_HORIZON" in result.message


def test_replay_at_timestamp_of_the_first_write_passes():
    assert replay("AT_TIMESTAMP", StartingPositionTimestamp=START).passed


def test_replay_at_a_later_timestamp_fails_with_the_count_skipped():
    late = START + dt.timedelta(seconds=10)
    result = replay("AT_TIMESTAMP", StartingPositionTimestamp=late)
    assert not result.passed and "10 of the 20 records" in result.message
    assert "skipped" in result.message


def test_replay_not_run_yet_fails():
    result = replay(run_until=30)
    assert not result.passed and "lab1.run(until=60)" in result.message


def test_replay_wrong_function_or_not_a_response():
    history = polling.stream_with_history()
    history.lab.function("other", lambda event, context: None)
    mapping = history.lam.create_event_source_mapping(
        FunctionName="other", EventSourceArn=history.arn, StartingPosition="TRIM_HORIZON")
    assert "FunctionName='replay'" in lab01.check_replay(mapping, history).message
    assert not lab01.check_replay("TRIM_HORIZON", history).passed


# --- exercise 2: check_idle_day ---------------------------------------------------------------

SIMULATED_DAY = 8659  # any count near 8,640 does for the messages


@pytest.mark.parametrize("answer", [8640, 8640.0, 8659, 8700])
def test_idle_day_right_answers_pass(answer):
    result = lab01.check_idle_day(answer, simulated=SIMULATED_DAY)
    assert result.passed and "8,640" in result.message


@pytest.mark.parametrize(
    "answer, teaches",
    [
        (0, "never stops polling"),
        (86_400, "long polling"),
        (2 * 86_400, "long polling"),
        (5 * 86_400, "long polling"),
        (21_600, "5 pollers all day"),
        (4_320, "one poller"),
        (360, "per hour or per minute"),
        (6, "per hour or per minute"),
        (12_345, "not within 1%"),
    ],
)
def test_idle_day_wrong_answers_teach(answer, teaches):
    result = lab01.check_idle_day(answer, simulated=SIMULATED_DAY)
    assert not result.passed and teaches in result.message


@pytest.mark.parametrize("answer", ["8640", None, True])
def test_idle_day_needs_a_number(answer):
    result = lab01.check_idle_day(answer, simulated=SIMULATED_DAY)
    assert not result.passed and "should be a number" in result.message


# --- exercise 3: check_get_records ------------------------------------------------------------


def test_get_records_per_day():
    assert polling.get_records_per_day("kinesis", 4) == 345_600
    assert polling.get_records_per_day("dynamodb", 4) == 1_382_400


@pytest.mark.parametrize("kinesis, dynamodb", [(345_600, 1_382_400), (345_600.0, 1_382_400.0)])
def test_get_records_right_answers_pass(kinesis, dynamodb):
    result = lab01.check_get_records(kinesis, dynamodb)
    assert result.passed and "not charged" in result.message


@pytest.mark.parametrize(
    "kinesis, dynamodb, teaches",
    [
        (86_400, 1_382_400, "is one shard"),
        (1_728_000, 1_382_400, "quota per shard"),
        (345_600_000, 1_382_400, "write limit"),
        (1_382_400, 1_382_400, "DynamoDB Streams' rate"),
        (14_400, 1_382_400, "per hour or per minute"),
        (123, 1_382_400, "Kinesis: 123 is not it"),
        (345_600, 345_600, "4 times a second"),
        (345_600, 86_400, "one shard at one call a second"),
        (345_600, 57_600, "per hour or per minute"),
        (345_600, 5, "DynamoDB: 5 is not it"),
    ],
)
def test_get_records_wrong_answers_teach(kinesis, dynamodb, teaches):
    result = lab01.check_get_records(kinesis, dynamodb)
    assert not result.passed and teaches in result.message


def test_get_records_both_wrong_reports_both():
    message = lab01.check_get_records(86_400, 86_400).message
    assert "Kinesis:" in message and "DynamoDB:" in message


def test_get_records_needs_numbers():
    assert "should be a number" in lab01.check_get_records("345600", 1_382_400).message


@pytest.mark.parametrize(("minutes", "maximum_concurrency", "messages"),
                         [(10, None, 0), (60, None, 0), (6, 10, 0), (4, None, 100)])
def test_a_shorter_idle_run_is_read_from_the_long_one_exactly(minutes, maximum_concurrency,
                                                               messages):
    """The widget's minutes slider reads the first minutes of one 180-minute run: the same as
    running only those minutes (a deterministic simulator; nothing later changes the past)."""
    from esmlab.course.scenarios.polling import _idle_queue

    viewed = polling.idle_queue(minutes=minutes, maximum_concurrency=maximum_concurrency,
                                messages=messages)
    assert viewed == _idle_queue(minutes, maximum_concurrency, messages, 1)


def lab01_controls():
    """The controls of Lab 01's widget cells, built by the cells' own code (explore stubbed)."""
    import nbformat

    nb = nbformat.read(ROOT_DIR / "solutions" / "01-polling.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    namespace: dict = {}
    imports = next(s for s in code if "from esmlab.course.widgets import explore" in s)
    exec(imports, namespace)  # noqa: S102 - the lab's own cell
    panels = []
    namespace["explore"] = lambda scenario, draw, **controls: panels.append(controls)
    for source in code:
        if source.lstrip().startswith("explore("):
            exec(source, namespace)  # noqa: S102 - the lab's own widget cell
    return panels


ROOT_DIR = __import__("pathlib").Path(__file__).resolve().parent.parent


def test_lab01_widgets_show_their_values_in_full_and_redraw_on_release():
    import ipywidgets

    panels = lab01_controls()
    assert len(panels) == 2
    cap = panels[0]["maximum_concurrency"]
    assert cap.value is None and cap.label == "not set"  # not a blank dropdown
    longest = max(len(control.description) for panel in panels for control in panel.values())
    for panel in panels:
        for control in panel.values():
            width = int(control.style.description_width.removesuffix("px"))
            assert width >= 7.5 * longest, control.description  # ~7.5 px a character
            if isinstance(control, ipywidgets.IntSlider):
                assert control.continuous_update is False, control.description


def test_lab01_minutes_slider_runs_no_new_simulation_after_the_first():
    """Moving the minutes slider (10-180) reads the one 180-minute run: no simulation, so the
    figure answers at once (measured: 0.02-0.2 s to redraw; a new 180-minute run is ~1-2 s)."""
    from esmlab.course.scenarios.polling import _idle_queue

    polling.idle_queue(minutes=60)  # the lab's first figure runs this
    runs = _idle_queue.cache_info().misses
    for minutes in (180, 30, 120, 10):
        assert polling.idle_queue(minutes=minutes).minutes == minutes
    assert _idle_queue.cache_info().misses == runs
