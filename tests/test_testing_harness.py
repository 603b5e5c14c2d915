"""esmlab.testing: the pytest plugin and helpers a practitioner uses on their own handler.

Each test runs an inner pytest session (pytester) the way a user's suite would run, and checks
what the user sees: a pass, or a failure whose report says what their handler did.
"""

import pytest

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "esmlab.testing.pytest_plugin")


def run(pytester, source, *args):
    pytester.makepyfile(test_user=source)
    return pytester.runpytest_inprocess(*PLUGIN, *args)


def test_a_handler_that_raises_on_one_record_fails_with_its_error_in_the_report(pytester):
    result = run(pytester, """
        from esmlab.testing import sqs_pipeline

        def handler(event, context):
            for record in event["Records"]:
                {"ok": 1}[record["body"]]          # KeyError on anything but "ok"

        def test_queue_drains(esm_lab):
            pipe = sqs_pipeline(esm_lab, handler)
            sqs = esm_lab.client("sqs")
            for body in ["ok", "boom", "ok"]:
                sqs.send_message(QueueUrl=pipe.queue_url, MessageBody=body)
            esm_lab.run(until=100)
            left = sqs.get_queue_attributes(QueueUrl=pipe.queue_url, AttributeNames=["All"])
            counts = left["Attributes"]
            assert counts["ApproximateNumberOfMessages"] == "0"
            assert counts["ApproximateNumberOfMessagesNotVisible"] == "0"
    """)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "esmlab run" in out
    assert "error: KeyError: 'boom'" in out
    assert "handler errors: KeyError x" in out


def test_reporting_the_wrong_identifier_shows_as_an_invalid_response(pytester):
    result = run(pytester, """
        from esmlab.testing import deliveries, sqs_pipeline

        def handler(event, context):   # bug: the body is not the item identifier
            return {"batchItemFailures": [{"itemIdentifier": r["body"]} for r in event["Records"]
                                          if r["body"] == "bad"]}

        def test_only_the_bad_message_is_retried(esm_lab):
            pipe = sqs_pipeline(esm_lab, handler, report_batch_item_failures=True,
                                max_receive_count=2)
            sqs = esm_lab.client("sqs")
            for body in ["good", "bad"]:
                sqs.send_message(QueueUrl=pipe.queue_url, MessageBody=body)
            esm_lab.run(until=200)
            assert sorted(deliveries(esm_lab).values()) == [1, 2]
    """)
    result.assert_outcomes(failed=1)
    assert "invalid_response" in result.stdout.str()


NOT_IDEMPOTENT = """
    import pytest
    from esmlab.testing import sqs_pipeline

    totals = []

    def add_up(event, context):          # not idempotent: a second delivery adds again
        totals.extend(int(r["body"]) for r in event["Records"])

    @pytest.mark.esmlab(duplicates=DUPLICATES)
    def test_total(esm_lab):
        pipe = sqs_pipeline(esm_lab, add_up)
        sqs = esm_lab.client("sqs")
        for n in range(40):
            sqs.send_message(QueueUrl=pipe.queue_url, MessageBody="1")
        esm_lab.run(until=120)
        assert sum(totals) == 40
"""


def test_a_handler_that_is_not_idempotent_fails_under_duplicates_and_the_report_says_why(
        pytester):
    """Under a standard queue's own duplicates (at-least-once delivery) a handler that adds every
    delivery counts some messages twice; the report names them as copies the queue delivered."""
    result = run(pytester, NOT_IDEMPOTENT.replace("DUPLICATES", "0.2"))
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "delivered more than once:" in out
    assert "(a copy the queue delivered)" in out


def test_the_same_handler_passes_without_duplicates(pytester):
    run(pytester, NOT_IDEMPOTENT.replace("DUPLICATES", "0.0")).assert_outcomes(passed=1)


def test_a_passing_run_prints_no_report(pytester):
    result = run(pytester, """
        from esmlab.testing import assert_nothing_lost, deliveries, sqs_pipeline

        def test_every_message_once(esm_lab):
            pipe = sqs_pipeline(esm_lab, lambda event, context: None, batch_size=5)
            sqs = esm_lab.client("sqs")
            for n in range(12):
                sqs.send_message(QueueUrl=pipe.queue_url, MessageBody=str(n))
            esm_lab.run(until=60)
            assert sorted(deliveries(esm_lab).values()) == [1] * 12
            assert_nothing_lost(esm_lab)
    """)
    result.assert_outcomes(passed=1)
    assert "esmlab run" not in result.stdout.str()


def test_seed_comes_from_the_option_or_the_marker(pytester):
    result = run(pytester, """
        import pytest

        def test_option(esm_lab):
            assert esm_lab.seed == 5

        @pytest.mark.esmlab(seed=9, account_concurrency=50)
        def test_marker(esm_lab):
            assert (esm_lab.seed, esm_lab.concurrency.account_limit) == (9, 50)
    """, "--esmlab-seed", "5")
    result.assert_outcomes(passed=2)


def test_environment_and_simulated_time_reach_the_handler(pytester):
    result = run(pytester, """
        import datetime, os, time
        from esmlab.testing import sqs_pipeline

        seen = []

        def handler(event, context):
            seen.append((os.environ["TABLE"], os.environ["AWS_LAMBDA_FUNCTION_NAME"],
                         round(time.time()), datetime.datetime.now(datetime.UTC).year))

        def test_env(esm_lab):
            pipe = sqs_pipeline(esm_lab, handler, function_name="fn", environment={"TABLE": "t"})
            esm_lab.client("sqs").send_message(QueueUrl=pipe.queue_url, MessageBody="x")
            esm_lab.run(until=30)
            assert seen and seen[0][:2] == ("t", "fn")
            assert seen[0][3] == 2025                 # the Lab's simulated clock, not today
            assert "TABLE" not in os.environ          # set only while the handler runs
            config = esm_lab.client("lambda").get_function_configuration(FunctionName="fn")
            assert config["Environment"]["Variables"] == {"TABLE": "t"}
    """)
    result.assert_outcomes(passed=1)


def test_bad_arguments_name_themselves(esm_lab):
    from esmlab.testing import kinesis_pipeline, load_handler, sqs_pipeline

    with pytest.raises(ValueError, match="max_receive_count must be 1 to 1,000"):
        sqs_pipeline(esm_lab, lambda e, c: None, max_receive_count=0)
    with pytest.raises(TypeError, match="handler must be a function"):
        sqs_pipeline(esm_lab, "not a function")
    with pytest.raises(ValueError, match="shards must be a whole number"):
        kinesis_pipeline(esm_lab, lambda e, c: None, shards=0)
    with pytest.raises(ValueError, match="package.module:function"):
        load_handler("no_colon_here")
