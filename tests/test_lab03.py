"""Lab 03 (Ordering): the scenarios behind its demos and widgets, and its checks, both ways."""

import itertools

import pytest

from esmlab.course.checks import lab03
from esmlab.course.scenarios import ordering
from esmlab.streams.poller import lane_of

# --- the scenarios -------------------------------------------------------------------------------


def test_fifo_one_group_per_customer_keeps_order_and_runs_the_groups_in_parallel():
    """services-sqs-scaling: order within a group; concurrency <= active groups (M12)."""
    result = ordering.fifo("customer")
    assert result.records == result.processed == 20  # conservation: every message deleted
    assert result.order_breaks() == []
    assert result.peak == 4 and result.finished == 5.0
    # one batch per group in flight: a group's invocations never overlap
    for group in result.lanes:
        spans = sorted({(d.start, d.end) for d in result.deliveries if d.lane == group})
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_fifo_one_group_is_serial_and_a_group_per_message_breaks_customer_order():
    single = ordering.fifo("queue")
    assert single.peak == 1 and single.finished == 20.0 and single.order_breaks() == []
    scattered = ordering.fifo("order")
    assert scattered.peak > 4 and scattered.finished < 5
    assert scattered.order_breaks()[0].startswith("alice #1 started at t = 2 s while alice #0")


def test_a_fifo_batch_may_mix_groups_but_keeps_each_group_in_order():
    result = ordering.fifo("customer", batch_size=10)
    assert result.order_breaks() == [] and result.processed == result.records
    mixed = [d.request_id for d in result.deliveries if d.size > 1]
    assert mixed, "with BatchSize 10 some batch should hold several messages"
    by_request = {}
    for d in result.deliveries:
        by_request.setdefault(d.request_id, set()).add(d.key)
    assert any(len(keys) > 1 for keys in by_request.values())


def test_kinesis_pf1_is_one_batch_per_shard_in_sequence_order():
    result = ordering.kinesis(pf=1)
    assert result.peak == 1 and result.processed == result.records == 16
    ordered = sorted(result.deliveries, key=lambda d: (d.start, d.position))
    assert [d.record for d in ordered] == sorted(d.record for d in ordered)  # E14, first delivery


def test_kinesis_pf4_keeps_order_per_key_and_runs_lanes_in_parallel():
    """with-kinesis: per-key order at PF > 1 (E11-E13); lanes are md5(key) mod PF (M2)."""
    result = ordering.kinesis(pf=4)
    assert result.order_breaks() == [] and result.processed == result.records
    for d in result.deliveries:
        assert d.lane == f"shard-0 lane {lane_of(d.key, 4)}"
    assert result.peak == len({lane_of(k, 4) for k in result.keys}) == 3
    together = result.concurrent_keys()
    assert frozenset(("alice", "dave")) in together
    assert frozenset(("bob", "carol")) not in together  # they share lane 0


def test_two_shards_at_pf1_run_two_batches_at_once():
    result = ordering.kinesis(shards=2)
    assert result.peak == 2 and {d.lane for d in result.deliveries} == {"shard-0 lane 0",
                                                                        "shard-1 lane 0"}


def test_a_hot_key_serialises_its_lane():
    result = ordering.kinesis(pf=4, keys=4, per_key=2, hot=12)
    hot_lane = f"shard-0 lane {lane_of(ordering.HOT, 4)}"
    assert {d.lane for d in result.deliveries if d.key == ordering.HOT} == {hot_lane}
    last = max(d.end for d in result.deliveries)
    assert max(d.end for d in result.deliveries if d.lane == hot_lane) == last
    others = [d.end for d in result.deliveries if d.lane != hot_lane]
    assert max(others) <= last - 3


def test_a_retry_redelivers_records_that_were_processed_fine():
    """with-kinesis: records processed again can arrive out of order (E14, E15)."""
    result = ordering.retries()
    first = [d for d in result.deliveries if d.request_id == result.deliveries[0].request_id]
    assert [d.outcome for d in first] == ["error"] * 4
    again = [d for d in result.deliveries if d.attempt > 1]
    assert {d.record for d in again} == {d.record for d in first}
    assert result.processed == result.records and result.order_breaks() == []
    bisected = ordering.retries(bisect=True)
    assert bisected.invocations == result.invocations + 1 and bisected.redeliveries == 4


def test_a_standard_queue_under_best_effort_reorders_and_duplicates_with_nothing_failing():
    """standard-queues: best-effort order, at least once; the rates are esmlab.BEST_EFFORT."""
    result = ordering.standard()
    assert result.failed == 0 and result.processed == result.records == 300  # nothing lost
    assert set(result.sent) == set(range(300))
    assert len(result.late()) == 16  # the lab's text: "16 delivered after a later-sent message"
    twice = sorted({result.sent[p] for p in result.duplicates()})
    assert twice == [67, 279] and result.copies == 2 == len(result.sent) - 300
    assert [result.receive_counts[p] for p in result.duplicates()] == [2, 2]  # a second receive
    behind = result.behind()
    assert all(behind[p] > 0 for p in result.late())
    assert sum(1 for b in behind if b) <= len(result.late()) + len(result.duplicates())


def test_a_standard_queue_without_best_effort_is_moto_exact_order():
    result = ordering.standard(best_effort=False)
    assert list(result.sent) == list(range(300))
    assert result.late() == [] and result.duplicates() == [] and result.copies == 0


def test_draw_standard_marks_late_and_duplicate_deliveries():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = ordering.draw_standard(ordering.standard())
    assert figure.get_figwidth() == 7.0
    top, bottom = figure.axes
    assert "16 delivered after a later-sent message, 2 delivered a second time" in (
        top.get_title())
    assert sorted(t.get_text() for t in bottom.texts) == ["#279 again", "#67 again"]
    plt.close("all")


def test_scenarios_reject_bad_arguments_by_name():
    with pytest.raises(ValueError, match="group_by must be one of"):
        ordering.fifo("customers")
    with pytest.raises(ValueError, match="pf must be a whole number from 1 to 10"):
        ordering.kinesis(pf=11)
    with pytest.raises(ValueError, match="batch_size"):
        ordering.fifo(batch_size=11)
    with pytest.raises(ValueError, match="handler must be a function"):
        ordering.retries(handler="no")
    with pytest.raises(ValueError, match="messages must be a whole number from 1 to 1000"):
        ordering.standard(messages=0)
    with pytest.raises(TypeError, match="best_effort must be True or False"):
        ordering.standard(best_effort="yes")


def test_the_widgets_slowest_settings_run():  # their speed: benchmarks/widgets.py
    ordering.fifo("customer")  # moto loaded
    for call in (lambda: ordering.fifo("order", customers=6, batch_size=2),
                 lambda: ordering.kinesis(pf=8, keys=8, shards=2, hot=16),
                 lambda: ordering.standard(seed=7, batch_size=1, best_effort=False)):
        call()


def test_draw_makes_one_row_per_lane(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = ordering.draw(ordering.kinesis(pf=4))
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"shard-0 lane {j}" for j in range(4)]
    assert ax.figure.get_figwidth() == 7.0  # the site's column, ~700 px
    plt.close("all")


# --- exercise 1 ----------------------------------------------------------------------------------


def test_ex1_passes_a_group_per_customer():
    assert lab03.group_design(lambda m: m["customer"])
    assert lab03.group_design(lambda m: "c-" + m["customer"])


def test_ex1_one_group_names_the_concurrency_limit():
    check = lab03.group_design(lambda m: "all")
    assert not check and "1 message group" in check.message and "20 s" in check.message
    assert "at most the number of active message groups" in check.message


def test_ex1_a_group_per_order_names_the_broken_order():
    check = lab03.group_design(lambda m: m["id"])
    assert not check and "alice #1 started" in check.message
    assert "Every order of one customer must share a group" in check.message


def test_ex1_too_few_groups_misses_the_target():
    check = lab03.group_design(lambda m: "x" if m["customer"] in ("alice", "bob") else "y")
    assert not check and "2 message groups" in check.message and "6 s" in check.message


def test_ex1_bad_answers_are_explained():
    assert "must be a function" in lab03.group_design("customer").message
    assert "returned 3" in lab03.group_design(lambda m: 3).message
    assert "raised KeyError" in lab03.group_design(lambda m: m["nope"]).message
    assert "not defined yet" in lab03.check_group_design({}).message


# --- exercise 2 ----------------------------------------------------------------------------------

KEYS = ("alice", "bob", "carol", "dave")


def test_ex2_passes_the_true_lanes_and_peak():
    lanes = {k: lane_of(k, 4) for k in KEYS}
    assert lab03.predicted_lanes(lanes, 3)
    assert lab03.check_predicted_lanes({"ex2_lanes": lanes, "ex2_peak": 3})


def test_ex2_a_lane_per_key_is_wrong_and_says_which_keys_share():
    check = lab03.predicted_lanes(dict(zip(KEYS, range(4), strict=True)), 4)
    assert not check and "md5(partition key) mod PF" in check.message
    assert "bob, carol share a lane" in check.message and "MODELLING CHOICE" in check.message


def test_ex2_pf_is_not_the_peak():
    check = lab03.predicted_lanes({k: lane_of(k, 4) for k in KEYS}, 4)
    assert not check and "at most 3 invocations at once" in check.message
    assert "only 3 of the 4 lanes" in check.message


def test_ex2_bad_shapes_are_explained():
    assert "exactly the keys" in lab03.predicted_lanes([0, 1, 2, 3], 3).message
    assert "exactly the keys" in lab03.predicted_lanes({"alice": 0}, 3).message
    assert not lab03.predicted_lanes({k: lane_of(k, 4) for k in KEYS}, True)


# --- exercise 3 ----------------------------------------------------------------------------------


def per_key_detector():
    highest = {}

    def handler(event, context):
        out = []
        for record in event["Records"]:
            key, number = record["kinesis"]["partitionKey"], int(record["kinesis"]["sequenceNumber"])
            if number <= highest.get(key, -1):
                out.append(record["eventID"])
            else:
                highest[key] = number
        return {"redelivered": out}

    return handler


def event_id_detector():
    seen = set()

    def handler(event, context):
        out = [r["eventID"] for r in event["Records"] if r["eventID"] in seen]
        seen.update(r["eventID"] for r in event["Records"])
        return {"redelivered": out}

    return handler


def per_shard_detector():
    last = [-1]

    def handler(event, context):
        out = []
        for record in event["Records"]:
            number = int(record["kinesis"]["sequenceNumber"])
            if number <= last[0]:
                out.append(record["eventID"])
            else:
                last[0] = number
        return {"redelivered": out}

    return handler


def test_ex3_passes_per_key_sequence_numbers_and_event_ids():
    assert lab03.redelivery_detector(per_key_detector)
    assert lab03.redelivery_detector(event_id_detector)
    assert lab03.check_redelivery_detector({"ex3_make_handler": per_key_detector})


def test_ex3_one_highest_number_per_shard_flags_other_keys_at_pf2():
    check = lab03.redelivery_detector(per_shard_detector)
    assert not check and "which it had never seen" in check.message
    assert "order is per partition key, not per shard" in check.message


def test_ex3_flagging_nothing_misses_the_retry():
    check = lab03.redelivery_detector(lambda: (lambda event, context: {"redelivered": []}))
    assert not check and "missed 4 redelivered record(s)" in check.message


def test_ex3_bad_handlers_are_explained():
    assert "must return" in lab03.redelivery_detector(lambda: (lambda e, c: None)).message
    assert "raised KeyError" in lab03.redelivery_detector(
        lambda: (lambda e, c: e["Records"][0]["nope"])).message
    assert "not a handler" in lab03.redelivery_detector(lambda: 5).message
    assert "must be a function" in lab03.redelivery_detector(5).message
