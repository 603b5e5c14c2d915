"""Argument checks for the scenario functions: a bad value raises at the call, naming the
argument and what it accepts, instead of being rounded or ignored.

A mapping parameter (``BatchSize``, ``MaximumBatchingWindowInSeconds``, ``MaximumConcurrency``...)
is only checked for being a whole number here: its range is for the mapping API to judge, so a
widget can show AWS's own exception and message.
"""

from __future__ import annotations

import math
import numbers


def whole(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int, if it is a whole number within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
        math.isfinite(value) and value == int(value)
    ):
        raise ValueError(f"{name} must be a whole number{_range(minimum, maximum)}, got {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be a whole number{_range(minimum, maximum)}, got {value!r}")
    return value


def positive(name: str, value, *, zero: bool = False, unit: str = "") -> float:
    """``value`` as a float, if it is a finite number > 0 (>= 0 with ``zero``)."""
    bound = ">= 0" if zero else "> 0"
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
          and (value >= 0 if zero else value > 0))
    if not ok:
        raise ValueError(f"{name} must be a number {bound}{unit}, got {value!r}")
    return float(value)


def one_of(name: str, value, options) -> str:
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value


def _range(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    return ""
