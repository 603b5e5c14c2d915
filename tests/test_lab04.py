"""Lab 04 (Errors with SQS): the scenarios behind its demos and widgets, and its checks, both ways."""

import json

import pytest

from esmlab.course.checks import lab04
from esmlab.course.scenarios import sqs_errors

# --- the scenarios -------------------------------------------------------------------------------


def test_a_failed_batch_comes_back_when_its_visibility_timeout_ends_and_is_redriven():
    """services-sqs-errorhandling: nothing deleted, back after the VT (E16); the queue's
    maxReceiveCount decides the DLQ (E19); without RBIF the good ones fail too (E20)."""
    result = sqs_errors.life()
    assert result.conserved
    for life in result.lives:
        assert life.receives == (2.0, 12.0, 22.0)  # one VT after each receive, not after the failure
        assert life.fate == "redriven" and life.ended == 32.0  # the receive after the third
    assert [d.receive_count for d in result.deliveries_of(0)] == [1, 2, 3]
    assert all(d.failed for d in result.deliveries)
    assert all(d.end == d.start + 1 for d in result.deliveries)  # failed at 3 s, back at 12 s


def test_with_rbif_only_the_reported_message_comes_back():
    """services-sqs-errorhandling: only the listed messages stay in the queue (E18)."""
    result = sqs_errors.life(report=True, respond="report")
    assert [life.receive_count for life in result.lives] == [1, 3, 1]
    assert [life.fate for life in result.lives] == ["deleted", "redriven", "deleted"]
    assert result.conserved


def test_without_rbif_a_partial_response_is_ignored_and_everything_is_deleted():
    result = sqs_errors.life(report=False, respond="report")
    assert result.invocations == 1
    assert [life.fate for life in result.lives] == ["deleted"] * 3


def test_without_a_dlq_retention_ends_the_retries():
    """SetQueueAttributes: retention 60 s to 14 days (E17)."""
    result = sqs_errors.life(max_receive_count=None, retention=60)
    assert [life.fate for life in result.lives] == ["expired"] * 3
    assert {life.ended for life in result.lives} == {62.0}  # sent at 2 s, 60 s of retention
    assert [life.receive_count for life in result.lives] == [6, 6, 6]
    assert result.conserved


def test_a_fifo_failure_holds_back_its_group_only():
    """services-sqs-scaling: retries finish before more messages of the group are taken (E20)."""
    result = sqs_errors.life(fifo=True, messages=6, groups=2, poison=(0,), poison_fails=1,
                             batch_size=1)
    assert [life.group for life in result.lives[:2]] == ["group-0", "group-1"]
    first = {life.number: min(d.start for d in result.deliveries_of(life.number))
             for life in result.lives}
    assert first[1] == 2.0 and first[3] < 12.0 and first[5] < 12.0  # group-1 goes on
    assert first[2] > 12.0 and first[4] > first[2]  # group-0 waits for #0's retry at 12 s
    assert all(life.fate == "deleted" for life in result.lives)


def test_a_batch_that_outlives_its_visibility_timeout_is_delivered_twice():
    """A 20 s window and a 20 s function under a 30 s VT: received again while it runs; the first
    delete uses a stale receipt handle and deletes nothing (DeleteMessage)."""
    result = sqs_errors.life(messages=1, poison=(), visibility_timeout=30, timeout=25,
                             duration=20, window=20, max_receive_count=4)
    first, second = result.deliveries
    assert (first.start, first.end, first.receive_count, first.stale) == (22.0, 42.0, 1, True)
    assert second.start == 32.0 and second.receive_count == 2 and not second.stale
    assert result.lives[0].fate == "deleted" and result.conserved


def test_every_row_of_the_partial_response_table():
    rows = {r.response: r for r in sqs_errors.partial_responses()}
    for success in ("returns None", "{}", "[]", '{"batchItemFailures": []}',
                    '{"batchItemFailures": None}', '"ok" (a string)'):
        assert rows[success].back == () and rows[success].outcome == "success", success
    assert rows["the failed message's messageId"].back == (1,)
    assert rows["the failed message's messageId"].outcome == "partial"
    for whole in ('itemIdentifier ""', "itemIdentifier None",
                  'an entry without itemIdentifier ({"foo": ...})',
                  "an id that is not in the batch", "a bare list of ids (no itemIdentifier objects)",
                  '{"batchItemFailures": "x"}'):
        assert rows[whole].back == (0, 1, 2) and rows[whole].outcome == "invalid_response", whole
    assert rows["a set (cannot be serialised to JSON)"].outcome == "error"
    assert all("MODELLING CHOICE" in r.source for r in rows.values()
               if r.response in ('"ok" (a string)', '{"batchItemFailures": "x"}'))
    ignored = sqs_errors.partial_responses(report=False)
    assert all(r.back == () for r in ignored if r.outcome == "success")
    assert [r.outcome for r in ignored].count("error") == 1


def test_scenarios_reject_bad_arguments_by_name():
    with pytest.raises(ValueError, match="messages must be a whole number from 1 to 10"):
        sqs_errors.life(messages=11)
    with pytest.raises(ValueError, match="retention must be a whole number from 60"):
        sqs_errors.life(retention=59)
    with pytest.raises(ValueError, match="respond must be 'raise' or 'report'"):
        sqs_errors.life(respond="ignore")
    with pytest.raises(ValueError, match="handler must be a function"):
        sqs_errors.life(handler="no")
    with pytest.raises(ValueError, match="bodies must be a list of strings"):
        sqs_errors.life(bodies=[1, 2])
    with pytest.raises(TypeError, match=r"poison must be a tuple of message numbers \(0 to 2\)"):
        sqs_errors.life(poison=1)
    with pytest.raises(ValueError, match="duration must be a number > 0"):
        sqs_errors.life(duration=0)


def test_the_widgets_settings_run():  # their speed: benchmarks/widgets.py
    sqs_errors.life(messages=2)
    for kwargs in ({"visibility_timeout": 30, "max_receive_count": 5, "batch_size": 1},
                   {"visibility_timeout": 5, "report": True, "respond": "report"}):
        sqs_errors.life(**kwargs)


def test_draw_makes_one_row_per_message_and_a_receive_count_panel():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = sqs_errors.draw(sqs_errors.life(fifo=True, messages=4, groups=2, batch_size=1))
    timeline, counts = figure.axes
    assert [t.get_text() for t in timeline.get_yticklabels()] == [
        "#0 group-0", "#1 group-1 poison", "#2 group-0", "#3 group-1"]
    assert [round(p.get_width()) for p in counts.patches] == [1, 3, 1, 1]
    assert figure.get_figwidth() == 7.0  # the site's column, ~700 px
    plt.close("all")


# --- exercise 1 ----------------------------------------------------------------------------------


def redrive(count, arn=lab04.DLQ_ARN):
    return {"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn,
                                         "maxReceiveCount": str(count)})}


RBIF = {"FunctionResponseTypes": ["ReportBatchItemFailures"]}


def test_ex1_passes_a_redrive_policy_of_4_and_rbif():
    assert lab04.poison_to_dlq(redrive(4), RBIF)
    assert lab04.check_poison_to_dlq({"ex1_queue_attributes": {**redrive(4),
                                                               "VisibilityTimeout": "20"},
                                      "ex1_mapping": RBIF})


def test_ex1_without_rbif_says_the_response_was_ignored():
    check = lab04.poison_to_dlq(redrive(4), {})
    assert not check and "Lambda ignored the response" in check.message


def test_ex1_off_by_one_names_the_rule():
    check = lab04.poison_to_dlq(redrive(3), RBIF)
    assert not check and "delivered 3 times" in check.message
    assert "exceeds maxReceiveCount" in check.message and "set it to 4" in check.message


def test_ex1_no_redrive_policy_says_the_dlq_belongs_to_the_queue():
    check = lab04.poison_to_dlq({}, RBIF)
    assert not check and "not of the function or the mapping" in check.message
    assert "retention period" in check.message


def test_ex1_stream_parameters_are_named_as_such():
    check = lab04.poison_to_dlq(redrive(4), {**RBIF, "MaximumRetryAttempts": 3})
    assert not check and "stream settings" in check.message and "RedrivePolicy" in check.message


def test_ex1_bad_shapes_are_explained():
    assert "JSON string" in lab04.poison_to_dlq({"RedrivePolicy": "nope"}, RBIF).message
    assert "lab04.DLQ_ARN" in lab04.poison_to_dlq(redrive(4, "arn:aws:sqs:x"), RBIF).message
    assert "must be a dict" in lab04.poison_to_dlq([], RBIF).message
    slow = lab04.poison_to_dlq({**redrive(4), "VisibilityTimeout": "43200"}, RBIF)
    assert "leave VisibilityTimeout out" in slow.message
    rejected = lab04.poison_to_dlq(redrive(4), {**RBIF, "BatchSize": 11})
    assert "InvalidParameterValueException: Maximum batch window" in rejected.message
    assert "not defined yet" in lab04.check_poison_to_dlq({}).message


# --- exercise 2 ----------------------------------------------------------------------------------


def good_handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            amount = json.loads(record["body"])["amount"]
            ok = isinstance(amount, (int, float)) and not isinstance(amount, bool) and amount >= 0
        except (ValueError, TypeError, KeyError):
            ok = False
        if not ok:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def test_ex2_passes_exactly_the_bad_messages():
    check = lab04.partial_handler(good_handler)
    assert check and "Only #1, #4, #6 came back" in check.message


def test_ex2_raising_fails_the_whole_batch():
    def raises(event, context):
        for record in event["Records"]:
            json.loads(record["body"])

    check = lab04.partial_handler(raises)
    assert not check and "An exception fails the whole batch" in check.message


def test_ex2_bare_ids_and_receipt_handles_fail_the_whole_batch():
    def bare(event, context):
        return {"batchItemFailures": [f["itemIdentifier"]
                                      for f in good_handler(event, context)["batchItemFailures"]]}

    def handles(event, context):
        bad = {f["itemIdentifier"] for f in good_handler(event, context)["batchItemFailures"]}
        return {"batchItemFailures": [{"itemIdentifier": r["receiptHandle"]}
                                      for r in event["Records"] if r["messageId"] in bad]}

    for handler in (bare, handles):
        check = lab04.partial_handler(handler)
        assert not check and "failure of the whole batch" in check.message


def test_ex2_missing_and_extra_failures_are_named():
    def json_only(event, context):
        out = []
        for record in event["Records"]:
            try:
                json.loads(record["body"])
            except ValueError:
                out.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": out}

    check = lab04.partial_handler(json_only)
    assert not check and "Message #4" in check.message and "it is gone" in check.message

    def everything(event, context):
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    check = lab04.partial_handler(everything)
    assert not check and "which is a good order" in check.message
    assert "must be a function" in lab04.partial_handler(5).message


# --- exercise 3 ----------------------------------------------------------------------------------


def test_ex3_passes_six_times_the_timeout_plus_the_window():
    assert lab04.visibility_timeout(200) and lab04.visibility_timeout(900)
    assert lab04.visibility_timeout(43_200)  # the longest: still a short run


def test_ex3_too_small_values_teach_the_rule_and_show_duplicates():
    check = lab04.visibility_timeout(35)
    assert not check and "6 x 30 + 20 = 200 s" in check.message
    assert "delivered 2 times" in check.message and "stale receipt handle" in check.message
    check = lab04.visibility_timeout(180)
    assert not check and "delivered 1 time" in check.message  # 6x without the window


def test_ex3_below_the_function_timeout_is_rejected():
    check = lab04.visibility_timeout(10)
    assert not check and "cannot even be created" in check.message
    assert "InvalidParameterValueException" in check.message


def test_ex3_bad_values_are_explained():
    assert "whole number" in lab04.visibility_timeout("200").message
    assert "43,200" in lab04.visibility_timeout(50_000).message
    assert "not defined yet" in lab04.check_visibility_timeout({}).message


# --- exercise 4 ----------------------------------------------------------------------------------


def counting(key):
    def make(store):
        seen = set()

        def handler(event, context):
            for record in event["Records"]:
                if key is not None and record[key] in seen:
                    continue
                if key is not None:
                    seen.add(record[key])
                store["balance"] = store.get("balance", 0) + json.loads(record["body"])["amount"]

        return handler

    return make


def test_ex4_passes_a_messageid_key():
    check = lab04.idempotent_handler(counting("messageId"))
    assert check and "the duplicates changed nothing" in check.message
    assert lab04.check_idempotent_handler({"ex4_make_handler": counting("messageId")})


def test_ex4_counting_twice_or_by_receipt_handle_fails():
    for make in (counting(None), counting("receiptHandle")):
        check = lab04.idempotent_handler(make)
        assert not check and "is 300, not 150" in check.message
        assert "receiptHandle changes on every receive" in check.message


def test_ex4_bad_answers_are_explained():
    assert "is None, not 150" in lab04.idempotent_handler(lambda s: (lambda e, c: None)).message
    assert "not a handler" in lab04.idempotent_handler(lambda s: 5).message
    assert "must be a function" in lab04.idempotent_handler(5).message
    assert "raised KeyError" in lab04.idempotent_handler(
        lambda s: (lambda e, c: e["Records"][0]["nope"])).message


def test_the_sites_figure_has_a_frame_per_step_and_starts_at_rbif_on_3():
    figure = sqs_errors.plotly_frames()
    assert [f.name for f in figure.frames] == [
        f"{'on' if report else 'off'} / {count}" for report, count in sqs_errors.SITE_STEPS]
    assert figure.layout.sliders[0].active == sqs_errors.SITE_STEPS.index((True, 3))
    assert figure.layout.title.text.startswith("ReportBatchItemFailures on, maxReceiveCount 3")
    off_1 = next(f for f in figure.frames if f.name == "off / 1")
    assert "receive counts 1, 1, 1; 3 redriven" in off_1.layout.title.text
