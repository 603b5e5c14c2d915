"""Event filtering for event source mappings: ``FilterCriteria`` validation and record matching.

What it models
--------------
An ESM's ``FilterCriteria`` holds up to 5 ``Filters``; each ``Pattern`` is a JSON *string* in
EventBridge pattern syntax. A record is passed to the function if it matches at least one pattern;
SQS messages that match none are deleted, and a stream's iterator moves past them (
https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html). Dropping and deleting
records is the pollers' job; this module only answers "is the filter valid?" and "does this record
pass?":

- `validate` turns the API's ``FilterCriteria`` into a list of parsed patterns, or raises
  `InvalidFilter`.
- `matches` says whether one record (as it appears in the function's ``Records``) passes.

Sources:

- event filtering, and the recorded V5 message: https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
  and observed behaviour of the AWS API (recorded 2025).
- ``FilterCriteria`` (API reference, and the page above): up to 5 filters (default quota, can be raised to 10), ``Pattern`` at
  most 4,096 characters (same page; the length is also the API model's constraint on ``Pattern``,
  https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html).
- recorded (2025): ``{"Filters": []}`` is accepted (the response then omits ``FilterCriteria``;
  that part is for the mapping API).
- Record shapes: the SQS, Kinesis and DynamoDB records recorded from AWS (2025).

The matcher is moto's
---------------------
Matching is done by moto's EventBridge implementation, ``moto.events.models.EventPattern``
(``matches_event``), and structural validation by ``moto.events.models.EventPatternParser`` (every
value is an object or a non-empty array). moto's matcher covers: exact values (strings, numbers,
``true``/``false``, ``null``, ``""``), OR lists, AND across keys, nested objects, ``$or``,
``exists``, ``numeric`` (``=``, ``<``, ``<=``, ``>``, ``>=`` and ranges such as
``[">=", 100, "<", 200]``; numbers only, so DynamoDB ``N`` strings never match, as recorded),
``prefix``, ``suffix``, ``anything-but`` (value, list, ``{"prefix": ..}``, ``{"suffix": ..}``,
``{"equals-ignore-case": ..}``, ``{"wildcard": ..}``), ``equals-ignore-case``, ``wildcard`` and
``cidr``. ``exists`` works on leaves only (a nested object is not a leaf), which is what produces
the recorded DynamoDB quirk: ``{"k": [{"exists": false}]}`` without the ``{"S": ...}`` layer
matches every item.

What this module adds (ESM-specific, or gaps in moto)
-----------------------------------------------------
1. **V5 cases moto does not reject cleanly.** moto's parser crashes (``AttributeError``) on a
   ``Pattern`` of ``"null"`` or a JSON string, and treats ``""`` as "match everything". Here every
   V5 case raises `InvalidFilter` with the recorded message ``Invalid filter pattern
   definition.``
2. **Operator checks.** moto never checks operators: an unknown operator (``{"bogus": 1}``)
   matches any value that is present, and a malformed ``numeric`` (``["!=", 1]``) raises ``KeyError`` while
   matching. Operators and their arguments are checked at validation time instead (see
   MODELLING CHOICE V-2).
3. **Filter count and pattern length** (moto's EventBridge has neither limit).
4. **Payload decoding**: SQS ``body`` and Kinesis ``data`` (below).

Modelling choices
-----------------
These are simulator decisions, not AWS facts (labelled MODELLING CHOICE, as everywhere in esmlab).

- **MODELLING CHOICE V-1 (more than 5 filters).** AWS documents that it "will return an error"
  when a mapping has more filters than the account's quota allows, but no message was
  recorded. `validate` raises ``InvalidFilter`` with code ``InvalidParameterValueException``
  (HTTP 400) and a message of our own, prefixed ``[esmlab]`` to mark it as not AWS text.
  ``max_filters`` (default 5) models a raised quota, up to 10.
- **MODELLING CHOICE V-1b (Pattern longer than 4,096 characters).** The limit is an API model
  constraint; the message was not recorded. We raise code ``ValidationException`` (as Lambda does
  for other model constraints, the recorded V3) with a message in Lambda's standard constraint format
  (an inference), prefixed ``[esmlab]``.
- **MODELLING CHOICE V-2 (invalid patterns beyond V5).** All of these raise the V5 message
  ``Invalid filter pattern definition.`` (DOCS says invalid patterns are rejected with it; only
  the V5 cases were recorded): an empty ``Pattern`` string; a missing ``Pattern`` key; a JSON value
  that is not an object (``null``, string, number, array); an empty object at any level (``{}``,
  ``{"body": {}}``, which moto would treat as "match everything"); ``NaN``/``Infinity``; a rule that
  is not a scalar or a one-key operator object; an unknown operator; an operator with an argument of
  the wrong type (``exists`` not boolean, ``prefix`` not a string, ``numeric`` not
  ``[op, number]`` or ``[">"|">=", n, "<"|"<=", m]``, a ``cidr`` that is not a network); a
  ``$or`` that is not a non-empty list of objects.
- **MODELLING CHOICE V-3 (shapes the SDK rejects).** A ``Pattern`` that is not a string, or
  ``Filters`` that is not a list, never reach AWS (botocore rejects them). If one reaches
  `validate` anyway, it raises ``InvalidFilter`` with an ``[esmlab]`` message.
  ``FilterCriteria`` ``None``, ``{}`` or ``{"Filters": []}`` mean "no filter": ``[]``.
- **MODELLING CHOICE M-1 (SQS body).** The pattern is applied to the SQS record (as recorded) with
  ``body`` replaced by the decoded JSON when the body is a JSON *object*. Any other body (plain
  text, or JSON that is an array, string or number) stays the original string. A pattern whose
  ``body`` is an object (it tests body fields) never matches such a message, not even with
  ``exists: false`` (recorded: plain-text bodies are dropped). A pattern that does not mention
  ``body`` (for example only ``attributes``) is applied to the other keys whatever the body is
  (an older revision of the invocation-eventfiltering page: "If you don't include body as part of
  your FilterCriteria, Lambda skips this check"). The current
  https://docs.aws.amazon.com/lambda/latest/dg/with-sqs-filtering.html says SQS ESMs "only support
  filtering on the body key"; that restriction is not enforced here. A pattern whose
  ``body`` is a list (``{"body": [{"prefix": "ERROR"}]}``) is matched against the raw string of a
  non-JSON body (as documented for Amazon MQ); against a JSON-object body it does not match.
- **MODELLING CHOICE M-2 (Kinesis data).** The pattern is applied to the record's ``kinesis`` object
  (``kinesisSchemaVersion``, ``partitionKey``, ``sequenceNumber``, ``data``,
  ``approximateArrivalTimestamp``), with ``data`` base64-decoded and parsed as JSON. This is the
  shape the AWS pages filter on (``{"data": {...}}``; EventBridge Pipes documents the same Kinesis
  event shape). Top-level record keys (``eventSource``, ``eventID``...) are therefore not
  filterable. If ``data`` is not base64 of UTF-8 JSON *object* text, every pattern that mentions
  ``data`` fails ("both the data field and your filter criteria for the data field must be in valid
  JSON format", invocation-eventfiltering page); so does a pattern whose ``data`` is not an object.
  The delivered record is not changed: ``data`` stays base64 (DOCS).
- **MODELLING CHOICE M-3 (DynamoDB).** The pattern is applied to the record as is (as recorded), with
  its attribute-type layer (``{"S": ...}``, ``{"N": ...}``): no special handling is needed to
  reproduce the recorded behaviours.
- **MODELLING CHOICE M-4.** An empty pattern list matches every record (no filter).

Known differences from EventBridge that are left in (moto behaviour, not documented by AWS)
--------------------------------------------------------------------------------------------
- Arrays of objects are not flattened: ``{"items": {"sku": ["a"]}}`` does not match a body
  ``{"items": [{"sku": "a"}]}`` (EventBridge matches it); likewise the elements of a DynamoDB ``L``
  list cannot be reached by a pattern.
- Python's ``True == 1``: a pattern ``[1]`` matches ``true`` and ``numeric`` matches booleans.
- ``wildcard`` and ``cidr`` are EventBridge operators that moto supports; whether Lambda ESMs
  accept them is not documented (unverified).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from typing import Any

from moto.events.exceptions import InvalidEventPatternException
from moto.events.models import EventPattern, EventPatternParser

DOCS = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html"

#: Recorded message for every V5 case (2025).
INVALID_PATTERN_MESSAGE = "Invalid filter pattern definition."
#: Default and highest raisable quota of filters per mapping (DOCS).
MAX_FILTERS = 5
MAX_FILTERS_RAISED = 10
#: Longest ``Pattern`` string (API model ``Pattern`` max length).
MAX_PATTERN_LENGTH = 4096

SOURCES = ("sqs", "kinesis", "dynamodb")


class InvalidFilter(Exception):
    """A rejected ``FilterCriteria``: AWS error ``code``, HTTP ``status`` and ``message``.

    For every V5 case the message is the recorded ``Invalid filter pattern definition.`` with code
    ``InvalidParameterValueException``. Messages starting with ``[esmlab]`` are not AWS text.
    """

    def __init__(
        self,
        message: str = INVALID_PATTERN_MESSAGE,
        code: str = "InvalidParameterValueException",
        status: int = 400,
    ):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


# --- validation -----------------------------------------------------------------------------


def validate(filter_criteria: dict | None, max_filters: int = MAX_FILTERS) -> list[dict]:
    """The parsed patterns of an API ``FilterCriteria``, or `InvalidFilter`.

    ``None``, ``{}`` and ``{"Filters": []}`` give ``[]`` (no filtering; DOCS).
    ``max_filters`` is the account's quota: 5 by default, at most 10.
    """
    if not 1 <= max_filters <= MAX_FILTERS_RAISED:
        raise ValueError(f"max_filters must be 1-{MAX_FILTERS_RAISED}, not {max_filters}")
    if filter_criteria is None:
        return []
    if not isinstance(filter_criteria, dict):
        raise InvalidFilter("[esmlab] FilterCriteria must be an object (the AWS SDK rejects this)")
    filters = filter_criteria.get("Filters")
    if filters is None:
        return []
    if not isinstance(filters, list):
        raise InvalidFilter(
            "[esmlab] FilterCriteria.Filters must be a list (the AWS SDK rejects this)"
        )
    if len(filters) > max_filters:
        raise InvalidFilter(
            f"[esmlab] FilterCriteria has {len(filters)} filters; the quota for filters per event "
            f"source mapping is {max_filters}."
        )
    return [_parse_filter(f, index) for index, f in enumerate(filters, start=1)]


def _parse_filter(filter_: Any, index: int) -> dict:
    if not isinstance(filter_, dict):
        raise InvalidFilter("[esmlab] each filter must be an object (the AWS SDK rejects this)")
    raw = filter_.get("Pattern")
    if raw is None:
        raise InvalidFilter()
    if not isinstance(raw, str):
        raise InvalidFilter("[esmlab] Pattern must be a string (the AWS SDK rejects this)")
    if len(raw) > MAX_PATTERN_LENGTH:
        raise InvalidFilter(
            f"[esmlab] 1 validation error detected: Value at 'filterCriteria.filters.{index}."
            f"member.pattern' failed to satisfy constraint: Member must have length less than or "
            f"equal to {MAX_PATTERN_LENGTH}",
            code="ValidationException",
        )
    try:
        pattern = json.loads(raw, parse_constant=_reject_constant)
    except ValueError:  # JSONDecodeError, and NaN/Infinity
        raise InvalidFilter() from None
    if not isinstance(pattern, dict):  # "null", a JSON string, a number, an array
        raise InvalidFilter()
    try:
        EventPatternParser(raw).parse()  # moto: scalar leaves and empty arrays are invalid
    except InvalidEventPatternException:
        raise InvalidFilter() from None
    _check_object(pattern)
    return pattern


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _check_object(node: dict) -> None:
    if not node:
        raise InvalidFilter()
    for key, value in node.items():
        if key == "$or":
            if not (isinstance(value, list) and value and all(isinstance(b, dict) for b in value)):
                raise InvalidFilter()
            for branch in value:
                _check_object(branch)
        elif isinstance(value, dict):
            _check_object(value)
        elif isinstance(value, list) and value:
            for rule in value:
                _check_rule(rule)
        else:
            raise InvalidFilter()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool, int, float))


def _str_or_ignore_case(arg: Any) -> bool:
    return isinstance(arg, str) or (
        isinstance(arg, dict)
        and list(arg) == ["equals-ignore-case"]
        and isinstance(arg["equals-ignore-case"], str)
    )


def _numeric(arg: Any) -> bool:
    if not isinstance(arg, list) or len(arg) not in (2, 4):
        return False
    ops, values = arg[::2], arg[1::2]
    if not all(_is_number(v) for v in values):
        return False
    if len(arg) == 2:
        return ops[0] in ("=", "<", "<=", ">", ">=")
    return ops[0] in (">", ">=") and ops[1] in ("<", "<=")


def _cidr(arg: Any) -> bool:
    try:
        ipaddress.ip_network(arg)  # strict, as moto matches with it
    except (TypeError, ValueError):
        return False
    return isinstance(arg, str)


def _strings(arg: Any) -> bool:
    return isinstance(arg, str) or (
        isinstance(arg, list) and bool(arg) and all(isinstance(a, str) for a in arg)
    )


def _anything_but(arg: Any) -> bool:
    if isinstance(arg, str) or _is_number(arg):
        return True
    if isinstance(arg, list):
        return bool(arg) and all(isinstance(a, str) or _is_number(a) for a in arg)
    if isinstance(arg, dict) and len(arg) == 1:
        ((op, inner),) = arg.items()
        if op in ("prefix", "suffix"):
            return isinstance(inner, str)
        if op in ("equals-ignore-case", "wildcard"):
            return _strings(inner)
    return False


_OPERATORS = {
    "exists": lambda arg: isinstance(arg, bool),
    "prefix": _str_or_ignore_case,
    "suffix": _str_or_ignore_case,
    "equals-ignore-case": lambda arg: isinstance(arg, str),
    "wildcard": lambda arg: isinstance(arg, str),
    "numeric": _numeric,
    "anything-but": _anything_but,
    "cidr": _cidr,
}


def _check_rule(rule: Any) -> None:
    if _is_scalar(rule):
        return
    if not isinstance(rule, dict) or len(rule) != 1:
        raise InvalidFilter()
    ((operator, arg),) = rule.items()
    check = _OPERATORS.get(operator)
    if check is None or not check(arg):
        raise InvalidFilter()


# --- matching -------------------------------------------------------------------------------


def matches(patterns: list[dict], record: dict, source: str) -> bool:
    """Whether ``record`` passes the filter: it matches at least one of ``patterns``.

    ``patterns`` is what `validate` returned (an empty list lets every record through).
    ``record`` is one element of the function event's ``Records``; ``source`` is ``"sqs"``,
    ``"kinesis"`` or ``"dynamodb"``. The record is not modified.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    if not patterns:
        return True
    document, payload_is_json = _document(record, source)
    return any(_matches_one(p, document, payload_is_json, source) for p in patterns)


def _json_object(text: Any) -> dict | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _decode_kinesis_data(data: Any) -> dict | None:
    if not isinstance(data, str):
        return None
    try:
        text = base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # not base64, or not UTF-8
        return None
    return _json_object(text)


def _document(record: dict, source: str) -> tuple[dict, bool]:
    """What the patterns are applied to, and whether the payload (body/data) is a JSON object."""
    if source == "sqs":
        body = _json_object(record.get("body"))
        if body is None:
            return record, False
        return {**record, "body": body}, True
    if source == "kinesis":
        kinesis = record.get("kinesis") or {}
        data = _decode_kinesis_data(kinesis.get("data"))
        if data is None:
            return kinesis, False
        return {**kinesis, "data": data}, True
    return record, True


def _matches_one(pattern: dict, document: dict, payload_is_json: bool, source: str) -> bool:
    if source == "sqs" and isinstance(pattern.get("body"), dict) and not payload_is_json:
        return False  # M-1: body fields tested, body is not a JSON object
    if (
        source == "kinesis"
        and "data" in pattern
        and not (payload_is_json and isinstance(pattern["data"], dict))
    ):
        return False  # M-2: data and the pattern for it must both be JSON objects
    return EventPattern(None, pattern).matches_event(document)
