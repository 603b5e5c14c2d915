"""An event source mapping: its configuration, its state machine and its API response.

States and transitions follow the responses recorded from AWS (2025). MODELLING CHOICE M8: every transitional state
(``Creating``, ``Enabling``, ``Updating``, ``Disabling``, ``Deleting``) lasts
:data:`TRANSITION_SECONDS` of simulated time; pollers start when the state becomes ``Enabled``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

TRANSITION_SECONDS = 2.0
TRANSITIONAL_STATES = ("Creating", "Enabling", "Updating", "Disabling", "Deleting")

# Keys an SQS mapping's response carries, in the order Lambda's API returns them (recorded 2025).
SQS_KEYS = (
    "UUID",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "EventSourceArn",
    "FilterCriteria",
    "FunctionArn",
    "LastModified",
    "LastProcessingResult",  # only after a denied call (IAM at run time, docs/simulator.md)
    "State",
    "StateTransitionReason",
    "FunctionResponseTypes",
    "ScalingConfig",
    "MetricsConfig",
    "ProvisionedPollerConfig",  # not recorded: placed after MetricsConfig (MODELLING CHOICE)
    "EventSourceMappingArn",
)

# Keys of a Kinesis or DynamoDB Streams mapping's response (recorded 2025), in the API's order.
STREAM_KEYS = (
    "UUID",
    "StartingPosition",
    "StartingPositionTimestamp",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "EventSourceArn",
    "FilterCriteria",
    "FunctionArn",
    "LastModified",
    "LastProcessingResult",
    "State",
    "StateTransitionReason",
    "DestinationConfig",
    "MetricsConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "FunctionResponseTypes",
    "EventSourceMappingArn",
)


@dataclass
class EventSourceMapping:
    uuid: str
    arn: str  #: EventSourceMappingArn
    source_arn: str
    function_name: str
    function_arn: str
    kind: str  #: "sqs" for now
    config: dict = field(default_factory=dict)  #: API parameters as given (with defaults)
    state: str = "Creating"
    reason: str = "USER_INITIATED"
    last_modified: dt.datetime | None = None
    shard_state: dict = field(default_factory=dict)  #: stream shard -> where to resume
    last_processing_result: str = "No records processed"
    #: SQS: absent from responses (as recorded) until the poller is denied a call (sqs/poller.py)
    sqs_processing_result: str | None = None
    running: int = 0  #: invocations of this mapping in flight, from any of its pollers
    generation: int = 0  #: counts state transitions; a settle scheduled before the last one is stale

    @property
    def enabled(self) -> bool:
        return self.state == "Enabled"

    def get(self, name, default=None):
        return self.config.get(name, default)

    def response(self) -> dict:
        values = {
            "UUID": self.uuid,
            "EventSourceArn": self.source_arn,
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "State": self.state,
            "StateTransitionReason": self.reason,
            "EventSourceMappingArn": self.arn,
            "BatchSize": self.config["BatchSize"],
            "MaximumBatchingWindowInSeconds": self.config["MaximumBatchingWindowInSeconds"],
            "FunctionResponseTypes": list(self.config.get("FunctionResponseTypes", [])),
        }
        scaling = self.config.get("ScalingConfig")
        if scaling and scaling.get("MaximumConcurrency") is not None:
            values["ScalingConfig"] = dict(scaling)
        filters = (self.config.get("FilterCriteria") or {}).get("Filters")
        if filters:  # an empty filter list is accepted and then omitted (recorded 2025)
            values["FilterCriteria"] = {"Filters": [dict(f) for f in filters]}
        if self.config.get("MetricsConfig"):
            values["MetricsConfig"] = self.config["MetricsConfig"]
        if self.provisioned_pollers is not None:
            values["ProvisionedPollerConfig"] = dict(self.config["ProvisionedPollerConfig"])
        if self.kind == "sqs":
            if self.sqs_processing_result is not None:
                values["LastProcessingResult"] = self.sqs_processing_result
            return {key: values[key] for key in SQS_KEYS if key in values}
        values.update(
            StartingPosition=self.config["StartingPosition"],
            ParallelizationFactor=self.config["ParallelizationFactor"],
            LastProcessingResult=self.last_processing_result,
            DestinationConfig={"OnFailure": dict(self.config["DestinationConfig"]["OnFailure"])},
            MaximumRecordAgeInSeconds=self.config["MaximumRecordAgeInSeconds"],
            BisectBatchOnFunctionError=self.config["BisectBatchOnFunctionError"],
            MaximumRetryAttempts=self.config["MaximumRetryAttempts"],
            TumblingWindowInSeconds=self.config["TumblingWindowInSeconds"],
        )
        if self.config.get("StartingPositionTimestamp") is not None:
            values["StartingPositionTimestamp"] = self.config["StartingPositionTimestamp"]
        return {key: values[key] for key in STREAM_KEYS if key in values}

    @property
    def batch_size(self) -> int:
        return self.config["BatchSize"]

    @property
    def window(self) -> float:
        return self.config["MaximumBatchingWindowInSeconds"]

    @property
    def report_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.config.get("FunctionResponseTypes", [])

    @property
    def maximum_concurrency(self) -> int | None:
        return (self.config.get("ScalingConfig") or {}).get("MaximumConcurrency")

    @property
    def provisioned_pollers(self) -> tuple[int, int] | None:
        """(MinimumPollers, MaximumPollers) in provisioned mode; None in the default mode."""
        pollers = self.config.get("ProvisionedPollerConfig")
        if not pollers:
            return None
        return pollers["MinimumPollers"], pollers["MaximumPollers"]
