"""Simulated time: a discrete-event clock that also moves moto's clock.

Everything in a lab happens at a simulated instant. Events are kept in a heap ordered by
(time, insertion order), so the same calls always run in the same order. time-machine
(``tick=False``) freezes ``time.time`` and ``datetime.now`` at the simulated instant, which
is what moto reads for visibility timeouts, delays, retention and timestamps.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools

import time_machine

#: The instant a lab starts: ``lab.now == 0`` is 2025-01-01T00:00:00Z.
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
START_EPOCH = START.timestamp()


class Timer:
    """A scheduled callback; ``cancel()`` stops it from running."""

    __slots__ = ("args", "at", "cancelled", "fn")

    def __init__(self, at, fn, args):
        self.at, self.fn, self.args, self.cancelled = at, fn, args, False

    def cancel(self) -> None:
        self.cancelled = True


class Clock:
    """Simulated seconds since :data:`START`, and the events still to happen."""

    def __init__(self):
        self.now = 0.0
        self._heap: list = []
        self._order = itertools.count()
        self._travel = time_machine.travel(START, tick=False)
        self._traveller = self._travel.start()

    def at(self, when: float, fn, *args) -> Timer:
        """Run ``fn(*args)`` at simulated time ``when`` (never in the past)."""
        timer = Timer(max(when, self.now), fn, args)
        heapq.heappush(self._heap, (timer.at, next(self._order), timer))
        return timer

    def after(self, delay: float, fn, *args) -> Timer:
        return self.at(self.now + delay, fn, *args)

    def run(self, until: float) -> None:
        """Process every event due at or before ``until``, then stop the clock at ``until``."""
        if until < self.now:
            raise ValueError(f"lab.run(until={until}) is in the past: the lab is at t={self.now}")
        heap = self._heap
        while heap and heap[0][0] <= until:
            at, _, timer = heapq.heappop(heap)
            if timer.cancelled:
                continue
            self._move(at)
            timer.fn(*timer.args)
        self._move(until)

    def _move(self, t: float) -> None:
        if t != self.now:
            self.now = t
            self._traveller.move_to(START_EPOCH + t)

    def epoch(self, t: float | None = None) -> float:
        """Epoch seconds of simulated time ``t`` (default: now)."""
        return START_EPOCH + (self.now if t is None else t)

    def stop(self) -> None:
        self._travel.stop()
