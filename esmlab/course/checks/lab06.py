"""Checks for Lab 06, Scaling. Each returns a :class:`esmlab.course.checks.Check` whose message
teaches.

* :func:`database_writers` (exercise 1): ``MaximumConcurrency`` for two queues and a reserved
  concurrency, so that a database never sees more than :data:`esmlab.course.scenarios.scaling.
  WRITERS` concurrent writers and nothing is throttled;
* :func:`stream_keeps_up` (exercise 2): shards and ``ParallelizationFactor`` for a stated write
  rate and function duration;
* :func:`spike_config` (exercise 3): default or provisioned mode for a spiky queue with a
  latency target, and what the choice costs while the queue is idle.

Every check runs the learner's answer in the simulator (:mod:`esmlab.course.scenarios.scaling`).
"""

from __future__ import annotations

from esmlab.course.checks import Check, defined, failed, passed
from esmlab.course.scenarios import scaling

SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"
CONFIGURE = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"
KINESIS = "https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html"
QUOTAS = "https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html"
API = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"

#: Exercise 2: the team may pay for at most this many shards, and the consumer keeps up when
#: its IteratorAge stays under this many seconds while the producer writes.
EX2_MAX_SHARDS = 2
EX2_MAX_AGE = 5.0


# --- exercise 1 ----------------------------------------------------------------------------------


def database_writers(config) -> Check:
    """``config`` caps the two mappings and reserves concurrency so that at most WRITERS run at
    once, nothing is throttled, and every message is processed."""
    limit = scaling.WRITERS
    try:
        run = scaling.writers(config)
    except ValueError as error:
        return failed(f"ex1_config: {error}. For example {{'orders': 5, 'refunds': 5, "
                      "'reserved': 10}: MaximumConcurrency is 2-1,000 or None (not set); "
                      "reserved concurrency is 0-1,000 or None.")
    orders, refunds, reserved = config["orders"], config["refunds"], config["reserved"]
    caps = (orders or 0) + (refunds or 0)
    facts = (f"With MaximumConcurrency {orders} (orders) and {refunds} (refunds) and reserved "
             f"concurrency {reserved}, up to {run.peak} invocations ran at once, "
             f"{run.throttles:,} were throttled and {run.processed} of 200 messages were "
             "processed")
    if not run.throttles:
        facts = facts.replace(f", {run.throttles:,} were throttled and", ", none was throttled, and")
    if run.peak > limit:
        if reserved is None and (orders is None or refunds is None):
            why = ("A mapping without MaximumConcurrency scales up by as much as 300 "
                   "concurrent invokes a minute while messages remain, towards 1,250")
        else:
            why = (f"MaximumConcurrency caps each mapping, so the two together can run "
                   f"{caps} at once")
        return failed(f"{facts}: the database takes at most {limit} writers. {why} ({SCALING}). "
                      f"Choose the two caps so their sum is at most {limit}.")
    if run.throttles:
        if orders is None or refunds is None:
            return failed(
                f"{facts}. Reserved concurrency kept the database safe, but it is not a scaling "
                "control: the mappings kept scaling past it and every invocation that did not "
                "fit was throttled (E29). Set MaximumConcurrency on each mapping: it limits "
                f"the pollers themselves, costs nothing, and then nothing is throttled "
                f"({SCALING}).")
        return failed(
            f"{facts}. The two caps add up to {caps}, more than the {reserved} reserved: when "
            "both queues are busy the mappings try to run more invocations than the function "
            "may, and the rest are throttled. AWS's rule: keep the reserved concurrency at "
            f"least the sum of the MaximumConcurrency of all the function's SQS mappings "
            f"({SCALING}).")
    if run.in_dlq or run.processed < 200:
        return failed(f"{facts}; {run.in_dlq} went to the DLQ and {run.in_queue} are still in "
                      "the queues after 10 minutes.")
    note = ""
    if reserved is not None and reserved < 5:
        note = (" (AWS also advises a reserved concurrency of at least 5 for a function "
                f"behind SQS: {CONFIGURE})")
    return passed(f"{facts}. MaximumConcurrency bounds each mapping and the "
                  f"reserved concurrency ({reserved}) covers their sum ({caps}), so the "
                  f"database never saw more than {limit} writers{note}.")


def check_database_writers(namespace: dict) -> Check:
    found = defined(namespace, "ex1_config")
    return database_writers(namespace["ex1_config"]) if found else found


# --- exercise 2 ----------------------------------------------------------------------------------


def stream_keeps_up(shards, parallelization) -> Check:
    """The stream takes the writes, the mapping keeps up, and no more shards than allowed."""
    k = scaling.KEEP_UP
    try:
        run = scaling.keeps_up(shards, parallelization)
    except ValueError as error:
        return failed(f"ex2_shards, ex2_pf: {error}.")
    needed = scaling.shards_for_writes(k["rate"], k["record_kb"])
    mb = k["rate"] * k["record_kb"] / 1_000
    sent = k["rate"] * k["seconds"]
    lanes = shards * parallelization
    per_lane = k["batch_size"] / k["duration"]
    facts = (f"{shards} shard{'s' if shards != 1 else ''} x PF {parallelization} = {lanes} "
             f"concurrent invocation{'s' if lanes != 1 else ''} (the simulator ran at most "
             f"{run.peak} at once, with one mapping)")
    if shards < needed:
        return failed(
            f"{facts}. The producer writes {k['rate']} records of {k['record_kb']:g} KB a "
            f"second, {mb:g} MB/s, and a shard takes at most 1 MB/s or 1,000 records a second "
            f"of writes ({QUOTAS}): the stream needs at least {needed} shards, whatever the "
            f"consumer does; in the simulator it refused {sent - run.written:,} of the "
            f"{sent:,} records with ProvisionedThroughputExceededException. (The 1,000 records "
            "a second is the write limit, not what a shard "
            "delivers to a reader: E10.) Lambda's ParallelizationFactor adds readers, not "
            "write capacity.")
    if shards > EX2_MAX_SHARDS:
        return failed(f"{facts}: that keeps up, but the budget is {EX2_MAX_SHARDS} shards. "
                      "Raise ParallelizationFactor instead: it adds concurrent invocations "
                      f"per shard without adding shards ({KINESIS}).")
    if run.max_age > EX2_MAX_AGE:
        return failed(
            f"{facts}. Each invocation takes {k['batch_size']} records in {k['duration']:g} s, "
            f"so each of the {lanes} can do about {per_lane:g} records a second: "
            f"{lanes * per_lane:g} in all, for {k['rate']} written. The consumer fell behind: "
            f"IteratorAge reached {run.max_age:g} s (the target is under {EX2_MAX_AGE:g} s). "
            f"Raise ParallelizationFactor until shards x PF x {per_lane:g} is at least "
            f"{k['rate']}.")
    return passed(
        f"{facts}: {lanes * per_lane:g} records a second of processing for {k['rate']} written, "
        f"and {shards} shards take {mb:g} MB/s of writes. IteratorAge stayed at or under "
        f"{run.max_age:g} s and all {run.processed:,} records were processed.")


def check_stream_keeps_up(namespace: dict) -> Check:
    found = defined(namespace, "ex2_shards", "ex2_pf")
    if not found:
        return found
    return stream_keeps_up(namespace["ex2_shards"], namespace["ex2_pf"])


# --- exercise 3 ----------------------------------------------------------------------------------


def spike_config(config) -> Check:
    """The mapping reaches the target concurrency in time and costs little while idle."""
    from botocore.exceptions import ClientError, ParamValidationError

    target = scaling.SPIKE
    try:
        result = scaling.spike(config)
    except ValueError as error:
        return failed(f"ex3_config: {error}. For example {{}} (the default mode) or "
                      '{"ProvisionedPollerConfig": {"MinimumPollers": 2, "MaximumPollers": '
                      "50}}.")
    except ParamValidationError as error:
        return failed(f"botocore refused ex3_config: {error}")
    except ClientError as error:
        info = error.response["Error"]
        return failed(f"create_event_source_mapping rejected ex3_config: {info['Code']}: "
                      f"{info['Message']} ({API}).")
    run = result.ramp
    when = ("never within the 300 s" if result.reached_at is None
            else f"{result.reached_at:g} s after Enabled")
    facts = (f"With {config}, the backlog reached {target['concurrency']:,} concurrent "
             f"invocations {when} (peak {run.peak:,}), and the idle mapping made "
             f"{result.idle_receives} empty receives a minute")
    provisioned = config.get("ProvisionedPollerConfig")
    if result.reached_at is None or result.reached_at > target["within"]:
        if not provisioned:
            return failed(
                f"{facts}; the target is {target['within']} s. The default mode starts at 5 and "
                f"adds up to 300 concurrent invokes a minute: {target['concurrency']:,} takes "
                "more than 3 minutes, whatever "
                f"MaximumConcurrency says (it only caps) ({SCALING}). Provisioned mode scales by "
                "up to 1,000 a minute: set ProvisionedPollerConfig.")
        top = provisioned.get("MaximumPollers", 200) * 10
        return failed(
            f"{facts}; the target is {target['within']} s. One provisioned poller drives up to 10 concurrent invokes, so "
            f"MaximumPollers {provisioned.get('MaximumPollers', 200)} allows at most {top:,}; "
            f"{target['concurrency']:,} needs at least {target['concurrency'] // 10} pollers "
            f"({SCALING}).")
    if result.idle_receives > target["idle_receives"]:
        minimum = provisioned.get("MinimumPollers", 2) if provisioned else None
        return failed(
            f"{facts}: the budget while idle is {target['idle_receives']} a minute. "
            f"MinimumPollers {minimum} keeps that many pollers ready even when the queue is "
            "empty; they poll (and are billed) all the time, and in the simulator each keeps a "
            "20 s long poll open, 3 empty receives a minute (MODELLING CHOICE M4-P). Lower "
            f"MinimumPollers: the first step of a backlog still goes to MinimumPollers x 10 at "
            f"once, and then up to 1,000 more a minute ({SCALING}).")
    return passed(
        f"{facts}. Provisioned mode ramps by up to 1,000 a minute, about 3 times the default "
        f"mode's 300, and its minimum pollers are what it costs when nothing happens: their "
        f"receives, and the pollers themselves, billed separately in event poller units "
        f"({SCALING}).")


def check_spike_config(namespace: dict) -> Check:
    found = defined(namespace, "ex3_config")
    return spike_config(namespace["ex3_config"]) if found else found
