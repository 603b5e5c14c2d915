"""Checks for Lab 05, Errors with streams. Each returns a :class:`esmlab.course.checks.Check` whose
message teaches.

* :func:`poison_budget` (exercise 1): a mapping configuration under which one poison record costs
  at most :data:`EX1_MAX_INVOCATIONS` invocations and ends in the on-failure destination, while
  every other record of its batch is processed exactly once;
* :func:`replayed_records` (exercise 2): a function that fetches a discarded batch back from the
  stream, from the SQS destination's message;
* :func:`predicted_bisect` (exercise 3): the batches bisect invokes, in order, for a batch of 8
  with one bad record.

Every check runs the learner's answer in the simulator (:mod:`esmlab.course.scenarios.stream_errors`).
"""

from __future__ import annotations

from esmlab.course.checks import Check, defined, failed, passed
from esmlab.course.scenarios import stream_errors

ON_FAILURE = "https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html"
API = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"
GET_SHARD_ITERATOR = "https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetShardIterator.html"

#: Exercise 1: one batch of 8 records; record 5 makes the handler raise every time.
EX1 = {"batch_size": 8, "bad": 5}
EX1_MAX_INVOCATIONS = 5
#: Exercise 3: one batch of 8 records, record 2 bad, MaximumRetryAttempts 2, bisect on.
EX3 = {"batch_size": 8, "bad": (2,), "max_retries": 2, "bisect": True}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _span(numbers) -> str:
    return stream_errors._span(numbers)


def _sizes(calls) -> str:
    """Batch sizes, runs compressed: "8, 4, 2, then 1 (x51)"."""
    runs: list[list[int]] = []
    for call in calls:
        size = len(call.records)
        if runs and runs[-1][0] == size:
            runs[-1][1] += 1
        else:
            runs.append([size, 1])
    return ", ".join(f"{size} (x{count})" if count > 2 else ", ".join([str(size)] * count)
                     for size, count in runs)


# --- exercise 1 ----------------------------------------------------------------------------------


def poison_budget(config) -> Check:
    """``config`` (keyword arguments of ``create_event_source_mapping``) isolates the poison
    record within the budget, sends it to the failure queue, and processes the rest once."""
    from botocore.exceptions import ClientError

    try:
        run = stream_errors.poison(config, **EX1)
    except (TypeError, ValueError) as error:
        return failed(f"ex1_config: {error}. It is a dict such as "
                      '{"MaximumRetryAttempts": 2, ...}, passed to create_event_source_mapping '
                      "next to FunctionName, EventSourceArn, BatchSize 8 and StartingPosition.")
    except ClientError as error:
        info = error.response["Error"]
        return failed(f"create_event_source_mapping rejected ex1_config: {info['Code']}: "
                      f"{info['Message']} (ranges: {API}).")
    bad = EX1["bad"]
    calls = run.calls_with(bad)
    sizes = _sizes(calls)
    facts = (f"With {config} the poison record {bad} was in {_n(len(calls), 'invocation')} "
             f"(batches of {sizes or 'none'} records)")
    if run.fates.get("in_flight"):
        return failed(
            f"{facts}, and {run.until:g} s after the write it is still being retried, holding "
            "up its shard. With MaximumRetryAttempts -1 and MaximumRecordAgeInSeconds -1 "
            "Lambda retries until the record leaves the stream (in the simulator 24 h, M11), "
            "and BisectBatchOnFunctionError never discards a record by itself: there is no "
            f"split count after which a batch goes to the destination ({ON_FAILURE}). Set "
            "MaximumRetryAttempts."
        )
    others = [n for n in range(EX1["batch_size"]) if n != bad]
    with_it = [n for n in others if run.processed.get((0, n), 0) == 0]
    aged = [n for n in with_it if any(n in d.records and d.condition == "RecordAgeExceeded"
                                      for d in run.discards)]
    if aged:
        return failed(
            f"{facts}, and records {_span(aged)}, which were fine, waited behind it until they "
            "were older than MaximumRecordAgeInSeconds too, and were discarded with it "
            "(RecordAgeExceeded). The age limit discards every record that is too old, not "
            f"only the bad one ({ON_FAILURE}); to bound the retries of one record, use "
            "MaximumRetryAttempts."
        )
    if with_it:
        return failed(
            f"{facts}, and records {_span(with_it)}, which were fine, were discarded with it: "
            "when the retry limit is reached Lambda discards the whole failing batch "
            f"({ON_FAILURE}). Turn on BisectBatchOnFunctionError, so the failing batch is split "
            "into halves (without using a retry) until the poison record is alone."
        )
    twice = [n for n in others if run.processed.get((0, n), 0) > 1]
    if twice:
        return failed(f"{facts}; records {_span(twice)} were processed more than once.")
    poison_end = next((d for d in run.discards if bad in d.records), None)
    if poison_end is None or not poison_end.delivered:
        where = config.get("DestinationConfig") if isinstance(config, dict) else None
        return failed(
            f"{facts}, and it was discarded, but no destination received it "
            f"(DestinationConfig: {where!r}). A discarded batch is recorded only in an "
            "on-failure destination: set DestinationConfig to "
            '{"OnFailure": {"Destination": stream_errors.FAILURE_QUEUE_ARN}}, the standard '
            f"queue this scenario creates ({ON_FAILURE})."
        )
    if len(calls) > EX1_MAX_INVOCATIONS:
        splits = sum(1 for c in calls if len(c.records) > 1)
        singles = len(calls) - splits
        return failed(
            f"{facts}: {splits} while bisect halved the batch (8, 4, 2: these use no retry), "
            f"then {singles} of the record alone. The budget is {EX1_MAX_INVOCATIONS}. A batch "
            "of one record that fails is invoked 1 + MaximumRetryAttempts times (in the "
            "simulator bisect splits at ceil(n/2), first half first, down to one record: "
            f"MODELLING CHOICE M1). Lower MaximumRetryAttempts to "
            f"{EX1_MAX_INVOCATIONS - splits - 1} or less."
        )
    return passed(
        f"{facts}, then went to the destination with approximateInvokeCount "
        f"{poison_end.invocations}; the other {len(others)} records were processed once each. "
        "Bisect found the record without using retries, the retry limit discarded it, and the "
        "destination kept a note of it: the shard went on."
    )


def check_poison_budget(namespace: dict) -> Check:
    found = defined(namespace, "ex1_config")
    return poison_budget(namespace["ex1_config"]) if found else found


# --- exercise 2 ----------------------------------------------------------------------------------


def replayed_records(fetch) -> Check:
    """``fetch(kinesis, message)`` returns exactly the discarded records, in order."""
    if not callable(fetch):
        return failed(f"ex2_fetch must be a function (kinesis, message) that returns a list of "
                      f"records, got {fetch!r}.")
    result = stream_errors.replay(fetch)
    info = result.message["KinesisBatchInfo"]
    facts = (f"The message says: shard {info['shardId']}, {info['batchSize']} records from "
             f"...{info['startSequenceNumber'][-6:]} to ...{info['endSequenceNumber'][-6:]}.")
    if result.error is not None:
        error = result.error
        return failed(f"{facts} Your function raised {type(error).__name__}: {error}. Ask for "
                      "an iterator with get_shard_iterator(StreamName=..., ShardId=..., "
                      "ShardIteratorType=..., StartingSequenceNumber=...), then call "
                      f"get_records(ShardIterator=...) ({GET_SHARD_ITERATOR}).")
    returned = result.returned
    if not isinstance(returned, list) or not all(
            isinstance(r, dict) and "SequenceNumber" in r for r in returned):
        return failed(f"{facts} Your function returned {str(returned)[:120]!r}: return the "
                      'list of records as get_records gives them (dicts with "SequenceNumber", '
                      '"Data", "PartitionKey").')
    got = [r["SequenceNumber"] for r in returned]
    expected = list(result.expected)
    if got == expected:
        return passed(
            f"{facts} You fetched those {len(got)} records back. An SQS or SNS destination "
            "receives only this description, never the records: read them from the stream "
            f"before its retention period removes them. An S3 destination also stores the "
            f"invocation's payload ({ON_FAILURE})."
        )
    shard_of = {seq: shard for shard, seq in result.written}
    other = [s for s in got if shard_of.get(s) not in (None, info["shardId"])]
    if other:
        return failed(f"{facts} {len(other)} of the records you returned are from "
                      f"{shard_of[other[0]]}: sequence numbers are per shard. Read the shard "
                      "named in KinesisBatchInfo.shardId.")
    if expected[0] not in got and got and got[0] == expected[1]:
        return failed(f"{facts} Your first record is the second discarded one: "
                      "AFTER_SEQUENCE_NUMBER starts after startSequenceNumber. Use "
                      f"AT_SEQUENCE_NUMBER ({GET_SHARD_ITERATOR}).")
    before = [s for s in got if int(s) < int(expected[0])]
    after = [s for s in got if int(s) > int(expected[-1])]
    if before:
        return failed(f"{facts} You returned {_n(len(before), 'record')} before "
                      "startSequenceNumber, which were processed fine: start the iterator "
                      "AT_SEQUENCE_NUMBER startSequenceNumber, not at TRIM_HORIZON.")
    if after:
        return failed(f"{facts} You returned {_n(len(after), 'record')} after "
                      "endSequenceNumber, which the mapping processed: stop at "
                      "endSequenceNumber (or take batchSize records; GetRecords' Limit "
                      "caps how many one call returns).")
    return failed(f"{facts} You returned {_n(len(got), 'record')}, not the "
                  f"{len(expected)} discarded ones, in order (read the shard named in "
                  "KinesisBatchInfo.shardId with AT_SEQUENCE_NUMBER; "
                  "a GetRecords call may return fewer records than there are, so follow "
                  "NextShardIterator until you reach endSequenceNumber).")


def check_replayed_records(namespace: dict) -> Check:
    found = defined(namespace, "ex2_fetch")
    return replayed_records(namespace["ex2_fetch"]) if found else found


# --- exercise 3 ----------------------------------------------------------------------------------


def predicted_bisect(batches) -> Check:
    """``batches``: the record numbers of every invocation, in order, for :data:`EX3`."""
    shape = ("ex3_batches must be a list of lists of record numbers, one list per invocation in "
             "the order they run, e.g. [[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], ...]")
    if not isinstance(batches, list | tuple) or not all(
            isinstance(b, list | tuple) and all(isinstance(n, int) for n in b) for b in batches):
        return failed(f"{shape}; got {str(batches)[:120]}.")
    run = stream_errors.bisect(**EX3)
    truth = [list(c.records) for c in run.calls]
    mine = [list(b) for b in batches]
    if mine == truth:
        return passed(
            f"Right: {len(truth)} invocations. Bisect halves a failing batch without using a "
            f"retry, first half first; the bad record alone then used 1 + "
            f"{EX3['max_retries']} invocations before the retry limit discarded it, and the "
            "second half ran last. No record was skipped: every good record was processed."
        )
    k = next((i for i, (a, b) in enumerate(zip(mine, truth, strict=False)) if a != b),
             min(len(mine), len(truth)))
    bad = EX3["bad"][0]
    said = f"invocation {k + 1}: the run invoked {truth[k]}" if k < len(truth) else ""
    if k >= len(truth):
        return failed(f"The run made {len(truth)} invocations; your list goes on with "
                      f"{mine[k]}. After the bad record's last retry the batch [{bad}] is "
                      "discarded and the rest has already been processed.")
    if k >= len(mine):
        return failed(
            f"Your list stops after {len(mine)} invocations, but {said} and "
            f"{len(truth) - k - 1} more. There is no split count after which a batch goes "
            "to the destination: bisect goes down to one record, that record gets "
            f"1 + MaximumRetryAttempts ({EX3['max_retries']}) invocations, and every other "
            f"record is invoked until it is processed ({ON_FAILURE})."
        )
    got = mine[k]
    hint = ""
    if truth[k] == [bad] and got != [bad]:
        hint = (f" A batch of one record that fails is retried: MaximumRetryAttempts "
                f"{EX3['max_retries']} gives [{bad}] 1 + {EX3['max_retries']} invocations, "
                "one after another, before anything else of the shard runs.")
    elif bad not in truth[k]:
        hint = (f" Lambda does not know which record is bad: after a split it invokes the first "
                f"half, {truth[k]}, although every record in it is fine. The first half, with "
                "all its own splits, finishes before the second half starts (MODELLING CHOICE "
                "M1, which keeps the shard's order).")
    elif got and min(got) > max(truth[k]):
        hint = (f" The first half, {truth[k]}, with all its own splits, finishes before the "
                "second half starts (MODELLING CHOICE M1, which keeps the shard's order).")
    else:
        hint = (" Lambda does not know which record failed, so the whole half is invoked, "
                f"the good records with it; split at ceil(n/2): {len(truth[k])} records make "
                f"halves of {-(-len(truth[k]) // 2)} and {len(truth[k]) // 2} (M1).")
        if len(got) >= len(truth[k]):
            hint = (" Each split halves the batch that failed (ceil(n/2) records first, M1); "
                    "a record is invoked again only in a half that holds it.")
    return failed(f"At {said}, you predicted {got}.{hint}")


def check_predicted_bisect(namespace: dict) -> Check:
    found = defined(namespace, "ex3_batches")
    return predicted_bisect(namespace["ex3_batches"]) if found else found
