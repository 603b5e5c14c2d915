"""esmlab: a deterministic simulator of AWS Lambda event source mappings, on moto.

Start with :class:`Lab`. The trace (:class:`esmlab.trace.Trace`) records everything that happens.
"""

from .clock import START
from .lab import Lab
from .sqs.delivery import BEST_EFFORT
from .trace import Event, Invocation, Trace

__all__ = ["BEST_EFFORT", "START", "Event", "Invocation", "Lab", "Trace"]
