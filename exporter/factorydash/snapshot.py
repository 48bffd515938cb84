"""What a snapshot holds: one agent's follower position and state as plain JSON-able data, and back.

A snapshot is taken under the state's lock while the follower reads `/sample` from a cursor (phase
SAMPLE; the follower moves its cursor under the same lock), so the state and the cursor belong together:
every observation below the cursor is in the state, none at or above it. It holds

- the follower's position: instanceId, the cursor (the next sequence to read), the last announced
  lastSequence, deviceModelChangeTime and a digest of the probed model;
- the model as the state keeps it: devices, declared item ids, the data item of every tracker;
- the agent's counters, the agent clock A, every device's timeline, every device's ISO 22400 account
  (totals, shift and day tallies, open interval, input values), and every tracker's counters, open
  interval and latest value (an item that does not change while the exporter is down is not in the gap
  the agent replays, yet its value must still be shown).

Stamps belong to a segment of their device's timeline (closed lengths are measured only within one):
segments are compared by identity, so a snapshot numbers them and a restore makes one object per number.

Restoring is all or nothing: the snapshot is decoded completely first; one that does not decode is
logged and the agent starts fresh. The restored state is exposed at once; the follower's first probe
decides where to go on (see `AgentFollower.resume`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, fields
from typing import Any

from .accounting import DeviceAccount, DeviceClass, Losses, Role, Tally
from .conditions import Activation, ConditionTracker
from .follower import AgentFollower, Phase
from .parser import DataItem, Device, Header
from .state import AgentCounters, AgentState, DurationHistogram
from .timebook import AgentClock, DeviceTimeline, Stamp, TimelineSegment
from .trackers import NumericEventTracker, SampleTracker, StateTracker, TextEventTracker, Tracker

log = logging.getLogger(__name__)

Snapshot = dict[str, Any]


class SnapshotInvalid(ValueError):
    """A snapshot of this format version whose content does not fit (edited by hand, or a bug)."""


def _floats(data: dict) -> dict[str, float]:
    return {str(key): float(value) for key, value in data.items()}


def _ints(data: dict) -> dict[str, int]:
    return {str(key): int(value) for key, value in data.items()}


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


# -- stamps, the agent clock, timelines ----------------------------------------------------


class Segments:
    """Numbers for segments while encoding; objects for numbers while decoding."""

    def __init__(self) -> None:
        self._numbers: dict[int, int] = {}
        self._objects: dict[int, TimelineSegment] = {}
        self._kept: list[TimelineSegment] = []  # numbered segments stay alive, so their ids stay unique

    def number(self, segment: TimelineSegment | None) -> int | None:
        if segment is None:
            return None
        number = self._numbers.get(id(segment))
        if number is None:
            number = self._numbers[id(segment)] = len(self._kept)
            self._kept.append(segment)
        return number

    def segment(self, number: object) -> TimelineSegment | None:
        if number is None:
            return None
        return self._objects.setdefault(int(number), TimelineSegment())  # type: ignore[arg-type]


def encode_stamp(stamp: Stamp | None, segments: Segments) -> list | None:
    return None if stamp is None else [stamp.device, stamp.agent, segments.number(stamp.segment)]


def decode_stamp(data: list | None, segments: Segments) -> Stamp | None:
    if data is None:
        return None
    device, agent, segment = data
    return Stamp(_optional_float(device), float(agent), segments.segment(segment))


def encode_clock(clock: AgentClock) -> Snapshot:
    return {name: getattr(clock, name) for name in AgentClock.__slots__}


def decode_clock(data: Snapshot) -> AgentClock:
    clock = AgentClock()
    for name in AgentClock.__slots__:
        value = data[name]
        setattr(clock, name, _optional_str(value) if name == "instance_id" else _optional_float(value))
    return clock


def encode_timeline(timeline: DeviceTimeline, segments: Segments) -> Snapshot:
    return {
        name: segments.number(value) if name.endswith("segment") else value
        for name in DeviceTimeline.__slots__
        for value in (getattr(timeline, name),)
    }


def decode_timeline(data: Snapshot, segments: Segments) -> DeviceTimeline:
    timeline = DeviceTimeline()
    for name in DeviceTimeline.__slots__:
        value = data[name]
        setattr(timeline, name, segments.segment(value) if name.endswith("segment") else _optional_float(value))
    if timeline.anchor is None or timeline.anchor_agent is None or timeline.jump_agent is None:
        raise SnapshotInvalid("a timeline without its anchor")
    return timeline


# -- device accounts -------------------------------------------------------------------


def decode_tally(data: Snapshot) -> Tally:
    return Tally(_floats(data["seconds"]), float(data["produced"]), float(data["good"]), float(data["bad"]),
                 float(data["ideal"]))


def encode_account(account: DeviceAccount, segments: Segments) -> Snapshot:
    current = account.current_class
    return {
        "roles": {item_id: [role.value, component] for item_id, (role, component) in account.roles.items()},
        "values": dict(account.values),
        "totals": asdict(account.totals),
        "shifts": [[start, end, asdict(tally)] for (start, end), tally in account.shifts.items()],
        "days": [[start, end, asdict(tally)] for (start, end), tally in account.days.items()],
        "condition_types": dict(account.condition_types),
        "faults": {item_id: list(codes) for item_id, codes in account.faults.items()},
        "losses": {"causes": {element: dict(causes) for element, causes in account.losses.causes.items()},
                   "alarms": {condition: dict(codes) for condition, codes in account.losses.alarms.items()}},
        "current_class": None if current is None else [
            current.element, current.active, current.cause, [list(alarm) for alarm in current.alarms]
        ],
        "since": encode_stamp(account.since, segments),
        "frontier": account.frontier,
    }


def decode_account(device: str, data: Snapshot, segments: Segments) -> DeviceAccount:
    account = DeviceAccount(device)
    account.roles = {str(item_id): (Role(role), str(component)) for item_id, (role, component) in data["roles"].items()}
    account.values = {str(key): str(value) for key, value in data["values"].items()}
    account.totals = decode_tally(data["totals"])
    account.shifts = {(float(start), float(end)): decode_tally(tally) for start, end, tally in data["shifts"]}
    account.days = {(float(start), float(end)): decode_tally(tally) for start, end, tally in data["days"]}
    account.condition_types = {str(item_id): str(kind) for item_id, kind in data["condition_types"].items()}
    account.faults = {str(item_id): tuple(str(code) for code in codes) for item_id, codes in data["faults"].items()}
    losses = data["losses"]
    account.losses = Losses(
        {str(element): _floats(causes) for element, causes in losses["causes"].items()},
        {str(condition): _floats(codes) for condition, codes in losses["alarms"].items()},
    )
    current = data["current_class"]
    account.current_class = None if current is None else DeviceClass(
        str(current[0]), bool(current[1]), _optional_str(current[2]),
        tuple((str(condition), str(code)) for condition, code in current[3]),
    )
    account.since = decode_stamp(data["since"], segments)
    account.frontier = _optional_float(data["frontier"])
    return account


# -- trackers ---------------------------------------------------------------------


def encode_tracker(tracker: Tracker, segments: Segments) -> Snapshot:
    """A tracker's data item (to rebuild it as a probe would) and what it has counted and holds."""
    data: Snapshot = {"kind": type(tracker).__name__, "item": asdict(tracker.item)}
    if isinstance(tracker, SampleTracker):
        data |= {"value": tracker.value, "vector": tracker.vector, "entries": dict(tracker.entries)}
    elif isinstance(tracker, StateTracker):
        data |= {
            "current": tracker.current, "since": encode_stamp(tracker.since, segments),
            "seconds": dict(tracker.seconds), "transitions": dict(tracker.transitions),
        }
    elif isinstance(tracker, NumericEventTracker):
        data |= {
            "value": tracker.value, "parts_total": tracker.parts_total, "baseline": tracker.baseline,
            "pending_jump": tracker.pending_jump,
        }
    elif isinstance(tracker, TextEventTracker):
        data |= {"value": tracker.value}
    elif isinstance(tracker, ConditionTracker):
        data |= {
            "level": tracker.level, "active": {key: asdict(a) for key, a in tracker.active.items()},
            "unexported": {key: asdict(a) for key, a in tracker.unexported.items()},
            "activations": dict(tracker.activations),
        }
    else:
        raise TypeError(f"no snapshot for {type(tracker).__name__}")
    return data


def decode_tracker(data: Snapshot, segments: Segments) -> Snapshot:
    """Checked field values of one tracker, by field name (given to the rebuilt tracker later, all at once)."""
    kind = data["kind"]
    item = DataItem(**{name: str(value) for name, value in data["item"].items()})
    if kind == "SampleTracker":
        vector = data["vector"]
        return {
            "kind": kind, "item": item, "value": _optional_float(data["value"]),
            "vector": None if vector is None else tuple(float(v) for v in vector),
            "entries": _floats(data["entries"]),
        }
    if kind == "StateTracker":
        return {
            "kind": kind, "item": item, "current": _optional_str(data["current"]),
            "since": decode_stamp(data["since"], segments),
            "seconds": _floats(data["seconds"]), "transitions": _ints(data["transitions"]),
        }
    if kind == "NumericEventTracker":
        return {
            "kind": kind, "item": item, "value": _optional_float(data["value"]),
            "parts_total": float(data["parts_total"]), "baseline": _optional_float(data["baseline"]),
            "pending_jump": _optional_float(data["pending_jump"]),
        }
    if kind in ("TextEventTracker", "AdapterItemTracker"):  # an adapter item is a text event with a label role
        return {"kind": kind, "item": item, "value": _optional_str(data["value"])}
    if kind == "ConditionTracker":
        return {
            "kind": kind, "item": item, "level": str(data["level"]),
            "active": {str(key): Activation(**{n: str(v) for n, v in a.items()}) for key, a in data["active"].items()},
            "unexported": {
                str(key): Activation(**{n: str(v) for n, v in a.items()}) for key, a in data["unexported"].items()
            },
            "activations": _ints(data["activations"]),
        }
    raise SnapshotInvalid(f"unknown tracker kind {kind!r}")


def restore_tracker(tracker: Tracker, values: Snapshot, state: AgentState) -> None:
    """Give a freshly built tracker its saved values; series beyond its static ones are reserved again
    (what the series cap refuses now is dropped and counted, as when it was first seen)."""
    if isinstance(tracker, SampleTracker):
        tracker.value, tracker.vector = values["value"], values["vector"]
        tracker._resize(values["entries"], state)
    elif isinstance(tracker, StateTracker):
        seconds, transitions = dict(values["seconds"]), dict(values["transitions"])
        for value in [value for value in seconds if value not in tracker.vocabulary]:
            if not tracker.reserve(3):  # a value beyond the vocabulary has series of its own
                state.count_dropped(tracker.item, 3)
                del seconds[value]
                transitions.pop(value, None)
        tracker.seconds, tracker.transitions = seconds, transitions
        tracker.current, tracker.since = values["current"], values["since"]
    elif isinstance(tracker, NumericEventTracker):
        tracker.value, tracker.parts_total = values["value"], values["parts_total"]
        tracker.baseline, tracker.pending_jump = values["baseline"], values["pending_jump"]
    elif isinstance(tracker, TextEventTracker):
        tracker.value = values["value"]
    elif isinstance(tracker, ConditionTracker):
        tracker.unexported = dict(values["unexported"])
        for key, activation in values["active"].items():
            if tracker.reserve(1):
                tracker.active[key] = activation
            else:  # known, so its repeat is no new onset, but without a series (as when it was first seen)
                tracker.unexported[key] = activation
        for activation in (*tracker.active.values(), *tracker.unexported.values()):
            tracker.active_levels[activation.level] += 1
        tracker.level, tracker.activations = values["level"], values["activations"]


# -- the agent ----------------------------------------------------------------------


def encode_counters(counters: AgentCounters) -> Snapshot:
    data: Snapshot = {}
    for field in fields(AgentCounters):
        value = getattr(counters, field.name)
        if field.name == "durations":
            value = {request: asdict(histogram) for request, histogram in value.items()}
        elif isinstance(value, dict):
            value = dict(value)
        data[field.name] = value
    return data


def decode_counters(data: Snapshot) -> AgentCounters:
    counters = AgentCounters()
    for field in fields(AgentCounters):
        value = data[field.name]
        if field.name == "durations":
            durations = {}
            for request, histogram in value.items():
                counts = [int(count) for count in histogram["counts"]]
                if len(counts) != len(DurationHistogram().counts):
                    raise SnapshotInvalid("request duration buckets differ")
                durations[str(request)] = DurationHistogram(counts, int(histogram["total"]), float(histogram["sum"]))
            value = durations
        elif isinstance(getattr(counters, field.name), dict):
            value = _ints(value)
        else:
            value = int(value)
        setattr(counters, field.name, value)
    return counters


def encode_state(state: AgentState) -> Snapshot:
    """The agent's model, counters, clock, timelines, accounts and trackers; the caller holds `state.lock`.
    Every container is a copy: the writer thread serializes it later, while the follower goes on."""
    segments = Segments()
    return {
        "settings": _settings(state),
        "schema_version": state.schema_version,
        "devices": [asdict(device) for device in state.devices],
        "declared_items": sorted(state.declared_items),
        "counters": encode_counters(state.counters),
        "clock": encode_clock(state.clock),
        "header": None if state.header is None else asdict(state.header),
        "last_success": state.last_success,
        "device_last_observation": dict(state.device_last_observation),
        "timelines": {device: encode_timeline(timeline, segments) for device, timeline in state.timelines.items()},
        "accounts": {device: encode_account(account, segments) for device, account in state.accounts.items()},
        "trackers": {item_id: encode_tracker(tracker, segments) for item_id, tracker in state.trackers.items()},
    }


def _settings(state: AgentState) -> Snapshot:
    """The settings the trackers were built with: the model is rebuilt (re-probed) when they differ."""
    settings = asdict(state.settings)
    return {
        name: sorted(value) if isinstance(value, (set, frozenset)) else list(value) if isinstance(value, tuple) else value
        for name, value in settings.items()
    }


def decode_state(data: Snapshot) -> Snapshot:
    segments = Segments()
    header = data["header"]
    return {
        "settings": data["settings"],
        "schema_version": str(data["schema_version"]),
        "devices": [Device(**{**device, "data_items": ()}) for device in data["devices"]],
        "declared_items": [str(item_id) for item_id in data["declared_items"]],
        "counters": decode_counters(data["counters"]),
        "clock": decode_clock(data["clock"]),
        "header": None if header is None else Header(**header),
        "last_success": _optional_float(data["last_success"]),
        "device_last_observation": _floats(data["device_last_observation"]),
        "timelines": {str(device): decode_timeline(timeline, segments) for device, timeline in data["timelines"].items()},
        "accounts": {
            str(device): decode_account(str(device), account, segments) for device, account in data["accounts"].items()
        },
        "trackers": {str(item_id): decode_tracker(tracker, segments) for item_id, tracker in data["trackers"].items()},
    }


def restore_state(state: AgentState, values: Snapshot) -> None:
    """Give a fresh state the saved model, counters and values."""
    with state.lock:
        state.counters = values["counters"]
        state.clock = values["clock"]
        state.header = values["header"]
        state.last_success = values["last_success"]
        state.device_last_observation = dict(values["device_last_observation"])
        state.timelines = dict(values["timelines"])
        state.accounts = dict(values["accounts"])
        for account in state.accounts.values():
            _reserve_alarm_series(account, state)
        trackers = values["trackers"]
        state.restore_model(values["schema_version"], values["devices"], values["declared_items"],
                            (saved["item"] for saved in trackers.values()))
        for item_id, saved in trackers.items():
            tracker = state.trackers.get(item_id)
            if tracker is not None and type(tracker).__name__ == saved["kind"]:
                restore_tracker(tracker, saved, state)


def _reserve_alarm_series(account: DeviceAccount, state: AgentState) -> None:
    """Alarm seconds series count against the series cap: what the cap refuses now is dropped and counted."""
    for condition, codes in account.losses.alarms.items():
        for code in [code for code in codes if not state.budget.reserve(1)]:
            del codes[code]
            state.counters.dropped_series += 1
    account.losses.alarms = {condition: codes for condition, codes in account.losses.alarms.items() if codes}


# -- the follower and its state together ----------------------------------------------


def take(follower: AgentFollower) -> Snapshot | None:
    """The follower's snapshot, or None while it is not reading `/sample` from a cursor (probing,
    resynchronising: the state and the cursor do not describe one position then)."""
    state = follower.state
    with state.lock:
        if follower.phase is not Phase.SAMPLE or follower.cursor is None or follower.instance_id is None:
            return None
        return {
            "instance_id": follower.instance_id,
            "cursor": follower.cursor,
            "announced_last": follower._announced_last,
            "model_change_time": follower.model_change_time,
            "model_hash": follower._model_hash,
            "state": encode_state(state),
        }


def resume(follower: AgentFollower, snapshot: Snapshot) -> bool:
    """Restore a snapshot into the follower and its (fresh) state; False, logged, when it does not decode."""
    name = follower.config.name
    try:
        instance_id, cursor = str(snapshot["instance_id"]), int(snapshot["cursor"])
        announced = snapshot["announced_last"]
        announced_last = None if announced is None else int(announced)
        model_change_time = _optional_str(snapshot["model_change_time"])
        model_hash = _optional_str(snapshot["model_hash"])
        values = decode_state(snapshot["state"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        log.warning("agent=%s snapshot does not fit, starting fresh: %s: %s", name, type(error).__name__, error)
        return False
    if values["settings"] != _settings(follower.state):
        model_hash = None  # other devices or event types wanted: the first probe rebuilds the model
    restore_state(follower.state, values)
    follower.resume(instance_id, cursor, model_hash, model_change_time, announced_last)
    log.info("agent=%s snapshot restored: instance %s, sequence %d", name, instance_id, cursor)
    return True
