"""Apply a list of attribute replacements to moto, and restore the originals exactly.

esmlab corrects moto only while a Lab is open (sqs.py, streams.py beside this file); this is the one
place that does the swapping.
"""

from __future__ import annotations


class Patches:
    def __init__(self, replacements):
        self.replacements = replacements  #: (owner, attribute name, new value)
        self.saved: list = []

    def apply(self) -> None:
        if not self.saved:
            for owner, name, value in self.replacements:
                self.saved.append((owner, name, owner.__dict__[name]))
                setattr(owner, name, value)

    def restore(self) -> None:
        while self.saved:
            owner, name, value = self.saved.pop()
            setattr(owner, name, value)
