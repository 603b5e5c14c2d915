"""What DynamoDB publishes for a table's stream: ``ReturnedRecordsCount`` (``AWS/DynamoDB``).

The number of stream records ``GetRecords`` returned, with the dimensions ``Operation``
(``GetRecords``), ``StreamLabel`` and ``TableName``, aggregated per minute
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html).
Counted from the mappings' reads in the trace (a learner's own ``GetRecords`` calls are not
counted; idle shards are not polled). DynamoDB Streams has no iterator-age metric: a trigger's
lag is the function's ``IteratorAge`` in ``AWS/Lambda``.
"""

from __future__ import annotations


def get_records(add, event) -> None:
    """One mapping's GetRecords call on a DynamoDB stream shard (a trace ``poll`` event)."""
    # arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>
    _, table, _, label = event.source.split(":", 5)[5].split("/", 3)
    dims = (("Operation", "GetRecords"), ("StreamLabel", label), ("TableName", table))
    add("AWS/DynamoDB", "ReturnedRecordsCount", dims, "Count", event.t, float(len(event.records)))
