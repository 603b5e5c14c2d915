"""Provisioned mode of an SQS mapping (``ProvisionedPollerConfig``): how many slots, how many pollers.

What AWS documents:

* between ``MinimumPollers`` (2-200, default 2) and ``MaximumPollers`` (2-10,000, default 200)
  event pollers are dedicated to the mapping, and the minimum stays ready while the queue is idle
  (https://docs.aws.amazon.com/lambda/latest/api/API_ProvisionedPollerConfig.html,
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html);
* one event poller drives up to 10 concurrent invokes and up to 1 MB/s; provisioned mode scales
  up by up to 1,000 concurrency a minute, up to 20,000 concurrency (services-sqs-scaling, and the
  launch post
  https://aws.amazon.com/blogs/aws/aws-lambda-enhances-sqs-processing-with-new-provisioned-mode-3x-faster-scaling-16x-higher-capacity/).

MODELLING CHOICE M4-P (docs/simulator.md, "Provisioned mode"), the provisioned twin of M4, on the
same 1 s tick (``SqsPoller.tick``):

* a slot is one concurrent invoke, as in the default mode; the pollers in use are
  ceil(slots / 10), never fewer than ``MinimumPollers`` nor more than ``MaximumPollers``;
* at rest the mapping has ``MinimumPollers`` slots: each provisioned poller keeps one long poll
  open, so empty receives (and their SQS cost) grow with ``MinimumPollers``;
* on a backlog (M4's trigger: receives returned messages, no slot was left waiting, no failure),
  the first step goes at once to what the provisioned pollers can drive (``MinimumPollers`` x 10:
  they are already there); later steps add 1,000 a minute (16 or 17 a second, exactly 1,000 in
  60 s), up to ``MaximumPollers`` x 10 and never above 20,000;
* after function errors (unless ``ReportBatchItemFailures``) or throttles it halves, but not below
  ``MinimumPollers`` slots;
* the pollers in use bound the throughput: the records received (their JSON size, as in the
  event) may not exceed 1 MB a second per poller in use, counted in a leaky bucket; a slot that
  would receive past it waits for the next whole second without making a request. A receive in
  progress is never cut short, so one receive can overshoot the budget, and the overshoot is
  paid back in the next seconds. A stalled slot is not a waiting one, so a backlog held back by
  throughput scales the slots, and with them the pollers, up at the same 1,000 a minute;
* after 60 s in which receives found no messages it goes back to ``MinimumPollers`` slots and
  stops re-evaluating. A second in which no slot was polling (every slot busy with a batch) does
  not count as idle: with invocations longer than 60 s, the pollers are not idle, only busy.
"""

from __future__ import annotations

import math

from .. import limits

IDLE_TO_MINIMUM_SECONDS = 60.0


class ProvisionedScaling:
    """The slot target of one provisioned-mode mapping; reads the mapping's configuration each
    time, so an update applies from the next tick."""

    def __init__(self, mapping):
        self.mapping = mapping
        self.credit = 0.0  # slots x 60 earned by the ramp and not yet added
        self.busy_at = float("-inf")  # last tick at which no slot was polling
        self.used = 0.0  # bytes received and not yet drained from the 1 MB/s-a-poller bucket
        self.second = 0  # the whole second ``used`` was last drained at

    @property
    def minimum(self) -> int:
        return self.mapping.provisioned_pollers[0]

    @property
    def maximum(self) -> int:
        return self.mapping.provisioned_pollers[1]

    @property
    def floor(self) -> int:
        """Slots at rest: one long poll per provisioned poller."""
        return self.minimum

    @property
    def cap(self) -> int:
        return min(self.maximum * limits.POLLER_CONCURRENCY, limits.PROVISIONED_MAX_CONCURRENCY)

    @property
    def ready(self) -> int:
        """What the minimum pollers drive without scaling."""
        return min(self.minimum * limits.POLLER_CONCURRENCY, self.cap)

    def pollers(self, slots: int) -> int:
        needed = math.ceil(slots / limits.POLLER_CONCURRENCY)
        return min(self.maximum, max(self.minimum, needed))

    def over_budget(self, now, slots) -> bool:
        """True if the pollers in use have received their 1 MB/s (a slot must wait)."""
        budget = self.pollers(slots) * limits.POLLER_BYTES_PER_SECOND
        second = math.floor(now)
        if second != self.second:
            self.used = max(0.0, self.used - budget * (second - self.second))
            self.second = second
        return self.used >= budget

    def received(self, count: int) -> None:
        self.used += count

    def next_target(self, target, *, now, polling, messages_at, backlog, errors, seconds):
        """(new slot target, at rest) after a tick of ``seconds`` at ``now``; ``polling``: some
        slot is waiting on a long poll; ``messages_at``: when a receive last returned messages."""
        if not polling:
            self.busy_at = now
        idle = now - max(messages_at, self.busy_at)
        if errors:
            self.credit = 0.0
            return max(self.floor, target // 2), False
        if backlog:
            if target < self.ready:
                self.credit = 0.0
                return self.ready, False
            self.credit += limits.PROVISIONED_SCALE_UP_PER_MINUTE * seconds
            step = int(self.credit // 60)
            self.credit -= step * 60
            return min(self.cap, target + step), False
        if idle >= IDLE_TO_MINIMUM_SECONDS:
            self.credit = 0.0
            return self.floor, True
        return min(self.cap, max(self.floor, target)), False
