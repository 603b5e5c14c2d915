"""Checks for Lab 09, Filtering and tumbling windows. Each returns a :class:`Check` that teaches.

* :func:`eu_orders` (exercise 1): an SQS ``FilterCriteria`` pattern that passes exactly the
  orders the rule asks for, checked on the visible examples and on held-out messages;
* :func:`failed_payments` (exercise 2): DynamoDB Streams filters (attribute types, OR across
  filters) that pass exactly the changes that make a payment fail, visible and held-out;
* :func:`window_totals` (exercise 3): a tumbling-window handler whose state, handed to each
  window's final invocation, is the window's total per shard.

Every check runs the learner's answer through real mappings in the simulator
(:mod:`esmlab.course.scenarios.filtering`, :mod:`esmlab.course.scenarios.tumbling`). A pattern
fitted to the visible examples only fails on a held-out record, and the message says which one
and why it should, or should not, pass.
"""

from __future__ import annotations

import json

from esmlab.course.checks import Check, defined, failed, passed
from esmlab.course.scenarios import filtering, tumbling

FILTERING = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html"
WINDOWS = "https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html"

# --- exercise 1: SQS -----------------------------------------------------------------------------

#: (message body, should it pass, why), the examples the learner sees.
EX1_VISIBLE = (
    ({"type": "order", "country": "DE", "total": 120}, True,
     "an order to DE with a total of 120"),
    ({"type": "order", "country": "FR", "total": 250}, True,
     "an order to FR with a total of 250"),
    ({"type": "order", "country": "DE", "total": 80}, False, "its total, 80, is below 100"),
    ({"type": "order", "country": "US", "total": 300}, False,
     "US is not one of DE, FR and NL"),
    ({"type": "refund", "country": "FR", "total": 150}, False, "it is a refund, not an order"),
    ("ping", False, "a plain-text body has no fields to match"),
)
#: Held out: the check runs these too, so a pattern must follow the rule, not the examples.
EX1_HELD_OUT = (
    ({"type": "order", "country": "NL", "total": 180}, True,
     "NL is one of the three countries, even though no example you saw shipped there"),
    ({"type": "order", "country": "DE", "total": 100}, True,
     '"100 or more" includes 100: that is {"numeric": [">=", 100]}, not [">", 100]'),
    ({"type": "order", "country": "DE", "total": 99.5}, False, "99.5 is below 100"),
    ({"type": "order", "country": "FR", "total": 5000}, True,
     "a large order is still 100 or more: the rule has no upper bound"),
    ({"type": "refund", "country": "NL", "total": 500}, False, "it is a refund, not an order"),
    ({"type": "order", "country": "BE", "total": 400}, False,
     "BE is not one of DE, FR and NL"),
    ({"type": "order", "total": 300}, False,
     "it has no country at all, so it is not shipped to DE, FR or NL"),
    ({"type": "order", "country": "DE", "total": 150, "gift": True}, True,
     "extra fields do not matter: a pattern tests only the fields it names"),
    ({"type": "ORDER", "country": "DE", "total": 150}, False,
     'its type is "ORDER": the rule asks for "order", and exact matching is case-sensitive'),
)


def _as_filters(answer, name: str):
    """The learner's answer as a list of patterns, or a failed Check."""
    items = answer if isinstance(answer, list) else [answer]
    if not items or not all(isinstance(p, (dict, str)) for p in items):
        return failed(f"{name} must be a pattern (a dict, or its JSON text) or a list of them, "
                      f"got {answer!r}.")
    for item in items:
        if isinstance(item, str):
            try:
                json.loads(item)
            except ValueError:
                return failed(f"{name}: {item!r} is not JSON text. A FilterCriteria Pattern is "
                              "a JSON string; you may also give the dict and the check will "
                              "json.dumps it.")
    return items


def _rejected(result, name) -> Check | None:
    if not result.errors[0]:
        return None
    return failed(
        f"The Lambda API rejected {name}: {result.errors[0]} Every value in a pattern is either "
        "an object (a field to go into) or a non-empty list of what may match "
        '(["order"], [{"numeric": [">=", 100]}]); a bare value such as {"type": "order"} or an '
        f"empty list is invalid ({FILTERING})."
    )


def _first_wrong(result, cases, held_from: int):
    for index, (_, should, why) in enumerate(cases):
        got = result.passed[0][index]
        if got != should:
            return index, got, should, why, index >= held_from
    return None


def _wrong_message(label, got, should, why, held, name, noun="message") -> str:
    which = (f"a held-out {noun} (one you did not see: the check tests the rule, not just the "
             "examples)") if held else "one of the examples you can see"
    verb = "passed" if got else "filtered out"
    needed = "should pass" if should else "should be filtered out"
    return (f"{name} {verb} {label}, {which}. It {needed}: {why}.")


def eu_orders(pattern) -> Check:
    """``pattern`` passes exactly the orders to DE, FR or NL with a total of 100 or more."""
    items = _as_filters(pattern, "ex1_pattern")
    if isinstance(items, Check):
        return items
    parsed = [json.loads(p) if isinstance(p, str) else p for p in items]
    if not any(isinstance(p, dict) and "body" in p for p in parsed):
        return failed(
            'ex1_pattern does not mention "body". An SQS pattern is matched against the whole '
            'record (messageId, attributes, body, ...), and the order\'s fields are inside '
            '"body": {"body": {"type": ["order"], ...}} '
            f"({FILTERING})."
        )
    cases = EX1_VISIBLE + EX1_HELD_OUT
    result = filtering.compare("sqs", [items], records=[body for body, _, _ in cases])
    rejected = _rejected(result, "ex1_pattern")
    if rejected is not None:
        return rejected
    wrong = _first_wrong(result, cases, len(EX1_VISIBLE))
    if wrong:
        index, got, should, why, held = wrong
        body = cases[index][0]
        label = f"the message {json.dumps(body) if isinstance(body, dict) else repr(body)}"
        message = _wrong_message(label, got, should, why, held, "Your pattern")
        if got and isinstance(body, dict) and body.get("type") == "ORDER":
            message += (" equals-ignore-case would let it in; the rule asks for the exact "
                        'value ["order"].')
        if got and len(items) > 1:
            message += (" Your answer has several filters, and filters are an OR: a message "
                        "passes if it matches any one of them. To require every condition, put "
                        "them side by side in one pattern.")
        if not got:
            message += (" Every message the mapping filters out is deleted from the queue, so "
                        "a pattern that is too narrow loses orders for good.")
        return failed(f"{message} ({FILTERING})")
    kept = sum(result.passed[0])
    return passed(
        f"Right on all {len(EX1_VISIBLE)} examples and all {len(EX1_HELD_OUT)} held-out "
        f"messages: {kept} of {len(cases)} reached the function, and the other "
        f"{len(cases) - kept} were deleted from the queue without an invocation "
        f"(FilteredOutEventCount {result.filtered_metric[0]:g})."
    )


def check_eu_orders(namespace: dict) -> Check:
    found = defined(namespace, "ex1_pattern")
    return eu_orders(namespace["ex1_pattern"]) if found else found


# --- exercise 2: DynamoDB ------------------------------------------------------------------------

#: Writes to the payments table whose stream records the learner sees.
EX2_VISIBLE = (
    ("put", {"id": "p1", "status": "PENDING", "amount": 120}),
    ("put", {"id": "p1", "status": "FAILED", "amount": 120}),
    ("put", {"id": "p1", "status": "FAILED", "amount": 120, "attempts": 2}),
    ("delete", "p1"),
    ("put", {"id": "p2", "status": "SETTLED", "amount": 40}),
)
#: Held out: more writes, the same rule.
EX2_HELD_OUT = (
    ("put", {"id": "p3", "status": "FAILED", "amount": 75}),
    ("put", {"id": "p4", "status": "PENDING", "amount": 30}),
    ("put", {"id": "p4", "status": "SETTLED", "amount": 30}),
    ("put", {"id": "p4", "status": "FAILED", "amount": 30}),
    ("put", {"id": "p5", "status": "FAILED", "amount": 60}),
    ("put", {"id": "p5", "status": "SETTLED", "amount": 60}),
    ("put", {"id": "p6", "status": "PENDING", "amount": 10}),
    ("put", {"id": "p6", "status": "PENDING", "amount": 12}),
)
EX2_VISIBLE_RECORDS = len(EX2_VISIBLE)  #: one stream record per write


def status_of(record, image: str):
    return record["dynamodb"].get(image, {}).get("status", {}).get("S")


def just_failed(record) -> tuple[bool, str]:
    """Whether a change makes a payment fail (exercise 2's rule), and why."""
    name, old, new = record["eventName"], status_of(record, "OldImage"), status_of(record, "NewImage")
    if name == "REMOVE":
        return False, ("a REMOVE: the payment was deleted, nothing failed (a REMOVE record "
                       "carries only the OldImage)")
    if new != "FAILED":
        return False, f"its new status is {new}, not FAILED"
    if name == "INSERT":
        return True, ("a payment created as FAILED: an INSERT has a NewImage but no OldImage, so "
                      "a filter that tests OldImage cannot match it; a record passes if any one "
                      "of the mapping's filters matches, so add a filter for INSERT")
    if old == "FAILED":
        return False, ("the payment was FAILED already (only attempts changed): test the "
                       'OldImage too, e.g. {"S": [{"anything-but": "FAILED"}]}')
    return True, f"a MODIFY from {old} to FAILED: the payment has just failed"


def _untyped(node, path=()) -> list[str]:
    """Attributes under a DynamoDB image or Keys whose pattern has no attribute-type layer."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if len(path) >= 2 and path[-2] == "dynamodb" and path[-1] in (
                    "NewImage", "OldImage", "Keys") and isinstance(value, list):
                found.append(f"{path[-1]}.{key}")
            found += _untyped(value, (*path, key))
    elif isinstance(node, list):
        for value in node:
            found += _untyped(value, path)
    return found


def failed_payments(filters) -> Check:
    """``filters`` (a list of patterns) passes exactly the changes that make a payment FAILED."""
    items = _as_filters(filters, "ex2_filters")
    if isinstance(items, Check):
        return items
    if len(items) > 5:
        return failed(f"ex2_filters has {len(items)} filters; a mapping allows 5 by default "
                      f"({FILTERING}).")
    result = filtering.compare("dynamodb", [items], records=list(EX2_VISIBLE + EX2_HELD_OUT))
    rejected = _rejected(result, "ex2_filters")
    if rejected is not None:
        return rejected
    rules = [just_failed(r) for r in result.records]
    cases = [(r, should, why) for r, (should, why) in zip(result.records, rules, strict=True)]
    wrong = _first_wrong(result, cases, EX2_VISIBLE_RECORDS)
    if wrong:
        index, got, should, why, held = wrong
        parsed = [json.loads(p) if isinstance(p, str) else p for p in items]
        untyped = sorted({a for p in parsed for a in _untyped(p)})
        if should and not any(result.passed[0]) and any(
                isinstance(p, dict) and {"NewImage", "OldImage"} & set(p) for p in parsed):
            return failed(
                "Nothing passed. NewImage and OldImage are inside the record's \"dynamodb\" "
                'object: {"dynamodb": {"NewImage": {"status": {"S": ["FAILED"]}}}} '
                f"({FILTERING})."
            )
        if should and untyped and not any(result.passed[0]):
            return failed(
                f"Nothing passed. Your filters test {', '.join(untyped)} without the attribute "
                "type: in a stream record an attribute is {\"S\": \"FAILED\"}, not \"FAILED\", "
                'so write {"status": {"S": ["FAILED"]}} under NewImage or OldImage '
                f"({FILTERING})."
            )
        label = f"the change {result.labels[index]}"
        return failed(_wrong_message(label, got, should, why, held, "Your filters", "change") +
                      " On a stream a filtered-out record is skipped: it stays in the stream, "
                      "but this mapping never delivers it.")
    kept = sum(result.passed[0])
    return passed(
        f"Right on all {len(cases)} changes ({EX2_VISIBLE_RECORDS} you saw, "
        f"{len(cases) - EX2_VISIBLE_RECORDS} held out): {kept} reached the function. "
        "Attribute types in the pattern, OldImage to tell a new failure from an old one, and "
        "one filter per shape of record (a record passes if any filter matches)."
    )


def check_failed_payments(namespace: dict) -> Check:
    found = defined(namespace, "ex2_filters")
    return failed_payments(namespace["ex2_filters"]) if found else found


# --- exercise 3: tumbling windows ----------------------------------------------------------------

#: Two shards, 30 s windows, orders arriving for 90 s.
EX3 = {"window": 30, "shards": 2, "batch_size": 3, "seconds": 90}


def window_totals(handler) -> Check:
    """``handler`` keeps ``{"orders": n, "revenue": cents}`` in the window's state, so that each
    final invocation receives its shard's totals for that window."""
    if not callable(handler):
        return failed(f"ex3_handler must be a function (event, context), got {handler!r}.")
    result = tumbling.run(**EX3, handler=handler)
    raised = [c for c in result.calls if c.error]
    if raised:
        call = raised[0]
        return failed(f"Your handler raised {call.error} in the invocation at t = "
                      f"{call.start:g} s ({'final' if call.final else 'with ' + str(call.records) + ' records'}). "
                      "A final invocation has no records; read the orders from the records' "
                      "base64 data (json.loads(base64.b64decode(record['kinesis']['data']))).")
    bad = [c for c in result.calls if not c.valid]
    if bad:
        return failed(
            f"Your handler returned {bad[0].returned!r} at t = {bad[0].start:g} s. With "
            "tumbling windows the response must contain a state object, {\"state\": {...}}: "
            f"without it Lambda counts the invocation as failed ({WINDOWS}), and here the "
            "batch was retried."
        )
    for (shard, start), truth in sorted(result.truth.items()):
        got = result.finals.get((shard, start))
        where = f"the window {tumbling.clock(start)}-{tumbling.clock(start + EX3['window'])} of {shard}"
        if got is None:
            return failed(f"{where} had no final invocation: did every invocation succeed?")
        got_totals = {k: got.get(k) for k in ("orders", "revenue")}
        if got_totals != truth:
            hint = _window_hint(result, shard, start, got_totals, truth)
            return failed(f"The final invocation of {where} received the state "
                          f"{json.dumps(got)}, but that window's records add up to "
                          f"{json.dumps(truth)}. {hint}")
    count = len(result.truth)
    return passed(
        f"All {count} windows right (2 shards, 30 s each): every final invocation received its "
        "shard's totals. State went in with event['state'] and came out with {'state': ...}; "
        "Lambda kept one per shard and window, and dropped it after the final invocation. "
        "In production the final invocation is where you write the result out."
    )


def _window_hint(result, shard, start, got, truth) -> str:
    """What the learner's handler most likely did, from the state the final invocation got."""
    last = result.last_batch.get((shard, start))
    if got.get("orders") is None or got.get("revenue") is None:
        return ('The state must hold "orders" (how many) and "revenue" (the sum of '
                "amount_cents) when the window ends.")
    if got["orders"] > truth["orders"]:
        return ("Your totals include orders from outside this window or shard: keep them in "
                "event['state'] only, not in a variable that outlives the invocation. Lambda "
                f"gives each shard's window its own state and starts the next with {{}} ({WINDOWS}).")
    if last is not None and got == last:
        return ("That is the last batch alone: add each batch to event['state'] (state in) and "
                "return the sum (state out), instead of starting from zero every time.")
    return ("Each invocation gets the state the previous one of this window returned: add this "
            "batch's orders and their amount_cents to it and return it as {'state': ...}.")


def check_window_totals(namespace: dict) -> Check:
    found = defined(namespace, "ex3_handler")
    return window_totals(namespace["ex3_handler"]) if found else found
