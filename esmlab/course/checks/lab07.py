"""Checks for Lab 07, IAM. Each returns a :class:`esmlab.course.checks.Check` whose message teaches.

* :func:`stream_resource` (exercise 1): the ``Resource`` that lets a DynamoDB Streams mapping
  read its table's stream, and no other table's;
* :func:`least_privilege` (exercise 2): the role policy of a DynamoDB Streams mapping with an
  SQS on-failure destination: it works, removing any action breaks it, and it reaches nothing
  else;
* :func:`stalled_mapping` (exercise 3): which call a ``Deny`` took away from a stalled SQS
  mapping, and a fix, made with boto3, that lets it proceed and keeps what the ``Deny`` was for.

Every check runs the learner's answer in the simulator (:mod:`esmlab.course.scenarios.iam`): the
role is made with boto3 ``iam`` calls and its policies are evaluated by ``esmlab.permissions``.
"""

from __future__ import annotations

import copy
import json

from esmlab.course.checks import Check, defined, failed, passed
from esmlab.course.scenarios import iam

DDB_POLICY = ("https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
              "iam-policy-example-lamda-process-dynamodb-streams.html")
DESTINATIONS = "https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html"
EVALUATION = ("https://docs.aws.amazon.com/IAM/latest/UserGuide/"
              "reference_policies_evaluation-logic.html")
SQS_CONFIGURE = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"

#: The table of exercises 1 and 2 (the stream's label is only known once the stream exists).
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
#: Another table of the same account: its stream must stay out of reach.
OTHER_STREAM = ("arn:aws:dynamodb:us-east-1:123456789012:table/payments/stream/"
                "2025-01-01T00:00:00")
OTHER_QUEUE = "arn:aws:sqs:us-east-1:123456789012:payments-failures"
#: The same table's stream once it has been disabled and enabled again: a new label.
NEXT_STREAM = f"{TABLE_ARN}/stream/2026-06-01T00:00:00.000"

#: Exercise 3: the role has AmazonSQSFullAccess and an inline "guardrail" that denies
#: sqs:Delete* (meant to stop the function deleting queues) from the start; the fix runs at
#: t = EX3_FIX_AT.
EX3_GUARDRAIL = {"Version": "2012-10-17", "Statement": [
    {"Sid": "NoQueueDeletion", "Effect": "Deny", "Action": "sqs:Delete*", "Resource": "*"}]}
EX3_MANAGED = ("arn:aws:iam::aws:policy/AmazonSQSFullAccess",)
EX3_FIX_AT = 150.0
EX3 = {"denied": "sqs:DeleteMessage", "deny_at": 0.0, "messages": 30, "horizon": 420.0}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def ex3_scenario(fix=None):
    """The stalled mapping of exercise 3; ``fix(iam, role_name)`` runs at :data:`EX3_FIX_AT`."""
    return iam._stalled(EX3["denied"], EX3["deny_at"], EX3_FIX_AT if fix else None,
                        EX3["messages"], EX3["horizon"], fix, json.dumps(EX3_GUARDRAIL),
                        EX3_MANAGED)


# --- exercise 1 ----------------------------------------------------------------------------------


def stream_resource(make_resource) -> Check:
    """``make_resource(table_arn) -> str``: the Resource of the four stream-read actions."""
    if not callable(make_resource):
        return failed(f"ex1_resource must be a function of the table ARN that returns the "
                      f"policy's Resource (a string), got {make_resource!r}.")
    try:
        value = make_resource(TABLE_ARN)
    except Exception as error:  # noqa: BLE001 - the learner's code: show what it raised
        return failed(f"ex1_resource({TABLE_ARN!r}) raised {type(error).__name__}: {error}.")
    if not isinstance(value, str) or not value:
        return failed(f"ex1_resource({TABLE_ARN!r}) returned {value!r}: a Resource is an ARN "
                      "string (wildcards * and ? allowed).")

    def document(stream_arn, table_arn):
        return iam.policy(iam.LEAST["dynamodb"], make_resource(table_arn))

    result = iam.with_policy("dynamodb", document,
                             probes=[("dynamodb:GetRecords", OTHER_STREAM),
                                     ("dynamodb:GetRecords", NEXT_STREAM)])
    if not result.created:
        table_like = value.rstrip("/") == TABLE_ARN or value.endswith(":table/orders")
        hint = (" That is the table's ARN: a stream is a resource of its own, "
                "arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>, and a "
                "policy on the table does not reach it." if table_like else
                " The stream's ARN is the table's ARN followed by /stream/ and a label (a "
                "timestamp that changes each time the stream is enabled), so AWS's example "
                "policy ends in /stream/*.")
        return failed(f"With Resource {value!r} the mapping was rejected: {result.error}{hint} "
                      f"({DDB_POLICY})")
    other, next_label = result.checks[-2][1], result.checks[-1][1]
    if other:
        return failed(f"Resource {value!r} works, but it also lets the role read the stream of "
                      f"another table ({OTHER_STREAM}). Least privilege: name this table, "
                      f"{TABLE_ARN}, and leave only the stream's label to a wildcard "
                      f"({DDB_POLICY}).")
    if not next_label:
        return failed(f"Resource {value!r} works today, but not once the stream is disabled and "
                      f"enabled again: the new stream gets a new label ({NEXT_STREAM}). Leave "
                      f"the label to a wildcard: <table ARN>/stream/* ({DDB_POLICY}).")
    return passed(f"Resource {value!r} reaches this table's stream ({result.source_arn}) and "
                  "no other table's: the mapping was created. The table ARN alone would not "
                  "do: the stream is a separate resource.")


def check_stream_resource(namespace: dict) -> Check:
    found = defined(namespace, "ex1_resource")
    return stream_resource(namespace["ex1_resource"]) if found else found


# --- exercise 2 ----------------------------------------------------------------------------------

#: What the policy must not allow: (action, resource); {table}, {stream}, {destination} are
#: filled in by the scenario.
EX2_PROBES = (
    ("dynamodb:GetRecords", OTHER_STREAM),
    ("dynamodb:PutItem", "{table}"),
    ("sqs:SendMessage", OTHER_QUEUE),
    ("sqs:ReceiveMessage", "{destination}"),
    ("sqs:DeleteQueue", "{destination}"),
)


def _actions(statement) -> list:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


def _without(document: dict, index: int, action: str) -> dict:
    """``document`` without ``action`` in statement ``index`` (the statement goes if empty)."""
    smaller = copy.deepcopy(document)
    statements = smaller["Statement"]
    if isinstance(statements, dict):
        statements = smaller["Statement"] = [statements]
    rest = [a for a in _actions(statements[index]) if a != action]
    if rest:
        statements[index]["Action"] = rest
    else:
        del statements[index]
    return smaller


def least_privilege(make_policy) -> Check:
    """``make_policy(table_arn, destination_arn) -> dict``: the role's only policy."""
    if not callable(make_policy):
        return failed(f"ex2_policy must be a function (table_arn, destination_arn) that returns "
                      f"a policy document (a dict), got {make_policy!r}.")
    try:
        document = make_policy(TABLE_ARN, "arn:aws:sqs:us-east-1:123456789012:orders-failures")
        json.dumps(document)
    except Exception as error:  # noqa: BLE001 - the learner's code: show what it raised
        return failed(f"ex2_policy raised {type(error).__name__}: {error}.")
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements or not all(
            isinstance(s, dict) and s.get("Effect") in ("Allow", "Deny") and _actions(s)
            for s in statements):
        return failed(f"ex2_policy returned {document!r}: a policy document is "
                      '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
                      '[...], "Resource": ...}, ...]}.')
    result = iam.pipeline(make_policy, probes=EX2_PROBES)
    if not result.created:
        return failed(f"The mapping was rejected: {result.error} A DynamoDB Streams mapping "
                      "needs dynamodb:DescribeStream, GetRecords, GetShardIterator and "
                      f"ListStreams on the stream, <table ARN>/stream/* ({DDB_POLICY}).")
    if not result.works:
        reason = result.destinations[0][2] if result.destinations else "no delivery was tried"
        return failed(
            "The mapping was created and the failing batch was discarded, but its failure "
            f"record did not reach the destination queue ({reason}); CloudWatch counted "
            f"DestinationDeliveryFailures {result.failures_metric:g}, and the record was dropped. "
            f"The execution role sends it, so it needs sqs:SendMessage on the queue "
            f"({DESTINATIONS}).")
    reach = [f"{action} on {where}" for action, where, ok in result.probes if ok]
    if reach:
        return failed(f"It works, but the policy also allows {'; '.join(reach)}. Least "
                      "privilege: only the four stream-read actions on this table's stream and "
                      "sqs:SendMessage on this destination queue.")
    for index, statement in enumerate(statements):
        if statement.get("Effect") != "Allow":
            continue
        for action in _actions(statement):
            if action.lower().startswith("logs:"):
                continue  # the function's own logs: esmlab does not check them (see the lab)
            smaller = _without(document, index, action)
            trial = iam.pipeline(lambda t, d, smaller=smaller: smaller)
            if trial.works and action.lower() == "dynamodb:listshards":
                return failed(
                    "It works, but it works without dynamodb:ListShards too (a myth): there is no such "
                    "action. The DynamoDB Streams API has four operations, DescribeStream, "
                    "GetRecords, GetShardIterator and ListStreams, and those are the four "
                    "actions (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/"
                    "API_Operations_Amazon_DynamoDB_Streams.html). Remove it.")
            if trial.works:
                return failed(
                    f"It works, but it works without {action} too (statement {index + 1}): "
                    "a least-privilege policy has nothing the mapping can do without. Remove "
                    "it.")
    return passed("The mapping was created, the discarded batch's failure record reached the "
                  "destination queue, the role reaches nothing else, and removing any of its "
                  "actions breaks the mapping (at creation) or the delivery (when a batch is "
                  "discarded).")


def check_least_privilege(namespace: dict) -> Check:
    found = defined(namespace, "ex2_policy")
    return least_privilege(namespace["ex2_policy"]) if found else found


# --- exercise 3 ----------------------------------------------------------------------------------


def stalled_mapping(action, fix) -> Check:
    """``action``: the call the guardrail denies the mapping; ``fix(iam, role_name)``: boto3
    calls that let the mapping proceed and keep the role from deleting queues."""
    stalled = ex3_scenario()
    denied = sorted({a for _, a in stalled.denials})
    if action != EX3["denied"]:
        return failed(
            f"ex3_action is {action!r}. Read the mapping's LastProcessingResult and the trace's "
            f"'denied' events: the role was denied {', '.join(denied)} "
            f"{_n(len(stalled.denials), 'time')}. The function ran "
            f"{_n(len(stalled.invocations), 'time')}, so receiving worked; what failed came "
            f"after the invocation ({SQS_CONFIGURE}).")
    if not callable(fix):
        return failed(f"ex3_fix must be a function (iam, role_name) that changes the role with "
                      f"boto3 calls, got {fix!r}.")
    result = ex3_scenario(fix)
    if result.fix_error is not None:
        return failed(f"ex3_fix raised {type(result.fix_error).__name__}: {result.fix_error}. "
                      "It is called with a boto3 IAM client and the role's name.")
    late = [t for t, _ in result.denials if t > EX3_FIX_AT]
    probes = dict(result.probes)
    taken = sorted({a for t, a in result.denials if t > EX3_FIX_AT} - {EX3["denied"]})
    if taken:
        return failed(
            f"After your fix (at t = {EX3_FIX_AT:g} s) the role was denied {', '.join(taken)}: "
            "the fix took away what no remaining policy allows, and what nothing allows is "
            f"denied ({EVALUATION}). An SQS mapping needs sqs:ReceiveMessage, "
            f"sqs:DeleteMessage and sqs:GetQueueAttributes on the queue ({SQS_CONFIGURE}).")
    if late:
        return failed(
            f"After your fix (at t = {EX3_FIX_AT:g} s) the role was still denied "
            f"{', '.join(sorted({a for t, a in result.denials if t > EX3_FIX_AT}))} "
            f"{_n(len(late), 'time')}, and {result.in_dlq} messages ended in the DLQ. An "
            "explicit Deny wins over any Allow, whichever policy the Allow is in: adding an "
            f"Allow cannot undo it ({EVALUATION}). Change or remove the Deny.")
    if probes.get("sqs:DeleteQueue"):
        return failed(
            f"The mapping runs again ({result.deleted} messages deleted after the fix), but the "
            "role may now delete the queue: the guardrail was there to stop that, and "
            "AmazonSQSFullAccess allows sqs:*. Keep a Deny of sqs:DeleteQueue only, or replace "
            "the full-access policy by AWSLambdaSQSQueueExecutionRole.")
    stuck = result.sent - result.deleted - result.in_dlq
    if stuck:
        return failed(f"{stuck} messages were still in the queue at t = {result.horizon:g} s.")
    return passed(
        f"Right: the guardrail's Deny of sqs:Delete* also matched sqs:DeleteMessage, so every "
        f"batch ran and was never deleted: messages came back after the {iam.STALLED_VT} s "
        f"visibility timeout, and {result.in_dlq} reached the DLQ after "
        f"{iam.STALLED_MAX_RECEIVE} receives. From the fix on, {result.deleted} were deleted, "
        "and the role still cannot delete the queue.")


def check_stalled_mapping(namespace: dict) -> Check:
    found = defined(namespace, "ex3_action", "ex3_fix")
    return stalled_mapping(namespace["ex3_action"], namespace["ex3_fix"]) if found else found
