"""Checks for lab 00, "Your first mapping".

Each exercise has two functions: one of the learner's objects (a mapping response, a lab, a
number), which says what is right or wrong and why, and one of the notebook's namespace, which the
locked check cell calls::

    from esmlab.course.checks import lab00
    lab00.smaller_batch(globals()).require()

The namespace function first makes sure the names exist (so an untouched lab fails with a message,
not a ``NameError``), then hands the objects to the first function.
"""

from __future__ import annotations

from . import Check, defined, failed, passed

# --- exercise 1: a smaller batch ------------------------------------------------------------


def batch_of_five(mapping, lab, queue_arn) -> Check:
    """``mapping`` (a CreateEventSourceMapping response) reads ``queue_arn`` with BatchSize 5,
    and ``lab`` ran to t = 60 s: 25 messages became 5 invocations of 5, all deleted."""
    if not isinstance(mapping, dict) or "EventSourceArn" not in mapping:
        return failed(
            f"mapping1 is {type(mapping).__name__}, not the response of "
            "create_event_source_mapping: keep that call's result, a dict with UUID, State, "
            "BatchSize and EventSourceArn, in mapping1."
        )
    if mapping["EventSourceArn"] != queue_arn:
        return failed(
            "mapping1 reads another source: pass EventSourceArn=arn1 (the queue of lab1)."
        )
    if mapping.get("BatchSize") != 5:
        return failed(
            f"mapping1 has BatchSize {mapping.get('BatchSize')}. Pass BatchSize=5: without it, an "
            "SQS mapping uses the default of 10."
        )
    if lab.now < 60:
        return failed(
            f"lab1 is at t = {lab.now} s. Call lab1.run(until=60): simulated time only moves when "
            "you run the lab, and the mapping needs 2 s to become Enabled before it polls."
        )
    sizes = list(lab.trace.invocations_frame()["size"])
    if not sizes:
        return failed(
            "lab1 has no invocations. Create the mapping first, then call lab1.run(until=60): "
            "a mapping only reads the queue while simulated time runs after it exists (run it "
            "again if you ran the lab before creating the mapping)."
        )
    if len(sizes) != 5 or set(sizes) != {5}:
        return failed(
            f"The invocations carried {sizes} records. A batch never holds more than BatchSize "
            "records, so 25 messages at BatchSize 5 need 5 invocations of 5."
        )
    counts = lab.conservation().counts.get(queue_arn, {})
    if counts.get("deleted") != 25:
        return failed(
            f"Where the messages are: {counts}. After a successful invocation Lambda deletes the "
            "batch, so all 25 should be deleted."
        )
    return passed(
        "Correct: 5 invocations of 5 records, all 25 messages deleted. Compare the demo: "
        "BatchSize 10 gave 3 invocations (10, 10, 5) for the same 25 messages."
    )


def smaller_batch(namespace: dict) -> Check:
    """Exercise 1, from the notebook's globals: ``mapping1``, ``lab1`` and ``arn1``."""
    if "mapping1" not in namespace:
        return failed(
            "mapping1 is not defined yet: keep the response of "
            "lam1.create_event_source_mapping(...) in a variable named mapping1, and run your "
            "answer cell."
        )
    found = defined(namespace, "lab1", "arn1")
    if not found:
        return found
    return batch_of_five(namespace["mapping1"], namespace["lab1"], namespace["arn1"])


# --- exercise 2: the idle minute ------------------------------------------------------------

IDLE_FROM, IDLE_TO = 60, 120  #: the window of exercise 2, 60 <= t < 120


def empty_receives_between(lab, start=IDLE_FROM, end=IDLE_TO) -> int:
    """How many ReceiveMessage requests (``poll`` events) with ``start <= t < end`` returned
    nothing, read from ``lab``'s own trace."""
    return sum(1 for e in lab.trace.of("poll") if start <= e.t < end and not e.records)


def counted_empty_receives(count, lab) -> Check:
    """``count`` is the number of empty receives in ``lab``'s idle minute (60 <= t < 120)."""
    expected = empty_receives_between(lab)
    every_poll = sum(1 for e in lab.trace.of("poll") if IDLE_FROM <= e.t < IDLE_TO)
    if count == every_poll and count != expected:
        return failed(
            f"{count} is every ReceiveMessage request in the minute, including the ones that "
            "returned the three messages sent at t = 90 s. Keep only the requests whose records "
            "tuple is empty (events2['records'].map(len) == 0)."
        )
    if isinstance(count, bool) or count != expected:
        return failed(
            f"You counted {count!r}. Keep the rows of events2 whose kind is 'poll' and whose t is "
            "at least 60 and below 120, then count those whose records tuple is empty "
            "(events2['records'].map(len) == 0)."
        )
    pollers = [e.detail["concurrency"] for e in lab.trace.of("scale") if e.t < IDLE_TO]
    return passed(
        f"Correct: {expected} empty receives in one quiet minute; by its end the mapping had "
        f"{pollers[-1] if pollers else '?'} pollers (the last 'scale' row before t = 120 s). "
        "A waiting poller issues a new long poll as soon as the previous one returns empty, so an "
        "enabled mapping never stops calling ReceiveMessage, and SQS bills every request, empty "
        "ones included (services-sqs-scaling). The exact count follows from the simulator's "
        "modelling choices (the poller counts of M4 and the 20 s long poll), not from a measured "
        "AWS figure."
    )


def idle_minute(namespace: dict) -> Check:
    """Exercise 2, from the notebook's globals: ``empty_receives`` and ``lab2``."""
    if "empty_receives" not in namespace:
        return failed(
            "empty_receives is not defined yet: store your count in a variable named "
            "empty_receives."
        )
    found = defined(namespace, "lab2")
    if not found:
        return found
    return counted_empty_receives(namespace["empty_receives"], namespace["lab2"])
