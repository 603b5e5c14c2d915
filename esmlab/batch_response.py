"""How Lambda reads a partial batch response (``ReportBatchItemFailures``).

Sources: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html and
recorded API behaviour:

* success: nothing/``null``, ``{}``, ``[]``, ``{"batchItemFailures": []}`` or ``null`` list;
* partial: every entry has an ``itemIdentifier`` that is in the batch;
* whole-batch failure: an entry without the key, with ``""`` or ``null``, or with an identifier
  that is not in the batch, and a response that is not JSON.

MODELLING CHOICE (no AWS ground truth): a response that is not an object with a
``batchItemFailures`` key (a string, a number, a list) is read as success, as an object without
the key is; a ``batchItemFailures`` that is not a list is a whole-batch failure.
"""

from __future__ import annotations

SUCCESS, PARTIAL, FAILURE = "success", "partial", "failure"


def classify(returned, batch_ids) -> tuple[str, tuple]:
    """Return (verdict, failed identifiers in batch order) for a handler's response."""
    if not isinstance(returned, dict) or returned.get("batchItemFailures") is None:
        return SUCCESS, ()
    failures = returned["batchItemFailures"]
    if not isinstance(failures, list):
        return FAILURE, tuple(batch_ids)
    if not failures:
        return SUCCESS, ()
    known = set(batch_ids)
    listed = set()
    for entry in failures:
        if not isinstance(entry, dict) or "itemIdentifier" not in entry:
            return FAILURE, tuple(batch_ids)
        identifier = entry["itemIdentifier"]
        if not isinstance(identifier, str) or identifier == "" or identifier not in known:
            return FAILURE, tuple(batch_ids)
        listed.add(identifier)
    return PARTIAL, tuple(i for i in batch_ids if i in listed)
