"""esmlab: a deterministic simulator of AWS Lambda event source mappings, on moto.

Start with :class:`Lab`. The trace (:class:`esmlab.trace.Trace`) records everything that happens.
"""

from .clock import START
from .lab import Lab
from .trace import Event, Invocation, Trace

__all__ = ["START", "Event", "Invocation", "Lab", "Trace"]
