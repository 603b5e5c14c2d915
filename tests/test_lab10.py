"""Lab 10 (Choosing a source): the scenarios behind its demos, the scoring, and its checks, both
ways."""


import pytest

from esmlab.course.checks import lab10
from esmlab.course.scenarios import choosing
from esmlab.course.scenarios.choosing import Choice

GOOD_PAYMENTS = Choice("kinesis", pf=4, retries=1, dlq=True)
GOOD_AUDIT = Choice("dynamodb", retries=1, dlq=True)


def verdicts(score) -> dict:
    return {v.requirement.split(" ")[0]: v.met for v in score.verdicts}


# --- the runs ------------------------------------------------------------------------------------


def test_a_good_choice_meets_everything_and_accounts_for_every_record():
    score = choosing.score("payments", GOOD_PAYMENTS)
    assert score.passed, str(score)
    run = score.result
    assert run.conserved
    fates = [r.fate for r in run.records]
    assert fates.count("processed") == 47 and fates.count("dlq") == 1  # the poison record
    poison = next(r for r in run.records if r.poison)
    # 3: a partial response that made progress starts a fresh retry budget (docs/simulator.md,
    # "Partial batch responses"), then MaximumRetryAttempts 1
    assert len(poison.deliveries) == 3
    assert max(run.latencies()) <= 12.0
    assert run.order_breaks() == []


def test_pf1_cannot_keep_up_and_the_message_says_how_many_batches_run_at_once():
    score = choosing.score("payments", Choice("kinesis", retries=1, dlq=True))
    latency = score.verdicts[0]
    assert not latency.met and score.result.peak == 1
    assert "at most 1 invocation ran at once" in latency.why
    assert "shards x ParallelizationFactor = 1" in latency.why


def test_default_stream_retries_block_the_shard_and_keep_the_record_nowhere():
    """kinesis-on-failure-destination: retries until expiry; a shard waits (E21, E26)."""
    score = choosing.score("payments", Choice("kinesis", pf=4))
    assert verdicts(score) == {"latency": False, "order": True, "nothing": False}
    assert "still waiting" in score.verdicts[0].why
    poison = next(r for r in score.result.records if r.poison)
    assert poison.fate == "waiting" and len(poison.deliveries) > 3


def test_retries_without_a_destination_drop_the_record():
    score = choosing.score("payments", Choice("kinesis", pf=4, retries=1))
    assert verdicts(score)["nothing"] is False
    assert next(r for r in score.result.records if r.poison).fate == "dropped"
    assert "only an on-failure destination keeps" in score.verdicts[-1].why


def test_a_standard_queue_fails_order_by_what_aws_promises_not_by_this_run():
    score = choosing.score("payments", Choice("sqs", dlq=True))
    order = score.verdicts[1]
    assert not order.met and choosing.STANDARD in order.why
    assert "esmlab does not reorder" in order.why or "In this run" in order.why


def test_a_fifo_group_per_customer_keeps_order_but_the_poison_holds_its_group_back():
    slow = choosing.score("payments", Choice("sqs-fifo", dlq=True))
    assert verdicts(slow) == {"latency": False, "order": True, "nothing": True}
    assert "alice's records waited" in slow.verdicts[0].why
    quick = choosing.score("payments", Choice("sqs-fifo", dlq=True, max_receive_count=1,
                                               visibility_timeout=5))
    assert quick.passed, str(quick)
    assert next(r for r in quick.result.records if r.poison).fate == "dlq"


def test_a_batching_window_on_top_of_retries_is_named_as_what_held_the_key_back():
    score = choosing.score("payments", Choice("kinesis", pf=4, retries=1, dlq=True, window=5))
    latency = score.verdicts[0]
    assert not latency.met and "alice's records waited" in latency.why
    assert "up to 1 retry," in latency.why and "batching window adds up to 5 s" in latency.why


def test_a_key_per_event_gives_up_per_customer_order():
    score = choosing.score("payments", Choice("kinesis", key="event", pf=4, retries=1, dlq=True))
    assert verdicts(score)["order"] is False
    assert "key='event'" in score.verdicts[1].why


def test_only_dynamodb_streams_reacts_to_table_changes_and_sqs_cannot_replay():
    audit = choosing.score("audit", GOOD_AUDIT)
    assert audit.passed, str(audit)
    fifo = choosing.score("audit", Choice("sqs-fifo", dlq=True, max_receive_count=1,
                                          visibility_timeout=5))
    assert verdicts(fifo)["replay"] is False and verdicts(fifo)["react"] is False
    kinesis = choosing.score("audit", Choice("kinesis", retries=1, dlq=True))
    assert verdicts(kinesis) == {"latency": True, "order": True, "nothing": True, "replay": True,
                                 "react": False}
    assert choosing.KDS_FOR_DDB in kinesis.verdicts[-1].why


def test_replay_depends_on_retention():
    short = choosing.score(lab10.CLICKSTREAM, Choice("kinesis", key="event", shards=2, pf=4,
                                                     retries=1, dlq=True))
    assert verdicts(short)["replay"] is False
    long = choosing.score(lab10.CLICKSTREAM, Choice("kinesis", key="event", shards=2, pf=4,
                                                    retries=1, dlq=True, retention_hours=72))
    assert long.passed, str(long)


def test_the_simple_tree_picks_a_source_and_breaks_requirements_everywhere():
    for name in choosing.SCENARIOS:
        score = choosing.score(name, choosing.simple_tree(name))
        assert not score.passed, name
        assert any(v.requirement == "nothing lost" for v in score.broken), name
    assert choosing.simple_tree("payments") == Choice("kinesis")
    assert choosing.simple_tree("audit") == Choice("dynamodb")
    assert choosing.simple_tree("thumbnails") == Choice("sqs")


def test_cost_is_a_formula_of_the_prices_you_give():
    run = choosing.run("thumbnails", Choice("sqs", dlq=True))
    prices = {"lambda_per_million_requests": 2.0, "sqs_per_million_requests": 3.0}
    bill = choosing.cost(run, prices)
    requests = sum(run.sqs_requests.values())
    assert run.sqs_requests["sends"] == 48 and run.sqs_requests["receives"] > 0
    assert bill["sqs requests"] == (requests, 3.0, requests / 1e6 * 3.0)
    assert bill["total"] == pytest.approx(run.invocations / 1e6 * 2.0 + requests / 1e6 * 3.0)
    doubled = choosing.cost(run, {k: 2 * v for k, v in prices.items()})
    assert doubled["total"] == pytest.approx(2 * bill["total"])
    stream = choosing.run("payments", GOOD_PAYMENTS)
    assert "kinesis shard hours" in choosing.cost(stream, {"kinesis_per_shard_hour": 1.0})
    with pytest.raises(ValueError, match="prices must be a dict with keys from"):
        choosing.cost(run, {"sqs": 1})
    with pytest.raises(ValueError, match=r"prices\['sqs_per_million_requests'\] must be a number"):
        choosing.cost(run, {"sqs_per_million_requests": -1})


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="source must be one of"):
        Choice("sns")
    with pytest.raises(ValueError, match="batch_size must be a whole number from 1 to 10,"):
        Choice("sqs-fifo", batch_size=20)
    with pytest.raises(ValueError, match="visibility_timeout must be a whole number from 5"):
        Choice("sqs", visibility_timeout=2)
    with pytest.raises(TypeError, match="dlq must be True or False"):
        Choice("sqs", dlq="yes")
    with pytest.raises(ValueError, match="scenario must be one of"):
        choosing.score("nope", Choice("sqs"))
    with pytest.raises(ValueError, match="unknown Choice fields"):
        choosing.run("payments", Choice("sqs"), colour="red")


def test_the_widgets_settings_score():  # their speed: benchmarks/widgets.py
    choosing.run("payments", Choice("sqs"))  # moto loaded
    for changes in ({"source": "kinesis", "pf": 2}, {"source": "sqs-fifo", "dlq": True},
                    {"source": "dynamodb", "retries": 2}):
        assert choosing.score("payments", **changes) is not None, changes


def test_the_picture_is_drawn_at_the_site_width():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = choosing.draw(choosing.score("payments", Choice("kinesis")))
    assert ax.figure.get_figwidth() == 7.0
    labels = [t.get_text() for t in ax.figure.legends[0].get_texts()]
    assert "failing record: still in the source" in labels and any(t.startswith("never processed")
                                                       for t in labels)
    plt.close("all")


# --- the checks, both ways -----------------------------------------------------------------------


def test_exercise_1_passes_a_good_choice_and_explains_a_bad_one():
    assert lab10.payments_choice(GOOD_PAYMENTS)
    bad = lab10.payments_choice(Choice("sqs"))
    assert not bad and "breaks 2 of 3 requirements" in bad.message
    assert "standard queue promises no order" in bad.message and "dlq=True" in bad.message
    assert "must be a choosing.Choice" in lab10.payments_choice({"source": "kinesis"}).message
    assert "not defined" in lab10.check_payments_choice({}).message


def test_exercise_2_wants_the_table_s_own_stream():
    assert lab10.audit_choice(GOOD_AUDIT)
    bad = lab10.audit_choice(Choice("kinesis", retries=1, dlq=True))
    assert not bad and "react to table changes" in bad.message


def test_exercise_3_runs_the_function_on_a_scenario_it_has_not_seen():
    def decide(s):
        if s.table_changes:
            return GOOD_AUDIT
        if s.order:
            return GOOD_PAYMENTS
        return Choice("sqs", dlq=True)  # no replay: fails the unseen clickstream

    result = lab10.decision_function(decide)
    assert not result and "clickstream" in result.message and "replay" in result.message
    assert "a scenario you have not seen" in result.message
    tree = lab10.decision_function(choosing.simple_tree)
    assert not tree and "fails 4 of 4 scenarios" in tree.message

    def raises(s):
        raise KeyError("order")

    assert "raised KeyError" in lab10.decision_function(raises).message
    assert "not a choosing.Choice" in lab10.decision_function(lambda s: "kinesis").message
