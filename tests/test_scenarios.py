"""Scenario functions refuse bad arguments, naming them; their figures speak the learner's words."""

from itertools import pairwise

import matplotlib.pyplot as plt
import pytest

from esmlab.course.scenarios import batching, polling


@pytest.mark.parametrize("kwargs, says", [
    ({"window": 10.5}, "window must be a whole number, got 10.5"),
    ({"batch_size": "10"}, "batch_size must be a whole number, got '10'"),
    ({"arrival_rate": -1}, "arrival_rate must be a number > 0 (messages a second), got -1"),
    ({"arrival_rate": 0}, "arrival_rate must be a number > 0"),
    ({"minutes": 0}, "minutes must be a number > 0"),
    ({"source": "sns"}, "source must be one of 'sqs', 'fifo', 'kinesis'; got 'sns'"),
    ({"arrivals": "steady"}, "arrivals must be one of 'poisson', 'even', 'burst'"),
    ({"duration": -0.5}, "duration must be a number >= 0 (seconds), got -0.5"),
    ({"message_bytes": 0}, "message_bytes must be a whole number >= 1, got 0"),
    ({"max_concurrency": 2.5}, "max_concurrency must be a whole number, got 2.5"),
])
def test_batching_simulate_names_the_bad_argument(kwargs, says):
    with pytest.raises(ValueError) as error:
        batching.simulate(**kwargs)
    assert says in str(error.value)


def test_whole_floats_are_accepted_and_ranges_stay_the_mapping_apis_to_judge():
    assert batching.simulate(window=10.0, minutes=0.5).window == 10
    rejected = batching.simulate(batch_size=20, window=0, minutes=0.5)  # an AWS rule, not ours
    assert rejected.rejected.startswith("InvalidParameterValueException")


@pytest.mark.parametrize("call, says", [
    (lambda: polling.idle_queue(minutes=0), "minutes must be a whole number >= 1, got 0"),
    (lambda: polling.idle_queue(minutes=2.5), "minutes must be a whole number >= 1, got 2.5"),
    (lambda: polling.idle_queue(maximum_concurrency="5"), "maximum_concurrency must be a whole"),
    (lambda: polling.idle_queue(messages=-1), "messages must be a whole number >= 0, got -1"),
    (lambda: polling.starting_positions(before=31), "before must be a whole number from 0 to 30"),
    (lambda: polling.starting_positions(shards=0), "shards must be a whole number >= 1, got 0"),
    (lambda: polling.starting_positions(timestamp_before=-1), "timestamp_before must be a number"),
    (lambda: polling.get_records_per_day("sqs", 1), "kind must be one of 'kinesis', 'dynamodb'"),
])
def test_polling_scenarios_name_the_bad_argument(call, says):
    with pytest.raises(ValueError) as error:
        call()
    assert says in str(error.value)


def test_batching_legend_and_summary_speak_the_learners_words():
    plt.switch_backend("Agg")
    result = batching.simulate(batch_size=5, window=5, arrival_rate=2.0, minutes=0.5)
    batching.draw(result)
    legend = [t.get_text() for lg in plt.gcf().legends for t in lg.get_texts()]
    plt.close("all")
    assert legend and all("_" not in text for text in legend)
    assert "closed: BatchSize reached" in legend
    assert "batching window ended" in result.summary()
    assert "batch_size" not in result.summary().split("closed by:")[1]


def test_invocations_that_start_together_are_drawn_side_by_side():
    plt.switch_backend("Agg")
    result = batching.simulate(batch_size=100, window=10, arrival_rate=1.0)  # Lab 02, demo 1
    together = len(result.batches) - len({b.start for b in result.batches})
    assert together >= 3  # the two pollers' windows end at the same instant
    over_time = batching.draw(result)[0]
    bars = sorted((bar.get_x(), bar.get_x() + bar.get_width()) for bar in over_time.patches)
    assert len(bars) == result.invocations
    assert all(right <= next_left + 1e-9 for (_, right), (next_left, _) in pairwise(bars))
    plt.close("all")


def test_batching_figures_are_drawn_for_the_width_they_are_shown_at():
    plt.switch_backend("Agg")
    axes = batching.draw(batching.simulate(batch_size=100, window=10))
    figure = axes[0].figure
    assert figure.get_figwidth() * figure.dpi <= 720  # a lab page or the site's ~700 px column
    plt.close("all")
    rejected = batching.draw(batching.simulate(batch_size=50, window=0))[0].figure
    assert rejected.get_figheight() < 3  # a rejection is a few lines of text, not empty axes
    assert any("InvalidParameterValueException" in t.get_text() for t in rejected.texts)
    plt.close("all")
