"""Ground truth: what the emitted observation stream implies, integrated exactly.

The recorder sees every observation that enters the agent's buffer for the
items that drive shop-floor KPIs, and keeps them for the whole run (the buffer
forgets, the recorder does not). Durations count from each value's timestamp
to the next one; a PART_COUNT increase counts its difference, a decrease is a
reset and counts the new value (Prometheus' increase() rule); an onset is a
Warning/Fault activation whose native code was not already active.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from .agent import Condition
from .clock import US, from_us, to_us
from .model import DataItem

DURATION_TYPES = ("EXECUTION", "AVAILABILITY", "CONTROLLER_MODE", "EMERGENCY_STOP")


@dataclass(frozen=True)
class Onset:
    time: datetime
    data_item_id: str
    condition_type: str
    native_code: str
    text: str


@dataclass(frozen=True)
class GroundTruth:
    device: str
    start: datetime
    end: datetime
    execution_seconds: dict[str, float]
    availability_seconds: dict[str, float]
    controller_mode_seconds: dict[str, float]
    parts: dict[str, int]
    fault_onsets: tuple[Onset, ...]
    warning_onsets: tuple[Onset, ...]
    emergency_stop_onsets: tuple[datetime, ...]


class Recorder:
    def __init__(self) -> None:
        self._timelines: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        self._part_counts: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        self._last_count: dict[tuple[str, str], int] = {}
        self._active: dict[str, set[str]] = defaultdict(set)
        self._onsets: dict[tuple[str, str], list[Onset]] = defaultdict(list)

    def observe(self, item: DataItem, timestamp_us: int, value: str | Condition) -> None:
        if isinstance(value, Condition):
            self._condition(item, timestamp_us, value)
        elif item.type in DURATION_TYPES:
            timeline = self._timelines[(item.device, item.type)]
            if not timeline or timeline[-1][1] != value:
                timeline.append((timestamp_us, value))
        elif item.type == "PART_COUNT" and value.isdigit():
            key = (item.device, item.sub_type or "ALL")
            count = int(value)
            last = self._last_count.get(key)
            if last is not None:
                self._part_counts[key].append((timestamp_us, count - last if count >= last else count))
            self._last_count[key] = count

    def _condition(self, item: DataItem, timestamp_us: int, value: Condition) -> None:
        active = self._active[item.id]
        if value.active:
            if value.native_code not in active:
                active.add(value.native_code)
                onset = Onset(from_us(timestamp_us), item.id, item.type, value.native_code, value.text)
                self._onsets[(item.device, value.level)].append(onset)
        elif value.level == "Normal" and value.native_code:
            active.discard(value.native_code)
        else:
            active.clear()

    def ground_truth(self, device: str, start_us: int, end_us: int) -> GroundTruth:
        def seconds(kind: str) -> dict[str, float]:
            totals: dict[str, int] = defaultdict(int)
            timeline = self._timelines.get((device, kind), [])
            for i, (t, value) in enumerate(timeline):
                t_next = timeline[i + 1][0] if i + 1 < len(timeline) else end_us
                overlap = min(t_next, end_us) - max(t, start_us)
                if overlap > 0:
                    totals[value] += overlap
            return {value: us / US for value, us in totals.items()}

        def onsets(level: str) -> tuple[Onset, ...]:
            return tuple(
                o for o in self._onsets.get((device, level), ()) if start_us <= to_us(o.time) < end_us
            )

        parts = {
            sub_type: sum(delta for t, delta in increments if start_us <= t < end_us)
            for (dev, sub_type), increments in self._part_counts.items()
            if dev == device
        }
        estop = tuple(
            from_us(t)
            for t, value in self._timelines.get((device, "EMERGENCY_STOP"), ())
            if value == "TRIGGERED" and start_us <= t < end_us
        )
        return GroundTruth(
            device=device,
            start=from_us(start_us),
            end=from_us(end_us),
            execution_seconds=seconds("EXECUTION"),
            availability_seconds=seconds("AVAILABILITY"),
            controller_mode_seconds=seconds("CONTROLLER_MODE"),
            parts=parts,
            fault_onsets=onsets("Fault"),
            warning_onsets=onsets("Warning"),
            emergency_stop_onsets=estop,
        )

