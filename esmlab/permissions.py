"""Can this execution role do that? IAM identity-policy evaluation for Lambda execution roles.

The mapping API uses this to reject a mapping whose role cannot read its source (recorded errors
V14 for SQS, V15 for Kinesis and DynamoDB Streams) and to check on-failure destinations (kinesis-on-failure-destination).
The SQS poller checks every call it makes with ``allowed_cached`` (IAM at run time).

    allowed(role_arn, "sqs:ReceiveMessage", queue_arn)          -> bool
    allowed_cached(role_arn, "sqs:DeleteMessage", queue_arn)     -> bool, remembered
    required_actions("sqs")                                      -> ("sqs:ReceiveMessage", ...)
    destination_actions("s3")                                    -> ("s3:PutObject", "s3:ListBucket")
    missing(role_arn, "dynamodb", stream_arn)                    -> ["dynamodb:GetRecords", ...]
    missing_destination(role_arn, "s3", "arn:aws:s3:::bucket")   -> [...]

The policies are read in-process from moto's IAM backend (``iam_backends[account][partition]``;
in moto 5.2.5 the second key is the partition, e.g. ``"aws"``, not ``"global"``), so anything a
lab created with boto3 in the same mock is seen immediately. ``allowed`` reads the policies on
every call; ``allowed_cached`` remembers each answer per (role, action, resource) until moto's
IAM backend changes (esmlab/moto/iam.py counts the changes), so a poller can ask on every request
at the cost of a dictionary look-up and still see a detach or a new ``Deny`` at its next call.

What is evaluated, as IAM does for a same-account request by a role session
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

- every inline role policy and every attached managed policy (AWS managed and customer managed),
  using the managed policy's *default* version;
- the role's permissions boundary, if it has one: the action must be allowed by the boundary too;
- an explicit ``Deny`` in any of them wins; otherwise an ``Allow`` is needed; default deny;
- ``Action``/``NotAction``: case-insensitive, ``*`` and ``?`` wildcards;
- ``Resource``/``NotResource``: case-sensitive, ``*`` and ``?`` wildcards within an ARN segment; a
  ``*`` that ends a segment may match across ``:`` (as the IAM Resource element docs say);
  policy variables ``${...}`` (policy version 2012-10-17 only) from the request context below;
- each element may be a string or a list; ``Statement`` may be one object or a list.

Not evaluated (so ``allowed`` can differ from AWS): resource-based policies (an SQS queue policy, SNS
topic policy, S3 bucket policy or KMS key policy naming the role can grant same-account access in
AWS; here it is ignored), SCPs/RCPs, session policies, cross-account roles.

Conditions. **MODELLING CHOICE**: a small request context is known for a call Lambda makes with
the role: ``aws:PrincipalArn`` (the role ARN), ``aws:PrincipalAccount``, ``aws:PrincipalType``
(``AssumedRole``), ``aws:SecureTransport`` (``true``), and, from the resource ARN,
``aws:ResourceAccount`` and ``aws:RequestedRegion``; callers may add keys with ``context=``. The
operators ``String*`` (Equals, NotEquals, EqualsIgnoreCase, NotEqualsIgnoreCase, Like, NotLike),
``Arn*`` (Equals, Like, NotEquals, NotLike), ``Bool`` and ``Null``, each with ``...IfExists``, are
evaluated on those keys. Anything else (another key, another operator, ``ForAnyValue:`` /
``ForAllValues:``, an unresolved policy variable) is *unknown*, and an unknown is resolved
conservatively, toward "not allowed": an ``Allow`` statement whose condition is unknown does not
grant, a ``Deny`` statement whose condition is unknown does deny. So ``allowed`` may say no where
AWS would say yes (never the reverse, within the policies it reads).

Why not moto's own evaluator (``moto.iam.access_control.IAMPolicy`` / ``IAMPolicyStatement``,
used by moto's opt-in request authorization)? Checked in moto 5.2.5, it gets cases wrong that a
learner's policy can easily contain: its wildcard match is a raw regex (``*`` -> ``.*`` only), so
``?`` is a regex quantifier and ``.``/``+``/``(`` in an ARN are regex syntax; action names are
matched case-sensitively; ``NotResource`` is not supported, and any statement without
``Resource`` returns PERMITTED even when its Effect is ``Deny`` (so a Deny with ``NotResource``
grants); conditions support only ``StringEquals``, a key missing from the request or an unknown
operator passes (so with no request values, as in moto's identity-policy check, every condition
is ignored), and a failed condition turns an ``Allow`` statement into an explicit DENIED. What
would remain to reuse (the deny-wins loop and picking the default version) is a few lines, so
this module has its own evaluator; tests/test_permissions.py pins those gaps.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse

from .moto import iam as moto_iam

DEFAULT_ACCOUNT_ID = "123456789012"

# The actions Lambda needs on the event source (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html,
# with-kinesis.html, with-ddb.html). kms:Decrypt (SQS queue encrypted
# with a customer managed KMS key) is left out: it is conditional and its resource is the key, not
# the queue. kinesis:ListStreams is console-only (services-kinesis-create), so it is not required.
SOURCE_ACTIONS = {
    "sqs": ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
    "kinesis": (
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
        "kinesis:SubscribeToShard",
    ),
    "dynamodb": (
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    ),
}

# What the execution role needs on an on-failure destination
# (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html) (kms:GenerateDataKey
# for a KMS-encrypted bucket is left out, as kms:Decrypt above).
DESTINATION_ACTIONS = {
    "sqs": ("sqs:SendMessage",),
    "sns": ("sns:Publish",),
    "s3": ("s3:PutObject", "s3:ListBucket"),
}

# An object key of the recorded form, used for s3:PutObject when none is given.
S3_EXAMPLE_KEY = (
    "aws/lambda/00000000-0000-0000-0000-000000000000/shardId-000000000000/"
    "2025/01/01/2025-01-01T00.00.00-00000000-0000-0000-0000-000000000000"
)


def required_actions(source: str) -> tuple[str, ...]:
    """The IAM actions Lambda needs on an event source: ``"sqs"``, ``"kinesis"`` or ``"dynamodb"``."""
    try:
        return SOURCE_ACTIONS[source]
    except KeyError:
        raise ValueError(f"unknown event source {source!r}; expected one of {list(SOURCE_ACTIONS)}") from None


def destination_actions(kind: str) -> tuple[str, ...]:
    """The IAM actions an on-failure destination needs: ``"sqs"``, ``"sns"`` or ``"s3"``."""
    try:
        return DESTINATION_ACTIONS[kind]
    except KeyError:
        raise ValueError(f"unknown destination {kind!r}; expected one of {list(DESTINATION_ACTIONS)}") from None


def allowed(role_arn: str, action: str, resource: str, account_id: str = DEFAULT_ACCOUNT_ID,
            context: dict | None = None) -> bool:
    """True if the role's identity policies allow ``action`` on ``resource`` (see module doc).

    A role that does not exist in ``account_id`` (or ``None``) is allowed nothing.
    ``context``: extra condition keys for this request, e.g. ``{"aws:SourceIp": "..."}``.
    """
    if not role_arn:
        return False
    backend = _backend(role_arn, account_id)
    role = next((r for r in backend.get_roles() if r.arn == role_arn), None)
    if role is None:
        return False
    ctx = _context(role_arn, resource, context)
    documents = list(role.policies.values())
    documents += [_default_document(p) for p in role.managed_policies.values()]
    if _evaluate(documents, action, resource, ctx) != "allow":
        return False
    if role.permissions_boundary_arn:
        boundary = backend.managed_policies.get(role.permissions_boundary_arn)
        if boundary is None:  # a boundary that does not exist allows nothing
            return False
        return _evaluate([_default_document(boundary)], action, resource, ctx) == "allow"
    return True


_remembered: dict = {}
_remembered_at = [None]  #: the IAM change count the remembered answers belong to


def allowed_cached(role_arn: str, action: str, resource: str,
                   account_id: str = DEFAULT_ACCOUNT_ID) -> bool:
    """`allowed`, remembered per (role, action, resource) until IAM changes (module doc)."""
    if _remembered_at[0] != moto_iam.generation:
        _remembered.clear()
        _remembered_at[0] = moto_iam.generation
    key = (role_arn, action, resource, account_id)
    answer = _remembered.get(key)
    if answer is None:
        answer = _remembered[key] = allowed(role_arn, action, resource, account_id)
    return answer


def missing(role_arn: str, source: str, source_arn: str,
            account_id: str = DEFAULT_ACCOUNT_ID) -> list[str]:
    """The actions of `required_actions` the role may not perform on ``source_arn``.

    ``source_arn``: the queue ARN, the Kinesis stream ARN, or the DynamoDB *stream* ARN
    (``arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>``). Empty means allowed.
    """
    return [a for a in required_actions(source) if not allowed(role_arn, a, source_arn, account_id)]


def missing_destination(role_arn: str, kind: str, destination_arn: str,
                        account_id: str = DEFAULT_ACCOUNT_ID, object_key: str = S3_EXAMPLE_KEY
                        ) -> list[str]:
    """The actions of `destination_actions` the role may not perform on the destination.

    For S3, ``destination_arn`` is the bucket ARN: ``s3:ListBucket`` is checked on the bucket and
    ``s3:PutObject`` on the object ``<bucket-arn>/<object_key>`` (the recorded key form by default).
    """
    def resource(action):
        if action == "s3:PutObject":
            return f"{destination_arn}/{object_key}"
        return destination_arn
    return [a for a in destination_actions(kind)
            if not allowed(role_arn, a, resource(a), account_id)]


# --- moto ----------------------------------------------------------------------------------------

def _backend(role_arn: str, account_id: str):
    from moto.iam.models import iam_backends

    partition = role_arn.split(":")[1] if role_arn.count(":") >= 5 else "aws"
    return iam_backends[account_id][partition]


def _default_document(policy) -> str:
    return next(v.document for v in policy.versions if v.is_default)


def _parse(document) -> dict:
    if isinstance(document, dict):
        return document
    try:
        return json.loads(document)
    except ValueError:
        return json.loads(urllib.parse.unquote(document))


# --- evaluation ----------------------------------------------------------------------------------
# Tri-state throughout: True, False, or None for "unknown" (see the module doc on conditions).

def _evaluate(documents, action: str, resource: str, ctx: dict) -> str:
    """'deny' (an explicit Deny applies), 'allow' (an Allow applies and no Deny) or 'neutral'."""
    allow = False
    for document in documents:
        policy = _parse(document)
        variables = policy.get("Version") == "2012-10-17"
        statements = policy.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        for statement in statements:
            effect = statement.get("Effect")
            if not _action_matches(statement, action):
                continue
            applies = _and(_resource_matches(statement, resource, ctx, variables),
                           _conditions(statement.get("Condition"), ctx))
            if effect == "Deny" and applies is not False:
                return "deny"
            if effect == "Allow" and applies is True:
                allow = True
    return "allow" if allow else "neutral"


def _and(*values):
    if False in values:
        return False
    return None if None in values else True


def _any(values):
    values = list(values)
    if True in values:
        return True
    return None if None in values else False


def _not(value):
    return None if value is None else not value


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _action_matches(statement: dict, action: str) -> bool:
    if "Action" in statement:
        return any(_action_regex(p).fullmatch(action) for p in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(_action_regex(p).fullmatch(action) for p in _as_list(statement["NotAction"]))
    return False


def _resource_matches(statement: dict, resource: str, ctx: dict, variables: bool):
    def match(pattern):
        if variables and "${" in pattern:
            pattern = _substitute(pattern, ctx)
            if pattern is None:
                return None
        return _resource_regex(pattern).fullmatch(resource) is not None

    if "Resource" in statement:
        return _any(match(p) for p in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return _not(_any(match(p) for p in _as_list(statement["NotResource"])))
    return False


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERALS = {"*": "\x00", "?": "\x01", "$": "$"}  # ${*} and ${?} are literal, not wildcards


def _substitute(pattern: str, ctx: dict) -> str | None:
    unknown = False

    def value(m):
        nonlocal unknown
        name = m.group(1)
        if name in _LITERALS:
            return _LITERALS[name]
        key, _, default = (part.strip() for part in name.partition(","))
        if key.lower() in ctx:
            return ctx[key.lower()]
        if default:  # ${aws:username, 'anonymous'}
            return default.strip("'")
        unknown = True
        return ""

    result = _VARIABLE.sub(value, pattern)
    return None if unknown else result


@functools.lru_cache(maxsize=4096)
def _action_regex(pattern: str) -> re.Pattern:
    parts = {"*": ".*", "?": "."}
    return re.compile("".join(parts.get(c) or re.escape(c) for c in pattern), re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def _resource_regex(pattern: str) -> re.Pattern:
    out = []
    for i, c in enumerate(pattern):
        if c == "*":
            ends_segment = i + 1 == len(pattern) or pattern[i + 1] == ":"
            out.append(".*" if ends_segment else "[^:]*")
        elif c == "?":
            out.append("[^:]")
        elif c == "\x00":
            out.append(re.escape("*"))
        elif c == "\x01":
            out.append(re.escape("?"))
        else:
            out.append(re.escape(c))
    return re.compile("".join(out))


# --- conditions ----------------------------------------------------------------------------------

def _context(role_arn: str, resource: str, extra: dict | None) -> dict:
    """The condition keys known for a call Lambda makes with the role (keys lower-cased)."""
    ctx = {
        "aws:principalarn": role_arn,
        "aws:principalaccount": role_arn.split(":")[4] if role_arn.count(":") >= 5 else "",
        "aws:principaltype": "AssumedRole",
        "aws:securetransport": "true",
    }
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        if parts[3]:
            ctx["aws:requestedregion"] = parts[3]
        if parts[4]:
            ctx["aws:resourceaccount"] = parts[4]
    ctx.update({k.lower(): str(v) for k, v in (extra or {}).items()})
    return ctx


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern:
    """StringLike / ArnLike wildcards: case-sensitive, ``*`` any run, ``?`` one character."""
    parts = {"*": ".*", "?": "."}
    return re.compile("".join(parts.get(c) or re.escape(c) for c in pattern), re.DOTALL)


def _arn_like(value: str, pattern: str) -> bool:
    # ArnEquals/ArnLike: each of the six colon-separated parts is matched on its own.
    v, p = value.split(":", 5), pattern.split(":", 5)
    return len(v) == len(p) == 6 and all(_glob(ps).fullmatch(vs) for vs, ps in zip(v, p))


_OPERATORS = {  # name (lower case) -> (test(value, pattern), negated)
    "stringequals": (lambda v, p: v == p, False),
    "stringnotequals": (lambda v, p: v == p, True),
    "stringequalsignorecase": (lambda v, p: v.lower() == p.lower(), False),
    "stringnotequalsignorecase": (lambda v, p: v.lower() == p.lower(), True),
    "stringlike": (lambda v, p: _glob(p).fullmatch(v) is not None, False),
    "stringnotlike": (lambda v, p: _glob(p).fullmatch(v) is not None, True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
    "bool": (lambda v, p: v.lower() == p.lower(), False),
}


def _conditions(block, ctx: dict):
    """All operators and all keys must hold (AND); any one value of a key may match (OR)."""
    if not block:
        return True
    results = []
    for operator, keys in block.items():
        op = operator.lower()
        if ":" in op or not isinstance(keys, dict):  # ForAnyValue:/ForAllValues: set operators
            results.append(None)
            continue
        op = op.removesuffix("ifexists")
        for key, patterns in keys.items():
            results.append(_condition(op, key.lower(), _as_list(patterns), ctx))
    return _and(*results)


def _condition(op: str, key: str, patterns: list, ctx: dict):
    if key not in ctx:  # we do not know whether the real request carries this key
        return None
    value = ctx[key]
    patterns = [str(p).lower() if isinstance(p, bool) else str(p) for p in patterns]
    if op == "null":  # Null: "true" means the key is absent; every known key is present
        return any(p.lower() == "false" for p in patterns)
    if op not in _OPERATORS:
        return None
    test, negated = _OPERATORS[op]
    matched = any(test(value, p) for p in patterns)
    return not matched if negated else matched
