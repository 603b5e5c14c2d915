"""Checks for Lab 01 (Polling). Each returns a :class:`~esmlab.course.checks.Check` whose message says
what is right, or what is wrong, why, and where to read about it.

* :func:`check_replay` (exercise 1): a Kinesis mapping that reads the records written before it
  existed.
* :func:`check_idle_day` (exercise 2): ReceiveMessage requests an idle SQS mapping makes in a
  day, compared with the simulator's count over a simulated day.
* :func:`check_get_records` (exercise 3): GetRecords requests per day of a 4-shard Kinesis stream
  and a 4-shard DynamoDB stream, from the documented base rates.
"""

from __future__ import annotations

import numbers

from ..scenarios import polling
from . import Check, failed, passed

API = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"
KINESIS_CREATE = "https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-create.html"
SQS_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"
WITH_KINESIS = "https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html"
WITH_DDB = "https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html"
DDB_ESM = "https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-eventsourcemapping.html"
KINESIS_QUOTAS = "https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html"

DAY = polling.SECONDS_PER_DAY
SHARDS = 4  #: the shard count of exercise 3's streams
TOLERANCE = 0.01  #: exercise 2 accepts answers within 1% of the simulator's count


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _near(value, target, tolerance=0.02) -> bool:
    return abs(value - target) <= tolerance * abs(target)


# --- exercise 1 -------------------------------------------------------------------------------


def check_replay(mapping, history) -> Check:
    """``mapping`` (a CreateEventSourceMapping response) on ``history``'s stream delivered every
    record written before it existed to the function."""
    if not isinstance(mapping, dict) or "UUID" not in mapping:
        return failed(
            "mapping1 should be what create_event_source_mapping(...) returned: a dict with a "
            f"UUID, not {type(mapping).__name__}.")
    if mapping.get("EventSourceArn") != history.arn:
        return failed(
            f"mapping1 reads {mapping.get('EventSourceArn')!r}. Pass EventSourceArn=arn1, the "
            "stream 'clicks' that holds the 20 records.")
    if not str(mapping.get("FunctionArn", "")).split(":function:")[-1].startswith(
            history.function):
        return failed(
            f"mapping1 invokes {mapping.get('FunctionArn')}. Pass "
            f"FunctionName={history.function!r}, the function this exercise registered.")
    position = mapping.get("StartingPosition")
    lab, uuid = history.lab, mapping["UUID"]
    read = {s for i in lab.trace.invocations if i.mapping == uuid for s in i.records}
    missed = [r for r in history.written if r.sequence not in read]
    total = len(history.written)
    enabled = [e.t for e in lab.trace.of("state")
               if e.mapping == uuid and e.detail.get("state") == "Enabled"]
    if position == "LATEST":
        return failed(
            f"With LATEST, each shard's iterator starts after the newest record at the moment "
            f"the mapping starts reading (in esmlab: when it becomes Enabled, 2 s after Create, "
            f"MODELLING CHOICE M8), so the {total} records written before the mapping existed "
            f"are never read: {total - len(missed)} of {total} reached the function. LATEST "
            f"means 'only new records'; TRIM_HORIZON starts at the oldest record still in the "
            f"stream. See the reading, 'Where a shard's iterator starts' ({API}).")
    if not enabled or lab.now < enabled[0] + 1:
        return failed(
            f"lab1 is at t = {lab.now:g} s and the mapping has not read anything yet. Run the "
            "lab (lab1.run(until=60)): the mapping is Creating for 2 s, then polls each shard "
            "once a second.")
    if position == "AT_TIMESTAMP" and missed:
        stamp = mapping.get("StartingPositionTimestamp")
        return failed(
            f"AT_TIMESTAMP starts each shard at the first record written at or after "
            f"StartingPositionTimestamp ({stamp}); {len(missed)} of the {total} records were "
            f"written before it (the first at {history.first_write}), so they were skipped. "
            f"TRIM_HORIZON starts at the oldest record still in the stream, without your "
            f"having to know when it was written ({API}).")
    if missed:
        return failed(
            f"{len(missed)} of the {total} records never reached the function (lab1 is at "
            f"t = {lab.now:g} s). Run lab1 until t = 60 s, and check that the function does not "
            "fail.")
    how = ("TRIM_HORIZON: each shard's iterator started at its oldest record"
           if position == "TRIM_HORIZON" else
           "AT_TIMESTAMP with a timestamp no later than the first write (TRIM_HORIZON does the "
           "same without needing the time)")
    return passed(
        f"Correct: all {total} records written before the mapping existed reached the function. "
        f"{how}. LATEST would have read none of them ({API}).")


# --- exercise 2 -------------------------------------------------------------------------------


def simulated_idle_day() -> int:
    """ReceiveMessage requests of one SQS mapping on an idle queue over a simulated day (from
    the moment it is created). About 7 s of real time on the first call, then cached."""
    return polling.idle_queue(minutes=24 * 60).requests


def check_idle_day(receives_per_day, simulated: int | None = None) -> Check:
    """``receives_per_day`` is within 1% of the simulator's count of ReceiveMessage requests
    over a simulated idle day (``simulated``: that count, if already known)."""
    if not _number(receives_per_day):
        return failed(
            f"receives_per_day should be a number, not {type(receives_per_day).__name__}.")
    if simulated is None:
        simulated = simulated_idle_day()
    value = receives_per_day
    if abs(value - simulated) <= TOLERANCE * simulated:
        return passed(
            f"Correct: you said {value:,.0f}; the simulator counted {simulated:,} ReceiveMessage "
            f"requests in one idle day. Two pollers, each making one 20 s long poll after another "
            f"(3 a minute), for 1,440 minutes: 2 × 3 × 1,440 = 8,640, plus a few from the first "
            f"two minutes at 5 pollers. SQS bills receive requests per million beyond the free "
            f"tier, empty ones included, and on a standard queue at low traffic Lambda may go "
            f"down to 2 concurrent batches (pollers) to make fewer of those calls; with ScalingConfig.MaximumConcurrency set it does not "
            f"({SQS_SCALING}), so esmlab keeps 5 pollers (or MaximumConcurrency, if lower): "
            f"about 21,600 a day at 5. AWS documents the "
            f"5 and the 2; the 20 s wait and the timing of the drop are esmlab's modelling "
            f"choices (M4).")
    if value <= 0:
        return failed(
            "An enabled mapping never stops polling: it keeps sending ReceiveMessage requests to "
            "an empty queue, and SQS bills them, empty receives included. Look at the demo's "
            f"bottom panel: requests every minute of the idle hour ({SQS_SCALING}).")
    if any(_near(value, k * DAY) for k in (1, 2, 5)):
        return failed(
            f"{value:,.0f} is one request a second per poller. Lambda reads SQS with long "
            "polling: a request waits for messages to arrive before it returns empty (in esmlab "
            "an idle request waits 20 s, a modelling choice), so an idle poller makes 3 requests "
            "a minute, not 60. Neither BatchSize nor the batching window sets a polling rate "
            f"({SQS_SCALING}).")
    if _near(value, 5 * 3 * 24 * 60):
        return failed(
            f"{value:,.0f} is 5 pollers all day. On a standard queue at low traffic Lambda "
            "scales back to 5 concurrent batches and may go down to 2 to make fewer SQS calls; "
            "in esmlab the drop to 2 comes after "
            "120 s without messages (MODELLING CHOICE M4). Look at the top panel of the demo. "
            "(5 all day is what happens when ScalingConfig.MaximumConcurrency is set: then the "
            f"drop to 2 does not happen, {SQS_SCALING}.)")
    if _near(value, 3 * 24 * 60):
        return failed(
            f"{value:,.0f} is one poller. An idle mapping keeps 2 pollers (after its first two "
            "minutes at 5), and each makes its own long polls: count the rows of the long-poll "
            f"figure after t = 122 s ({SQS_SCALING}).")
    if _near(value, simulated / 24, 0.05) or _near(value, simulated / 1440, 0.1):
        return failed(
            f"{value:,.0f} looks like a count per hour or per minute. The question asks for a "
            "day: 24 hours, 1,440 minutes, 86,400 seconds.")
    return failed(
        f"{value:,.0f} is not within 1% of the simulator's count for an idle day. Work it out "
        "from the demo: how many pollers does an idle mapping keep after its first minutes (top "
        "panel), how many requests does one poller make a minute when each waits 20 s (bottom "
        "panel), and how many minutes are in a day?")


# --- exercise 3 -------------------------------------------------------------------------------


def _kinesis_problem(value, expected) -> str | None:
    if _near(value, expected, 1e-9):
        return None
    if _near(value, DAY, 1e-9):
        return (f"Kinesis: {value:,.0f} is one shard. The mapping keeps one iterator per shard "
                f"and polls each at 1 GetRecords a second; this stream has {SHARDS} shards "
                f"({WITH_KINESIS}).")
    if _near(value, 5 * SHARDS * DAY, 1e-9):
        return (f"Kinesis: {value:,.0f} uses 5 calls a second per shard. 5 GetRecords a second is "
                f"the Kinesis quota per shard ({KINESIS_QUOTAS}); Lambda's base rate is 1 a "
                f"second per shard ({WITH_KINESIS}).")
    if _near(value, 1000 * SHARDS * DAY, 1e-9):
        return (f"Kinesis: {value:,.0f} uses 1,000 a second per shard. That is a shard's write "
                f"limit, in records, not a number of GetRecords calls ({KINESIS_QUOTAS}); "
                f"Lambda's base rate is 1 GetRecords a second per shard ({WITH_KINESIS}).")
    if _near(value, 4 * SHARDS * DAY, 1e-9):
        return (f"Kinesis: {value:,.0f} uses 4 calls a second per shard, DynamoDB Streams' rate. "
                f"For Kinesis the base rate is 1 GetRecords a second per shard ({WITH_KINESIS}).")
    if _near(value, expected / 24, 1e-9) or _near(value, expected / 1440, 1e-9):
        return (f"Kinesis: {value:,.0f} is per hour or per minute; the question asks for a day "
                "(86,400 seconds).")
    return (f"Kinesis: {value:,.0f} is not it. Lambda polls each shard at 1 GetRecords a second "
            f"(the base rate, {WITH_KINESIS}); multiply by the shards and by the seconds in a "
            "day.")


def _dynamodb_problem(value, expected) -> str | None:
    if _near(value, expected, 1e-9):
        return None
    if _near(value, SHARDS * DAY, 1e-9):
        return (f"DynamoDB: {value:,.0f} is 4 shards at 1 a second (or 1 shard at 4 a second). "
                f"Lambda polls each DynamoDB stream shard 4 times a second ({WITH_DDB}), and "
                f"this stream has {SHARDS} shards.")
    if _near(value, DAY, 1e-9):
        return (f"DynamoDB: {value:,.0f} is one shard at one call a second. The base rate is 4 "
                f"GetRecords a second per shard ({WITH_DDB}), and this stream has {SHARDS}.")
    if _near(value, expected / 24, 1e-9) or _near(value, expected / 1440, 1e-9):
        return (f"DynamoDB: {value:,.0f} is per hour or per minute; the question asks for a day "
                "(86,400 seconds).")
    return (f"DynamoDB: {value:,.0f} is not it. Lambda polls each DynamoDB stream shard 4 "
            f"times a second (the base rate, {WITH_DDB}); multiply by the shards and by the "
            "seconds in a day.")


def check_get_records(kinesis_per_day, dynamodb_per_day) -> Check:
    """GetRecords requests per day of one mapping on a 4-shard Kinesis stream and on a DynamoDB
    stream with 4 shards, at the documented base rates."""
    for name, value in (("kinesis_per_day", kinesis_per_day),
                        ("dynamodb_per_day", dynamodb_per_day)):
        if not _number(value):
            return failed(f"{name} should be a number, not {type(value).__name__}.")
    kinesis = polling.get_records_per_day("kinesis", SHARDS)
    dynamodb = polling.get_records_per_day("dynamodb", SHARDS)
    problems = [p for p in (_kinesis_problem(kinesis_per_day, kinesis),
                            _dynamodb_problem(dynamodb_per_day, dynamodb)) if p]
    if problems:
        return failed(" ".join(problems))
    return passed(
        f"Correct: {kinesis:,} GetRecords a day for the Kinesis stream (1 a second × {SHARDS} "
        f"shards × 86,400 s) and {dynamodb:,} for the DynamoDB stream (4 a second × {SHARDS} "
        f"shards × 86,400 s), at the documented base rates. GetRecords calls that Lambda "
        f"makes for DynamoDB triggers are not charged ({DDB_ESM}). A Kinesis shard allows 5 "
        f"GetRecords calls a second ({KINESIS_QUOTAS}), and one mapping at the base rate makes "
        f"1 of them. For lower latency AWS documents enhanced fan-out, where Kinesis pushes "
        f"records to the function over HTTP/2 instead of being polled ({WITH_KINESIS}).")
