"""Bad input gets a clear error: mapping parameters (AWS's exception), and esmlab's own
arguments (``lab.function``, ``lab.run``), refused at the call with the argument's name."""

import math

import pytest
from botocore.exceptions import ClientError

from esmlab import Lab


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]


# --- FunctionResponseTypes -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [["Nope"], ["ReportBatchItemFailures", "ReportBatchItemFailures"],
                                   ["reportbatchitemfailures"]])
def test_function_response_types_outside_the_enum_are_refused_on_create(env, value):
    _url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None)
    error = error_of(env.mapping, arn=arn, FunctionResponseTypes=value)
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("[esmlab]") and "ReportBatchItemFailures" in error["Message"]
    assert env.lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_function_response_types_are_checked_on_update_and_for_streams(env):
    _url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None)
    uuid = env.mapping(arn, FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    error = error_of(env.lam.update_event_source_mapping, UUID=uuid, FunctionResponseTypes=["Nope"])
    assert error["Code"] == "ValidationException"
    assert env.lam.get_event_source_mapping(UUID=uuid)["FunctionResponseTypes"] == [
        "ReportBatchItemFailures"]
    env.lab.run(until=env.lab.now + 3)  # a Creating mapping refuses updates (ResourceInUse)
    assert env.lam.update_event_source_mapping(UUID=uuid, FunctionResponseTypes=[])[
        "FunctionResponseTypes"] == []
    kinesis = env.lab.client("kinesis")
    kinesis.create_stream(StreamName="s", ShardCount=1)
    stream = kinesis.describe_stream(StreamName="s")["StreamDescription"]["StreamARN"]
    error = error_of(env.lam.create_event_source_mapping, FunctionName="worker",
                     EventSourceArn=stream, StartingPosition="LATEST",
                     FunctionResponseTypes=["Nope"])
    assert error["Code"] == "ValidationException"


# --- function timeout vs visibility timeout --------------------------------------------------------


def test_update_to_a_function_with_a_longer_timeout_is_refused(env):
    _url, arn = env.queue(VisibilityTimeout=30)
    env.lab.function("worker", lambda e, c: None, timeout=30)
    env.lab.function("slow", lambda e, c: None, timeout=60)
    uuid = env.mapping(arn)["UUID"]
    error = error_of(env.lam.update_event_source_mapping, UUID=uuid, FunctionName="slow")
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == (
        "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds")
    assert env.lam.get_event_source_mapping(UUID=uuid)["FunctionArn"].endswith(":worker")


# --- lab.function ----------------------------------------------------------------------------------


@pytest.mark.parametrize("duration", [-1, -0.5, math.nan, math.inf, "2", None, True])
def test_a_bad_duration_is_refused_at_the_call(env, duration):
    with pytest.raises(ValueError, match=r"duration must be a finite number of seconds >= 0"):
        env.lab.function("worker", lambda e, c: None, duration=duration)
    assert "worker" not in env.lab.functions


def test_a_duration_function_returning_a_bad_value_names_the_function(env):
    url, arn = env.queue()
    env.lab.function("worker", lambda e, c: None, duration=lambda event: math.nan)
    env.mapping(arn)
    env.send(url, "x")
    with pytest.raises(ValueError, match="duration function of worker must return a finite"):
        env.lab.run(until=5)


@pytest.mark.parametrize("handler", ["handler", None, 3])
def test_a_handler_that_is_not_callable_is_refused(env, handler):
    with pytest.raises(TypeError, match=r"handler of worker must be a function of \(event, context\)"):
        env.lab.function("worker", handler if handler is not None else "x")


def one_argument(event):
    return None


def three_arguments(event, context, extra):
    return None


@pytest.mark.parametrize("handler", [one_argument, three_arguments, lambda: None])
def test_a_handler_that_cannot_take_event_and_context_is_refused(env, handler):
    with pytest.raises(TypeError, match=r"must accept two arguments, \(event, context\)"):
        env.lab.function("worker", handler)


def test_handlers_that_can_take_event_and_context_are_accepted(env):
    class Handler:
        def __call__(self, event, context):
            return None

    accepted = [lambda e, c: None, lambda *args: None, lambda e, c=None: None,
                lambda event, context, extra=1: None, Handler()]
    for n, handler in enumerate(accepted):
        env.lab.function(f"fn{n}", handler)
    # as a decorator too
    @env.lab.function("decorated")
    def decorated(event, context):
        return None
    assert "decorated" in env.lab.functions


@pytest.mark.parametrize("timeout", [0, 901, 2.5, math.nan, math.inf, "3", True])
def test_a_bad_timeout_is_refused(env, timeout):
    with pytest.raises(ValueError, match="timeout must be a whole number of seconds from 1 to 900"):
        env.lab.function("worker", lambda e, c: None, timeout=timeout)


@pytest.mark.parametrize("reserved", [-1, 1.5, "2", True])
def test_a_bad_reserved_concurrency_is_refused(env, reserved):
    with pytest.raises(ValueError, match="reserved_concurrency must be None or a whole number >= 0"):
        env.lab.function("worker", lambda e, c: None, reserved_concurrency=reserved)


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_bad_name_is_refused(env, name):
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        env.lab.function(name, lambda e, c: None)


def test_a_bad_role_is_refused(env):
    with pytest.raises(ValueError, match="role must be None .* or an IAM role ARN"):
        env.lab.function("worker", lambda e, c: None, role="my-role")


# --- lab.run ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("until", [math.nan, math.inf, -math.inf, "60", None, True])
def test_a_bad_until_is_refused_at_the_call(until):
    with Lab(seed=1) as lab:
        with pytest.raises(ValueError, match="until must be a finite number of simulated seconds"):
            lab.run(until=until)
        assert lab.now == 0
        lab.run(until=1)  # the lab still works
        assert lab.now == 1


@pytest.mark.parametrize("until", [-1, 4.5])
def test_an_until_before_now_is_refused(until):
    with Lab(seed=1) as lab:
        lab.run(until=5)
        with pytest.raises(ValueError, match=r"until must not be before now.*t=5"):
            lab.run(until=until)
        lab.run(until=5)  # now itself is fine


# --- Lab(...) --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"seed": "7"}, TypeError, "seed must be a whole number"),
    ({"seed": 1.5}, TypeError, "seed must be a whole number"),
    ({"region": ""}, TypeError, "region must be an AWS Region name"),
    ({"account_concurrency": 0}, ValueError, "account_concurrency must be a whole number >= 1"),
    ({"account_concurrency": 2.5}, ValueError, "account_concurrency must be a whole number >= 1"),
])
def test_bad_lab_arguments_are_refused_at_the_call(kwargs, error, match):
    with pytest.raises(error, match=match):
        Lab(**kwargs)
