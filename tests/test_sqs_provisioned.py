"""SQS provisioned mode (ProvisionedPollerConfig) through the learner contract: validation, the
echo in every response, and the scaling of M4-P (docs/simulator.md, "Provisioned mode")."""

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from conftest import Setup

from esmlab import Lab
from esmlab.limits import UNRECORDED
from esmlab.trace import peak_concurrency


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def ready(env, **attributes):
    url, arn = env.queue(**attributes)
    env.lab.function("worker", lambda e, c: None, timeout=10, duration=1.0)
    return url, arn


def scales(lab, uuid):
    """(t, concurrency, pollers) of each change of the slot target."""
    return [(e.t, e.detail["concurrency"], e.detail.get("pollers"))
            for e in lab.trace.of("scale") if e.mapping == uuid]


def empty_per_minute(lab, uuid, minute):
    """Empty ReceiveMessage requests that returned in one simulated minute, counted from the
    trace as Lab 01 counts them (poll events with no records)."""
    return sum(1 for e in lab.trace.of("poll")
               if e.mapping == uuid and not e.records and 60 * minute <= e.t < 60 * (minute + 1))


def send_batch(env, url, count, prefix="m"):
    for start in range(0, count, 10):
        env.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "MessageBody": f"{prefix}{start + n}"}
            for n in range(min(10, count - start))])


# --- validation ---------------------------------------------------------------------------


def test_accepted_at_the_bounds_of_both_ranges(env):
    _url, arn = ready(env)
    for pollers in ({"MinimumPollers": 2, "MaximumPollers": 2},
                    {"MinimumPollers": 200, "MaximumPollers": 10_000}):
        response = env.mapping(arn, ProvisionedPollerConfig=pollers)
        assert response["ProvisionedPollerConfig"] == pollers
        env.lam.delete_event_source_mapping(UUID=response["UUID"])
        env.lab.run(until=env.lab.now + 3)


def test_above_the_api_range_is_a_validation_exception(env):
    _url, arn = ready(env)
    response = error_of(env.mapping, arn=arn, ProvisionedPollerConfig={"MinimumPollers": 201})
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        "1 validation error detected: Value '201' at 'provisionedPollerConfig.MinimumPollers' "
        "failed to satisfy constraint: Member must have value less than or equal to 200")
    response = error_of(env.mapping, arn=arn, ProvisionedPollerConfig={"MaximumPollers": 10_001})
    assert response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 10000" in response["Error"]["Message"]
    assert env.lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_zero_is_refused_by_the_sdk_before_any_request(env):
    _url, arn = ready(env)
    with pytest.raises(ParamValidationError):
        env.mapping(arn, ProvisionedPollerConfig={"MinimumPollers": 0})


@pytest.mark.parametrize("given, param", [
    ({"MinimumPollers": 1}, "MinimumPollers"),
    ({"MaximumPollers": 1}, "MaximumPollers"),
])
def test_one_poller_is_below_the_sqs_minimum(env, given, param):
    _url, arn = ready(env)
    response = error_of(env.mapping, arn=arn, ProvisionedPollerConfig=given)
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["Error"]["Message"] == UNRECORDED["pollers_sqs_minimum"].format(
        param=param, value=1)


def test_minimum_above_maximum_is_rejected(env):
    _url, arn = ready(env)
    response = error_of(env.mapping, arn=arn,
                        ProvisionedPollerConfig={"MinimumPollers": 50, "MaximumPollers": 20})
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["Error"]["Message"] == UNRECORDED["pollers_order"].format(
        minimum=50, maximum=20)
    # the default MinimumPollers (2) counts against a given maximum too: 2 <= 3 is accepted
    assert env.mapping(arn, ProvisionedPollerConfig={"MaximumPollers": 3})[
        "ProvisionedPollerConfig"] == {"MinimumPollers": 2, "MaximumPollers": 3}


def test_poller_group_name_is_for_kafka_only(env):
    _url, arn = ready(env)
    response = error_of(env.mapping, arn=arn,
                        ProvisionedPollerConfig={"MinimumPollers": 2, "PollerGroupName": "g"})
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["Error"]["Message"] == UNRECORDED["not_for_sqs"].format(
        param="ProvisionedPollerConfig.PollerGroupName")


def test_exclusive_with_maximum_concurrency_on_create_and_update(env):
    _url, arn = ready(env)
    both = {"ScalingConfig": {"MaximumConcurrency": 10},
            "ProvisionedPollerConfig": {"MinimumPollers": 2}}
    response = error_of(env.mapping, arn=arn, **both)
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["Error"]["Message"] == UNRECORDED["provisioned_with_maximum_concurrency"]
    assert response["Type"] == "User"

    capped = env.mapping(arn, ScalingConfig={"MaximumConcurrency": 10})["UUID"]
    response = error_of(env.lam.update_event_source_mapping, UUID=capped,
                        ProvisionedPollerConfig={"MinimumPollers": 4})
    assert response["Error"]["Message"] == UNRECORDED["provisioned_with_maximum_concurrency"]
    # the rejected update changed nothing
    assert "ProvisionedPollerConfig" not in env.lam.get_event_source_mapping(UUID=capped)
    env.lab.run(until=env.lab.now + 3)  # Creating/Updating refuse updates (ResourceInUse)
    # clearing ScalingConfig in the same update switches modes
    switched = env.lam.update_event_source_mapping(
        UUID=capped, ScalingConfig={}, ProvisionedPollerConfig={"MinimumPollers": 4})
    assert switched["ProvisionedPollerConfig"] == {"MinimumPollers": 4, "MaximumPollers": 200}
    assert "ScalingConfig" not in switched
    response = error_of(env.lam.update_event_source_mapping, UUID=capped,
                        ScalingConfig={"MaximumConcurrency": 10})
    assert response["Error"]["Message"] == UNRECORDED["provisioned_with_maximum_concurrency"]


def test_streams_reject_provisioned_mode(streams):
    streams.lab.function("worker", lambda e, c: None)
    arn = streams.stream("telemetry")
    response = error_of(streams.mapping, arn=arn, StartingPosition="LATEST",
                        ProvisionedPollerConfig={"MinimumPollers": 2})
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["Error"]["Message"] == UNRECORDED["not_for_streams"].format(
        param="ProvisionedPollerConfig")
    table_stream = streams.table("orders")
    response = error_of(streams.mapping, arn=table_stream, StartingPosition="LATEST",
                        ProvisionedPollerConfig={"MinimumPollers": 2})
    assert response["Error"]["Code"] == "InvalidParameterValueException"


# --- the echo -----------------------------------------------------------------------------


def test_echoed_with_defaults_in_create_get_list_and_update(env):
    _url, arn = ready(env)
    created = env.mapping(arn, ProvisionedPollerConfig={"MinimumPollers": 5})
    expected = {"MinimumPollers": 5, "MaximumPollers": 200}
    assert created["ProvisionedPollerConfig"] == expected
    keys = list(created)
    assert keys.index("ProvisionedPollerConfig") == keys.index("EventSourceMappingArn") - 1
    uuid = created["UUID"]
    assert env.lam.get_event_source_mapping(UUID=uuid)["ProvisionedPollerConfig"] == expected
    listed = env.lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert listed[0]["ProvisionedPollerConfig"] == expected
    env.lab.run(until=env.lab.now + 3)  # Creating/Updating refuse updates (ResourceInUse)
    updated = env.lam.update_event_source_mapping(
        UUID=uuid, ProvisionedPollerConfig={"MinimumPollers": 3, "MaximumPollers": 40})
    assert updated["ProvisionedPollerConfig"] == {"MinimumPollers": 3, "MaximumPollers": 40}
    env.lab.run(until=env.lab.now + 3)  # Creating/Updating refuse updates (ResourceInUse)
    # an update of something else keeps it
    updated = env.lam.update_event_source_mapping(UUID=uuid, BatchSize=5)
    assert updated["ProvisionedPollerConfig"] == {"MinimumPollers": 3, "MaximumPollers": 40}
    env.lab.run(until=env.lab.now + 3)  # Creating/Updating refuse updates (ResourceInUse)
    # an empty one switches back to the default mode and leaves the response
    cleared = env.lam.update_event_source_mapping(UUID=uuid, ProvisionedPollerConfig={})
    assert "ProvisionedPollerConfig" not in cleared


def test_default_mode_has_no_provisioned_config(env):
    _url, arn = ready(env)
    assert "ProvisionedPollerConfig" not in env.mapping(arn)
    _url, other = env.queue("other")
    assert "ProvisionedPollerConfig" not in env.mapping(other, ProvisionedPollerConfig={})


# --- behaviour ----------------------------------------------------------------------------


@pytest.mark.parametrize("minimum", [2, 10])
def test_idle_minimum_pollers_keep_polling(env, minimum):
    _url, arn = ready(env)
    uuid = env.mapping(arn, ProvisionedPollerConfig={"MinimumPollers": minimum})["UUID"]
    env.lab.run(until=15 * 60)
    assert scales(env.lab, uuid) == [(2.0, minimum, minimum)]
    # each provisioned poller keeps one 20 s long poll open: 3 empty receives a minute each,
    # long after the default mode would have dropped to 2 pollers (6 a minute)
    for minute in (1, 5, 14):
        assert empty_per_minute(env.lab, uuid, minute) == 3 * minimum
    assert env.lab.trace.count("invoke_start") == 0
    assert env.lab.conservation().ok


def ramp(provisioned, messages=1_300, minimum=2):
    """A backlog of long invocations (BatchSize 1, 400 s): (time the target reached 1,250,
    peak invocations in flight, the lab's scale events, conservation)."""
    with Lab(seed=3, account_concurrency=2_000) as lab:
        env = Setup(lab)
        url, arn = env.queue(VisibilityTimeout=900)
        lab.function("worker", lambda e, c: None, timeout=600, duration=400.0)
        send_batch(env, url, messages)
        params = {"BatchSize": 1}
        if provisioned:
            params["ProvisionedPollerConfig"] = {"MinimumPollers": minimum, "MaximumPollers": 125}
        uuid = env.mapping(arn, **params)["UUID"]
        lab.run(until=390)
        steps = scales(lab, uuid)
        reached = next((t for t, c, _ in steps if c >= 1_250), None)
        return reached, peak_concurrency(lab.trace.invocations), steps, lab.conservation().ok


def test_provisioned_ramp_is_faster_than_the_default_mode():
    default_at, default_peak, default_steps, ok = ramp(provisioned=False)
    assert ok and default_peak == 1_250 and default_steps[0][1:] == (5, None)
    provisioned_at, provisioned_peak, steps, ok = ramp(provisioned=True)
    assert ok and provisioned_peak == 1_250
    assert steps[0] == (2.0, 2, 2)  # at rest: the minimum pollers
    assert steps[1] == (3.0, 20, 2)  # first tick with a backlog: what 2 pollers drive
    per_minute = [c for t, c, _ in steps if t <= 63.0][-1] - 20
    assert per_minute == 1_000  # 1,000 more a minute, exactly
    assert steps[-1][1:] == (1_250, 125)  # the ceiling: MaximumPollers x 10
    assert default_at - 2 >= 3 * (provisioned_at - 2)  # "3x faster" (the mapping is Enabled at 2 s)


def test_ceiling_is_maximum_pollers_times_ten():
    with Lab(seed=4) as lab:
        env = Setup(lab)
        url, arn = env.queue(VisibilityTimeout=900)
        lab.function("worker", lambda e, c: None, timeout=600, duration=300.0)
        send_batch(env, url, 400)
        uuid = env.mapping(arn, BatchSize=1, ProvisionedPollerConfig={
            "MinimumPollers": 2, "MaximumPollers": 20})["UUID"]
        lab.run(until=120)
        steps = scales(lab, uuid)
        assert max(c for _, c, _ in steps) == 200 and steps[-1][2] == 20
        assert peak_concurrency(lab.trace.invocations) == 200
        assert lab.conservation().ok


def test_the_20000_ceiling_caps_ten_thousand_pollers(env):
    # AWS's stated provisioned-mode ceiling is 20,000 concurrency, although 10,000 pollers x 10
    # would be 100,000; reaching it takes a 20,000-message backlog, so this reads the running
    # poller's bound instead of ramping up to it.
    _url, arn = ready(env)
    uuid = env.mapping(arn, ProvisionedPollerConfig={"MaximumPollers": 10_000})["UUID"]
    env.lab.run(until=3)
    assert env.lab._pollers[uuid].cap == 20_000


def test_scales_down_to_the_minimum_when_idle():
    with Lab(seed=5) as lab:
        env = Setup(lab)
        url, arn = env.queue(VisibilityTimeout=60)
        lab.function("worker", lambda e, c: None, timeout=10, duration=5.0)
        send_batch(env, url, 600)
        uuid = env.mapping(arn, BatchSize=1, ProvisionedPollerConfig={
            "MinimumPollers": 3, "MaximumPollers": 50})["UUID"]
        lab.run(until=600)
        steps = scales(lab, uuid)
        peak = max(c for _, c, _ in steps)
        assert peak > 30
        last_message = max(e.t for e in lab.trace.of("poll") if e.records)
        t, concurrency, pollers = steps[-1]
        assert (concurrency, pollers) == (3, 3)
        assert last_message + 60 <= t <= last_message + 61  # 60 s without messages, next tick
        assert empty_per_minute(lab, uuid, 9) == 9  # 3 pollers, one long poll each
        assert lab.conservation().ok
        assert lab.conservation().counts[arn] == {"entered": 600, "deleted": 600}


def test_update_switches_modes_both_ways(env):
    _url, arn = ready(env)
    uuid = env.mapping(arn)["UUID"]
    env.lab.run(until=5 * 60)  # default mode at rest: 2 pollers
    assert empty_per_minute(env.lab, uuid, 4) == 6
    env.lam.update_event_source_mapping(UUID=uuid, ProvisionedPollerConfig={"MinimumPollers": 8})
    env.lab.run(until=10 * 60)
    assert scales(env.lab, uuid)[-1][1:] == (8, 8)
    assert empty_per_minute(env.lab, uuid, 9) == 24
    env.lam.update_event_source_mapping(UUID=uuid, ProvisionedPollerConfig={})
    env.lab.run(until=15 * 60)
    # back in the default mode, whose M4 rule for a queue idle for over 120 s is 2 pollers
    assert [(c, p) for t, c, p in scales(env.lab, uuid) if t > 600] == [(2, None)]
    assert empty_per_minute(env.lab, uuid, 14) == 6
    assert env.lab.conservation().ok


def test_a_lower_minimum_applies_at_rest(env):
    _url, arn = ready(env)
    uuid = env.mapping(arn, ProvisionedPollerConfig={"MinimumPollers": 10})["UUID"]
    env.lab.run(until=3 * 60)
    env.lam.update_event_source_mapping(UUID=uuid, ProvisionedPollerConfig={"MinimumPollers": 4})
    env.lab.run(until=6 * 60)
    assert scales(env.lab, uuid)[-1][1:] == (4, 4)
    assert empty_per_minute(env.lab, uuid, 5) == 12


def test_throttles_halve_the_slots_but_not_below_the_minimum():
    with Lab(seed=6) as lab:
        env = Setup(lab)
        url, arn = env.queue(VisibilityTimeout=120)
        lab.function("worker", lambda e, c: None, timeout=60, duration=60.0,
                     reserved_concurrency=3)
        send_batch(env, url, 300)
        uuid = env.mapping(arn, BatchSize=1, ProvisionedPollerConfig={
            "MinimumPollers": 2, "MaximumPollers": 50})["UUID"]
        lab.run(until=30)
        counts = [c for _, c, _ in scales(lab, uuid)]
        assert counts[:3] == [2, 20, 10]  # the jump to what 2 pollers drive, then halved
        assert min(counts) == 2 and lab.trace.count("throttle") > 0
        assert peak_concurrency(lab.trace.invocations) == 3
        assert lab.conservation().ok


@pytest.mark.parametrize("report, halves", [(False, True), (True, False)])
def test_function_errors_halve_unless_report_batch_item_failures(report, halves):
    def handler(event, context):
        if report:
            return {"batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"]]}
        raise RuntimeError("boom")

    with Lab(seed=7) as lab:
        env = Setup(lab)
        url, arn = env.queue(VisibilityTimeout=60)
        lab.function("worker", handler, timeout=10, duration=2.0)
        send_batch(env, url, 400)
        params = {"FunctionResponseTypes": ["ReportBatchItemFailures"]} if report else {}
        uuid = env.mapping(arn, BatchSize=1, ProvisionedPollerConfig={
            "MinimumPollers": 2, "MaximumPollers": 50}, **params)["UUID"]
        lab.run(until=8)
        counts = [c for _, c, _ in scales(lab, uuid)]
        assert counts[:2] == [2, 20]
        assert (min(counts[1:]) < 20) is halves
        assert lab.conservation().ok


def received_per_second(lab, uuid):
    """Records the mapping's receives returned, per whole simulated second."""
    per_second = {}
    for e in lab.trace.of("poll"):
        if e.mapping == uuid and e.records:
            per_second[int(e.t)] = per_second.get(int(e.t), 0) + len(e.records)
    return per_second


@pytest.mark.parametrize("maximum", [2, 20])
def test_each_poller_receives_at_most_one_megabyte_a_second(maximum):
    body = "x" * 100_000  # about 0.1 MB a record, so about 10 records a poller a second
    with Lab(seed=8) as lab:
        env = Setup(lab)
        url, arn = env.queue(VisibilityTimeout=60)
        lab.function("worker", lambda e, c: None, timeout=10, duration=0.1)
        for n in range(300):
            env.sqs.send_message(QueueUrl=url, MessageBody=body + str(n))
        uuid = env.mapping(arn, ProvisionedPollerConfig={
            "MinimumPollers": 2, "MaximumPollers": maximum})["UUID"]
        lab.run(until=120)
        assert lab.conservation().counts[arn] == {"entered": 300, "deleted": 300}
        per_second = received_per_second(lab, uuid)
        done = max(e.t for e in lab.trace.of("delete"))
        if maximum == 2:
            # 2 pollers: 2 MB/s, so about 20 records a second (one receive may overshoot, and
            # is paid back the next second), and 30 MB take about 15 s
            assert max(per_second.values()) <= 30
            assert sum(per_second.values()) / len(per_second) <= 21
            assert done >= 2 + 14
        else:
            # the held-back backlog scales the slots, and with them the pollers, up
            pollers = max(p for _, _, p in scales(lab, uuid))
            assert pollers > 2
            assert done < 2 + 14


def test_fifo_queue_in_provisioned_mode_keeps_one_batch_per_group():
    with Lab(seed=9) as lab:
        env = Setup(lab)
        url, arn = env.queue("orders.fifo", VisibilityTimeout=60)
        lab.function("worker", lambda e, c: None, timeout=10, duration=5.0)
        for n in range(60):
            env.sqs.send_message(QueueUrl=url, MessageBody=f"m{n}", MessageGroupId=f"g{n % 3}",
                                 MessageDeduplicationId=str(n))
        uuid = env.mapping(arn, BatchSize=1, ProvisionedPollerConfig={
            "MinimumPollers": 2, "MaximumPollers": 20})["UUID"]
        lab.run(until=200)
        assert scales(env.lab, uuid)[1][1] == 20  # the pollers' capacity is there...
        assert peak_concurrency(lab.trace.invocations) == 3  # ...but 3 groups allow 3 at once
        order = [r for i in lab.trace.invocations for r in i.records]
        sent = [e.records[0] for e in lab.trace.of("send")]
        for group in range(3):
            in_group = sent[group::3]
            assert [m for m in order if m in in_group] == in_group
        assert lab.conservation().counts[arn] == {"entered": 60, "deleted": 60}


def test_same_seed_same_trace_in_provisioned_mode():
    def run():
        with Lab(seed=11) as lab:
            env = Setup(lab)
            url, arn = env.queue(VisibilityTimeout=30)
            lab.function("worker", lambda e, c: None, timeout=10, duration=1.5)
            send_batch(env, url, 500)
            env.mapping(arn, ProvisionedPollerConfig={"MinimumPollers": 3, "MaximumPollers": 9})
            lab.run(until=120)
            assert lab.conservation().counts[arn] == {"entered": 500, "deleted": 500}
            return [(e.t, e.kind, e.records, tuple(sorted(e.detail.items())))
                    for e in lab.trace.events if e.kind in ("poll", "scale", "invoke_start")]

    assert run() == run()
