"""Checks for Lab 03, Ordering. Each returns a :class:`esmlab.course.checks.Check` whose message teaches.

* :func:`group_design` (exercise 1): a ``MessageGroupId`` that keeps each customer's orders in
  order and still processes 20 orders within :data:`EX1_TARGET_SECONDS`;
* :func:`predicted_lanes` (exercise 2): the lane of each partition key at PF 4, and how many
  invocations run at once;
* :func:`redelivery_detector` (exercise 3): a handler that flags, from the records' own fields,
  exactly the records it has seen before.

Every check runs the learner's answer in the simulator (:mod:`esmlab.course.scenarios.ordering`).
"""

from __future__ import annotations

from esmlab.course.checks import Check, defined, failed, passed
from esmlab.course.scenarios import ordering

SQS_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"
KINESIS = "https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html"

#: Exercise 1: 4 customers x 5 orders, BatchSize 1, 1 s an invocation.
EX1 = {"customers": 4, "orders": 5, "batch_size": 1, "duration": 1.0}
EX1_TARGET_SECONDS = 6.0
#: Exercise 2: one shard, PF 4, the first four keys, 4 records each.
EX2 = {"pf": 4, "keys": 4, "per_key": 4, "batch_size": 2}
#: Exercise 3: one shard, PF 2, four keys; the third record written fails once.
EX3 = {"fail_times": 1, "pf": 2, "keys": 4, "per_key": 3, "batch_size": 4}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# --- exercise 1 ----------------------------------------------------------------------------------


def group_design(group_id) -> Check:
    """``group_id(message) -> str`` keeps per-customer order and meets the throughput target."""
    if not callable(group_id):
        return failed(f"ex1_group_id must be a function of a message that returns its "
                      f"MessageGroupId, got {group_id!r}.")
    sample = ordering.customers_orders(EX1["customers"], EX1["orders"])
    for message in sample:
        try:
            value = group_id(dict(message))
        except Exception as error:  # noqa: BLE001 - the learner's code: show what it raised
            return failed(f"ex1_group_id({message}) raised {type(error).__name__}: {error}.")
        if not isinstance(value, str) or not 1 <= len(value) <= 128:
            return failed(f"ex1_group_id({message}) returned {value!r}: a MessageGroupId is a "
                          "string of 1 to 128 characters.")
    groups = {group_id(dict(m)) for m in sample}
    result = ordering.fifo(group_id, **EX1)
    facts = (f"With your design the 20 orders went into {len(groups)} message group"
             f"{'s' if len(groups) != 1 else ''}: at most {_n(result.peak, 'invocation')} ran at once "
             f"and the last order finished {result.finished:g} s after they were sent.")
    breaks = result.order_breaks()
    if breaks:
        return failed(
            f"{facts} But a customer's orders were not processed in order: {breaks[0]}. SQS FIFO "
            "keeps order only within a message group, and different groups run in parallel "
            f"({SQS_SCALING}). Every order of one customer must share a group."
        )
    if result.finished > EX1_TARGET_SECONDS:
        return failed(
            f"{facts} Each customer's order is kept, but the target is "
            f"{EX1_TARGET_SECONDS:g} s. Lambda's concurrency on a FIFO queue is at most the "
            f"number of active message groups ({SQS_SCALING}), so {len(groups)} group"
            f"{'s' if len(groups) != 1 else ''} cannot run more than "
            f"{_n(len(groups), 'invocation')} at once. Use more groups, without splitting a customer across two."
        )
    return passed(
        f"{facts} Each customer's orders ran one after another, in order, while the customers ran "
        "in parallel: one group per unit whose order matters is the most parallelism FIFO gives."
    )


def check_group_design(namespace: dict) -> Check:
    found = defined(namespace, "ex1_group_id")
    return group_design(namespace["ex1_group_id"]) if found else found


# --- exercise 2 ----------------------------------------------------------------------------------


def predicted_lanes(lanes, peak) -> Check:
    """The lane of each key at PF 4, and the most invocations at once (EX2)."""
    from esmlab.streams.poller import lane_of

    keys = list(ordering.KEY_NAMES[:EX2["keys"]])
    if not isinstance(lanes, dict) or set(lanes) != set(keys):
        return failed(f"ex2_lanes must be a dict with exactly the keys {keys} (partition key -> "
                      f"lane number 0-3), got {lanes!r}.")
    result = ordering.kinesis(**EX2)
    true = {key: lane_of(key, EX2["pf"]) for key in keys}
    wrong = [key for key in keys if lanes[key] != true[key]]
    if wrong:
        shared = sorted({k for k in keys if list(true.values()).count(true[k]) > 1})
        return failed(
            f"Lanes of {', '.join(wrong)} are not what esmlab does. In esmlab a key's lane is "
            f"md5(partition key) mod PF (lane_of in esmlab/streams/poller.py; a MODELLING "
            f"CHOICE, AWS says only that order is kept per key, {KINESIS}). Compute it with "
            "lane_of(key, 4), or read it off the picture"
            + (f": {', '.join(shared)} share a lane." if shared else ".")
        )
    if isinstance(peak, bool) or not isinstance(peak, int) or peak != result.peak:
        used = len(set(true.values()))
        return failed(
            f"The lanes are right, but ex2_peak = {peak!r}: the run had at most {result.peak} "
            f"invocations at once. A lane has one batch in flight, and the 4 keys use only {used} "
            f"of the {EX2['pf']} lanes, so PF {EX2['pf']} does not mean {EX2['pf']} at once "
            "here: keys that share a lane wait for each other."
        )
    return passed(
        f"Right: {true}, at most {result.peak} at once. Records of one key never run in two "
        "invocations at once, so its order holds; keys that share a lane also wait for each "
        "other, while the other lanes go on."
    )


def check_predicted_lanes(namespace: dict) -> Check:
    found = defined(namespace, "ex2_lanes", "ex2_peak")
    return predicted_lanes(namespace["ex2_lanes"], namespace["ex2_peak"]) if found else found


# --- exercise 3 ----------------------------------------------------------------------------------


def redelivery_detector(make_handler) -> Check:
    """``make_handler()`` returns a handler that returns ``{"redelivered": [eventID, ...]}``,
    listing exactly the records of the batch it has been given before."""
    if not callable(make_handler):
        return failed(f"ex3_make_handler must be a function that returns a handler, got "
                      f"{make_handler!r}.")
    handler = make_handler()
    if not callable(handler):
        return failed(f"ex3_make_handler() returned {handler!r}, not a handler "
                      "function (event, context).")
    result = ordering.retries(**EX3, handler=handler)
    raised = [r for _, r in result.returned if isinstance(r, Exception)]
    if raised:
        return failed(f"Your handler raised {type(raised[0]).__name__}: {raised[0]} (in "
                      f"{len(raised)} of {len(result.returned)} invocations). Read each record's "
                      "eventID, kinesis.partitionKey and kinesis.sequenceNumber.")
    failures = [d for d in result.deliveries if d.outcome != "success"]
    if not result.returned or any(
            not isinstance(r, dict) or not isinstance(r.get("redelivered"), list)
            for _, r in result.returned):
        bad = next((r for _, r in result.returned
                    if not isinstance(r, dict) or not isinstance(r.get("redelivered"), list)),
                   None)
        return failed(f"Your handler returned {bad!r}: it must return "
                      '{"redelivered": [eventID, ...]} for every batch (an empty list when '
                      "nothing is new).")
    truth: dict[str, set] = {}
    for d in result.deliveries:
        truth.setdefault(d.request_id, set())
        if d.attempt > 1:
            truth[d.request_id].add(d.record)
    starts = {d.request_id: d.start for d in result.deliveries}
    firsts = {}
    for d in result.deliveries:
        firsts.setdefault(d.record, d)
    for request_id, answer in result.returned:
        flagged, expected = set(answer["redelivered"]), truth.get(request_id, set())
        missed, extra = expected - flagged, flagged - expected
        when = f"the invocation at t = {starts[request_id]:g} s"
        if missed:
            record = min(missed)
            return failed(
                f"In {when} your handler missed {len(missed)} redelivered record(s), e.g. "
                f"{record}, first delivered at t = {firsts[record].start:g} s in a batch that "
                f"failed ({len(failures)} record deliveries failed). Lambda retries the whole "
                f"batch, so records are delivered again ({KINESIS}). Remember what you have "
                "seen: per partition key, the highest sequenceNumber (compare as integers)."
            )
        if extra:
            record = min(extra)
            first = firsts.get(record)
            return failed(
                f"In {when} your handler flagged {record} (partition key "
                f"{first.key if first else '?'}), which it had never seen. At PF "
                f"{EX3['pf']} the lanes of one shard run side by side, so sequence numbers of "
                "different keys arrive interleaved: order is per partition key, not per shard "
                f"({KINESIS}). Keep the highest sequence number per key, or a set of eventIDs."
            )
    return passed(
        f"Your handler flagged exactly the {result.redeliveries} redelivered records over "
        f"{result.invocations} invocations. The first delivery of every key was in order; the "
        "retry sent records again: idempotent handlers, and a check like this one, are how you "
        "live with at-least-once delivery."
    )


def check_redelivery_detector(namespace: dict) -> Check:
    found = defined(namespace, "ex3_make_handler")
    return redelivery_detector(namespace["ex3_make_handler"]) if found else found
