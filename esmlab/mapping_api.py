"""The Lambda API's ``*EventSourceMapping`` calls, answered by esmlab instead of moto.

Every boto3 Lambda client made while a Lab is open (``lab.client("lambda")`` or plain
``boto3.client("lambda")``) sends these five operations here: botocore validates the parameters
client-side as usual, then this module answers with AWS's response shape, defaults, HTTP status
and errors (recorded from AWS in 2025; https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html). moto never learns about the mapping, so it can never invoke a
function itself.
"""

from __future__ import annotations

import uuid as uuidlib

import botocore.handlers
from botocore.awsrequest import AWSResponse

from . import limits
from .limits import MESSAGES, REPORTED, UNRECORDED
from .mapping import TRANSITION_SECONDS, TRANSITIONAL_STATES, EventSourceMapping

OPERATIONS = {
    "CreateEventSourceMapping",
    "GetEventSourceMapping",
    "UpdateEventSourceMapping",
    "DeleteEventSourceMapping",
    "ListEventSourceMappings",
}
STREAM_ONLY = (
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "TumblingWindowInSeconds",
)
NOT_SIMULATED = ("KMSKeyArn",)

_active_lab = None


class ApiError(Exception):
    """An AWS error answer: code, HTTP status, message (and the recorded body shape)."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def body(self) -> dict:
        body = {"Error": {"Code": self.code, "Message": self.message}}
        if self.code in ("InvalidParameterValueException", "ResourceConflictException"):
            body.update(Type="User", message=self.message)
        elif self.code in ("ResourceNotFoundException", "ResourceInUseException"):
            body.update(Type="User", Message=self.message)
        return body


def invalid(message) -> ApiError:
    return ApiError("InvalidParameterValueException", message)


# --- botocore wiring -----------------------------------------------------------------------


def _keep_params(params, model, context, **kwargs):
    if model.name in OPERATIONS and _active_lab is not None:
        context["esmlab_params"] = dict(params)


def _answer(model, params, context, **kwargs):
    if model.name not in OPERATIONS or _active_lab is None:
        return None
    api = MappingApi(_active_lab)
    try:
        status, body = getattr(api, model.name)(context.get("esmlab_params", {}))
    except ApiError as error:
        status, body = error.status, error.body()
    body["ResponseMetadata"] = {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}
    return AWSResponse("https://lambda.esmlab", status, {}, None), body


# Every boto3 client made after esmlab is imported routes its mapping calls here; they are
# answered only while a lab is open (``_active_lab``).
botocore.handlers.BUILTIN_HANDLERS += [
    ("before-parameter-build.lambda", _keep_params),
    ("before-call.lambda", _answer),
]


def install(lab) -> None:
    """Route the mapping calls of every Lambda client to ``lab`` (one open lab at a time)."""
    global _active_lab
    _active_lab = lab


def uninstall(lab) -> None:
    global _active_lab
    if _active_lab is lab:
        _active_lab = None


# --- the API -------------------------------------------------------------------------------


class MappingApi:
    def __init__(self, lab):
        self.lab = lab

    def CreateEventSourceMapping(self, params):
        source_arn = params.get("EventSourceArn")
        kind = source_kind(source_arn)
        if kind is None:
            raise invalid(MESSAGES["V10"])
        check_ranges(params)
        if kind == "sqs":
            check_sqs_only(params)
        else:
            check_stream_params(params, kind, source_arn)
        name, qualified = function_name(params.get("FunctionName", ""))
        function = self.lab.functions.get(name)
        if function is None:
            raise invalid(MESSAGES["V11"])
        if kind == "sqs":
            queue = self.lab.queue_by_arn(source_arn)
            if queue is None:
                raise invalid(MESSAGES["V6"])
            config = sqs_config(params)
            check_sqs_rules(config, queue, function)
        else:
            if not self.lab.stream_exists(kind, source_arn):
                raise invalid(MESSAGES["V7"].format(arn=source_arn))
            config = stream_config(params)
        config["Patterns"] = self.lab.filter_patterns(params.get("FilterCriteria"))
        self.lab.check_role(function, kind, source_arn)
        for other in self.lab.mappings.values():
            if other.source_arn == source_arn and other.function_name == name:
                template = MESSAGES["V8" if kind == "sqs" else "V9"]
                raise ApiError(
                    "ResourceConflictException",
                    template.format(arn=source_arn, function=name, uuid=other.uuid),
                    status=409,
                )
        ident = str(uuidlib.UUID(int=self.lab.random.getrandbits(128), version=4))
        mapping = EventSourceMapping(
            uuid=ident,
            arn=f"arn:aws:lambda:{self.lab.region}:{self.lab.account_id}:event-source-mapping:{ident}",
            source_arn=source_arn,
            function_name=name,
            function_arn=function.arn + (f":{qualified}" if qualified else ""),
            kind=kind,
            config=config,
            state="Creating" if params.get("Enabled", True) else "Disabled",
            reason="USER_INITIATED" if kind == "sqs" else "User action",
            last_modified=self.lab.datetime(),
        )
        self.lab.mappings[ident] = mapping
        self.lab.record_state(mapping)
        if mapping.state == "Creating":
            self.lab.clock.after(TRANSITION_SECONDS, self.lab.settle, mapping, "Enabled",
                                 mapping.generation)
        return 202, mapping.response()

    def GetEventSourceMapping(self, params):
        return 200, self.find(params.get("UUID")).response()

    def ListEventSourceMappings(self, params):
        source = params.get("EventSourceArn")
        name = function_name(params["FunctionName"])[0] if params.get("FunctionName") else None
        found = [
            m.response()
            for m in self.lab.mappings.values()
            if source in (None, m.source_arn) and name in (None, m.function_name)
        ]
        return 200, {"EventSourceMappings": found}

    def UpdateEventSourceMapping(self, params):
        mapping = self.find(params.get("UUID"))
        check_ranges(params)
        if mapping.kind == "sqs":
            check_sqs_only(params)
            updatable = SQS_UPDATABLE
        else:
            check_stream_params(params, mapping.kind, mapping.source_arn, update=True)
            updatable = STREAM_UPDATABLE
        config = dict(mapping.config)
        config.update({k: v for k, v in params.items() if k in updatable})
        if "ProvisionedPollerConfig" in params and mapping.kind == "sqs":
            config["ProvisionedPollerConfig"] = provisioned_config(
                params["ProvisionedPollerConfig"])
        if "DestinationConfig" in params and mapping.kind != "sqs":
            config["DestinationConfig"] = {"OnFailure": dict(
                (params["DestinationConfig"] or {}).get("OnFailure") or {})}
        if "FilterCriteria" in params:
            config["Patterns"] = self.lab.filter_patterns(params.get("FilterCriteria"))
        function = self.lab.functions[mapping.function_name]
        name, function_arn = mapping.function_name, mapping.function_arn
        if params.get("FunctionName"):
            name, qualified = function_name(params["FunctionName"])
            function = self.lab.functions.get(name)
            if function is None:
                raise invalid(MESSAGES["V11"])
            function_arn = function.arn + (f":{qualified}" if qualified else "")
        queue = self.lab.queue_by_arn(mapping.source_arn) if mapping.kind == "sqs" else None
        if queue is not None:
            check_sqs_rules(config, queue, function)
        # the request's own parameters are checked first, then the mapping's state; a refused
        # update changes nothing: apply it only after every check passed
        refuse_in_transition(mapping, "UpdateEventSourceMapping", TRANSITIONAL_STATES)
        mapping.function_name, mapping.function_arn = name, function_arn
        mapping.config = config
        mapping.last_modified = self.lab.datetime()
        self.lab.mapping_updated(mapping)
        enabled = params.get("Enabled")
        if enabled is False and mapping.state in ("Enabled", "Creating", "Enabling", "Updating"):
            self.transition(mapping, "Disabling", "Disabled")
        elif enabled is True and mapping.state in ("Disabled", "Disabling"):
            self.transition(mapping, "Enabling", "Enabled")
        elif mapping.state == "Enabled":
            self.transition(mapping, "Updating", "Enabled")
        return 202, mapping.response()

    def DeleteEventSourceMapping(self, params):
        mapping = self.find(params.get("UUID"))
        refuse_in_transition(mapping, "DeleteEventSourceMapping", DELETE_REFUSED_STATES)
        self.transition(mapping, "Deleting", None)
        return 202, mapping.response()

    def find(self, ident) -> EventSourceMapping:
        mapping = self.lab.mappings.get(ident)
        if mapping is None or mapping.state == "Deleted":
            raise ApiError("ResourceNotFoundException", MESSAGES["V13"], status=404)
        return mapping

    def transition(self, mapping, now_state, then_state):
        mapping.generation += 1  # any settle still scheduled for an earlier state is now stale
        mapping.state = now_state
        self.lab.record_state(mapping)
        if now_state in ("Disabling", "Deleting"):
            self.lab._stop_poller(mapping)  # delivery stops as soon as the user disables
        self.lab.clock.after(TRANSITION_SECONDS, self.lab.settle, mapping, then_state,
                             mapping.generation)


#: MODELLING CHOICE: states in which DeleteEventSourceMapping is refused. The API reference's
#: ResourceInUseException names deleting a mapping that is UPDATING; esmlab also refuses it
#: while the mapping is Enabling or Disabling (the other states an update starts) and while it is
#: already Deleting. Deleting a mapping that is still Creating is accepted
#: (https://docs.aws.amazon.com/lambda/latest/api/API_DeleteEventSourceMapping.html).
DELETE_REFUSED_STATES = ("Enabling", "Updating", "Disabling", "Deleting")


def refuse_in_transition(mapping, operation, states) -> None:
    """ResourceInUseException for a call on a mapping in a transitional state: the API
    reference names updating a mapping that is CREATING and deleting one that is UPDATING
    (https://docs.aws.amazon.com/lambda/latest/api/API_UpdateEventSourceMapping.html,
    https://docs.aws.amazon.com/lambda/latest/api/API_DeleteEventSourceMapping.html).
    MODELLING CHOICE: esmlab refuses an update in every transitional state."""
    if mapping.state in states:
        raise ApiError("ResourceInUseException", UNRECORDED["in_use"].format(
            uuid=mapping.uuid, state=mapping.state, operation=operation))


SQS_UPDATABLE = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "ScalingConfig",
    "ProvisionedPollerConfig",
    "MetricsConfig",
    "FilterCriteria",
    "Enabled",
)
STREAM_UPDATABLE = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "MetricsConfig",
    "FilterCriteria",
    "ParallelizationFactor",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "TumblingWindowInSeconds",
    "Enabled",
)
STARTING_POSITIONS = ("LATEST", "AT_TIMESTAMP", "TRIM_HORIZON")
DESTINATION_SERVICES = ("sqs", "sns", "s3")


def check_stream_params(params, kind, arn, update=False) -> None:
    """API parameter ranges and the recorded errors V2-V4, V12 for Kinesis and DynamoDB Streams."""
    position = params.get("StartingPosition")
    if not update:
        if position is None:
            raise invalid(MESSAGES["V2"])
        if position not in STARTING_POSITIONS:
            raise ApiError("ValidationException", MESSAGES["V3"].format(value=position))
        if kind == "dynamodb" and position == "AT_TIMESTAMP":
            raise invalid(MESSAGES["V4"].format(arn=arn))
        if position == "AT_TIMESTAMP" and params.get("StartingPositionTimestamp") is None:
            raise invalid(UNRECORDED["at_timestamp"])
        moment = params.get("StartingPositionTimestamp")
        if moment is not None and _epoch(moment) > _lab_epoch():
            # "must not lie in the future" (API reference); text not recorded
            raise invalid(UNRECORDED["future_timestamp"])
    destinations = params.get("DestinationConfig") or {}
    if destinations.get("OnSuccess"):
        raise invalid(MESSAGES["V12"])
    target = (destinations.get("OnFailure") or {}).get("Destination")
    if target and (not target.startswith("arn:") or target.split(":")[2] not in DESTINATION_SERVICES):
        raise invalid(UNRECORDED["destination"].format(arn=target))
    for param in ("ScalingConfig", "ProvisionedPollerConfig"):
        if params.get(param):
            raise invalid(UNRECORDED["not_for_streams"].format(param=param))
    if params.get("KMSKeyArn"):
        raise invalid(UNRECORDED["not_simulated"].format(param="KMSKeyArn"))


def _epoch(moment) -> float:
    return moment.timestamp() if hasattr(moment, "timestamp") else float(moment)


def _lab_epoch() -> float:
    return _active_lab.clock.epoch() if _active_lab is not None else float("inf")


def stream_config(params) -> dict:
    """A stream mapping's configuration with the API reference's defaults, as recorded."""
    return {
        "StartingPosition": params["StartingPosition"],
        "StartingPositionTimestamp": params.get("StartingPositionTimestamp"),
        "BatchSize": params.get("BatchSize", 100),
        "MaximumBatchingWindowInSeconds": params.get("MaximumBatchingWindowInSeconds", 0),
        "ParallelizationFactor": params.get("ParallelizationFactor", 1),
        "BisectBatchOnFunctionError": params.get("BisectBatchOnFunctionError", False),
        "MaximumRetryAttempts": params.get("MaximumRetryAttempts", -1),
        "MaximumRecordAgeInSeconds": params.get("MaximumRecordAgeInSeconds", -1),
        "TumblingWindowInSeconds": params.get("TumblingWindowInSeconds", 0),
        "FunctionResponseTypes": list(params.get("FunctionResponseTypes", [])),
        "DestinationConfig": {"OnFailure": dict(
            (params.get("DestinationConfig") or {}).get("OnFailure") or {})},
        "FilterCriteria": params.get("FilterCriteria"),
        "MetricsConfig": params.get("MetricsConfig"),
    }


def source_kind(arn) -> str | None:
    """``sqs``, ``kinesis`` or ``dynamodb`` from an event source ARN; None if unrecognised."""
    if not arn or not isinstance(arn, str) or not arn.startswith("arn:"):
        return None
    parts = arn.split(":")
    if len(parts) < 6:
        return None
    if parts[2] == "sqs":
        return "sqs"
    if parts[2] == "kinesis" and parts[5].startswith("stream/"):
        return "kinesis"
    if parts[2] == "dynamodb" and "/stream/" in parts[5]:
        return "dynamodb"
    return None


def function_name(value: str) -> tuple[str, str | None]:
    """Name and qualifier from a name, ``name:qualifier``, or a (partial) function ARN."""
    if ":function:" in value:
        value = value.split(":function:", 1)[1]
    elif value.count(":") == 2:  # 123456789012:function:name partial ARN
        value = value.split(":")[-1]
    name, _, qualifier = value.partition(":")
    return name, (qualifier or None)


def check_ranges(params) -> None:
    flat = dict(params)
    for group in ("ScalingConfig", "ProvisionedPollerConfig"):
        if isinstance(params.get(group), dict):
            for key, value in params[group].items():
                flat[f"{group}.{key}"] = value
    for param, (low, high) in limits.RANGES.items():
        value = flat.get(param)
        if value is None:
            continue
        if value > high:
            raise ApiError("ValidationException", limits.range_message(param, value, high, True))
        if value < low:
            raise ApiError("ValidationException", limits.range_message(param, value, low, False))
    check_response_types(params.get("FunctionResponseTypes"))
    age = flat.get("MaximumRecordAgeInSeconds")
    if age is not None and 0 <= age < limits.MIN_RECORD_AGE_SECONDS:  # -1, or 60 and more
        raise ApiError("ValidationException", limits.range_message(
            "MaximumRecordAgeInSeconds", age, limits.MIN_RECORD_AGE_SECONDS, False))


def check_response_types(value) -> None:
    """FunctionResponseTypes: at most one item, of the enum's one value (API reference).

    botocore checks only that it is a list of strings; the enum and the length reach us. The
    exception is inferred from V3 (an enum value AWS's model refuses is a ValidationException);
    the text is not recorded."""
    if value is None:
        return
    if len(value) > 1 or any(v not in limits.FUNCTION_RESPONSE_TYPES for v in value):
        raise ApiError("ValidationException",
                       UNRECORDED["response_types"].format(value=list(value)))


def check_sqs_only(params) -> None:
    destinations = params.get("DestinationConfig") or {}
    if destinations.get("OnSuccess"):
        raise invalid(MESSAGES["V12"])
    if destinations.get("OnFailure"):
        # V12 was recorded for OnSuccess; for OnFailure on SQS the text is not recorded
        # (never recorded), so esmlab says so.
        raise invalid(UNRECORDED["on_failure_sqs"])
    for param in STREAM_ONLY:
        if param in params:
            raise invalid(UNRECORDED["not_for_sqs"].format(param=param))
    for param in NOT_SIMULATED:
        if params.get(param):
            raise invalid(UNRECORDED["not_simulated"].format(param=param))


def sqs_config(params) -> dict:
    config = {
        "BatchSize": params.get("BatchSize", limits.DEFAULT_BATCH_SIZE["sqs"]),
        "MaximumBatchingWindowInSeconds": params.get("MaximumBatchingWindowInSeconds", 0),
        "FunctionResponseTypes": list(params.get("FunctionResponseTypes", [])),
    }
    for key in ("ScalingConfig", "MetricsConfig", "FilterCriteria"):
        if params.get(key):
            config[key] = params[key]
    if "ProvisionedPollerConfig" in params:
        config["ProvisionedPollerConfig"] = provisioned_config(params["ProvisionedPollerConfig"])
    if "MaximumBatchingWindowInSeconds" in params:
        config["_window_set"] = True
    return config


def provisioned_config(given) -> dict | None:
    """ProvisionedPollerConfig with the API reference's SQS defaults filled in (MODELLING CHOICE:
    the echo shows the values in effect); ``{}`` or ``None`` means default (not provisioned) mode,
    as an empty ``ScalingConfig`` removes maximum concurrency
    (https://docs.aws.amazon.com/lambda/latest/api/API_ScalingConfig.html)."""
    if not given:
        return None
    if given.get("PollerGroupName") is not None:  # Kafka sources only (API_ProvisionedPollerConfig)
        raise invalid(UNRECORDED["not_for_sqs"].format(
            param="ProvisionedPollerConfig.PollerGroupName"))
    return {
        "MinimumPollers": given.get("MinimumPollers", limits.SQS_DEFAULT_MINIMUM_POLLERS),
        "MaximumPollers": given.get("MaximumPollers", limits.SQS_DEFAULT_MAXIMUM_POLLERS),
    }


def check_provisioned(config) -> None:
    """SQS provisioned mode: at least 2 pollers each way, minimum not above maximum, and not with
    MaximumConcurrency (https://docs.aws.amazon.com/lambda/latest/api/API_ProvisionedPollerConfig.html,
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html). AWS's messages are
    not recorded: InvalidParameterValueException, as for Lambda's other cross-parameter rules."""
    pollers = config.get("ProvisionedPollerConfig")
    if not pollers:
        return
    for param in ("MinimumPollers", "MaximumPollers"):
        if pollers[param] < limits.SQS_MIN_POLLERS:
            raise invalid(UNRECORDED["pollers_sqs_minimum"].format(
                param=param, value=pollers[param]))
    if pollers["MinimumPollers"] > pollers["MaximumPollers"]:
        raise invalid(UNRECORDED["pollers_order"].format(
            minimum=pollers["MinimumPollers"], maximum=pollers["MaximumPollers"]))
    if (config.get("ScalingConfig") or {}).get("MaximumConcurrency") is not None:
        raise invalid(UNRECORDED["provisioned_with_maximum_concurrency"])


def check_sqs_rules(config, queue, function) -> None:
    """The cross-parameter rules for SQS (API reference, services-sqs-parameters, -configure)."""
    check_provisioned(config)
    batch = config["BatchSize"]
    window = config["MaximumBatchingWindowInSeconds"]
    if queue.fifo_queue:
        if batch > limits.FIFO_MAX_BATCH_SIZE:
            raise invalid(UNRECORDED["fifo_batch"])
        if config.get("_window_set") and window:
            raise invalid(UNRECORDED["fifo_window"])
    if batch > limits.SQS_MAX_BATCH_WITHOUT_WINDOW and not window:
        raise invalid(MESSAGES["V1"])
    vt = int(queue.visibility_timeout)
    if function.timeout > vt:
        timeout = int(function.timeout)
        raise invalid(REPORTED["timeout_vs_vt"].format(timeout=timeout, vt=vt))
