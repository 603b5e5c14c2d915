"""The Lab: one simulated AWS account, clock and mapping runtime, driven from a notebook or a test.

    with Lab(seed=7) as lab:
        sqs = lab.client("sqs")
        ...
        lab.run(until=60)

Opening a Lab sets fake credentials (before any client exists), starts moto, freezes time at
:data:`esmlab.clock.START`, seeds moto's and esmlab's random sources, and routes the Lambda
mapping API to esmlab. Only one Lab is open at a time: opening a new one closes the previous one,
so re-running a notebook cell just works.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import numbers
import os
import random
import uuid

import boto3
import botocore.handlers
from botocore.config import Config
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core import responses as moto_responses
from moto.moto_api._internal import mock_random
from moto.sqs.models import sqs_backends

from . import cloudwatch, mapping_api
from .clock import START, Clock
from .concurrency import Concurrency
from .functions import register
from .ledger import Ledger, StreamLedger, conservation, stream_conservation
from .limits import MESSAGES
from .moto import dynamodb_shards as moto_ddb_shards
from .moto import iam as moto_iam
from .moto import kinesis as moto_kinesis
from .moto import sqs as moto_sqs
from .moto import streams as moto_streams
from .sqs.delivery import Delivery
from .sqs.poller import SqsPoller
from .streams.poller import StreamPoller
from .streams.sources import source_for
from .trace import Trace

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    # botocore's account-ID endpoints break moto's DynamoDB Streams (measured, issue 3).
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}

_open_lab = None
_session = None



def _refuse_after_close(request, **kwargs):
    """A client made for a lab must never reach AWS once the lab is closed.

    moto answers while its mock is on (its handler comes first); after ``close()`` a request
    signed with the lab's fake key would otherwise leave the machine. Refuse it instead.
    """
    authorization = request.headers.get("Authorization") or b""
    if isinstance(authorization, bytes):
        authorization = authorization.decode(errors="replace")
    fake_keys = (FAKE_ENV["AWS_ACCESS_KEY_ID"], "FOOBARKEY")  # ours, and the one moto sets
    if _open_lab is None and not _moto_mock_on() and any(
            f"Credential={key}/" in authorization for key in fake_keys):
        raise RuntimeError(
            "This boto3 client belongs to a Lab that is closed (a newer Lab was opened, or "
            "close() was called), so it has no simulated AWS to talk to. Open a Lab and make "
            "the client again with lab.client(...)."
        )


def _moto_mock_on() -> bool:
    """A plain ``moto.mock_aws()`` of someone else's test is on (no Lab): moto answers, so the
    request stays on the machine and must not be refused."""
    from moto.core.models import botocore_stubber

    return botocore_stubber.enabled


botocore.handlers.BUILTIN_HANDLERS.append(("before-send", _refuse_after_close))

# moto lists a response class's methods with inspect on every request; the list never changes,
# so cache it (about a fifth of a DynamoDB put_item's cost, measured in benchmarks/).
moto_responses.method_names_from_class = functools.cache(moto_responses.method_names_from_class)


def _fake_credentials(region):
    """No lab may ever reach a real account: real credentials are replaced before any client."""
    os.environ.update(FAKE_ENV)
    os.environ["AWS_DEFAULT_REGION"] = region
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        os.environ.pop(name, None)


def _check_lab_arguments(seed, region, account_concurrency):
    """Refuse a bad ``Lab(...)`` argument at the call, naming it and what it accepts."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be a whole number (the same seed gives the same trace), "
                        f"got {seed!r}")
    if not isinstance(region, str) or not region:
        raise TypeError(f"region must be an AWS Region name such as 'us-east-1', got {region!r}")
    if (isinstance(account_concurrency, bool) or not isinstance(account_concurrency, int)
            or account_concurrency < 1):
        raise ValueError(f"account_concurrency must be a whole number >= 1 (AWS's default is "
                         f"1,000), got {account_concurrency!r}")


#: How standard queues deliver by default (esmlab/sqs/delivery.py; docs/simulator.md says why).
DEFAULT_DELIVERY = {"reorder": 0.0, "duplicates": 0.0}


class Lab:
    """A simulated AWS account with Lambda event source mappings. See the module docstring.

    ``seed``: the seed of every random source (same seed and calls, same trace).
    ``region``: the Region of every client and ARN. ``account_concurrency``: the account's
    concurrency limit (AWS's default is 1,000).
    ``reorder`` and ``duplicates``: how SQS standard queues deliver, as probabilities from 0 to 1.
    A standard queue delivers in best-effort order and at least once
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html):
    ``reorder`` is the chance that a receive passes over a message (a later one arrives first),
    ``duplicates`` the chance that a receive leaves a copy that is delivered once more. Both are 0
    by default, so counts and orders are exact; ``Lab(**esmlab.BEST_EFFORT)`` turns on rates a
    lab of a few hundred messages shows. FIFO queues are never affected.
    """

    def __init__(self, seed: int = 0, region: str = "us-east-1", account_concurrency: int = 1000,
                 *, reorder: float = DEFAULT_DELIVERY["reorder"],
                 duplicates: float = DEFAULT_DELIVERY["duplicates"]):
        global _open_lab
        _check_lab_arguments(seed, region, account_concurrency)
        delivery = Delivery(seed, reorder, duplicates)  # checks both rates
        if _open_lab is not None:
            _open_lab.close()
        _fake_credentials(region)
        self.seed, self.region, self.account_id = seed, region, DEFAULT_ACCOUNT_ID
        self.random = random.Random(seed)
        self.clock = Clock()
        self._mock = mock_aws(
            config={
                "iam": {"load_aws_managed_policies": True},
                "lambda": {"use_docker": False},
                "core": {"reset_boto3_session": True},
            }
        )
        self._mock.start()
        mock_random.seed(seed)
        self.trace = Trace()
        self.ledger = Ledger(self)
        self.stream_ledger = StreamLedger(self)
        self.concurrency = Concurrency(self, account_concurrency)
        self.functions: dict = {}
        self.mappings: dict = {}
        self.clients: dict = {}
        self._internal: dict = {}
        self._pollers: dict = {}
        self.delivery = delivery
        self._draining: dict = {}  #: mapping UUID -> a stopped stream poller still finishing
        moto_sqs.install(self.ledger, delivery)
        moto_streams.install(self)
        moto_kinesis.install(self)  # shard throughput (esmlab.streams.throughput)
        moto_ddb_shards.install()  # several DynamoDB stream shards (lab.dynamodb_stream_shards)
        moto_iam.install()
        mapping_api.install(self)
        self.cloudwatch = cloudwatch.install(self)  # metrics, logs and alarms (esmlab.cloudwatch)
        self.closed = False
        _open_lab = self

    # --- the learner's API ---------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Simulated seconds since the lab started (inside a handler: the invocation's start)."""
        return self.clock.now

    def client(self, service: str):
        """A boto3 client bound to this lab's moto and clock (the same one on every call)."""
        if service not in self.clients:
            self.clients[service] = self._make_client(service)
        return self.clients[service]

    def function(self, name, handler=None, *, timeout=3, duration=0.0, reserved_concurrency=None,
                 role=None):
        """Register ``handler`` as the Lambda function ``name``; a decorator if handler is None.

        ``duration``: simulated seconds one invocation runs (a number, or a callable of the
        event). A run longer than ``timeout`` ends as a timeout error at ``timeout``.
        """
        def make(fn):
            return register(self, name, fn, timeout=timeout, duration=duration,
                            reserved_concurrency=reserved_concurrency, role=role)
        return make if handler is None else make(handler)

    def run(self, until: float) -> None:
        """Process every simulated event up to ``until`` seconds; call again to go further.

        ``until`` is a simulated instant in seconds since the lab started: a finite number, not
        earlier than ``lab.now``."""
        self._check_open()
        if isinstance(until, bool) or not isinstance(until, numbers.Real) or not math.isfinite(until):
            raise ValueError(f"until must be a finite number of simulated seconds (the lab is at "
                             f"t={self.now:g}), got {until!r}")
        if until < self.now:
            raise ValueError(f"until must not be before now: lab.run(until={until!r}) is in the "
                             f"past, the lab is at t={self.now:g}")
        seen = len(self.trace.invocations)
        self.clock.run(until)
        if notice := self.trace.failure_notice(since=seen):
            print(notice)

    def conservation(self):
        """Where every message that entered a queue is now (see :mod:`esmlab.ledger`)."""
        return conservation(self)

    def stream_conservation(self, mapping_uuid: str) -> dict:
        """Fates of the records a stream mapping read (see :mod:`esmlab.ledger`)."""
        mapping = self.mappings.get(mapping_uuid)
        if mapping is None or mapping.kind == "sqs":
            raise ValueError(f"{mapping_uuid!r} is not the UUID of a Kinesis or DynamoDB Streams "
                             "mapping of this lab (for SQS use lab.conservation())")
        return stream_conservation(self, mapping_uuid)

    def dynamodb_stream_shards(self, table_name: str, count: int) -> None:
        """Give the stream of ``table_name`` ``count`` shards (1-100; moto's model is 1), before
        its first write. A record goes to a shard by a hash of the item's partition key, so each
        item's records keep their order (a modelling choice: docs/simulator.md)."""
        from moto.dynamodb.models import dynamodb_backends

        self._check_open()
        tables = dynamodb_backends[self.account_id][self.region].tables
        if table_name not in tables:
            raise ValueError(f"table_name {table_name!r} is not a table of this lab "
                             f"(tables: {sorted(tables) or 'none'})")
        moto_ddb_shards.set_shard_count(tables[table_name], count)

    def close(self) -> None:
        global _open_lab
        if self.closed:
            return
        for poller in self._pollers.values():
            poller.stop()
        mapping_api.uninstall(self)
        cloudwatch.uninstall(self)
        moto_sqs.uninstall()
        moto_streams.uninstall()
        moto_kinesis.uninstall()
        moto_ddb_shards.uninstall()
        moto_iam.uninstall()
        self._mock.stop()
        self.clock.stop()
        self.closed = True
        if _open_lab is self:
            _open_lab = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- used by the runtime -------------------------------------------------------------------

    def _check_open(self):
        if self.closed:
            raise RuntimeError("this Lab is closed (a newer Lab was opened, or close() was called)")

    def _make_client(self, service):
        global _session
        if _session is None:  # one session for all labs: its loader caches the service models
            _session = boto3.session.Session()
        # One attempt, no retry: a retry would sleep in real time and land at the same
        # simulated instant, so a throttled Kinesis call (esmlab.streams.throughput) would
        # only fail again. Producers retry themselves, after lab.run moves time on.
        config = Config(retries={"total_max_attempts": 1, "mode": "standard"})
        client = _session.client(service, region_name=self.region, config=config)
        client.meta.events.register_first("before-send", self._refuse_if_closed)
        return client

    def _refuse_if_closed(self, **kwargs):
        """A client of a closed lab must not reach the lab opened after it (nor AWS)."""
        if self.closed:
            raise RuntimeError(
                "This boto3 client belongs to a Lab that is closed (a newer Lab was opened, or "
                "close() was called). Make the client again from the open lab: "
                "lab.client(...)."
            )

    def internal_client(self, service):
        """The runtime's own clients, kept apart from the learner's."""
        if service not in self._internal:
            self._internal[service] = self._make_client(service)
        return self._internal[service]

    def datetime(self) -> dt.datetime:
        return START + dt.timedelta(seconds=self.now)

    def new_request_id(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def sqs_backend(self):
        return sqs_backends[self.account_id][self.region]

    def queue_by_arn(self, arn):
        name = arn.rsplit(":", 1)[-1]
        if not arn.startswith(f"arn:aws:sqs:{self.region}:{self.account_id}:"):
            return None
        return self.sqs_backend().queues.get(name)

    def queue_url(self, arn) -> str:
        name = arn.rsplit(":", 1)[-1]
        return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{name}"

    def sqs_copy_available(self, queue):
        """A copy of a received message can be received (esmlab/sqs/delivery.py): wake a poll."""
        for poller in self._pollers.values():
            if getattr(poller, "queue_arn", None) == queue.queue_arn:
                poller.on_available()

    def sqs_arrival(self, queue, message):
        """A message entered ``queue``: wake the pollers of its mappings (when it is visible)."""
        delay = max(0.0, (message.delayed_until - moto_sqs.now_ms()) / 1000)
        for poller in self._pollers.values():
            if getattr(poller, "queue_arn", None) == queue.queue_arn:
                self.clock.after(delay, poller.on_available) if delay else poller.on_available()
        expires = int(queue.message_retention_period)
        self.clock.after(expires, self._expire, queue.queue_arn)

    def _expire(self, queue_arn):
        queue = self.queue_by_arn(queue_arn)
        if queue is not None:
            moto_sqs.expire_messages(queue)

    def record_state(self, mapping):
        self.trace.add(self.now, "state", mapping=mapping.uuid, source=mapping.source_arn,
                       detail={"state": mapping.state})

    def settle(self, mapping, state, generation):
        """End a transitional state (M8): start or stop the mapping's pollers.

        Only the latest transition settles: one that a later call replaced (a mapping deleted
        while Creating) does nothing, so the state the learner asked for last wins."""
        if generation != mapping.generation or self.mappings.get(mapping.uuid) is not mapping:
            return
        if mapping.state in ("Disabling", "Deleting"):
            self._stop_poller(mapping)
        if state is None:
            mapping.state = "Deleted"
            self.record_state(mapping)
            self.cloudwatch.publisher.remember(mapping)  # its metrics outlive it
            del self.mappings[mapping.uuid]
            return
        mapping.state = state
        self.record_state(mapping)
        if state == "Enabled" and mapping.uuid not in self._pollers:
            self._start_poller(mapping)

    def _start_poller(self, mapping):
        if mapping.uuid in self._draining:
            return  # started by poller_drained, when the stopped poller's invocations end
        if mapping.kind == "sqs":
            poller = SqsPoller(self, mapping)
        else:
            role = self.functions[mapping.function_name].role
            source = source_for(self, mapping.kind, mapping.source_arn, role)
            poller = StreamPoller(self, mapping, source)
        self._pollers[mapping.uuid] = poller
        poller.start()

    # --- streams ---------------------------------------------------------------------------------

    def stream_exists(self, kind, arn) -> bool:
        return source_for(self, kind, arn, None).exists()

    def on_stream_record(self, kind, shard):
        """moto_streams: a record was written to a stream of ``kind``; wake its readers."""
        for poller in self._pollers.values():
            if poller.mapping.kind == kind:
                poller.on_record()

    def on_reshard(self, stream_arn):
        """moto_kinesis: a shard of the stream was split or merged; its mappings follow."""
        for poller in list(self._pollers.values()):
            if poller.mapping.source_arn == stream_arn:
                poller.resharding.refresh()

    def send_to_destination(self, poller, batch, why, invocations) -> bool:
        """Write the failure record of a discarded batch to the mapping's on-failure target."""
        from .streams.destinations import deliver, failure_record

        target = poller.mapping.config["DestinationConfig"]["OnFailure"].get("Destination")
        if not target:
            return False
        records = batch.records
        request_id = self.new_request_id()
        for invocation in reversed(self.trace.invocations):
            if invocation.mapping == poller.mapping.uuid and records[0].sequence in invocation.records:
                request_id = invocation.request_id
                break
        function = self.functions.get(poller.mapping.function_name)
        record = failure_record(
            source=poller.mapping.kind,
            condition=why,
            request_id=request_id,
            function_arn=poller.mapping.function_arn,
            invoke_count=max(1, invocations),
            function_error="Unhandled" if batch.thrown else None,
            timestamp=self.clock.epoch(),
            shard_id=records[0].shard,
            start_sequence=records[0].sequence,
            end_sequence=records[-1].sequence,
            first_arrival=records[0].arrival,
            last_arrival=records[-1].arrival,
            batch_size=len(records),
            stream_arn=poller.mapping.source_arn,
        )
        payload = {"Records": [r.record for r in records]}
        permitted = self.destination_permitted(function, target)
        ok, reason = deliver(self.internal_client, target, record, payload,
                             mapping_uuid=poller.mapping.uuid, random_uuid=self.new_request_id(),
                             permitted=permitted)
        poller.trace("destination", records=batch.ids, outcome="delivered" if ok else "failed",
                     detail={"target": target, "record": record, "reason": reason})
        return ok

    # --- filters and permissions -----------------------------------------------------------------

    def filter_patterns(self, criteria):
        """Validate FilterCriteria (V5); returns the parsed patterns ([] when none)."""
        if not criteria or not criteria.get("Filters"):
            return []
        from .filtering import InvalidFilter, validate

        try:
            return validate(criteria)
        except InvalidFilter as error:
            raise mapping_api.invalid(str(error)) from None

    def matches(self, poller, record) -> bool:
        from .filtering import matches

        return matches(poller.mapping.config["Patterns"], record, poller.mapping.kind)

    def check_role(self, function, kind, arn):
        """V14/V15: the execution role must allow what the poller will call (the actions per
        source: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html and the Kinesis and
        DynamoDB Streams pages; esmlab/permissions.py lists them)."""
        from .permissions import missing

        # V14 names ReceiveMessage; V15 stands for the stream read actions.
        # SubscribeToShard is for enhanced fan-out consumers, which esmlab does not model.
        absent = set(missing(function.role, kind, arn)) - {"kinesis:SubscribeToShard"}
        if kind == "sqs" and "sqs:ReceiveMessage" in absent:
            raise mapping_api.invalid(MESSAGES["V14"])
        if kind != "sqs" and absent:
            raise mapping_api.invalid(MESSAGES["V15"].format(arn=arn))

    def destination_permitted(self, function, target) -> bool:
        from .permissions import missing_destination

        return not missing_destination(function.role, target.split(":")[2], target)

    def mapping_updated(self, mapping):
        """UpdateEventSourceMapping changed the configuration of a running mapping."""
        poller = self._pollers.get(mapping.uuid)
        if poller is not None:
            poller.reconfigure()

    def poller_of(self, mapping):
        """The mapping's running poller, or None (disabled, deleted, or in transition)."""
        return self._pollers.get(mapping.uuid)

    def restart_poller(self, mapping):
        self._stop_poller(mapping)
        self._start_poller(mapping)

    def _stop_poller(self, mapping):
        poller = self._pollers.pop(mapping.uuid, None)
        if poller is not None:
            poller.stop()
            if getattr(poller, "draining", False):
                self._draining[mapping.uuid] = poller

    def poller_drained(self, mapping):
        """A stopped stream poller's last invocation ended: its successor may start now."""
        self._draining.pop(mapping.uuid, None)
        if self.mappings.get(mapping.uuid) is mapping and mapping.state in ("Enabled",
                                                                            "Updating"):
            self._start_poller(mapping)
