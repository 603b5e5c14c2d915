"""Polling, batching and scaling of an SQS mapping (services-sqs-scaling, invocation-eventsourcemapping; M3, M4, M6)."""

from esmlab import limits
from esmlab.trace import peak_concurrency


def sizes(lab):
    return [len(i.records) for i in lab.trace.invocations]


def setup(env, handler=lambda e, c: None, duration=0.0, **params):
    env.lab.function("worker", handler, timeout=10, duration=duration)
    url, arn = env.queue()
    env.mapping(arn, **params)
    return url, arn


def test_window_zero_invokes_as_soon_as_records_arrive(env):
    url, _arn = setup(env, BatchSize=10)
    env.lab.run(until=5)
    env.send(url, "a", "b", "c")
    env.lab.run(until=10)
    assert sizes(env.lab) == [3]
    assert env.lab.trace.invocations[0].start == 5.0


def test_batch_size_closes_a_batch_before_the_window(env):
    url, _arn = setup(env, BatchSize=20, MaximumBatchingWindowInSeconds=30)
    env.send(url, *[f"m{i}" for i in range(45)])
    env.lab.run(until=100)
    batches = env.lab.trace.of("batch")
    assert sorted(sizes(env.lab), reverse=True)[:2] == [20, 20]
    assert sum(sizes(env.lab)) == 45
    assert {e.detail["trigger"] for e in batches} >= {"batch_size"}


def test_window_closes_a_partial_batch_when_it_ends(env):
    url, _arn = setup(env, BatchSize=100, MaximumBatchingWindowInSeconds=10)
    env.lab.run(until=3)  # enabled at t=2: the window of each poller runs until t=12
    env.send(url, "a", "b")
    env.lab.run(until=60)
    assert sizes(env.lab) == [2]
    invocation = env.lab.trace.invocations[0]
    assert invocation.start == 12.0
    assert env.lab.trace.of("batch")[0].detail["trigger"] == "window"


def test_window_already_over_invokes_on_first_record(env):
    """M3: the window opened when the poller became free; a later record is invoked at once."""
    url, _arn = setup(env, BatchSize=100, MaximumBatchingWindowInSeconds=5)
    env.lab.run(until=30)
    env.send(url, "late")
    env.lab.run(until=60)
    assert env.lab.trace.invocations[0].start == 30.0


def test_payload_cap_closes_batch_before_6_mb(env):
    url, _arn = setup(env, BatchSize=100, MaximumBatchingWindowInSeconds=5)
    body = "x" * 250_000
    env.send(url, *[body] * 30)  # 7.5 MB of bodies
    env.lab.run(until=60)
    assert sum(sizes(env.lab)) == 30
    assert max(sizes(env.lab)) < 30
    capped = [e for e in env.lab.trace.of("batch") if e.detail["trigger"] == "payload_limit"]
    assert capped
    from esmlab.payload import payload_bytes
    seen = []
    env.lab.function("worker", lambda e, c: seen.append(payload_bytes(e["Records"])))
    env.send(url, *[body] * 30)
    env.lab.run(until=120)
    assert seen and max(seen) <= limits.PAYLOAD_LIMIT_BYTES


def test_idle_queue_keeps_polling_and_drops_to_two_pollers(env):
    _url, _arn = setup(env)
    env.lab.run(until=600)
    polls = [e for e in env.lab.trace.of("poll") if 300 <= e.t < 600]
    assert polls and all(not e.records for e in polls)
    # two pollers, each long-polling 20 s: 3 empty receives a minute each
    assert len(polls) == 2 * 300 // limits.SQS_LONG_POLL_SECONDS
    first_minute = [e for e in env.lab.trace.of("poll") if e.t <= 62]
    assert len(first_minute) == 5 * 3  # five pollers at the start


def test_maximum_concurrency_set_keeps_five_pollers_when_idle(env):
    _url, _arn = setup(env, ScalingConfig={"MaximumConcurrency": 10})
    env.lab.run(until=600)
    polls = [e for e in env.lab.trace.of("poll") if 300 <= e.t < 600]
    assert len(polls) == 5 * 300 // limits.SQS_LONG_POLL_SECONDS


overlap = peak_concurrency

def test_scales_up_by_300_a_minute_from_5(env):
    url, _arn = setup(env, duration=5.0)
    for start in range(0, 5000, 10):
        env.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "MessageBody": f"m{start + n}"} for n in range(10)])
    env.lab.run(until=20)
    scale = [(e.t, e.detail["concurrency"]) for e in env.lab.trace.of("scale")]
    assert scale[0] == (2.0, 5)
    at = dict(scale)
    # +5 a second while messages keep coming: 300 a minute
    assert at[12.0] - at[11.0] == 5
    assert max(c for t, c in scale if t <= 12.0) == 5 + 5 * 10


def test_maximum_concurrency_caps_concurrent_invocations(env):
    url, _arn = setup(env, duration=3.0, ScalingConfig={"MaximumConcurrency": 2})
    env.send(url, *[f"m{i}" for i in range(100)])
    env.lab.run(until=300)
    assert overlap(env.lab.trace.invocations) == 2
    assert sum(sizes(env.lab)) == 100


def test_reserved_concurrency_throttles(env):
    env.lab.function("worker", lambda e, c: None, duration=3.0, reserved_concurrency=2)
    url, arn = env.queue()
    env.mapping(arn, BatchSize=1)
    env.send(url, *[f"m{i}" for i in range(20)])
    env.lab.run(until=600)
    assert overlap(env.lab.trace.invocations) == 2
    assert env.lab.trace.count("throttle") > 0
    assert env.lab.conservation().ok
    assert env.lab.conservation().counts[arn]["deleted"] == 20


def test_account_concurrency_is_shared(env):
    from esmlab import Lab

    lab = Lab(seed=3, account_concurrency=4)
    sqs = lab.client("sqs")
    lam = lab.client("lambda")
    for name in ("a", "b"):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        lab.function(name, lambda e, c: None, duration=2.0)
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)
        for i in range(20):
            sqs.send_message(QueueUrl=url, MessageBody=f"{name}{i}")
    lab.run(until=300)
    assert overlap(lab.trace.invocations) <= 4
    assert lab.trace.count("throttle") > 0
    assert len(lab.trace.invocations) >= 40
    lab.close()


def test_slots_busy_with_long_invocations_are_not_an_idle_queue(env):
    """MaximumConcurrency 100 and 400 s invocations with a backlog of 100 more: every slot is
    busy and no receive happens for ~400 s, which is not an idle queue. When the first wave
    ends, a freed slot takes the next message at once (when busy seconds counted as idle, the
    target fell to 5 and the second wave waited for it to climb back at +5 a second)."""
    env.lab.function("worker", lambda e, c: None, timeout=600, duration=400.0)
    url, arn = env.queue(VisibilityTimeout="900")
    env.mapping(arn, BatchSize=1, ScalingConfig={"MaximumConcurrency": 100})
    for start in range(0, 200, 10):
        env.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "MessageBody": f"m{start + n}"} for n in range(10)])
    env.lab.run(until=1300)
    first = min(i.start for i in env.lab.trace.invocations)
    second_wave = sorted(i.start for i in env.lab.trace.invocations if i.start >= first + 400)
    assert len(second_wave) == 100
    # the first slot freed (at first + 400 s) takes a message within a second: old code left
    # the second wave waiting ~20 s for the target to climb back from 5
    assert second_wave[0] <= first + 401, (first, second_wave[0])
    assert env.lab.conservation().counts[arn]["deleted"] == 200
