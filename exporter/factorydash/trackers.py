"""Trackers: one per exported data item, each keeps what its series show and applies observations to it.

Samples (numbers, 3D values, DATA_SET/TABLE entries), closed-vocabulary events (time in each state),
numeric events (part counts across resets) and free-text events; conditions are in `conditions`.
`AgentState` owns the trackers and applies observations to them in sequence order.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from .limits import SeriesBudget, cap_label_value
from .parser import DataItem, Observation
from .timebook import Stamp, closed_length, exposed_part
from .vocabularies import UNAVAILABLE, VECTOR_EVENT_TYPES

if TYPE_CHECKING:
    from .state import AgentState

log = logging.getLogger(__name__)


def is_vector(item: DataItem) -> bool:
    """Three numbers per value (PATH_POSITION, ROTATION, *_3D units): a gauge per axis."""
    return (
        item.type.endswith("_3D") or item.units.endswith("_3D") or item.type in ("PATH_POSITION", "ORIENTATION")
        or (item.category == "EVENT" and item.type in VECTOR_EVENT_TYPES)
    )


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass(slots=True)
class Tracker(ABC):
    item: DataItem
    metric: str
    budget: SeriesBudget
    static_series: int = 1
    reserved: int = field(default=0, kw_only=True, repr=False, compare=False)  # series taken from `budget`

    @abstractmethod
    def apply(self, observation: Observation, state: AgentState) -> None:
        """Take one observation of this data item, in sequence order."""

    def reserve(self, count: int) -> bool:
        """Take `count` series from the budget for this tracker; False (nothing taken) at the cap."""
        if not self.budget.reserve(count):
            return False
        self.reserved += count
        return True

    def give_back(self, count: int) -> None:
        self.budget.release(count)
        self.reserved -= count

    def release(self) -> None:
        """Give back every series this tracker holds (it is being dropped)."""
        self.give_back(self.reserved)


# Shared by every tracker without DATA_SET/TABLE keys: an empty dict each would cost 64 bytes per series.
_NO_ENTRIES: Mapping[str, float] = MappingProxyType({})


@dataclass(slots=True)
class SampleTracker(Tracker):
    """A numeric SAMPLE: VALUE, 3D, TIME_SERIES (latest) or DATA_SET/TABLE entries."""

    scale: float = 1.0
    plain: bool = False  # a single number (VALUE representation, not 3D): the hot path
    value: float | None = None
    vector: tuple[float, ...] | None = None
    entries: Mapping[str, float] = field(default_factory=lambda: _NO_ENTRIES)  # replaced, never changed in place

    def apply(self, observation: Observation, state: AgentState) -> None:
        text = observation.value
        if self.plain and observation.entries is None:
            try:
                number = float(text)
            except ValueError:
                pass  # UNAVAILABLE, text with spaces, garbage: the general path below
            else:
                if number - number == 0:  # finite (inf - inf and nan - nan are nan)
                    self.value = number * self.scale
                    return
        representation = self.item.representation
        if observation.entries is not None or representation in ("DATA_SET", "TABLE"):
            self._apply_entries(observation, state)
            return
        if text == UNAVAILABLE or text == "":
            self.value = None
            self.vector = None
            return
        if self.item.type.endswith("_3D") or self.item.units.endswith("_3D") or " " in text:
            parts = text.split()
            if representation == "TIME_SERIES":
                self.value = _scaled(parts[-1] if parts else "", self.scale)
                return
            numbers = [_scaled(part, self.scale) for part in parts[:3]]
            if len(numbers) == 3 and None not in numbers:
                self.vector = tuple(numbers)  # type: ignore[arg-type]
            else:
                self.vector = None
                state.count_unparsable(self.item, text)
            return
        value = _scaled(text, self.scale)
        if value is None:
            state.count_unparsable(self.item, text)
        self.value = value

    def _apply_entries(self, observation: Observation, state: AgentState) -> None:
        entries = observation.entries
        if observation.value == UNAVAILABLE and not entries:
            self._resize({})
            return
        if observation.reset_triggered or state.applying_current:
            updated: dict[str, float] = {}
        else:
            updated = dict(self.entries)
        limit = state.settings_label_limit
        for entry in entries or ():
            if entry.cells:
                for cell_key, cell_value in entry.cells:
                    key = cap_label_value(f"{entry.key}/{cell_key}", limit)
                    number = _scaled(cell_value, self.scale)
                    if entry.removed or number is None:
                        updated.pop(key, None)
                    else:
                        updated[key] = number
                if entry.removed:
                    prefix = entry.key + "/"
                    for key in [key for key in updated if key.startswith(prefix)]:
                        del updated[key]
                continue
            key = cap_label_value(entry.key, limit)
            number = _scaled(entry.value, self.scale)
            if entry.removed or number is None:
                updated.pop(key, None)
            else:
                updated[key] = number
        self._resize(updated, state)

    def _resize(self, updated: dict[str, float], state: AgentState | None = None) -> None:
        grow = len(updated) - len(self.entries)
        if grow > 0 and not self.reserve(grow):
            # Keep the keys we already had; drop only the new ones.
            kept = {key: value for key, value in updated.items() if key in self.entries}
            dropped = len(updated) - len(kept)
            if state is not None:
                state.count_dropped(self.item, dropped)
            self.give_back(len(self.entries) - len(kept))
            self.entries = kept
            return
        if grow < 0:
            self.give_back(-grow)
        self.entries = updated


def _scaled(text: str, scale: float) -> float | None:
    value = _number(text)
    return None if value is None else value * scale


@dataclass(slots=True)
class StateTracker(Tracker):
    """A closed-vocabulary EVENT: one-hot state, seconds in each state, entries.

    Time is booked with the rule of docs/time-accounting.md (see `timebook`): each value's
    interval starts at its observation's stamp and books max(closed length, exposed part).
    """

    vocabulary: tuple[str, ...] = ()
    current: str | None = None
    since: Stamp | None = None  # start of the current value's interval; None: no interval open
    seconds: dict[str, float] = field(default_factory=dict)  # only values that have series
    transitions: dict[str, int] = field(default_factory=dict)

    def apply(self, observation: Observation, state: AgentState) -> None:
        value = observation.value or UNAVAILABLE
        stamp = state.stamp(observation, self.item.device)
        exposed = value in self.vocabulary or value in self.seconds
        if not exposed and self.reserve(3):
            self.seconds[value] = 0.0
            self.transitions[value] = 0
            exposed = True
        elif not exposed:
            state.count_dropped(self.item, 3)
        since = self.since
        if state.applying_current and since is not None and value == self.current:
            return  # the value goes on: its interval stays open
        if since is not None:
            if state.applying_current:
                length = exposed_part(since, state.clock.before)
            else:
                length = closed_length(since, stamp, state.clock.before)
            self._book(length)
        if self.current is not None and value != self.current and exposed:
            self.transitions[value] = self.transitions.get(value, 0) + 1
        # A refused value still ends the previous one here; its own time is simply not exposed.
        self.current = value
        self.since = stamp

    def _book(self, length: float) -> None:
        current = self.current
        if current is not None and (current in self.vocabulary or current in self.seconds):
            self.seconds[current] = self.seconds.get(current, 0.0) + length

    def close_exposed(self, agent_clock: float | None) -> None:
        """End the open interval with what it has exposed (the agent instance it belongs to ended)."""
        if self.since is not None:
            self._book(exposed_part(self.since, agent_clock))
            self.since = None

    def seconds_at(self, agent_clock: float | None) -> dict[str, float]:
        """Seconds in each exposed state, the open interval's exposed part included; changes nothing."""
        result = dict(self.seconds)
        current = self.current
        if self.since is not None and current is not None and (current in self.vocabulary or current in result):
            result[current] = result.get(current, 0.0) + exposed_part(self.since, agent_clock)
        return result

    def all_states(self) -> Iterable[str]:
        yield from self.vocabulary
        for value in self.seconds:
            if value not in self.vocabulary:
                yield value


@dataclass(slots=True)
class NumericEventTracker(Tracker):
    """A numeric EVENT (PART_COUNT, LINE, ...). PART_COUNT also counts parts across resets."""

    scale: float = 1.0
    value: float | None = None
    counts_parts: bool = False
    parts_total: float = 0.0
    baseline: float | None = None  # last value that increases are counted from
    pending_jump: float | None = None  # an implausible value, adopted if counting continues from it

    def apply(self, observation: Observation, state: AgentState) -> None:
        value = _scaled(observation.value, self.scale)
        if value is None:
            if observation.value not in (UNAVAILABLE, ""):
                state.count_unparsable(self.item, observation.value)
            self.value = None
            return
        self.value = value
        if self.counts_parts:
            self._count(value, observation, state)

    def _count(self, value: float, observation: Observation, state: AgentState) -> None:
        max_step = state.part_count_max_step
        baseline = self.baseline
        if baseline is None:
            self.baseline = value
            return
        if observation.reset_triggered:
            self.baseline = value
            self.pending_jump = None
            if 0 < value <= max_step:
                self.parts_total += value
            return
        pending = self.pending_jump
        if pending is not None and 0 <= value - pending <= max_step:
            # The controller really moved to the new range: continue from there.
            self.parts_total += value - pending
            self.baseline = value
            self.pending_jump = None
            return
        step = value - baseline
        if 0 <= step <= max_step:
            self.parts_total += step
            self.baseline = value
            self.pending_jump = None
        elif step > max_step:
            log.warning(
                "agent=%s device=%s data_item=%s implausible part count jump %g -> %g not counted",
                state.name,
                self.item.device,
                self.item.id,
                baseline,
                value,
            )
            self.pending_jump = value
        else:  # a reset by the operator or at shift change
            self.baseline = value
            self.pending_jump = None
            if 0 < value <= max_step:
                self.parts_total += value


@dataclass(slots=True)
class TextEventTracker(Tracker):
    """A free-text EVENT enabled for `mtconnect_event_info` (PROGRAM by default)."""

    value: str | None = None

    def apply(self, observation: Observation, state: AgentState) -> None:
        text = observation.value
        self.value = None if text == UNAVAILABLE else cap_label_value(text, state.settings_label_limit)


@dataclass(slots=True)
class AdapterItemTracker(TextEventTracker):
    """ADAPTER_URI, ADAPTER_SOFTWARE_VERSION or MTCONNECT_VERSION of an adapter of the Agent device: a label
    of the adapter's `mtconnect_adapter_info` series (one series per adapter, reserved by each item)."""
