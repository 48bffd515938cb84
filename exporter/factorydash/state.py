"""Per-agent state: applies observations in sequence order.

One `AgentState` per configured agent. The follower thread applies parsed
documents; the collector reads a consistent view under the same lock. The
state keeps what a `/current` poller cannot: time spent in each state and
entries into it (from the agent's own timestamps), part counters that
survive controller resets, and every onset of a condition.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from .accounting import DeviceAccount, Role
from .parser import DataItem, Device, DevicesDocument, Header, Observation, StreamsDocument, parse_timestamp
from .planning import Calendar, DevicePlan, calendar_for
from .timebook import (
    REJECTION_REASONS,
    AgentClock,
    DeviceTimeline,
    Stamp,
    TimestampRules,
    closed_length,
    exposed_part,
)
from .units import metric_name, unit_for
from .vocabularies import (
    ADAPTER_INFO_LABELS,
    NUMERIC_EVENT_TYPES,
    UNAVAILABLE,
    VECTOR_EVENT_TYPES,
    untracked_reason,
    vocabulary_for,
)

log = logging.getLogger(__name__)

CONDITION_LEVELS = ("normal", "warning", "fault", "unavailable")
# Series of one device: info, available, last observation, planned production, ideal cycle time.
DEVICE_SERIES = 5


# Why a followed data item has no tracker, besides what its type says (vocabularies.untracked_reason).
UNTRACKED_CAP = "series cap reached"
# Data items kept per reason for the coverage; beyond it they are only counted (a 200k-item probe keeps
# no more items alive than its series cap allows, tests/robustness/test_cardinality.py).
MAX_LISTED_UNTRACKED = 25


def _is_vector(item: DataItem) -> bool:
    """Three numbers per value (PATH_POSITION, ROTATION, *_3D units): a gauge per axis."""
    return (
        item.type.endswith("_3D") or item.units.endswith("_3D") or item.type in ("PATH_POSITION", "ORIENTATION")
        or (item.category == "EVENT" and item.type in VECTOR_EVENT_TYPES)
    )


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "\u2026"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


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


# ---------------------------------------------------------------------------
# Trackers: one per data item, each knows its metric and how to apply values.


@dataclass(slots=True)
class Tracker(ABC):
    item: DataItem
    metric: str
    budget: SeriesBudget
    static_series: int = 1
    # The collector's rendered label strings of this item's series, kept as long as the tracker
    # (one string per tracker, and a dict only for items with extra labels such as `state`).
    rendered_labels: str = field(default="", kw_only=True, repr=False, compare=False)
    rendered_extra_labels: dict[tuple[tuple[str, str], ...], str] | None = field(
        default=None, kw_only=True, repr=False, compare=False
    )
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
                    key = _cap(f"{entry.key}/{cell_key}", limit)
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
            key = _cap(entry.key, limit)
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
        self.value = None if text == UNAVAILABLE else _cap(text, state.settings_label_limit)


@dataclass(slots=True)
class AdapterItemTracker(TextEventTracker):
    """ADAPTER_URI, ADAPTER_SOFTWARE_VERSION or MTCONNECT_VERSION of an adapter of the Agent device: a label
    of the adapter's `mtconnect_adapter_info` series (one series per adapter, reserved by each item)."""


@dataclass(frozen=True, slots=True)
class Activation:
    level: str
    native_code: str
    native_severity: str
    qualifier: str
    message: str
    since: str


# Activations active beyond the series cap are remembered (a repeat is no new onset, and they keep the
# level) up to this many per condition item; beyond it they are only counted, so a flood of alarm codes
# costs neither memory nor CPU.
MAX_UNEXPORTED_ACTIVATIONS = 100


@dataclass(slots=True)
class ConditionTracker(Tracker):
    """A CONDITION item: its level, every active Warning/Fault, and their onsets."""

    level: str = "unavailable"
    active: dict[str, Activation] = field(default_factory=dict)
    # Activations active beyond the series cap: no series, but known, so a repeat is no new onset.
    unexported: dict[str, Activation] = field(default_factory=dict)
    activations: dict[str, int] = field(default_factory=lambda: {"warning": 0, "fault": 0})
    # How many active + unexported activations are at each level: the level without a scan.
    active_levels: dict[str, int] = field(default_factory=lambda: {"warning": 0, "fault": 0})

    def apply(self, observation: Observation, state: AgentState) -> None:
        level = observation.level or "unavailable"
        if level == "unavailable":
            self._clear_all()
            self.level = "unavailable"
            return
        key = _activation_key(observation, state)
        if level == "normal":
            if key:
                self._forget(key)
            else:
                self._clear_all()
            self._relevel()
            return
        limit = state.settings_label_limit
        activation = Activation(
            level,
            _cap(observation.native_code, limit),
            _cap(observation.native_severity, limit),
            _cap(observation.qualifier, limit),
            _cap(observation.value, limit),
            observation.timestamp,
        )
        previous = self.active.get(key)
        if previous is None:
            unexported = self.unexported.get(key)
            unexported_level = None if unexported is None else unexported.level
            if unexported_level != level:
                self.activations[level] += 1
            if unexported_level is not None:
                self._count_level(unexported_level, -1)
                self.unexported[key] = activation
                self._count_level(level, 1)
                self._relevel()
                return
            if not self.reserve(1):
                state.count_dropped(self.item, 1)
                if len(self.unexported) < MAX_UNEXPORTED_ACTIVATIONS:
                    self.unexported[key] = activation
                    self._count_level(level, 1)
                self._relevel()
                return
            self._count_level(level, 1)
        elif previous.level != level:
            self.activations[level] += 1
            self._count_level(previous.level, -1)
            self._count_level(level, 1)
        else:
            activation = Activation(
                level, activation.native_code, activation.native_severity, activation.qualifier,
                activation.message, previous.since,
            )
        self.active[key] = activation
        self._relevel()

    def replace_from_current(self, observations: list[Observation], state: AgentState) -> None:
        """A `/current` document lists every active activation: it replaces what we had."""
        before = {key: activation.level for key, activation in (*self.active.items(), *self.unexported.items())}
        self._clear_all()
        self.level = "normal"
        for observation in observations:
            key = _activation_key(observation, state)
            self.apply(observation, state)
            if observation.level in ("warning", "fault") and before.get(key) == observation.level:
                self.activations[observation.level] -= 1  # not a new onset: it was active before
            if state.initial_current and observation.level in ("warning", "fault") and key not in before:
                self.activations[observation.level] -= 1  # active before we started: onset not seen

    def _forget(self, key: str) -> None:
        removed = self.active.pop(key, None)
        if removed is not None:
            self.give_back(1)
            self._count_level(removed.level, -1)
        unexported = self.unexported.pop(key, None)
        if unexported is not None:
            self._count_level(unexported.level, -1)

    def _clear_all(self) -> None:
        self.unexported.clear()
        if self.active:
            self.give_back(len(self.active))
            self.active.clear()
        for level in self.active_levels:
            self.active_levels[level] = 0

    def _count_level(self, level: str, change: int) -> None:
        self.active_levels[level] += change

    def _relevel(self) -> None:
        levels = self.active_levels
        self.level = "fault" if levels["fault"] else "warning" if levels["warning"] else "normal"

    def fault_codes(self) -> tuple[str, ...]:
        """Native codes (the conditionId where there is none) of the active Fault activations, with a
        series or not: what the device's alarm seconds are booked for."""
        return tuple(
            activation.native_code or key
            for key, activation in (*self.active.items(), *self.unexported.items())
            if activation.level == "fault"
        )


def _activation_key(observation: Observation, state: AgentState) -> str:
    """An activation's identity (conditionId, else nativeCode), capped: an agent's string is never kept whole."""
    return _cap(observation.condition_id or observation.native_code, state.settings_label_limit)


def _carry_counters(old: Tracker, new: Tracker) -> None:
    """A re-probe rebuilt the tracker of a data item that kept its id and type: its counters go on."""
    if isinstance(old, StateTracker) and isinstance(new, StateTracker):
        for value in old.all_states():
            if value in new.vocabulary or new.reserve(3):
                new.seconds[value] = old.seconds.get(value, 0.0)
                new.transitions[value] = old.transitions.get(value, 0)
        new.current, new.since = old.current, old.since
    elif isinstance(old, NumericEventTracker) and isinstance(new, NumericEventTracker):
        new.value, new.parts_total, new.baseline, new.pending_jump = (
            old.value, old.parts_total, old.baseline, old.pending_jump
        )
    elif isinstance(old, ConditionTracker) and isinstance(new, ConditionTracker):
        new.activations = dict(old.activations)


# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateSettings:
    event_info_types: frozenset[str] = frozenset({"PROGRAM"})
    numeric_event_types: frozenset[str] = frozenset()  # vendor events (x:PALLET_NUMBER) exported as gauges
    max_label_value_length: int = 200
    part_count_max_step: int = 10_000
    devices: tuple[str, ...] = ()  # filter by device name or uuid; empty: all
    max_clock_skew: float = 300.0  # seconds an observation may lie beyond its document's creationTime
    timestamp_outlier_window: float = 21600.0  # seconds off a device's timeline that make a jump


REQUEST_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(slots=True)
class DurationHistogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(REQUEST_DURATION_BUCKETS))
    total: int = 0
    sum: float = 0.0

    def observe(self, seconds: float) -> None:
        for index, bound in enumerate(REQUEST_DURATION_BUCKETS):
            if seconds <= bound:
                self.counts[index] += 1
                break
        self.total += 1
        self.sum += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        buckets, running = [], 0
        for bound, count in zip(REQUEST_DURATION_BUCKETS, self.counts):
            running += count
            buckets.append((repr(bound), running))
        buckets.append(("+Inf", self.total))
        return buckets


@dataclass(slots=True)
class AgentCounters:
    """Exporter-side counters of one agent; they survive agent restarts."""

    restarts: int = 0
    observations: int = 0
    lost: int = 0
    undeclared: int = 0  # observations of data items the probe did not declare, set aside
    dropped_series: int = 0
    collect_errors: int = 0  # scrapes that left this agent's series out (see the collector)
    errors: dict[str, int] = field(default_factory=dict)
    durations: dict[str, DurationHistogram] = field(default_factory=dict)
    timestamps_rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REJECTION_REASONS, 0))


PlanLookup = Callable[[str, str], DevicePlan]
_NO_PLAN = DevicePlan(calendar=None, ideal_cycle_time=None)


class AgentState:
    """Everything known about one agent. Thread-safe: hold `lock` to read."""

    def __init__(
        self, name: str, url: str, settings: StateSettings, budget: SeriesBudget, plan_for: PlanLookup | None = None
    ) -> None:
        self.name = name
        self.url = url
        self.settings = settings
        self.settings_label_limit = settings.max_label_value_length
        self.part_count_max_step = settings.part_count_max_step
        self.budget = budget
        # Read at every booking, so a reloaded config's planning applies from then on.
        self.plan_for: PlanLookup = plan_for or (lambda agent, device: _NO_PLAN)
        self.lock = threading.RLock()
        self.counters = AgentCounters()
        self.up = False
        self.last_error = ""
        self.last_success: float | None = None  # exporter wall clock
        self.down_since: float | None = None  # exporter wall clock of the first failure since the last success
        self.header: Header | None = None
        self.schema_version = ""
        self.devices: tuple[Device, ...] = ()  # without their data items (see load_model)
        self._device_series = 0  # series reserved for self.devices
        self.retired = False
        self.trackers: dict[str, Tracker] = {}
        self.declared_items: frozenset[str] = frozenset()
        # Declared data items of the followed devices without a tracker, by reason (coverage): the first
        # MAX_LISTED_UNTRACKED items of each reason, and how many there are.
        self.untracked: dict[str, list[DataItem]] = {}
        self.untracked_counts: dict[str, int] = {}
        self.unfollowed_devices: dict[str, int] = {}  # devices left out by the devices filter -> their items
        self.device_last_observation: dict[str, float] = {}
        self.applying_current = False
        self.initial_current = False
        self.clock = AgentClock()
        self.timestamp_rules = TimestampRules(settings.max_clock_skew, settings.timestamp_outlier_window)
        self.timelines: dict[str, DeviceTimeline] = {}  # by device name
        self.accounts: dict[str, DeviceAccount] = {}  # by device name; kept across re-probes and restarts
        self._account_roles: dict[str, tuple[DeviceAccount, Role, str]] = {}  # item id -> its device's account
        self._current_starts: dict[str, Stamp] = {}  # device -> start of its intervals in the /current applied
        self._stamped: Observation | None = None
        self._stamp = Stamp(None, 0.0, None)
        self._warned: set[tuple[str, str]] = set()

    # -- model -------------------------------------------------------------

    def load_model(self, document: DevicesDocument) -> None:
        """A probe: rebuild every tracker (first contact, restart or model change).

        Trackers of data items that keep their id and type keep their counters. What the series cap
        refuses is not kept: devices keep no data items (the trackers and the accounts hold what they
        need), and dropped devices and items are only counted.
        """
        with self.lock:
            if self.retired:
                return  # a follower that outlived its reload: its budget was given back for good
            if self.clock.instance_id is None or self.clock.is_new_instance(document.header):
                self._end_instance()
                self.clock.start_instance(document.header)
            previous = self.trackers
            self._release_series()
            self.device_last_observation = {}
            wanted = set(self.settings.devices)
            self.schema_version = document.schema_version
            # Items of filtered devices and items we do not export are declared, just not tracked.
            self.declared_items = frozenset(item.id for device in document.devices for item in device.data_items)
            self.untracked = {}
            self.untracked_counts = {}
            self.unfollowed_devices = {}
            kept: list[Device] = []
            dropped: list[str] = []
            dropped_count = duplicates = 0
            for device in document.devices:
                if wanted and device.name not in wanted and device.uuid not in wanted:
                    self.unfollowed_devices[device.name] = len(device.data_items)
                    continue
                if not self.budget.reserve(DEVICE_SERIES):
                    if len(dropped) < 10:
                        dropped.append(device.name)
                    dropped_count += 1
                    self.counters.dropped_series += DEVICE_SERIES
                    for item in device.data_items:
                        self._note_untracked(item, UNTRACKED_CAP)
                    continue
                self._device_series += DEVICE_SERIES
                kept.append(device)
                for item in device.data_items:
                    if item.id in self.trackers:
                        duplicates += 1  # observations name the item by id alone: the first one wins
                        continue
                    tracker = self._make_tracker(item)
                    if tracker is None:
                        self._note_untracked(item, untracked_reason(item.category, item.type, item.sub_type))
                        continue
                    if not tracker.reserve(tracker.static_series):
                        if len(dropped) < 10:
                            dropped.append(item.id)
                        dropped_count += 1
                        self.counters.dropped_series += tracker.static_series
                        self._note_untracked(item, UNTRACKED_CAP)
                        continue
                    old = previous.get(item.id)
                    if old is not None and type(old) is type(tracker) and old.item.type == tracker.item.type:
                        _carry_counters(old, tracker)
                    self.trackers[item.id] = tracker
            self.devices = tuple(replace(device, data_items=()) for device in kept)
            if dropped_count:
                log.warning(
                    "agent=%s series cap reached: %d devices or data items not exported, first: %s",
                    self.name,
                    dropped_count,
                    ", ".join(dropped[:10]),
                )
            if duplicates:
                log.warning("agent=%s probe declares %d duplicate data item ids: the first of each is used",
                            self.name, duplicates)
            self._load_accounts(kept)

    def _note_untracked(self, item: DataItem, reason: str) -> None:
        self.untracked_counts[reason] = self.untracked_counts.get(reason, 0) + 1
        listed = self.untracked.setdefault(reason, [])
        if len(listed) < MAX_LISTED_UNTRACKED:
            listed.append(item)

    def _release_series(self) -> None:
        for tracker in self.trackers.values():
            tracker.release()
        self.trackers = {}
        self.budget.release(self._device_series)
        self._device_series = 0
        self.devices = ()

    def _load_accounts(self, devices: list[Device]) -> None:
        for device in devices:
            if device.is_agent:
                continue
            account = self.accounts.get(device.name)
            if account is None:
                account = self.accounts[device.name] = DeviceAccount(device.name)
            account.configure(device.data_items)
        self._index_accounts()

    def _index_accounts(self) -> None:
        """Which account each ISO 22400 input of the model's devices feeds (the accounts know their roles)."""
        roles: dict[str, tuple[DeviceAccount, Role, str]] = {}
        for device in self.devices:
            account = self.accounts.get(device.name)
            if device.is_agent or account is None:
                continue
            for item_id, (role, component_id) in account.roles.items():
                roles[item_id] = (account, role, component_id)
        self._account_roles = roles

    def restore_model(
        self, schema_version: str, devices: Iterable[Device], declared_items: Iterable[str], items: Iterable[DataItem]
    ) -> None:
        """A snapshot's model instead of a probe (see `snapshot`): its devices and the trackers of `items`,
        built as a probe builds them and within the same series caps; the accounts are restored before."""
        with self.lock:
            self._release_series()
            self.schema_version = schema_version
            self.declared_items = frozenset(declared_items)
            kept = []
            for device in devices:
                if not self.budget.reserve(DEVICE_SERIES):
                    self.counters.dropped_series += DEVICE_SERIES
                    continue
                self._device_series += DEVICE_SERIES
                kept.append(device)
            self.devices = tuple(kept)
            names = {device.name for device in kept}
            for item in items:
                tracker = self._make_tracker(item) if item.device in names else None
                if tracker is None or item.id in self.trackers:
                    continue
                if not tracker.reserve(tracker.static_series):
                    self.counters.dropped_series += tracker.static_series
                    continue
                self.trackers[item.id] = tracker
            self._index_accounts()

    def item_labels(self, item: DataItem) -> tuple[str, ...]:
        """Label values of a data item's series: agent, device, component, component_id, data_item_id, name, sub_type."""
        limit = self.settings_label_limit
        return tuple(
            _cap(value, limit)
            for value in (self.name, item.device, item.component, item.component_id, item.id, item.name, item.sub_type)
        )

    def _make_tracker(self, item: DataItem) -> Tracker | None:
        unit = unit_for(item.units)
        if item.category == "SAMPLE" or (item.category == "EVENT" and _is_vector(item)):
            metric = sys.intern(metric_name(item.type, item.units))  # one string per metric, not per item
            three_d = _is_vector(item)
            plain = not three_d and item.representation == "VALUE"
            return SampleTracker(item, metric, self.budget, 3 if three_d else 1, unit.scale, plain)
        if item.category == "CONDITION":
            return ConditionTracker(item, "mtconnect_condition", self.budget, len(CONDITION_LEVELS) + 1)
        if item.category != "EVENT":
            return None
        vocabulary = vocabulary_for(item.type, item.sub_type)
        if vocabulary is not None:
            return StateTracker(
                item, sys.intern(metric_name(item.type, "") + "_state"), self.budget, 3 * len(vocabulary), vocabulary
            )
        if item.representation in ("DATA_SET", "TABLE"):
            # A gauge per numeric key (ASSET_COUNT: assets per type); text entries are left out.
            return SampleTracker(item, sys.intern(metric_name(item.type, item.units)), self.budget, 0, unit.scale)
        if item.type in ADAPTER_INFO_LABELS:
            return AdapterItemTracker(item, "mtconnect_adapter_info", self.budget, 1)
        if item.type in NUMERIC_EVENT_TYPES or item.type in self.settings.numeric_event_types or item.units:
            counts_parts = item.type == "PART_COUNT"
            return NumericEventTracker(
                item, sys.intern(metric_name(item.type, item.units)), self.budget, 2 if counts_parts else 1,
                unit.scale, counts_parts=counts_parts,
            )
        if item.type in self.settings.event_info_types:
            return TextEventTracker(item, "mtconnect_event_info", self.budget, 1)
        return None

    # -- time ----------------------------------------------------------------

    def stamp(self, observation: Observation, device: str) -> Stamp:
        """The observation's stamp (docs/time-accounting.md sections 1-3), computed once per observation."""
        if observation is self._stamped:
            return self._stamp
        if self.applying_current:
            stamp = self._current_starts.get(device) or Stamp(None, self.clock.document or 0.0, None)
        else:
            timeline = self.timelines.get(device)
            if timeline is None:
                timeline = self.timelines[device] = DeviceTimeline()
            stamp = timeline.stamp(observation.timestamp, self.clock, self.timestamp_rules,
                                   self.counters.timestamps_rejected)
        self._stamped, self._stamp = observation, stamp
        return stamp

    def _calendar(self, device: str) -> Calendar:
        return calendar_for(self.plan_for(self.name, device))

    def _note_header(self, header: Header) -> None:
        self.header = header
        self._stamped = None
        if self.clock.is_new_instance(header):
            self._end_instance()
            self.clock.start_instance(header)
        gap = self.clock.apply_header(header)
        document = self.clock.document
        if gap is not None and document is not None:
            for account in self.accounts.values():
                account.book_instance_gap(document - gap, document, self._calendar(account.device))

    def _end_instance(self) -> None:
        """The agent instance ended: every open interval closes with its exposed part."""
        agent_clock = self.clock.now
        for tracker in self.trackers.values():
            if isinstance(tracker, StateTracker):
                tracker.close_exposed(agent_clock)
        for account in self.accounts.values():
            account.close_exposed(agent_clock, self._calendar(account.device))

    def _start_current(self, document: StreamsDocument) -> None:
        """Where the intervals of each device in a `/current` start: the document's A, never earlier."""
        creation, skew = self.clock.creation, self.timestamp_rules.max_clock_skew
        newest: dict[str, float] = {}
        trackers, roles = self.trackers, self._account_roles
        for observation in document.observations:
            tracker = trackers.get(observation.data_item_id)
            if tracker is not None:
                device = tracker.item.device
            elif observation.data_item_id in roles:
                device = roles[observation.data_item_id][0].device
            else:
                continue
            try:
                moment = parse_timestamp(observation.timestamp)
            except (ValueError, TypeError, OverflowError):
                continue
            if creation is not None and moment > creation + skew:
                continue  # a stamp from the future says nothing about the device's clock
            if moment > newest.get(device, -math.inf):
                newest[device] = moment
        starts = {}
        for device in {*newest, *(tracker.item.device for tracker in trackers.values())}:
            timeline = self.timelines.get(device)
            if timeline is None:
                timeline = self.timelines[device] = DeviceTimeline()
            starts[device] = timeline.current_start(newest.get(device), self.clock, self.timestamp_rules)
        self._current_starts = starts

    # -- applying documents --------------------------------------------------

    def apply_current(self, document: StreamsDocument, initial: bool) -> None:
        """Apply a `/current` document: the full picture after a probe or a resync."""
        with self.lock:
            self._note_header(document.header)
            self._start_current(document)
            self.applying_current = True
            self.initial_current = initial
            try:
                conditions: dict[str, list[Observation]] = {}
                for observation in document.observations:
                    tracker = self.trackers.get(observation.data_item_id)
                    if isinstance(tracker, ConditionTracker):
                        conditions.setdefault(observation.data_item_id, []).append(observation)
                        continue
                    if tracker is not None:
                        self._apply_tracked(tracker, observation)
                    else:
                        self._account_input(observation, None)
                for item_id, observations in conditions.items():
                    tracker = self.trackers[item_id]
                    assert isinstance(tracker, ConditionTracker)
                    tracker.replace_from_current(observations, self)
                    self._account_input(observations[-1], tracker)
                before = self.clock.before
                for account in self.accounts.values():
                    start = self._current_starts.get(account.device)
                    if start is not None:
                        account.restart_at(start, before, self._calendar(account.device))
                self._note_devices(document.observations)
            finally:
                self.applying_current = False
                self.initial_current = False

    def apply_sample(self, document: StreamsDocument) -> None:
        """Apply a `/sample` document's observations in sequence order.

        Every observation counts in `counters.observations` (it was read); those of data items the probe
        did not declare are set aside, not applied, and counted in `counters.undeclared` as well.
        """
        with self.lock:
            self._note_header(document.header)
            trackers = self.trackers
            roles = self._account_roles
            unknown = 0
            devices: set[str] = set()
            for observation in document.observations:
                tracker = trackers.get(observation.data_item_id)
                if tracker is not None:
                    if observation.data_item_id in roles:
                        self._apply_tracked(tracker, observation)
                    else:
                        tracker.apply(observation, self)
                    devices.add(tracker.item.device)
                elif observation.data_item_id in roles:
                    self._account_input(observation, None)
                elif observation.data_item_id not in self.declared_items:
                    unknown += 1
            self.counters.observations += len(document.observations)
            self.counters.undeclared += unknown
            self._note_seen(devices)

    def _apply_tracked(self, tracker: Tracker, observation: Observation) -> None:
        if isinstance(tracker, NumericEventTracker) and tracker.counts_parts:
            parts_before = tracker.parts_total
            tracker.apply(observation, self)
            self._account_parts(tracker, observation, tracker.parts_total - parts_before)
            return
        tracker.apply(observation, self)
        self._account_input(observation, tracker)

    def _account_input(self, observation: Observation, tracker: Tracker | None) -> None:
        """An observation of one of a device's ISO 22400 inputs (parts go through `_account_parts`)."""
        entry = self._account_roles.get(observation.data_item_id)
        if entry is None:
            return
        account, role, _ = entry
        if role in (Role.PARTS_ALL, Role.PARTS_GOOD, Role.PARTS_BAD):
            return  # counted by its tracker, when it has one
        if role is Role.CONDITION:
            if isinstance(tracker, ConditionTracker):
                value, codes = tracker.level, tracker.fault_codes()
            else:  # an item without a series: its latest observation is all that is known
                value = observation.level or "unavailable"
                code = _cap(observation.native_code or observation.condition_id, self.settings_label_limit)
                codes = (code,) if value == "fault" else ()
            self._set_faults(account, observation.data_item_id, codes)
        else:
            value = observation.value or UNAVAILABLE
        account.set_value(observation.data_item_id, value)
        if role is Role.PROGRAM or self.applying_current:
            return  # a /current's class is taken once the whole document is applied
        account.observe(self.stamp(observation, account.device), self.clock.before, self._calendar(account.device))

    def _set_faults(self, account: DeviceAccount, item_id: str, codes: tuple[str, ...]) -> None:
        dropped = account.set_faults(item_id, codes, self.budget.reserve)
        if dropped:
            self.counters.dropped_series += dropped
            key = (account.device, "alarm series")
            if key not in self._warned:
                self._warned.add(key)
                log.warning("agent=%s device=%s series cap reached: new alarms get no alarm seconds series",
                            self.name, account.device)

    def _account_parts(self, tracker: NumericEventTracker, observation: Observation, count: float) -> None:
        entry = self._account_roles.get(observation.data_item_id)
        if entry is None or count <= 0:
            return
        account, role, component_id = entry
        plan = self.plan_for(self.name, account.device)
        account.add_parts(role, count, self.stamp(observation, account.device), plan, component_id,
                          calendar_for(plan))

    def _note_devices(self, observations: tuple[Observation, ...]) -> None:
        trackers = self.trackers
        self._note_seen({trackers[o.data_item_id].item.device for o in observations if o.data_item_id in trackers})

    def _note_seen(self, devices: set[str]) -> None:
        now = time.time()  # exporter clock for the last-observation gauge only; nothing is booked with it
        for device in devices:
            self.device_last_observation[device] = now

    # -- bookkeeping -------------------------------------------------------

    def mark_success(self) -> None:
        with self.lock:
            self.up = True
            self.last_error = ""
            self.last_success = time.time()
            self.down_since = None

    def mark_failure(self, reason: str, message: str) -> None:
        with self.lock:
            self.up = False
            self.last_error = message
            if self.down_since is None:
                self.down_since = time.time()
        self.count_error(reason)

    def observe_duration(self, request: str, seconds: float) -> None:
        with self.lock:
            histogram = self.counters.durations.get(request)
            if histogram is None:
                histogram = self.counters.durations[request] = DurationHistogram()
            histogram.observe(seconds)

    def count_error(self, reason: str) -> None:
        with self.lock:
            self.counters.errors[reason] = self.counters.errors.get(reason, 0) + 1

    def set_probe_header(self, header: Header) -> None:
        with self.lock:
            self.header = header

    def mark_restart(self) -> None:
        with self.lock:
            self.counters.restarts += 1

    def count_observations(self, count: int) -> None:
        with self.lock:
            self.counters.observations += count

    def add_lost(self, count: int) -> None:
        with self.lock:
            self.counters.lost += max(count, 0)

    def count_dropped(self, item: DataItem, count: int) -> None:
        self.counters.dropped_series += count
        self._warn_once(item, "series cap reached: new series of this data item are dropped")

    def count_unparsable(self, item: DataItem, text: str) -> None:
        self._warn_once(item, f"value is not a number: {text[:40]!r}")

    def _warn_once(self, item: DataItem, message: str) -> None:
        key = (item.id, message.split(":")[0])
        if key not in self._warned:
            self._warned.add(key)
            log.warning("agent=%s device=%s data_item=%s %s", self.name, item.device, item.id, message)

    def sequence_lag(self) -> int | None:
        header = self.header
        if header is None or header.last_sequence is None or header.next_sequence is None:
            return None
        return max(header.last_sequence - header.next_sequence + 1, 0)

    def release(self) -> None:
        """Give back every series of this agent for good (it is being removed; a late probe takes none)."""
        with self.lock:
            self.retired = True
            self._release_series()
            for account in self.accounts.values():
                self.budget.release(account.losses.alarm_series())
            self._account_roles = {}  # a late document books nothing (and reserves no alarm series)
