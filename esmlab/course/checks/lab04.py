"""Checks for Lab 04, Errors with SQS. Each returns a :class:`esmlab.course.checks.Check` whose message teaches.

* :func:`poison_to_dlq` (exercise 1): queue attributes and mapping parameters that move a poison
  message to the dead-letter queue after exactly :data:`EX1_ATTEMPTS` deliveries, while every
  other message is processed once;
* :func:`partial_handler` (exercise 2): a handler whose partial batch response lists exactly the
  bad messages of a batch;
* :func:`visibility_timeout` (exercise 3): a visibility timeout sized by AWS's rule for a function
  timeout and a batching window;
* :func:`idempotent_handler` (exercise 4): a handler whose effect does not change when a batch is
  delivered again.

Every check runs the learner's answer in the simulator (:mod:`esmlab.course.scenarios.sqs_errors`).
"""

from __future__ import annotations

import json

from esmlab.course.checks import Check, defined, failed, passed
from esmlab.course.scenarios import sqs_errors

ERRORHANDLING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"
CONFIGURE = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"
SET_QUEUE_ATTRIBUTES = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/"
    "API_SetQueueAttributes.html")
DLQ_ARN = sqs_errors.DLQ_ARN

#: Exercise 1: six orders, #2 is poison; the handler reports it in batchItemFailures.
EX1 = {"messages": 6, "poison": (2,), "respond": "report", "visibility_timeout": 10}
EX1_ATTEMPTS = 4
EX1_MAX_VT = 120  #: the longest visibility timeout the check simulates (s)
#: Exercise 2: eight bodies; #1, #4 and #6 are bad (not JSON, negative, not a number).
EX2_BODIES = (
    '{"order": 0, "amount": 10}',
    "order 1: 20 EUR",
    '{"order": 2, "amount": 30}',
    '{"order": 3, "amount": 0}',
    '{"order": 4, "amount": -5}',
    '{"order": 5, "amount": 12.5}',
    '{"order": 6, "amount": "ten"}',
    '{"order": 7, "amount": 70}',
)
EX2_BAD = (1, 4, 6)
EX2 = {"bodies": EX2_BODIES, "poison": (), "report": True, "max_receive_count": 2,
       "visibility_timeout": 10, "batch_size": 10}
#: Exercise 3: the function's timeout and the mapping's batching window.
EX3_FUNCTION_TIMEOUT = 30
EX3_WINDOW = 20
EX3_ADVICE = 6 * EX3_FUNCTION_TIMEOUT + EX3_WINDOW
#: Exercise 4: five orders; the batch fails once after the handler has run (no RBIF).
EX4_BODIES = tuple(json.dumps({"order": n, "amount": 10 * (n + 1)}) for n in range(5))
EX4_TOTAL = sum(10 * (n + 1) for n in range(5))
EX4 = {"bodies": EX4_BODIES, "poison": (3,), "poison_fails": 1, "visibility_timeout": 10,
       "max_receive_count": 5}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _rejected(error) -> str | None:
    """AWS's exception and message when the simulator refused a call, else None."""
    from botocore.exceptions import ClientError, ParamValidationError

    if isinstance(error, ClientError):
        err = error.response["Error"]
        return f"{err['Code']}: {err['Message']}"
    if isinstance(error, ParamValidationError):
        return f"ParamValidationError: {error}"
    return None


def _run(**kwargs):
    """(result, None) or (None, why the setup was rejected)."""
    try:
        return sqs_errors.life(**kwargs), None
    except Exception as error:  # a rejected call is the learner's to read (re-raised otherwise)
        why = _rejected(error)
        if why is None:
            raise
        return None, why


# --- exercise 1 ----------------------------------------------------------------------------------


def poison_to_dlq(queue_attributes, mapping) -> Check:
    """The poison message reaches the DLQ after exactly EX1_ATTEMPTS deliveries; the five other
    messages are each delivered once and deleted."""
    for name, value in (("ex1_queue_attributes", queue_attributes), ("ex1_mapping", mapping)):
        if not isinstance(value, dict):
            return failed(f"{name} must be a dict, got {value!r}.")
    if "MaximumRetryAttempts" in mapping or "DestinationConfig" in mapping:
        key = "MaximumRetryAttempts" if "MaximumRetryAttempts" in mapping else "DestinationConfig"
        return failed(
            f"ex1_mapping sets {key}, which SQS mappings do not have: retries and on-failure "
            "destinations are stream settings. For a queue, the dead-letter queue and the number "
            "of receives before it are the source queue's RedrivePolicy "
            f"(deadLetterTargetArn, maxReceiveCount) ({CONFIGURE}).")
    policy = queue_attributes.get("RedrivePolicy")
    if policy is not None:
        try:
            parsed = json.loads(policy) if isinstance(policy, str) else None
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            return failed(
                f"RedrivePolicy is {policy!r}: SQS wants it as a JSON string, e.g. "
                'json.dumps({"deadLetterTargetArn": lab04.DLQ_ARN, "maxReceiveCount": "4"}) '
                f"({SET_QUEUE_ATTRIBUTES}).")
        if parsed.get("deadLetterTargetArn") != DLQ_ARN:
            return failed(f"The RedrivePolicy's deadLetterTargetArn is "
                          f"{parsed.get('deadLetterTargetArn')!r}; the dead-letter queue of this "
                          f"exercise is lab04.DLQ_ARN, {DLQ_ARN!r}.")
    try:
        vt = int(queue_attributes.get("VisibilityTimeout", EX1["visibility_timeout"]))
    except (TypeError, ValueError):
        vt = EX1["visibility_timeout"]
    if vt > EX1_MAX_VT:
        return failed(
            f"Your queue's VisibilityTimeout is {vt} s: four deliveries would take at least "
            f"{EX1_ATTEMPTS * vt} simulated seconds, longer than this check runs. The exercise "
            f"does not need it: leave VisibilityTimeout out (the queue then uses "
            f"{EX1['visibility_timeout']} s) or keep it at most {EX1_MAX_VT} s.")
    result, why = _run(**EX1, queue_attributes=queue_attributes, mapping=mapping,
                       max_receive_count=None, horizon=sqs_errors.START + (EX1_ATTEMPTS + 3) * (
                           max(vt, 1) + 2) + 5)
    if why:
        return failed(f"Setting up with your answer was rejected: {why}")
    poison = result.lives[EX1["poison"][0]]
    others = [life for life in result.lives if not life.poison]
    times = result.processed_times()
    if poison.fate == "deleted" and poison.receive_count == 1:
        return failed(
            "The poison message was delivered once and then deleted, as if it had been processed. "
            "The handler listed it in batchItemFailures, but your mapping has no "
            'FunctionResponseTypes: ["ReportBatchItemFailures"], so Lambda ignored the response and '
            f"deleted the whole batch ({ERRORHANDLING}).")
    retried = [life for life in others if life.receive_count > 1]
    if retried:
        return failed(
            f"Message #{retried[0].number}, which the handler processed fine, was received "
            f"{retried[0].receive_count} times: the whole batch came back. Only the messages "
            "listed in batchItemFailures should be retried; that needs "
            f'FunctionResponseTypes: ["ReportBatchItemFailures"] on the mapping ({ERRORHANDLING}).')
    if poison.fate != "redriven":
        return failed(
            f"After {result.horizon:g} simulated seconds the poison message had been delivered "
            f"{_n(len(result.deliveries_of(poison.number)), 'time')} and was still "
            f"{'in the queue' if poison.fate == 'in_queue' else poison.fate}, not in the dead-letter "
            "queue. Give the source queue "
            'a RedrivePolicy: {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": ...} (a JSON '
            "string). The DLQ is a setting of the queue, not of the function or the mapping "
            f"({CONFIGURE}); without one, only the retention period ends the retries "
            f"({SET_QUEUE_ATTRIBUTES}).")
    attempts = len(result.deliveries_of(poison.number))
    if attempts != EX1_ATTEMPTS:
        return failed(
            f"The poison message was delivered {_n(attempts, 'time')} before SQS moved it to the "
            f"dead-letter queue, not {EX1_ATTEMPTS}. SQS moves a message once its receive count "
            "exceeds maxReceiveCount, so maxReceiveCount is the number of receives it gets: set "
            f"it to {EX1_ATTEMPTS} ({SET_QUEUE_ATTRIBUTES}).")
    if any(times[life.number] != 1 or life.fate != "deleted" for life in others):
        odd = next(life for life in others if times[life.number] != 1 or life.fate != "deleted")
        return failed(f"Message #{odd.number} was processed {_n(times[odd.number], 'time')} and "
                      f"ended {odd.fate}; every good message should be processed once and deleted.")
    return passed(
        f"The poison message was delivered {EX1_ATTEMPTS} times (receive counts 1 to "
        f"{EX1_ATTEMPTS}, one visibility timeout apart) and then moved to the dead-letter queue; "
        "the five others were processed once. The redrive policy lives on the queue; "
        "ReportBatchItemFailures makes only the listed message come back.")


def check_poison_to_dlq(namespace: dict) -> Check:
    found = defined(namespace, "ex1_queue_attributes", "ex1_mapping")
    if not found:
        return found
    return poison_to_dlq(namespace["ex1_queue_attributes"], namespace["ex1_mapping"])


# --- exercise 2 ----------------------------------------------------------------------------------


def partial_handler(handler) -> Check:
    """``handler(event, context)`` reports exactly the bad messages of EX2_BODIES."""
    if not callable(handler):
        return failed(f"ex2_handler must be a function (event, context), got {handler!r}.")
    result = sqs_errors.life(**EX2, handler=handler)
    raised = [r for _, r in result.returned if isinstance(r, Exception)]
    if raised:
        return failed(
            f"Your handler raised {type(raised[0]).__name__}: {raised[0]}. An exception fails "
            "the whole batch, even with ReportBatchItemFailures: all 8 messages came back, the "
            f"good ones too ({ERRORHANDLING}). Catch the error per record and list that record's "
            "messageId in batchItemFailures instead.")
    first = result.deliveries[0].request_id
    outcome = next(d.outcome for d in result.deliveries if d.request_id == first)
    answer = next(r for request_id, r in result.returned if request_id == first)
    if outcome == "invalid_response":
        return failed(
            f"Your handler returned {_short(answer)}, and Lambda read it as a failure of the "
            "whole batch: every message came back. Each entry of batchItemFailures must be an "
            'object {"itemIdentifier": <the record\'s messageId>}; a bare string, an empty or '
            f"null id, or an id that is not in the batch (a receiptHandle, say) fails the whole "
            f"batch ({ERRORHANDLING}).")
    if outcome == "error":
        return failed(f"The invocation failed ({_short(answer)} could not be returned as JSON): "
                      "the whole batch came back. Return a dict of lists and strings.")
    bad = set(EX2_BAD)
    back = {d.message for d in result.deliveries if d.request_id == first and d.failed}
    missed, extra = sorted(bad - back), sorted(back - bad)
    if missed:
        n = missed[0]
        return failed(
            f"Message #{n} ({EX2_BODIES[n]!r}) is bad, but your handler did not list it, so Lambda "
            f"deleted it as processed: it is gone. Missing: {', '.join(f'#{m}' for m in missed)}. "
            "A good order is a JSON object whose amount is a number (not a bool) of at least 0; "
            "list every other record's messageId.")
    if extra:
        n = extra[0]
        return failed(
            f"Your handler listed message #{n} ({EX2_BODIES[n]!r}), which is a good order, so it "
            "came back and would be processed again. List only the records that failed.")
    redriven = sorted(life.number for life in result.lives if life.fate == "redriven")
    return passed(
        f"Only {', '.join(f'#{n}' for n in redriven)} came back, were retried once more and then "
        f"went to the dead-letter queue (maxReceiveCount {EX2['max_receive_count']}); the five "
        "good orders were deleted after one delivery.")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def check_partial_handler(namespace: dict) -> Check:
    found = defined(namespace, "ex2_handler")
    return partial_handler(namespace["ex2_handler"]) if found else found


# --- exercise 3 ----------------------------------------------------------------------------------


def visibility_timeout(seconds) -> Check:
    """A queue VisibilityTimeout for a 30 s function timeout and a 20 s window, by AWS's rule."""
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        return failed(f"ex3_visibility_timeout must be a whole number of seconds, got {seconds!r}.")
    if not 0 <= seconds <= 43_200:
        return failed(f"A queue's VisibilityTimeout is 0 to 43,200 seconds (12 hours), not "
                      f"{seconds} ({SET_QUEUE_ATTRIBUTES}).")
    rule = (f"AWS advises a visibility timeout of at least six times the function's timeout "
            f"({CONFIGURE}), and the batch's messages are received while the window is still "
            f"open, so the window's {EX3_WINDOW} s run on the same clock: 6 x "
            f"{EX3_FUNCTION_TIMEOUT} + {EX3_WINDOW} = {EX3_ADVICE} s.")
    if seconds < EX3_FUNCTION_TIMEOUT:
        result, why = _run(messages=1, poison=(), visibility_timeout=seconds,
                           timeout=EX3_FUNCTION_TIMEOUT, window=EX3_WINDOW)
        return failed(f"With a visibility timeout of {seconds} s the mapping cannot even be "
                      f"created: {(why or 'it was accepted').rstrip('.')}. A function "
                      f"timeout longer than the queue's visibility timeout is rejected. {rule}")
    # One order, gathered for the whole window, then a 25 s run: a second delivery, if any, starts
    # before t = 2 + 45 s, so 100 simulated seconds show it whatever the timeout.
    result = sqs_errors.life(messages=1, poison=(), visibility_timeout=seconds,
                             timeout=EX3_FUNCTION_TIMEOUT, window=EX3_WINDOW,
                             duration=EX3_FUNCTION_TIMEOUT - 5.0, max_receive_count=5,
                             horizon=sqs_errors.START + 100)
    deliveries = len(result.deliveries)
    seen = (f"In the simulator, with a batch gathered for {EX3_WINDOW} s and a function that ran "
            f"{EX3_FUNCTION_TIMEOUT - 5} s, the message was delivered {_n(deliveries, 'time')}.")
    if seconds < EX3_ADVICE:
        return failed(f"{seconds} s is below AWS's advice. {rule} {seen}"
                      + (" It came back while its first invocation was still running, and that "
                         "invocation's delete used a stale receipt handle." if deliveries > 1
                         else " The margin is what lets Lambda retry throttled invocations."))
    return passed(f"{seconds} s: at least {EX3_ADVICE} s. {rule} {seen}")


def check_visibility_timeout(namespace: dict) -> Check:
    found = defined(namespace, "ex3_visibility_timeout")
    return visibility_timeout(namespace["ex3_visibility_timeout"]) if found else found


# --- exercise 4 ----------------------------------------------------------------------------------


def idempotent_handler(make_handler) -> Check:
    """``make_handler(store)`` returns a handler that adds each order's amount to
    ``store["balance"]`` once, however often the order is delivered."""
    if not callable(make_handler):
        return failed(f"ex4_make_handler must be a function of a dict that returns a handler, "
                      f"got {make_handler!r}.")
    store: dict = {}
    handler = make_handler(store)
    if not callable(handler):
        return failed(f"ex4_make_handler(store) returned {handler!r}, not a handler "
                      "function (event, context).")
    result = sqs_errors.life(**EX4, handler=_fresh(handler))
    raised = [r for _, r in result.returned if isinstance(r, Exception)]
    if raised:
        return failed(f"Your handler raised {type(raised[0]).__name__}: {raised[0]}. Read "
                      'json.loads(record["body"])["amount"] and add it to store["balance"].')
    deliveries = len(result.deliveries)
    balance = store.get("balance")
    facts = (f"The five orders (total {EX4_TOTAL}) were delivered {deliveries} times in "
             f"{_n(result.invocations, 'invocation')}: the first batch failed after your handler "
             "had run, and without ReportBatchItemFailures the whole batch came back.")
    if balance == EX4_TOTAL:
        return passed(f"{facts} store['balance'] is {balance}: the duplicates changed nothing. "
                      "The messageId stays the same on every delivery of a message; the "
                      "receiptHandle does not.")
    if isinstance(balance, (int, float)) and not isinstance(balance, bool) and balance > EX4_TOTAL:
        return failed(f"{facts} store['balance'] is {balance}, not {EX4_TOTAL}: orders were counted "
                      "again when they were delivered again. Remember what you have applied, by "
                      "the record's messageId (it is the same on every delivery; the "
                      f"receiptHandle changes on every receive) ({ERRORHANDLING}).")
    return failed(f"{facts} store['balance'] is {balance!r}, not {EX4_TOTAL}: each order's amount "
                  "must be added once.")


def _fresh(handler):
    """The learner's handler, as a new function object (so the scenario's cache never returns a
    run made with an earlier store)."""
    def run(event, context):
        return handler(event, context)

    return run


def check_idempotent_handler(namespace: dict) -> Check:
    found = defined(namespace, "ex4_make_handler")
    return idempotent_handler(namespace["ex4_make_handler"]) if found else found
