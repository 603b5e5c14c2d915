"""Lab 09 (Filtering and tumbling windows): the scenarios behind its demos and widgets, and its
checks, both ways."""

import base64
import json

import pytest

from esmlab.course.checks import lab09
from esmlab.course.scenarios import filtering, tumbling

EU = {"body": {"type": ["order"], "country": ["DE", "FR", "NL"],
               "total": [{"numeric": [">=", 100]}]}}
JUST_FAILED = [
    {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["FAILED"]}}}},
    {"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["FAILED"]}},
                                           "OldImage": {"status": {"S": [{"anything-but":
                                                                          "FAILED"}]}}}},
]

# --- filtering -----------------------------------------------------------------------------------


def test_sqs_deletes_what_matches_no_filter_and_counts_it():
    """invocation-eventfiltering: SQS messages that match no filter are deleted."""
    result = filtering.compare("sqs", [{"body": {"type": ["order"]}}])
    assert result.passed_labels() == ["order DE 120", "order US 80", "order FR 15 +coupon",
                                      'order NL "99"', "order DE 250 +express"]
    assert result.left == (0,)  # nothing left in the queue: the two others were deleted
    assert result.filtered_metric == (2.0,)  # FilteredOutEventCount, read from CloudWatch
    assert result.invocations == (1,) and result.accounted


def test_sqs_body_patterns_never_match_plain_text_and_numeric_needs_a_number():
    result = filtering.compare("sqs", [{"body": {"express": [{"exists": False}]}},
                                       {"body": {"total": [{"numeric": [">=", 90]}]}}])
    labels = result.labels
    ping, string_total = labels.index('"ping" (plain text)'), labels.index('order NL "99"')
    assert not result.passed[0][ping]  # recorded: plain-text bodies are dropped
    assert result.passed[0][string_total] and not result.passed[1][string_total]


def test_several_filters_are_an_or():
    result = filtering.compare("sqs", [[{"body": {"type": ["refund"]}},
                                        {"body": {"total": [{"numeric": [">", 200]}]}}]])
    assert result.passed_labels() == ["refund FR 30", "order DE 250 +express"]


def test_a_stream_skips_what_matches_no_filter_and_every_mapping_gets_its_own():
    """Kinesis data patterns match the decoded JSON; each mapping filters on its own."""
    result = filtering.compare("kinesis", [{"data": {"temp": [{"numeric": [">", 30]}]}},
                                           {"partitionKey": ["sensor-1"]}])
    assert result.passed_labels(0) == ["sensor-2: 35.0 °C", "sensor-3: 80 °C overheat"]
    assert result.passed_labels(1) == ["sensor-1: 21.5 °C", "sensor-1: not JSON"]
    assert result.left == (None, None) and result.filtered_metric == (3.0, 3.0)
    assert result.accounted  # stream_conservation: processed + filtered = every record


def test_dynamodb_patterns_need_the_type_key():
    result = filtering.compare("dynamodb", list(filtering.PRESETS["dynamodb"][:4]))
    typed, untyped, numeric, exists_false = (sum(p) for p in result.passed)
    assert typed == 2 and untyped == 0 and numeric == 0  # N values are strings
    assert exists_false == len(result.labels)  # recorded: without the type layer, every item
    assert result.labels[-1] == "REMOVE p2 (was SETTLED)"


def test_an_invalid_pattern_is_rejected_with_aws_message():
    result = filtering.try_pattern("sqs", '{"body": {"type": "order"}}')
    assert result.errors == ("InvalidParameterValueException: Invalid filter pattern definition.",)
    assert result.passed == ((),) and result.filtered_metric == (0.0,)


def test_filtering_rejects_bad_arguments_by_name():
    with pytest.raises(ValueError, match="source must be one of"):
        filtering.compare("sns")
    with pytest.raises(ValueError, match="patterns must be a non-empty list"):
        filtering.compare("sqs", [])
    with pytest.raises(TypeError, match="each pattern must be a dict or a JSON string"):
        filtering.compare("sqs", [3])
    with pytest.raises(TypeError, match="pattern must be JSON text"):
        filtering.try_pattern("sqs", {"body": {}})


# --- tumbling windows ----------------------------------------------------------------------------


def test_state_is_carried_per_shard_and_window_and_handed_to_the_final_invocation():
    """services-kinesis-windows: state in, state out; isFinalInvokeForWindow; per shard."""
    result = tumbling.run()
    assert result.processed == result.records == 30
    assert result.finals == result.truth and len(result.truth) == 6  # 2 shards x 3 windows
    for call in result.calls:
        if call.final:
            assert call.records == 0 and call.start % 30 == 1  # M10: 1 s after the window
    first = [c for c in result.calls if not c.final and c.state_in == {}]
    assert len(first) == 6  # every shard's window starts with an empty state


def test_state_above_1_mb_ends_the_window_early():
    result = tumbling.run(handler="keep-all", payload_kb=150, shards=1, orders=14, seconds=30,
                          batch_size=10)
    early = [c for c in result.calls if c.early]
    assert len(early) == 1 and early[0].state_in == {}  # a fresh state, same window
    before = result.calls[result.calls.index(early[0]) - 1]
    assert before.state_bytes > 1024 * 1024 and before.window == early[0].window


def test_tumbling_rejects_bad_arguments_by_name():
    with pytest.raises(ValueError, match="window must be a whole number from 1 to 900"):
        tumbling.run(window=901)
    with pytest.raises(ValueError, match="handler must be one of"):
        tumbling.run(handler="max")


# --- widgets and pictures ------------------------------------------------------------------------


def test_the_widgets_slowest_settings_run():  # their speed: benchmarks/widgets.py
    for source in filtering.SOURCES:  # moto loaded, every backend used once
        filtering.compare(source)
    tumbling.run()
    for call in (lambda: filtering.try_pattern("dynamodb", '{"eventName": ["MODIFY"]}'),
                 lambda: filtering.try_pattern("kinesis", '{"data": {"temp": [0]}}'),
                 lambda: tumbling.run(window=20, shards=1, batch_size=5)):
        call()


def test_pictures_are_drawn_at_the_site_width():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = filtering.draw(filtering.compare("sqs"))
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"P{j}" for j in range(1, 7)]
    assert ax.figure.get_figwidth() == 7.0
    ax = tumbling.draw(tumbling.run())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["shard 0", "shard 1"]
    assert ax.figure.get_figwidth() == 7.0
    plt.close("all")


# --- exercise 1 ----------------------------------------------------------------------------------


def test_ex1_passes_the_rule_as_a_dict_or_json_text():
    assert lab09.eu_orders(EU)
    assert lab09.check_eu_orders({"ex1_pattern": json.dumps(EU)})


def test_ex1_a_pattern_fitted_to_the_examples_fails_on_a_held_out_message():
    fitted = {"body": {"type": ["order"], "country": ["DE", "FR"],
                       "total": [{"numeric": [">", 100]}]}}
    check = lab09.eu_orders(fitted)
    assert not check
    assert '"country": "NL"' in check.message and "held-out message" in check.message
    assert "deleted from the queue" in check.message


def test_ex1_greater_than_misses_exactly_100():
    pattern = json.loads(json.dumps(EU))
    pattern["body"]["total"] = [{"numeric": [">", 100]}]
    check = lab09.eu_orders(pattern)
    assert not check and '"total": 100}' in check.message and '[">=", 100]' in check.message


def test_ex1_ignoring_case_lets_in_the_wrong_type():
    pattern = json.loads(json.dumps(EU))
    pattern["body"]["type"] = [{"equals-ignore-case": "order"}]
    check = lab09.eu_orders(pattern)
    assert not check and '"ORDER"' in check.message and "case-sensitive" in check.message


def test_ex1_invalid_and_missing_answers_are_explained():
    check = lab09.eu_orders({"body": {"type": "order"}})
    assert not check and "Invalid filter pattern definition." in check.message
    assert "non-empty list" in lab09.eu_orders({"body": {"type": "order"}}).message
    assert "not JSON text" in lab09.eu_orders("{body").message
    assert "must be a pattern" in lab09.eu_orders(5).message
    assert "not defined yet" in lab09.check_eu_orders({}).message


# --- exercise 2 ----------------------------------------------------------------------------------


def test_ex2_passes_insert_or_modify_to_failed():
    assert lab09.failed_payments(JUST_FAILED)
    assert lab09.check_failed_payments({"ex2_filters": [json.dumps(p) for p in JUST_FAILED]})


def test_ex2_without_the_type_key_nothing_passes_and_the_message_says_why():
    check = lab09.failed_payments([{"dynamodb": {"NewImage": {"status": ["FAILED"]}}}])
    assert not check and "NewImage.status without the attribute type" in check.message
    assert '{"status": {"S": ["FAILED"]}}' in check.message


def test_ex2_new_image_only_passes_a_payment_that_was_failed_already():
    check = lab09.failed_payments([{"dynamodb": {"NewImage": {"status": {"S": ["FAILED"]}}}}])
    assert not check and "MODIFY p1 FAILED→FAILED" in check.message
    assert "anything-but" in check.message and "one of the examples you can see" in check.message


def test_ex2_modify_only_misses_a_held_out_insert():
    check = lab09.failed_payments([JUST_FAILED[1]])
    assert not check and "INSERT p3 FAILED" in check.message
    assert "held-out change" in check.message and "add a filter for INSERT" in check.message


def test_ex2_bad_answers_are_explained():
    assert "a mapping allows 5" in lab09.failed_payments([JUST_FAILED[0]] * 6).message
    assert "Invalid filter pattern definition." in lab09.failed_payments(["null"]).message
    assert "not defined yet" in lab09.check_failed_payments({}).message


# --- exercise 3 ----------------------------------------------------------------------------------


def orders_of(event):
    return [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]


def adding_handler(event, context):
    state = dict(event["state"])
    for order in orders_of(event):
        state["orders"] = state.get("orders", 0) + 1
        state["revenue"] = state.get("revenue", 0) + order["amount_cents"]
    return {"state": state}


def test_ex3_passes_a_handler_that_adds_to_the_state():
    assert lab09.window_totals(adding_handler)
    assert lab09.check_window_totals({"ex3_handler": adding_handler})


def test_ex3_starting_from_zero_every_batch_keeps_only_the_last_batch():
    def fresh(event, context):
        if not event["Records"]:
            return {"state": event["state"]}
        orders = orders_of(event)
        return {"state": {"orders": len(orders),
                          "revenue": sum(o["amount_cents"] for o in orders)}}

    check = lab09.window_totals(fresh)
    assert not check and "That is the last batch alone" in check.message


def test_ex3_a_global_total_mixes_shards_and_windows():
    totals = {"orders": 0, "revenue": 0}

    def global_state(event, context):
        for order in orders_of(event):
            totals["orders"] += 1
            totals["revenue"] += order["amount_cents"]
        return {"state": dict(totals)}

    check = lab09.window_totals(global_state)
    assert not check and "outside this window or shard" in check.message


def test_ex3_a_response_without_state_fails_the_invocation():
    check = lab09.window_totals(lambda event, context: {"orders": 1})
    assert not check and "must contain a state object" in check.message


def test_ex3_a_handler_that_crashes_on_the_final_invocation_is_told_it_has_no_records():
    check = lab09.window_totals(
        lambda event, context: {"state": {"first": orders_of(event)[0]["order"]}})
    assert not check and "IndexError" in check.message and "has no records" in check.message
    assert "must be a function" in lab09.window_totals(5).message
    assert "not defined yet" in lab09.check_window_totals({}).message


def test_ex1_a_pattern_without_body_and_filters_meant_as_and_are_explained():
    check = lab09.eu_orders({"type": ["order"]})
    assert not check and 'does not mention "body"' in check.message
    check = lab09.eu_orders([{"body": {"type": ["order"]}},
                             {"body": {"country": ["DE", "FR", "NL"]}}])
    assert not check and "filters are an OR" in check.message


def test_ex2_images_outside_dynamodb_are_explained():
    check = lab09.failed_payments([{"NewImage": {"status": {"S": ["FAILED"]}}}])
    assert not check and 'inside the record\'s "dynamodb" object' in check.message
