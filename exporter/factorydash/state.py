"""Per-agent state: applies an agent's documents in sequence order to its trackers and device accounts.

One `AgentState` per configured agent. The follower thread applies parsed
documents; the collector reads a consistent view under the same lock. The
state keeps what a `/current` poller cannot: time spent in each state and
entries into it (from the agent's own timestamps), part counters that
survive controller resets, and every onset of a condition. The per-item
trackers live in `trackers` and `conditions`, the series cap in `limits`.

Over 400 lines because `AgentState` is one lock's worth of state: the model
(probe, re-probe, restore), the stamping of observations (docs/time-accounting.md
sections 1-3) and the routing of each observation to its tracker and its
device's account share private indexes that must change together under that lock.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from . import metrics
from .accounting import DeviceAccount, Role
from .conditions import CONDITION_LEVELS, ConditionTracker
from .limits import SeriesBudget, cap_label_value
from .parser import DataItem, Device, DevicesDocument, Header, Observation, StreamsDocument, parse_timestamp
from .planning import Calendar, DevicePlan, calendar_for
from .timebook import REJECTION_REASONS, AgentClock, DeviceTimeline, Stamp, TimestampRules
from .trackers import (
    AdapterItemTracker,
    NumericEventTracker,
    SampleTracker,
    StateTracker,
    TextEventTracker,
    Tracker,
    is_vector,
)
from .units import metric_name, unit_for
from .vocabularies import ADAPTER_INFO_LABELS, NUMERIC_EVENT_TYPES, UNAVAILABLE, untracked_reason, vocabulary_for

log = logging.getLogger(__name__)

# Series of one device: info, available, last observation, planned production, ideal cycle time.
DEVICE_SERIES = 5


# Why a followed data item has no tracker, besides what its type says (vocabularies.untracked_reason).
UNTRACKED_CAP = "series cap reached"
# Data items kept per reason for the coverage; beyond it they are only counted (a 200k-item probe keeps
# no more items alive than its series cap allows, tests/robustness/test_cardinality.py).
MAX_LISTED_UNTRACKED = 25


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
    errors: dict[str, int] = field(default_factory=dict)
    durations: dict[str, DurationHistogram] = field(default_factory=dict)
    timestamps_rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REJECTION_REASONS, 0))


PlanLookup = Callable[[str, str], DevicePlan]
_NO_PLAN = DevicePlan(calendar=None, ideal_cycle_time=None)


class AgentState:
    """Everything known about one agent. Thread-safe: hold `lock` to read."""

    def __init__(
        self,
        name: str,
        url: str,
        settings: StateSettings,
        budget: SeriesBudget,
        plan_for: PlanLookup | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        # The exporter's clock, read only for the gauges that show it (last success, last observation):
        # every booking runs on the agent's timestamps (docs/time-accounting.md).
        self.wall_clock = wall_clock
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
            cap_label_value(value, limit)
            for value in (self.name, item.device, item.component, item.component_id, item.id, item.name, item.sub_type)
        )

    def _make_tracker(self, item: DataItem) -> Tracker | None:
        unit = unit_for(item.units)
        if item.category == "SAMPLE" or (item.category == "EVENT" and is_vector(item)):
            metric = sys.intern(metric_name(item.type, item.units))  # one string per metric, not per item
            three_d = is_vector(item)
            plain = not three_d and item.representation == "VALUE"
            return SampleTracker(item, metric, self.budget, 3 if three_d else 1, unit.scale, plain)
        if item.category == "CONDITION":
            return ConditionTracker(item, metrics.CONDITION_LEVEL.name, self.budget, len(CONDITION_LEVELS) + 1)
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
            return AdapterItemTracker(item, metrics.ADAPTER_INFO.name, self.budget, 1)
        if item.type in NUMERIC_EVENT_TYPES or item.type in self.settings.numeric_event_types or item.units:
            counts_parts = item.type == "PART_COUNT"
            return NumericEventTracker(
                item, sys.intern(metric_name(item.type, item.units)), self.budget, 2 if counts_parts else 1,
                unit.scale, counts_parts=counts_parts,
            )
        if item.type in self.settings.event_info_types:
            return TextEventTracker(item, metrics.EVENT_INFO.name, self.budget, 1)
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
                code = cap_label_value(observation.native_code or observation.condition_id, self.settings_label_limit)
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
        now = self.wall_clock()  # for the last-observation gauge only; nothing is booked with it
        for device in devices:
            self.device_last_observation[device] = now

    # -- bookkeeping -------------------------------------------------------

    def mark_success(self) -> None:
        with self.lock:
            self.up = True
            self.last_error = ""
            self.last_success = self.wall_clock()
            self.down_since = None

    def mark_failure(self, reason: str, message: str) -> None:
        with self.lock:
            self.up = False
            self.last_error = message
            if self.down_since is None:
                self.down_since = self.wall_clock()
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
