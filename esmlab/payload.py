"""The size of an invocation payload, for the 6 MB cap on every mapping's batches.

Lambda closes a batch before its payload would pass the 6 MB synchronous-invocation limit
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html). How AWS
measures the payload is not documented. MODELLING CHOICE (M6): the compact UTF-8 JSON of
``{"Records": [...]}`` with every metadata field, as the function receives it.
"""

from __future__ import annotations

import json

# Size of '{"Records":[]}': the envelope around the records.
ENVELOPE_BYTES = len(b'{"Records":[]}')


def record_bytes(rec: dict) -> int:
    """UTF-8 bytes the record adds to the compact JSON payload (plus one comma when not first)."""
    return len(json.dumps(rec, separators=(",", ":")).encode())


def payload_bytes(records: list[dict]) -> int:
    return len(json.dumps({"Records": records}, separators=(",", ":")).encode())
