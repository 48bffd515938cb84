"""The two limits on what an agent can make the exporter expose: how many series, how long a label value.

`SeriesBudget` caps series per agent and exporter-wide; `cap_label_value` is the one label-length rule
(every string an agent sends that becomes a label value goes through it).
"""

from __future__ import annotations

import threading


def cap_label_value(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "\u2026"


class SeriesBudget:
    """A cap on series, shared by whoever holds it (one per agent, one global).

    Accounting is exact: every holder (a tracker, an agent's devices) gives back exactly what it
    reserved, so re-probes, reloads and retired agents return the budget to where it was.
    """

    def __init__(self, limit: int, parent: SeriesBudget | None = None) -> None:
        self.limit = limit
        self.used = 0
        self.parent = parent
        self._lock = threading.Lock()

    def reserve(self, count: int) -> bool:
        with self._lock:
            if self.used + count > self.limit:
                return False
            if self.parent is not None and not self.parent.reserve(count):
                return False
            self.used += count
            return True

    def release(self, count: int) -> None:
        with self._lock:
            self.used -= count
        if self.parent is not None:
            self.parent.release(count)
