"""Mappings that change while they work: disable, enable, update and delete mid-run (issue 16).

Every test goes through the learner contract (boto3 clients, lab.function, lab.run, the trace)
and fails without the fix it guards.
"""



def test_lowering_batch_size_below_a_gathered_batch_does_not_crash(env):
    """A slot holding 15 messages of a 20-message batch, BatchSize lowered to 5: the batch is
    cut to 5 and the rest follows in later batches (it used to ask SQS for -10 messages)."""
    sizes = []
    env.lab.function("worker", lambda event, context: sizes.append(len(event["Records"])))
    url, arn = env.queue()
    uuid = env.mapping(arn, BatchSize=20, MaximumBatchingWindowInSeconds=10)["UUID"]
    env.lab.run(until=3)
    env.send(url, *[f"m{n}" for n in range(15)])
    env.lab.run(until=4)  # received, waiting for the window
    env.lam.update_event_source_mapping(UUID=uuid, BatchSize=5)
    env.send(url, "late")  # wakes the waiting long poll
    env.lab.run(until=60)
    assert sum(sizes) == 16 and max(sizes) <= 5
    conservation = env.lab.conservation()
    assert conservation.ok and conservation.counts[arn] == {"entered": 16, "deleted": 16}


def test_sys_exit_in_a_handler_is_a_function_error(env):
    """sys.exit() ends Lambda's runtime process: a function error (Runtime.ExitError), retried
    like any other; it must not stop lab.run."""
    import sys

    env.lab.function("worker", lambda event, context: sys.exit(3))
    url, arn = env.queue(VisibilityTimeout=5, dlq_after=2)
    env.mapping(arn)
    (message_id,) = env.send(url, "exit")
    env.lab.run(until=60)
    errors = [i.error for i in env.lab.trace.invocations]
    assert [e["errorType"] for e in errors] == ["Runtime.ExitError"] * 2
    assert errors[0]["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    assert [e.records for e in env.lab.trace.of("redrive")] == [(message_id,)]
    assert env.lab.conservation().ok
