"""Lab 06 (Scaling): the scenarios behind its demos and widget, and its checks, both ways."""

import pytest

from esmlab.course.checks import lab06
from esmlab.course.scenarios import scaling as sc

# --- the scenarios -------------------------------------------------------------------------------


def test_the_default_mode_ramps_by_300_a_minute_to_the_account_limit():
    """services-sqs-scaling: 5 at first, up to +300 a minute; the account's 1,000 caps it (E3)."""
    run = sc.ramp("default")
    at = dict(zip(run.times, run.running, strict=True))
    assert at[2] == 5 and at[62] - at[2] == 300  # 5 once Enabled, then +300 in a minute
    assert run.peak == 1_000 and run.throttles > 0  # the account's default concurrency
    assert run.conserved


def test_with_the_account_limit_raised_the_default_mode_stops_at_1250():
    run = sc.ramp("raised")
    assert (run.peak, run.throttles) == (1_250, 0)
    assert 240 <= run.peak_at <= 255  # (1,250 - 5) / 5 a second, M4
    assert run.running[-1] == 1_250  # no drop while the backlog remains (400 s invocations)


def test_maximum_concurrency_caps_one_mapping_and_provisioned_mode_ramps_3x_faster():
    capped, provisioned = sc.ramp("maximum"), sc.ramp("provisioned")
    assert capped.peak == sc.RAMP_CAP and capped.running[-1] == sc.RAMP_CAP
    assert provisioned.peak == 1_250  # 125 pollers x 10 concurrent invokes
    assert 3.0 <= sc.ramp("raised").peak_at / provisioned.peak_at <= 3.5


def test_an_idle_mapping_goes_back_to_5_then_2_but_not_to_2_with_a_cap():
    """services-sqs-scaling: low traffic -> 5, then 2; not with MaximumConcurrency (E31, E40)."""
    default, capped, provisioned = (sc.idle(m) for m in ("default", "maximum", "provisioned"))
    assert default.slots[-1][1] == 2 and capped.slots[-1][1] == 5
    assert provisioned.slots[-1][1] == 2  # MinimumPollers 2
    # empty receives a minute at rest: 3 per slot (20 s long polls)
    assert default.empty_per_minute[-1] == 6 and capped.empty_per_minute[-1] == 15
    assert provisioned.empty_per_minute[-1] == 6


def test_reserved_concurrency_below_the_cap_throttles():
    run = sc.limits(maximum_concurrency=20, reserved=10)
    assert run.peak == 10 and run.throttles > 0 and run.processed == sc.LIMITS_MESSAGES
    clean = sc.limits(maximum_concurrency=10, reserved=10)
    assert (clean.peak, clean.throttles, clean.processed) == (10, 0, sc.LIMITS_MESSAGES)
    assert clean.finished_at < run.finished_at  # the throttles halved the slots (M4)


def test_throttled_messages_can_reach_the_dlq_without_ever_running():
    run = sc.limits(maximum_concurrency=None, reserved=2, max_receive_count=1)
    assert run.gave_up > 0 and run.in_dlq > 0 and run.never_ran == run.in_dlq
    assert run.processed + run.in_dlq == sc.LIMITS_MESSAGES and run.conserved
    safer = sc.limits(maximum_concurrency=None, reserved=2, max_receive_count=5)
    assert safer.in_dlq == 0 and safer.processed == sc.LIMITS_MESSAGES


def test_fifo_concurrency_is_bounded_by_the_active_message_groups():
    """services-sqs-scaling: 6 groups and a cap of 10 give at most 6."""
    assert sc.fifo(groups=6, maximum_concurrency=10) == 6
    assert sc.fifo(groups=20, maximum_concurrency=10) == 10


@pytest.mark.parametrize(("shards", "pf"), [(1, 1), (4, 2), (2, 5)])
def test_one_mapping_runs_shards_times_pf(shards, pf):
    """E32: one mapping per stream and function, one iterator per shard, shards x PF at most."""
    run = sc.streams(shards, pf)
    assert (run.mappings, run.peak, run.processed) == (1, shards * pf, sc.STREAM_RECORDS)


def test_throughput_arithmetic_stops_at_the_shared_read_limit():
    """2 MB/s or 2,000 records/s per shard (E10, E39)."""
    low = sc.throughput(4, 1, 100, 0.5, 2.0)
    assert low == {"invocations": 800, "reads": 4_000, "records_per_s": 800}
    assert sc.throughput(4, 10, 100, 0.5, 2.0)["records_per_s"] == 4_000
    assert sc.throughput(1, 10, 1_000, 1.0, 0.1)["reads"] == 2_000  # the record limit
    assert sc.shards_for_writes(120, 10.0) == 2 and sc.shards_for_writes(2_500, 0.1) == 3


def test_scenarios_refuse_bad_arguments_naming_them():
    with pytest.raises(ValueError, match="mode must be one of"):
        sc.ramp("fast")
    with pytest.raises(ValueError, match="maximum_concurrency must be None or a whole number"):
        sc.limits(maximum_concurrency=1)
    with pytest.raises(ValueError, match="parallelization must be a whole number from 1 to 10"):
        sc.streams(2, 11)
    with pytest.raises(ValueError, match="exactly the keys"):
        sc.writers({"orders": 5})


def test_drawings_have_one_line_per_mode_told_apart_by_style():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = sc.draw_ramps([sc.ramp(m) for m in sc.RAMP_MODES])
    lines = [line for line in fig.axes[0].lines if line.get_label() in
             {label for label, _, _ in sc.RAMP_MODES.values()}]
    assert len({line.get_color() for line in lines}) == len({ln.get_linestyle() for ln in lines})
    assert len(lines) == 4
    plt.close(fig)
    fig = sc.draw_throughput()
    assert any("shared read limit" in text.get_text() for text in fig.axes[0].get_legend().texts)
    plt.close(fig)


# --- the checks, both ways -----------------------------------------------------------------------


def test_exercise1_passes_with_caps_that_fit_the_reserved_concurrency():
    assert lab06.database_writers({"orders": 5, "refunds": 5, "reserved": 10})


@pytest.mark.parametrize(("config", "words"), [
    ({"orders": 10, "refunds": 10, "reserved": 10}, "at least the sum of the MaximumConcurrency"),
    ({"orders": None, "refunds": None, "reserved": 10}, "not a scaling control"),
    ({"orders": 6, "refunds": 6, "reserved": 20}, "sum is at most 10"),
    ({"orders": None, "refunds": None, "reserved": None}, "300 concurrent invokes a minute"),
    ({"orders": 1, "refunds": 5, "reserved": 10}, "2-1,000 or None"),
])
def test_exercise1_explains_what_is_wrong(config, words):
    check = lab06.database_writers(config)
    assert not check and words in check.message


def test_exercise2_passes_with_two_shards_and_pf_2():
    check = lab06.stream_keeps_up(2, 2)
    assert check and "IteratorAge" in check.message


@pytest.mark.parametrize(("shards", "pf", "words"), [
    (1, 3, "at least 2 shards"),  # the write limit, E10
    (2, 1, "fell behind"),
    (3, 1, "the budget is 2 shards"),
])
def test_exercise2_explains_what_is_wrong(shards, pf, words):
    check = lab06.stream_keeps_up(shards, pf)
    assert not check and words in check.message


def test_exercise3_passes_with_provisioned_mode_and_few_minimum_pollers():
    assert lab06.spike_config(
        {"ProvisionedPollerConfig": {"MinimumPollers": 2, "MaximumPollers": 100}})


@pytest.mark.parametrize(("config", "words"), [
    ({}, "Provisioned mode scales by up to 1,000 a minute"),
    ({"ProvisionedPollerConfig": {"MinimumPollers": 2, "MaximumPollers": 50}}, "100 pollers"),
    ({"ProvisionedPollerConfig": {"MinimumPollers": 50, "MaximumPollers": 200}},
     "Lower MinimumPollers"),
    ({"ScalingConfig": {"MaximumConcurrency": 100},
      "ProvisionedPollerConfig": {"MaximumPollers": 100}}, "rejected ex3_config"),
    ({"BatchSize": 5}, "keys from"),
])
def test_exercise3_explains_what_is_wrong(config, words):
    check = lab06.spike_config(config)
    assert not check and words in check.message


def test_checks_say_what_is_missing():
    assert "ex1_config is not defined" in lab06.check_database_writers({}).message
    assert "ex2_shards, ex2_pf are not defined" in lab06.check_stream_keeps_up({}).message
    assert "ex3_config is not defined" in lab06.check_spike_config({}).message


def test_a_consumer_falls_behind_until_a_reshard_that_the_same_mapping_follows():
    """UpdateShardCount 4 -> 8 mid-run: one mapping, parents first (M9), then 8 at once."""
    behind, grown = sc.reshard(update=False), sc.reshard(update=True)
    assert max(behind.running) == 4 and behind.ages[-1][1] > 60  # falls further behind
    assert behind.processed < behind.written  # still in the stream at the end, not lost
    assert grown.mappings == 1 and max(grown.running) == 8
    assert len(grown.finished) == 4 and min(t for t, _ in grown.finished) > grown.reshard_at
    assert grown.processed == grown.written and grown.ages[-1][1] < behind.ages[-1][1] / 4
    with pytest.raises(TypeError, match="update must be True or False"):
        sc.reshard("yes")


def test_exercise2_with_one_shard_the_simulator_refuses_writes():
    """The shard write limit (1 MB/s) is kept by the simulator, not only by the check's sums."""
    run = sc.keeps_up(1, 3)
    assert run.written < sc.KEEP_UP["rate"] * sc.KEEP_UP["seconds"]
    assert "ProvisionedThroughputExceededException" in lab06.stream_keeps_up(1, 3).message
