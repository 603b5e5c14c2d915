"""A handler's exception is visible where a learner looks: the invocations frame and lab.run."""


def test_invocations_frame_names_the_error_type_and_message(env):
    outcomes = iter(["raise", "slow", "fine"])

    def handler(event, context):
        if next(outcomes) == "raise":
            return event["Records"][0]["no-such-field"]
        return "done"

    env.lab.function("worker", handler, timeout=2,
                     duration=lambda event: 5.0 if env.lab.trace.count("invoke_start") == 2 else 0.1)
    url, arn = env.queue(VisibilityTimeout=5)
    env.mapping(arn)
    env.send(url, "x")
    env.lab.run(until=100)
    frame = env.lab.trace.invocations_frame()
    assert list(frame["outcome"]) == ["error", "timeout", "success"]
    assert frame["error_type"][0] == "KeyError"
    assert frame["error_type"][1:].isna().all()  # a timeout has a message, not an exception
    assert frame["error_message"][0] == "'no-such-field'"
    assert frame["error_message"][1] == "Task timed out after 2.00 seconds"
    assert frame["error_message"][2:].isna().all()


def test_run_prints_one_line_when_invocations_failed_and_nothing_when_none_did(env, capsys):
    calls = iter([True, True, False])
    env.lab.function("worker", lambda e, c: {}["body"] if next(calls) else None)
    url, arn = env.queue(VisibilityTimeout=5)
    env.mapping(arn)
    env.send(url, "x")
    env.lab.run(until=4)  # the first invocation fails; the message is retried 5 s later
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "1 of 1 invocations failed" in out and "KeyError: 'body'" in out
    assert "invocations_frame()" in out
    env.lab.run(until=20)  # the second delivery fails too, the third succeeds
    assert "1 of 2 invocations failed" in capsys.readouterr().out
    env.lab.run(until=40)  # nothing new ran: nothing to say
    assert capsys.readouterr().out == ""
