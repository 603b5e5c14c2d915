"""Lambda functions: a Python callable registered under a name, with a timeout and a simulated run time.

The function also exists in moto (``get_function`` works, it has an ARN and an execution role), but
moto never runs it: the mapping runtime calls :meth:`Function.execute`, which decides, as Lambda
would, whether the invocation succeeded, raised, timed out or returned something unusable.
"""

from __future__ import annotations

import inspect
import io
import json
import math
import numbers
import traceback
import zipfile
from dataclasses import dataclass

# The three AWS managed policies a default execution role carries, so that a mapping on any
# source works out of the box
# (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/).
MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
)
# The default role may also write to on-failure destinations (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
# lists the actions),
# so error-handling labs work without IAM set-up. The IAM lab builds its roles explicitly.
DESTINATION_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sns:Publish", "s3:PutObject", "s3:ListBucket"],
                "Resource": "*",
            }
        ],
    }
)
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


#: Set by esmlab.cloudwatch.logs while a Lab is open: runs each invocation with its output
#: captured for the function's log group.
log_sink = None


class LambdaContext:
    """The ``context`` argument, with the attributes of Lambda's Python context object.

    https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
    """

    def __init__(self, function, request_id, clock):
        self.aws_request_id = request_id
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.function_arn = function.arn
        self.memory_limit_in_mb = 128
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"esmlab/[$LATEST]{request_id.replace('-', '')}"
        self._deadline = clock.now + function.timeout
        self._clock = clock

    def get_remaining_time_in_millis(self) -> int:
        return max(0, round((self._deadline - self._clock.now) * 1000))


@dataclass
class Result:
    """What one invocation did, as the event source mapping sees it."""

    outcome: str  #: ``ok``, ``error`` or ``timeout``
    duration: float  #: simulated seconds from start to end
    returned: object = None  #: the response, after the JSON round trip Lambda makes
    error: dict | None = None  #: ``errorType`` and ``errorMessage`` when it failed


class Function:
    """A registered handler. Calling it calls the handler, so it still works in plain tests."""

    def __init__(self, name, handler, *, timeout, duration, reserved_concurrency, arn, role):
        self.name, self.handler = name, handler
        self.timeout, self.duration = timeout, duration
        self.reserved_concurrency = reserved_concurrency
        self.arn, self.role = arn, role

    def __call__(self, event, context=None):
        return self.handler(event, context)

    def __repr__(self):
        return f"<Function {self.name} timeout={self.timeout}s>"

    def run_time(self, event) -> float:
        if not callable(self.duration):
            return float(self.duration)  # checked when the function was registered
        value = self.duration(event)
        if not is_seconds(value):
            raise ValueError(f"the duration function of {self.name} must return a finite number "
                             f"of seconds >= 0, got {value!r}")
        return float(value)

    def execute(self, event, context) -> Result:
        """Run the handler now; never raises for the handler's own failures."""
        if log_sink is not None:
            return log_sink.record(self, context, lambda: self._execute(event, context))
        return self._execute(event, context)

    def _execute(self, event, context) -> Result:
        seconds = self.run_time(event)
        try:
            returned = self.handler(event, context)
        except Exception as exc:  # noqa: BLE001 - any handler error is a function error, as in Lambda
            # Lambda's Python runtime reports errorType (the class) and errorMessage:
            # https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html
            error = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__)[-3:],
            }
            return Result("error", min(seconds, self.timeout), error=error)
        except KeyboardInterrupt:  # the learner stopping the notebook, not the handler failing
            raise
        except BaseException as exc:  # noqa: BLE001 - sys.exit() and the like end the runtime
            return Result("error", min(seconds, self.timeout), error=exit_error(exc, context))
        if seconds > self.timeout:
            message = f"Task timed out after {self.timeout:.2f} seconds"
            return Result("timeout", self.timeout, error={"errorMessage": message})
        try:
            # Lambda serialises the response to JSON; the mapping reads that JSON back.
            returned = json.loads(json.dumps(returned))
        except (TypeError, ValueError) as exc:
            error = {
                "errorType": "Runtime.MarshalError",
                "errorMessage": f"Unable to marshal response: {exc}",
            }
            return Result("error", seconds, error=error)
        return Result("ok", seconds, returned=returned)


def exit_error(exc: BaseException, context) -> dict:
    """The function error of a handler that ended its runtime process (``sys.exit()``).

    MODELLING CHOICE: Lambda reports a runtime process that exits during an invocation as an
    invocation error of the runtime (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html);
    the errorType ``Runtime.ExitError`` and the message below are what Lambda writes to the
    function's log, but no AWS page states them. Nothing a handler raises stops the simulation.
    """
    code = exc.code if isinstance(exc, SystemExit) else 1
    status = 0 if code is None else code if isinstance(code, int) else 1
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {context.aws_request_id} Error: Runtime exited with error: "
        f"exit status {status}",
    }


def zip_stub() -> bytes:
    """A deployment package for moto's record of the function (moto never runs it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def is_seconds(value) -> bool:
    """A finite, non-negative real number (not a bool, not NaN)."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def takes_event_and_context(handler) -> bool:
    """Can ``handler(event, context)`` be called? (Lambda's Python runtime calls it so:
    https://docs.aws.amazon.com/lambda/latest/dg/python-handler.html)"""
    try:
        signature = inspect.signature(handler)  # follows __wrapped__ through decorators
    except (TypeError, ValueError):  # some builtins have no signature: let them through
        return True
    try:
        signature.bind(None, None)
    except TypeError:
        return False
    return True


def check_arguments(name, handler, *, timeout, duration, reserved_concurrency, role) -> None:
    """Refuse a bad argument of ``lab.function`` at the call, naming it and what it accepts."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string (the function's name), got {name!r}")
    if not callable(handler):
        raise TypeError(f"the handler of {name} must be a function of (event, context), "
                        f"got {handler!r}")
    if not takes_event_and_context(handler):
        raise TypeError(f"the handler of {name} must accept two arguments, (event, context), as "
                        f"Lambda calls it; {getattr(handler, '__name__', handler)!r} has the "
                        f"signature {inspect.signature(handler)}")
    whole = isinstance(timeout, numbers.Real) and not isinstance(timeout, bool) and (
        math.isfinite(timeout) and float(timeout).is_integer())
    if not whole or not 1 <= timeout <= 900:
        # Lambda's timeout: whole seconds, 1 to 900
        # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html)
        raise ValueError(f"timeout must be a whole number of seconds from 1 to 900, got {timeout!r}")
    if not callable(duration) and not is_seconds(duration):
        raise ValueError(f"duration must be a finite number of seconds >= 0, or a function of the "
                         f"event that returns one, got {duration!r}")
    if reserved_concurrency is not None and (
        not isinstance(reserved_concurrency, numbers.Integral)
        or isinstance(reserved_concurrency, bool) or reserved_concurrency < 0
    ):
        # ReservedConcurrentExecutions is an integer >= 0
        # (https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionConcurrency.html)
        raise ValueError(f"reserved_concurrency must be None or a whole number >= 0, "
                         f"got {reserved_concurrency!r}")
    if role is not None and (not isinstance(role, str) or not role.startswith("arn:")):
        raise ValueError(f"role must be None (a default role is made) or an IAM role ARN, "
                         f"got {role!r}")


def register(lab, name, handler, *, timeout, duration, reserved_concurrency, role) -> Function:
    """Create the function (and a default role) in moto, and return its runnable twin.

    The default role ``<name>-role`` carries the three AWS managed execution-role policies and
    an inline policy for on-failure destinations (see DESTINATION_POLICY)."""
    check_arguments(name, handler, timeout=timeout, duration=duration,
                    reserved_concurrency=reserved_concurrency, role=role)
    lam = lab.client("lambda")
    role_arn = role or default_role(lab, name)
    try:
        lam.delete_function(FunctionName=name)  # re-running a notebook cell replaces the function
        lab.functions.pop(name, None)
    except lam.exceptions.ResourceNotFoundException:
        pass
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="index.handler",
        Code={"ZipFile": zip_stub()},
        Timeout=int(timeout),
    )
    if reserved_concurrency is not None:
        lam.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=reserved_concurrency
        )
    function = Function(
        name,
        handler,
        timeout=timeout,
        duration=duration,
        reserved_concurrency=reserved_concurrency,
        arn=created["FunctionArn"],
        role=role_arn,
    )
    lab.functions[name] = function
    return function


def default_role(lab, name) -> str:
    iam = lab.client("iam")
    role_name = f"{name}-role"[:64]
    try:
        return iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        pass
    arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    for policy in MANAGED_POLICIES:
        iam.attach_role_policy(RoleName=role_name, PolicyArn=policy)
    iam.put_role_policy(RoleName=role_name, PolicyName="esmlab-on-failure-destinations",
                        PolicyDocument=DESTINATION_POLICY)
    return arn
