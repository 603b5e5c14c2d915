"""Lab 05 (Errors with streams): the scenarios behind its demos and widgets, and its checks, both
ways."""

import json
import re

import pytest

from esmlab.course.checks import lab05
from esmlab.course.scenarios import stream_errors as se

QUEUE = {"OnFailure": {"Destination": se.FAILURE_QUEUE_ARN}}

# --- the scenarios -------------------------------------------------------------------------------


def test_with_the_defaults_a_poison_record_blocks_only_its_shard():
    """kinesis-on-failure-destination: retried until it expires (E21, E26); other shards go on."""
    run = se.blocked()
    assert run.discards == () and run.messages == ()  # a destination gets only discarded batches
    assert run.checkpoints[0][-1][1] == se.POISON  # shard 0 never passed the poison record
    assert run.checkpoints[1][-1][1] == len(run.written[1])  # shard 1 finished everything
    assert len(run.calls_with(se.POISON)) > 10  # retried, not "in an error state"
    ages = [age for t, age in run.ages[0] if t > 30]
    assert ages == sorted(ages) and ages[-1] > 120  # IteratorAge grows with the clock
    assert max(age for _, age in run.ages[1]) <= 1.0
    assert run.lost == () and run.fates["in_flight"] > 0
    assert run.blocked_for(0) > run.until - 20  # from the poison record's first failure on


def test_a_retry_limit_discards_the_batch_and_unblocks_the_shard():
    run = se.blocked(max_retries=2)
    assert len(run.calls_with(se.POISON)) == 3  # 1 + MaximumRetryAttempts
    (gone,) = run.discards
    assert (gone.records, gone.condition, gone.invocations, gone.delivered) == (
        (se.POISON,), "RetryAttemptsExhausted", 3, True)
    (message,) = run.messages
    assert message["requestContext"]["approximateInvokeCount"] == 3
    assert message["responseContext"]["functionError"] == "Unhandled"
    assert run.blocked_for(0) < 10 and run.fates == {"destination": 1, "processed": 59}


def test_an_age_limit_discards_every_record_that_is_too_old():
    """The recorded 8 invocations before a 60 s age limit (M5); fresh records still go on."""
    run = se.blocked(max_age=60)
    poison = next(d for d in run.discards if se.POISON in d.records)
    assert (poison.condition, poison.invocations) == ("RecordAgeExceeded", 8)
    waited = [n for d in run.discards for n in d.records if n != se.POISON]
    assert waited == [se.POISON + 1]  # a good record that waited behind it
    assert all("responseContext" not in m for m in run.messages)  # RecordAgeExceeded
    assert run.processed[(0, se.POISON + 2)] == 1


def test_bisect_isolates_the_bad_record_without_using_retries():
    """M1: ceil(n/2), first half first; only the batch of one uses retries (E23, E27, E28)."""
    run = se.bisect()
    assert [list(c.records) for c in run.calls] == [
        [0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], [5], [5], [6, 7]]
    assert [(list(b[2]), list(b[3])) for b in run.bisects] == [
        ([0, 1, 2, 3], [4, 5, 6, 7]), ([4, 5], [6, 7]), ([4], [5])]
    (gone,) = run.discards
    assert (gone.records, gone.invocations, gone.delivered) == ((5,), 2, True)
    assert {n: run.processed.get((0, n)) for n in range(8) if n != 5} == dict.fromkeys(
        (0, 1, 2, 3, 4, 6, 7), 1)
    assert run.messages[0]["KinesisBatchInfo"]["batchSize"] == 1


def test_without_bisect_the_whole_batch_is_discarded():
    run = se.bisect(bisect=False)
    assert run.invocations == 2 and run.discards[0].records == tuple(range(8))
    assert run.fates == {"destination": 8}


def test_a_partial_response_moves_the_checkpoint_and_is_never_halved():
    """services-kinesis-batchfailurereporting: records before the lowest reported one are done."""
    run = se.bisect(report=True)
    assert [(list(c.records), c.outcome) for c in run.calls] == [
        (list(range(8)), "partial"), ([5, 6, 7], "partial"), ([5, 6, 7], "partial")]
    assert run.bisects == ()
    assert all(run.processed[(0, n)] == 1 for n in range(5))
    assert run.discards[0].records == (5, 6, 7) and run.discards[0].invocations == 2
    assert run.messages[0]["responseContext"]["functionError"] is None


def test_each_destination_receives_the_failure_record_and_only_s3_the_payload():
    """kinesis-on-failure-destination (E24, E25)."""
    sqs = se.destination("sqs")["received"]
    assert list(sqs) == ["requestContext", "responseContext", "version", "timestamp",
                         "KinesisBatchInfo"]
    assert sqs["KinesisBatchInfo"]["batchSize"] == 4
    sns = se.destination("sns")["received"]
    assert sns["Type"] == "Notification" and json.loads(sns["Message"]) == sqs
    s3 = se.destination("s3")
    assert {k: v for k, v in s3["received"].items() if k != "payload"} == sqs
    assert len(s3["received"]["payload"]["Records"]) == 4
    assert re.fullmatch(r"aws/lambda/[0-9a-f-]{36}/shardId-000000000000/2025/01/01/"
                        r"2025-01-01T00\.00\.02-[0-9a-f-]{36}", s3["key"])


def test_replay_gives_the_learner_a_real_kinesis_client_and_the_sqs_message():
    seen = {}

    def fetch(kinesis, message):
        seen["shards"] = [s["ShardId"] for s in kinesis.list_shards(
            StreamName=se.STREAM)["Shards"]]
        return []

    result = se.replay(fetch)
    info = result.message["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-000000000001" and info["batchSize"] == 4
    assert result.expected[0] == info["startSequenceNumber"]
    assert result.expected[-1] == info["endSequenceNumber"] and len(result.expected) == 4
    assert seen["shards"] == ["shardId-000000000000", "shardId-000000000001"]


def test_scenarios_reject_bad_arguments_by_name():
    with pytest.raises(ValueError, match="max_retries must be a whole number from -1"):
        se.blocked(max_retries=-2)
    with pytest.raises(ValueError, match="max_age must be a whole number from 60"):
        se.blocked(max_age=30)
    with pytest.raises(ValueError, match="bad must list record numbers from 0 to 7"):
        se.bisect(bad=(8,))
    with pytest.raises(ValueError, match="kind must be one of"):
        se.destination("kafka")
    with pytest.raises(ValueError, match="config may set only"):
        se.poison({"BatchSize": 1})
    with pytest.raises(TypeError, match="fetch must be a function"):
        se.replay("no")


def test_the_widgets_slowest_settings_run():  # their speed: benchmarks/widgets.py
    se.bisect()  # moto loaded
    for call in (lambda: se.blocked(max_retries=5, max_age=120, bisect=True),
                 lambda: se.bisect(batch_size=16, bad=(3,), max_retries=3)):
        call()


def test_the_pictures_are_drawn_from_the_run(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = se.bisect()
    figure = se.draw_bisect(run)
    labels = [t.get_text() for t in figure.axes[0].texts]
    assert [x for x in labels if x.startswith("#")] == [
        f"#{c.number}  t = {c.start:g} s" for c in run.calls]
    assert "error: split in two" in labels and "error: discarded" in labels
    assert figure.get_figwidth() == 7.0  # the site's column, ~700 px
    figure = se.draw_blocked(se.blocked(max_retries=2))
    assert len(figure.axes) == 2 and figure.axes[1].get_ylabel() == "IteratorAge (s)"
    plt.close("all")


# --- exercise 1 ----------------------------------------------------------------------------------


def test_ex1_passes_bisect_a_small_retry_limit_and_the_queue():
    for retries in (0, 1):
        config = {"BisectBatchOnFunctionError": True, "MaximumRetryAttempts": retries,
                  "DestinationConfig": QUEUE}
        assert lab05.poison_budget(config)
    assert lab05.check_poison_budget({"ex1_config": config})


def test_ex1_without_bisect_names_the_discarded_good_records():
    check = lab05.poison_budget({"MaximumRetryAttempts": 0, "DestinationConfig": QUEUE})
    assert not check and "records 0, 1, 2, 3, 4, 6, 7, which were fine" in check.message
    assert "Turn on BisectBatchOnFunctionError" in check.message


def test_ex1_bisect_without_a_retry_limit_never_ends():
    check = lab05.poison_budget({"BisectBatchOnFunctionError": True, "DestinationConfig": QUEUE})
    assert not check and "still being retried" in check.message
    assert "there is no split count" in check.message and "1 (x51)" in check.message


def test_ex1_too_many_retries_gives_the_count():
    check = lab05.poison_budget({"BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 3,
                                 "DestinationConfig": QUEUE})
    assert not check and "7 invocations" in check.message
    assert "Lower MaximumRetryAttempts to 1 or less" in check.message


def test_ex1_no_destination_and_age_limits_are_explained():
    check = lab05.poison_budget({"BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 1})
    assert not check and "no destination received it" in check.message
    check = lab05.poison_budget({"BisectBatchOnFunctionError": True,
                                 "MaximumRecordAgeInSeconds": 60, "DestinationConfig": QUEUE})
    assert not check and "older than MaximumRecordAgeInSeconds too" in check.message
    check = lab05.poison_budget({"MaximumRecordAgeInSeconds": 30})
    assert not check and "greater than or equal to 60" in check.message


def test_ex1_bad_answers_are_explained():
    assert "config may set only" in lab05.poison_budget({"BatchSize": 1}).message
    assert "must be a dict" in lab05.poison_budget("x").message
    assert "not defined yet" in lab05.check_poison_budget({}).message


# --- exercise 2 ----------------------------------------------------------------------------------


def reader(kind="AT_SEQUENCE_NUMBER", limit=True, shard=None):
    def fetch(kinesis, message):
        info = message["KinesisBatchInfo"]
        where = {} if kind == "TRIM_HORIZON" else {
            "StartingSequenceNumber": info["startSequenceNumber"]}
        iterator = kinesis.get_shard_iterator(
            StreamName=se.STREAM, ShardId=shard or info["shardId"], ShardIteratorType=kind,
            **where)["ShardIterator"]
        extra = {"Limit": info["batchSize"]} if limit else {}
        return kinesis.get_records(ShardIterator=iterator, **extra)["Records"]

    return fetch


def test_ex2_passes_at_sequence_number_with_the_batch_size():
    assert lab05.replayed_records(reader())
    assert lab05.check_replayed_records({"ex2_fetch": reader()})


def test_ex2_names_each_wrong_iterator():
    check = lab05.replayed_records(reader("AFTER_SEQUENCE_NUMBER"))
    assert not check and "Use AT_SEQUENCE_NUMBER" in check.message
    check = lab05.replayed_records(reader("TRIM_HORIZON", limit=False))
    assert not check and "4 records before startSequenceNumber" in check.message
    check = lab05.replayed_records(reader(limit=False))
    assert not check and "4 records after endSequenceNumber" in check.message
    check = lab05.replayed_records(reader(shard="shardId-000000000000"))
    assert not check and "KinesisBatchInfo.shardId" in check.message


def test_ex2_bad_functions_are_explained():
    assert "raised KeyError" in lab05.replayed_records(lambda k, m: m["Records"]).message
    assert "return the list of records" in lab05.replayed_records(lambda k, m: None).message
    assert "must be a function" in lab05.replayed_records(5).message


# --- exercise 3 ----------------------------------------------------------------------------------

TRUTH = [[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], [0, 1], [2, 3], [2], [2], [2], [3],
         [4, 5, 6, 7]]


def test_ex3_passes_the_run():
    assert lab05.predicted_bisect(TRUTH)
    assert lab05.check_predicted_bisect({"ex3_batches": TRUTH})


def test_ex3_forgetting_the_retries():
    check = lab05.predicted_bisect(TRUTH[:5] + TRUTH[7:])
    assert not check and "1 + 2 invocations" in check.message


def test_ex3_stopping_after_two_splits():
    check = lab05.predicted_bisect(TRUTH[:4])
    assert not check and "There is no split count" in check.message


def test_ex3_second_half_first_or_a_known_bad_half():
    check = lab05.predicted_bisect(TRUTH[:1] + [[4, 5, 6, 7]] + TRUTH[1:-1])
    assert not check and "finishes before the second half starts" in check.message
    check = lab05.predicted_bisect(TRUTH[:2] + TRUTH[3:])
    assert not check and "Lambda does not know which record is bad" in check.message


def test_ex3_bad_shapes_are_explained():
    assert "must be a list of lists" in lab05.predicted_bisect("x").message
    assert "goes on with [5]" in lab05.predicted_bisect(TRUTH + [[5]]).message
