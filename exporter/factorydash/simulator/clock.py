"""Simulated time: clocks and the discrete-event scheduler.

Simulated time is an integer number of microseconds since the Unix epoch, so
durations add up exactly and timestamps print without rounding surprises.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

US = 1_000_000


class Clock(Protocol):
    def now_us(self) -> int: ...


class RealClock:
    """start + elapsed real time x speed."""

    def __init__(self, start_us: int, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._start_us = start_us
        self._t0 = time.monotonic()

    def now_us(self) -> int:
        return self._start_us + int((time.monotonic() - self._t0) * self.speed * US)


class ManualClock:
    """Moves only when told to: tests advance simulated time without sleeping."""

    def __init__(self, start_us: int) -> None:
        self._now_us = start_us
        self._lock = threading.Lock()

    def now_us(self) -> int:
        with self._lock:
            return self._now_us

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not run backwards")
        with self._lock:
            self._now_us += round(seconds * US)


class Scheduler:
    """A heap of (time, order, callback); order breaks ties deterministically."""

    def __init__(self, start_us: int) -> None:
        self.now_us = start_us
        self._heap: list[tuple[int, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def at(self, when_us: int, callback: Callable[[], None]) -> None:
        if when_us < self.now_us:
            raise ValueError(f"cannot schedule in the past ({when_us} < {self.now_us})")
        heapq.heappush(self._heap, (when_us, next(self._order), callback))

    def after(self, seconds: float, callback: Callable[[], None]) -> None:
        self.at(self.now_us + max(1, round(seconds * US)), callback)

    def run_until(self, until_us: int) -> None:
        heap = self._heap
        while heap and heap[0][0] <= until_us:
            when, _, callback = heapq.heappop(heap)
            self.now_us = when
            callback()
        self.now_us = max(self.now_us, until_us)


def to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us // US, UTC).replace(microsecond=us % US)


@functools.lru_cache(maxsize=4096)
def _whole_seconds(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def format_timestamp(us: int, zone: bool = True) -> str:
    """ISO 8601 with microseconds, like cppagent; zone=False mimics the NIST agent."""
    seconds, micros = divmod(us, US)
    text = f"{_whole_seconds(seconds)}.{micros:06d}"
    return text + "Z" if zone else text


def format_creation_time(us: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us // US))
