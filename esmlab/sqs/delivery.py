"""How a standard queue delivers: best-effort order and at-least-once (occasional duplicates).

AWS: a standard queue "makes a best-effort attempt to maintain the order in which messages are
sent", but messages "may occasionally arrive out of order", and because of its distributed
architecture "more than one copy of a message might be delivered"
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html).
moto's standard queue does neither: it returns messages in send order and never twice. A FIFO
queue keeps its order and its de-duplication, so nothing here applies to it.

MODELLING CHOICES (docs/simulator.md, "Standard queues: best-effort order and duplicates"):

* Out of order. A receive passes over each receivable message with probability ``reorder``
  (as if the message sat on a server this request did not reach), so a later message is
  returned first; a passed-over message is still returned if the request would otherwise come
  back with fewer messages than it could (no false empty or short answers: Lambda long-polls,
  and a long poll queries all servers,
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html).
* Duplicates. Each receive of a message makes, with probability ``duplicates``, one copy of it
  (a server that missed the receive). The copy can be received once, by a later request, until
  the original receive's visibility timeout ends, even if the original was deleted meanwhile.
  It has the same ``MessageId``, body and attributes, a new receipt handle and the next
  ``ApproximateReceiveCount``. Deleting the copy's handle ends the copy only; a copy not deleted
  ends at its visibility timeout. A copy never returns to the queue, so a deleted message is
  never resurrected, and the ledger still counts each message once.

Both draws come from a random source of their own, seeded from the Lab's seed, so the same seed
gives the same trace, and turning the knobs does not change request ids or mapping UUIDs.
"""

from __future__ import annotations

import math
import numbers
import random

#: Rates that make both effects visible in a lab of a few hundred messages:
#: about 1 receive in 4 of a 10-message backlog passes over a message, and about 1 message in 200
#: is delivered twice. ``Lab(reorder=BEST_EFFORT["reorder"], duplicates=BEST_EFFORT[...])``.
BEST_EFFORT = {"reorder": 0.03, "duplicates": 0.005}


def check_rate(name: str, value, below_one: bool = False) -> float:
    """A probability from 0 to 1 (``below_one``: less than 1), or an error naming the argument."""
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
          and 0 <= value and (value < 1 if below_one else value <= 1))
    if not ok:
        bound = "below 1" if below_one else "1"
        raise ValueError(f"{name} must be a probability from 0 to {bound} (0 turns it off; "
                         f"esmlab.BEST_EFFORT has values a lab shows), got {value!r}")
    return float(value)


class Delivery:
    """The open Lab's standard-queue delivery: its two rates and their random source."""

    def __init__(self, seed: int, reorder: float = 0.0, duplicates: float = 0.0):
        # reorder 1 would pass over every message, which is send order again: refused
        self.reorder = check_rate("reorder", reorder, below_one=True)
        self.duplicates = check_rate("duplicates", duplicates)
        self.random = random.Random(f"esmlab.sqs.delivery:{seed}")

    @property
    def exact(self) -> bool:
        """True when standard queues behave as moto's: send order, never twice."""
        return not self.reorder and not self.duplicates

    def passes_over(self) -> bool:
        """Does this receive pass over the next receivable message?"""
        return bool(self.reorder) and self.random.random() < self.reorder

    def copies(self) -> bool:
        """Does this receive of a message leave a copy that will be delivered again?"""
        return bool(self.duplicates) and self.random.random() < self.duplicates
