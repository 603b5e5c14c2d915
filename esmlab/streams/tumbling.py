"""Tumbling windows for stream mappings (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html,
MODELLING CHOICE M10).

``TumblingWindowInSeconds`` 1-900 groups a shard's records into fixed, non-overlapping windows.
Each invocation carries ``window`` (start, end), ``state``, ``shardId``, ``eventSourceARN``,
``isFinalInvokeForWindow`` and ``isWindowTerminatedEarly``; the ``state`` the function returns
is passed into the next invocation of the same window. The response must contain ``state``,
otherwise the invocation counts as failed. When the window ends, a last invocation with
``isFinalInvokeForWindow`` true hands the aggregate over; if it fails, the shard waits until it
succeeds. State is limited to 1 MB per shard; above that Lambda ends the window early
(https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html).

M10 and what the pages leave open (MODELLING CHOICES):
* window boundaries are multiples of the window length from the epoch, by arrival time;
* a batch holds records of one window only; with ``ParallelizationFactor`` > 1 each lane keeps
  its own state;
* the final invocation carries no records and comes one polling interval after the window's
  end, once the lane holds no more records of that window;
* after state above 1 MB the window goes on with a fresh state and
  ``isWindowTerminatedEarly`` true on the next invocation.
"""

from __future__ import annotations

import datetime as dt
import json

from .batch import Batch

STATE_LIMIT_BYTES = 1024 * 1024


class Window:
    __slots__ = ("early", "end", "start", "state")

    def __init__(self, start, end):
        self.start, self.end, self.state, self.early = start, end, {}, False


class TumblingWindows:
    def __init__(self, poller, seconds):
        self.poller, self.seconds = poller, seconds
        self.windows: dict = {}  #: (shard id, lane index) -> the lane's open Window

    def start_of(self, rec) -> float:
        return (rec.arrival // self.seconds) * self.seconds

    def event(self, lane, batch, event):
        window = self._window(lane, batch.window_start)
        event.update(
            window={"start": _iso(window.start), "end": _iso(window.end)},
            state=window.state,
            shardId=lane.shard.id,
            eventSourceARN=self.poller.mapping.source_arn,
            isFinalInvokeForWindow=batch.final,
            isWindowTerminatedEarly=window.early,
        )
        return event

    def accept(self, lane, batch, returned) -> bool:
        """Keep the returned state; False if the response has none (a failed invocation)."""
        if not isinstance(returned, dict) or not isinstance(returned.get("state"), dict):
            return False
        key = (lane.shard.id, lane.index)
        window = self._window(lane, batch.window_start)
        if batch.final:
            self.windows.pop(key, None)
            return True
        state = returned["state"]
        window.early = len(json.dumps(state).encode()) > STATE_LIMIT_BYTES
        window.state = {} if window.early else state
        interval = self.poller.source.poll_interval
        clock = self.poller.lab.clock
        clock.at(window.end + interval - clock.epoch(0), lane.dispatch)  # epoch -> lab time
        return True

    def final_batch(self, lane):
        """The closing invocation of the lane's window, when it is due."""
        window = self.windows.get((lane.shard.id, lane.index))
        if window is None or lane.stack:
            return None
        if self.poller.lab.clock.epoch() < window.end + self.poller.source.poll_interval:
            return None
        if lane.pending and self.start_of(lane.pending[0]) <= window.start:
            return None
        return Batch([], final=True, window_start=window.start)

    def _window(self, lane, start):
        key = (lane.shard.id, lane.index)
        window = self.windows.get(key)
        if window is None or window.start != start:
            window = self.windows[key] = Window(start, start + self.seconds)
        return window


def _iso(epoch):
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
