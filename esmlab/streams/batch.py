"""A batch of stream records on its way to the function, with its retry bookkeeping."""

from __future__ import annotations


class Batch:
    """Records on their way to the function, with their retry bookkeeping."""

    def __init__(self, records, final=False, window_start=None):
        self.records = list(records)
        self.final = final  #: the closing invocation of a tumbling window (no records)
        self.window_start = window_start  #: the tumbling window the records belong to
        self.invocations = 0  #: invocations of exactly this batch (approximateInvokeCount)
        self.retries = 0  #: retries used (MaximumRetryAttempts)
        self.thrown = False  #: whether the last failure was a thrown error or timeout

    @property
    def ids(self):
        return tuple(r.sequence for r in self.records)
