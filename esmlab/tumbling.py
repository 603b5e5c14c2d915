"""Tumbling windows for stream mappings (fact base §2.11, MODELLING CHOICE M10).

``TumblingWindowInSeconds`` 1-900 groups a shard's records into fixed, non-overlapping windows.
Lambda adds ``window`` (start and end), ``state``, ``shardId``, ``eventSourceARN``,
``isFinalInvokeForWindow`` and ``isWindowTerminatedEarly`` to each invocation and passes the
``state`` the function returned into the next invocation of the same window
(https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html).

M10: window boundaries are multiples of the window length counted from the epoch; a batch holds
records of one window only; when a shard's lane has no more records of an ended window, the
lane makes one last invocation with ``isFinalInvokeForWindow`` true (records: none) for the
function to act on the aggregated state; state above 1 MB ends the window early
(``isWindowTerminatedEarly``).
"""

from __future__ import annotations

import json

STATE_LIMIT_BYTES = 1024 * 1024


class TumblingWindows:
    def __init__(self, poller, seconds):
        self.poller, self.seconds = poller, seconds
        self.state: dict = {}  #: (shard, lane) -> (window start, state dict)

    def bounds(self, arrival):
        start = int(arrival // self.seconds) * self.seconds
        return start, start + self.seconds

    def event(self, lane, batch, event):
        start, end = self.bounds(batch.records[0].arrival)
        key = (lane.shard.id, lane.index)
        current = self.state.get(key)
        state = current[1] if current and current[0] == start else {}
        event.update(
            window={"start": _iso(start), "end": _iso(end)},
            state=state,
            shardId=lane.shard.id,
            eventSourceARN=self.poller.mapping.source_arn,
            isFinalInvokeForWindow=False,
            isWindowTerminatedEarly=False,
        )
        return event

    def done(self, lane, batch, result):
        if not batch.records:
            return
        start, _ = self.bounds(batch.records[0].arrival)
        returned = result.returned if isinstance(result.returned, dict) else {}
        state = returned.get("state") or {}
        if len(json.dumps(state).encode()) > STATE_LIMIT_BYTES:
            state = {}
        self.state[(lane.shard.id, lane.index)] = (start, state)


def _iso(epoch):
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
