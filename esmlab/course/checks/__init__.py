"""Exercise checks: functions of the learner's objects that say what is wrong, and why.

A check returns a :class:`Check`. In a lab, a check cell calls ``.require()``, which raises an
``AssertionError`` carrying the teaching message when the check fails; nbgrader then gives the
exercise no points, and the learner reads the message. Per-lab checks live in ``labNN.py``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Check:
    passed: bool
    message: str  #: what is right, or what is wrong and where to read about it

    def __bool__(self):
        return self.passed

    def __str__(self):
        return ("PASS: " if self.passed else "NOT YET: ") + self.message

    def _repr_markdown_(self):
        # Plain words, not an emoji: without an emoji font an emoji renders as an empty box.
        return ("**PASS:** " if self.passed else "**NOT YET:** ") + self.message

    def require(self):
        """Raise AssertionError(message) unless passed; return self so a cell can show it."""
        if not self.passed:
            raise AssertionError(self.message)
        return self


def passed(message: str) -> Check:
    return Check(True, message)


def failed(message: str) -> Check:
    return Check(False, message)


def defined(namespace: dict, *names: str) -> Check:
    """The learner has defined these names (a friendlier failure than a NameError)."""
    missing = [n for n in names if n not in namespace]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        return failed(
            f"{', '.join(missing)} {verb} not defined yet: run your answer cell first, and make "
            "sure it ran to the end (an error above the assignment stops the cell before it)."
        )
    return passed("defined")
