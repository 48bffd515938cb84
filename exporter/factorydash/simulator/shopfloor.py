"""The simulated shop floor: machines driven by a seeded discrete-event simulation.

Each machine has its own random streams (process and signal noise), seeded
from the floor seed and its name, and all events run from one scheduler in
time order, so a seed gives the same observations whenever requests arrive.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from .agent import NORMAL_CONDITION, UNAVAILABLE_CONDITION, Condition
from .clock import US, Clock
from .floor import Floor, resolve_clock
from .model import element, safe_id
from .shifts import DEMO_CALENDAR, ShiftCalendar
from .truth import GroundTruth, IdealCycleTimes, Recorder, TimeElements

SIGNAL_PERIOD_S = 1.0
HOUR = 3600.0
FAULT_RATE_PER_H = 0.25
WARNING_RATE_PER_H = 0.6
ESTOP_RATE_PER_H = 0.04
DROPOUT_RATE_PER_H = 0.03
EXECUTION_PRIORITY = ("STOPPED", "INTERRUPTED", "FEED_HOLD")
CONDITION_ROLES = ("system", "logic_program", "motion_program", "actuator", "temperature", "coolant", "lubrication")

# (condition role, native code, native severity, qualifier, message)
FAULTS = (
    ("actuator", "SV0401", "3", "", "SERVO V-READY OFF"),
    ("actuator", "SV0410", "3", "", "EXCESS ERROR IN STOP Z"),
    ("system", "SP1241", "2", "", "SPINDLE ORIENTATION FAULT"),
    ("system", "EX1025", "2", "LOW", "HYDRAULIC PRESSURE LOW"),
    ("logic_program", "EX2001", "2", "", "TOOL CHANGER DOOR NOT CLOSED"),
    ("motion_program", "PS0010", "1", "", "IMPROPER G-CODE"),
    ("motion_program", "PS0011", "1", "", "FEED ZERO (COMMAND)"),
    ("temperature", "SP9031", "3", "HIGH", "SPINDLE MOTOR OVERHEAT"),
)
WARNINGS = (
    ("coolant", "2025", "1", "LOW", "COOLANT LEVEL LOW"),
    ("coolant", "2026", "1", "LOW", "COOLANT CONCENTRATION LOW"),
    ("lubrication", "2040", "1", "LOW", "WAY LUBE OIL LOW"),
    ("temperature", "SP2010", "1", "HIGH", "SPINDLE TEMPERATURE HIGH"),
    ("system", "2100", "1", "", "BATTERY LOW (ABS PULSE CODER)"),
)


@dataclass(frozen=True)
class MachineKind:
    key: str
    prefix: str
    manufacturer: str
    model: str
    description: str
    linear_axes: tuple[tuple[str, float, float], ...]  # (name, min, max) in mm
    rotary_axes: tuple[str, ...]
    spindle_rpm: tuple[float, float]
    feedrate: tuple[float, float]  # mm/s
    programs: tuple[tuple[str, float], ...]  # (PROGRAM, nominal cycle seconds of one part)
    scrap_rate: float
    load_s: tuple[float, float] = (20.0, 90.0)  # door open to unload and load one part
    batch: tuple[int, int] = (5, 30)  # parts per job


MILL_5X = MachineKind(
    "mill5x", "Mill5X", "DMG MORI", "DMU 50 3rd Generation", "5-axis universal milling machine",
    (("X", -250.0, 250.0), ("Y", -225.0, 225.0), ("Z", -400.0, 0.0)), ("A", "C"),
    (6000, 14000), (8, 40),
    (("IMPELLER_D120.H", 1080.0), ("BLISK_STAGE2.H", 1260.0), ("HOUSING_5AX_07.H", 480.0), ("MANIFOLD_44.H", 720.0)), 0.04,
)
LATHE = MachineKind(
    "lathe", "Lathe", "Okuma", "LB3000 EX II", "2-axis CNC turning centre",
    (("X", 0.0, 300.0), ("Z", -600.0, 0.0)), (),
    (800, 3500), (2, 12),
    (("O4711", 150.0), ("O1302", 240.0), ("O2208", 330.0), ("O5150", 420.0)), 0.02, (10.0, 40.0), (20, 60),  # a bar feeder: quick loading, long runs
)
VMC = MachineKind(
    "vmc", "VMC", "Haas", "VF-2SS", "vertical machining centre",
    (("X", -380.0, 380.0), ("Y", -200.0, 200.0), ("Z", -510.0, 0.0)), (),
    (4000, 12000), (10, 60),
    (("O01234", 240.0), ("O02017", 420.0), ("O03355", 600.0), ("O07001", 690.0)), 0.03, (15.0, 60.0),
)
KINDS = (MILL_5X, LATHE, VMC)


@dataclass(frozen=True)
class MachineInfo:
    name: str
    uuid: str
    kind: str
    manufacturer: str
    model: str
    serial_number: str
    items: Mapping[str, str]  # role -> data item id ("execution", "part_count_good", "x_position", ...)


# -- scripted events ---------------------------------------------------------------------


@dataclass(frozen=True)
class EmergencyStop:
    device: str
    duration: float


@dataclass(frozen=True)
class FeedHold:
    device: str
    duration: float


@dataclass(frozen=True)
class Interruption:
    device: str
    duration: float


@dataclass(frozen=True)
class ConditionFault:
    """A Fault on a condition role (see CONDITION_ROLES) that stops the machine for `duration`."""

    device: str
    duration: float
    condition: str = "system"
    native_code: str = "F900"
    text: str = "SCRIPTED FAULT"
    native_severity: str = "2"
    qualifier: str = ""


@dataclass(frozen=True)
class ConditionWarning:
    """A Warning on a condition role that clears after `duration`; the machine keeps running."""

    device: str
    duration: float
    condition: str = "system"
    native_code: str = "W900"
    text: str = "SCRIPTED WARNING"
    native_severity: str = "1"
    qualifier: str = ""


@dataclass(frozen=True)
class AdapterDropout:
    device: str
    duration: float


@dataclass(frozen=True)
class AgentRestart:
    pass


ScriptedEvent = EmergencyStop | FeedHold | Interruption | ConditionFault | ConditionWarning | AdapterDropout | AgentRestart


# -- the device model --------------------------------------------------------------------


def _di(items: dict[str, str], p: str, role: str, category: str, mt_type: str, **attrs: str | None) -> etree._Element:
    item_id = f"{p}_{role}"
    items[role] = item_id
    return element("DataItem", {"category": category, "id": item_id, "name": role, "type": mt_type, **attrs})


def _component(tag: str, attrs: dict[str, str | None], data_items: list[etree._Element], children: list[etree._Element] = ()) -> etree._Element:  # type: ignore[assignment]
    el = element(tag, attrs)
    if data_items:
        el.append(element("DataItems", None, *data_items))
    if children:
        el.append(element("Components", None, *children))
    return el


def build_machine(kind: MachineKind, name: str, uuid: str, serial: str, extra_items: int) -> tuple[etree._Element, dict[str, str]]:
    p = safe_id(name)
    items: dict[str, str] = {}
    axes = []
    for axis, _, _ in kind.linear_axes:
        a = axis.lower()
        axes.append(_component("Linear", {"id": f"{p}_{a}", "name": axis}, [
            _di(items, p, f"{a}_position", "SAMPLE", "POSITION", subType="ACTUAL", units="MILLIMETER", nativeUnits="MILLIMETER"),
            _di(items, p, f"{a}_load", "SAMPLE", "LOAD", units="PERCENT"),
        ]))
    for axis in kind.rotary_axes:
        a = axis.lower()
        axes.append(_component("Rotary", {"id": f"{p}_{a}", "name": axis}, [
            _di(items, p, f"{a}_angle", "SAMPLE", "ANGLE", subType="ACTUAL", units="DEGREE", nativeUnits="DEGREE"),
            _di(items, p, f"{a}_rotary_mode", "EVENT", "ROTARY_MODE"),
        ]))
    spindle_mode = _di(items, p, "spindle_rotary_mode", "EVENT", "ROTARY_MODE")
    spindle_mode.append(element("Constraints", None, element("Value")))
    spindle_mode[0][0].text = "SPINDLE"
    axes.append(_component("Rotary", {"id": f"{p}_s1", "name": "S1", "nativeName": "S"}, [
        _di(items, p, "spindle_speed", "SAMPLE", "ROTARY_VELOCITY", subType="ACTUAL", units="REVOLUTION/MINUTE", nativeUnits="REVOLUTION/MINUTE"),
        _di(items, p, "spindle_load", "SAMPLE", "LOAD", units="PERCENT"),
        _di(items, p, "spindle_temperature", "SAMPLE", "TEMPERATURE", units="CELSIUS"),
        spindle_mode,
        _di(items, p, "temperature", "CONDITION", "TEMPERATURE"),
    ]))
    path = _component("Path", {"id": f"{p}_path", "name": "path"}, [
        _di(items, p, "execution", "EVENT", "EXECUTION"),
        _di(items, p, "controller_mode", "EVENT", "CONTROLLER_MODE"),
        _di(items, p, "program", "EVENT", "PROGRAM"),
        _di(items, p, "part_count_all", "EVENT", "PART_COUNT", subType="ALL"),
        _di(items, p, "part_count_good", "EVENT", "PART_COUNT", subType="GOOD"),
        _di(items, p, "part_count_bad", "EVENT", "PART_COUNT", subType="BAD"),
        _di(items, p, "path_feedrate", "SAMPLE", "PATH_FEEDRATE", subType="ACTUAL", units="MILLIMETER/SECOND", nativeUnits="MILLIMETER/SECOND"),
        _di(items, p, "feedrate_override", "EVENT", "PATH_FEEDRATE_OVERRIDE", subType="PROGRAMMED", units="PERCENT"),
        _di(items, p, "spindle_override", "EVENT", "ROTARY_VELOCITY_OVERRIDE", units="PERCENT"),
        _di(items, p, "path_position", "SAMPLE", "PATH_POSITION", subType="ACTUAL", units="MILLIMETER_3D"),
        _di(items, p, "logic_program", "CONDITION", "LOGIC_PROGRAM"),
        _di(items, p, "motion_program", "CONDITION", "MOTION_PROGRAM"),
    ])
    controller = _component("Controller", {"id": f"{p}_controller", "name": "controller"}, [
        _di(items, p, "cutting_time", "SAMPLE", "ACCUMULATED_TIME", subType="x:CUTTING_TIME", units="SECOND"),
        _di(items, p, "system", "CONDITION", "SYSTEM"),
    ], [path])
    components = [
        _component("Axes", {"id": f"{p}_axes", "name": "base"}, [_di(items, p, "actuator", "CONDITION", "ACTUATOR")], axes),
        controller,
        _component("Door", {"id": f"{p}_door", "name": "door"}, [_di(items, p, "door_state", "EVENT", "DOOR_STATE")]),
        _component("Systems", {"id": f"{p}_systems", "name": "systems"}, [], [
            _component("Coolant", {"id": f"{p}_coolant", "name": "coolant"}, [_di(items, p, "coolant", "CONDITION", "SYSTEM")]),
            _component("Lubrication", {"id": f"{p}_lubrication", "name": "lubrication"}, [_di(items, p, "lubrication", "CONDITION", "SYSTEM")]),
        ]),
    ]
    if extra_items:
        kinds = (("TEMPERATURE", "CELSIUS"), ("LOAD", "PERCENT"), ("PRESSURE", "PASCAL"), ("VOLTAGE_AC", "VOLT"))
        components.append(_component("Sensor", {"id": f"{p}_sensor", "name": "extra"}, [
            _di(items, p, f"extra_{i}", "SAMPLE", kinds[i % len(kinds)][0], units=kinds[i % len(kinds)][1])
            for i in range(extra_items)
        ]))
    description = element("Description", {"manufacturer": kind.manufacturer, "model": kind.model, "serialNumber": serial})
    description.text = f"{kind.manufacturer} {kind.model} - {kind.description}"
    device = _component("Device", {"id": p, "name": name, "uuid": uuid}, [
        _di(items, p, "availability", "EVENT", "AVAILABILITY"),
        _di(items, p, "emergency_stop", "EVENT", "EMERGENCY_STOP"),
        _di(items, p, "functional_mode", "EVENT", "FUNCTIONAL_MODE"),
        _di(items, p, "asset_changed", "EVENT", "ASSET_CHANGED"),
        _di(items, p, "asset_removed", "EVENT", "ASSET_REMOVED"),
    ], components)
    device.insert(0, description)
    return device, items


# -- behaviour ----------------------------------------------------------------------------


def _round(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass
class _Signal:
    """A numeric sample reported on change beyond a deadband, like an adapter does."""

    role: str
    deadband: float
    digits: int
    reported: float | None = None


@dataclass
class _Physics:
    rpm_cmd: float = 0.0
    feed_cmd: float = 0.0
    load_base: float = 0.0
    feed_override: int = 100
    spindle_override: int = 100
    tau: float = 0.0
    spindle_temp: float = 24.0
    cutting_time: float = 0.0
    positions: dict[str, float] = field(default_factory=dict)


class Machine:
    def __init__(self, floor: ShopFloor, kind: MachineKind, info: MachineInfo, adapter_id: str, seed: int, extra_rate: float) -> None:
        self.floor = floor
        self.kind = kind
        self.info = info
        self.items = info.items
        self.adapter_id = adapter_id
        self.rng = random.Random(f"{seed}:{info.name}:process")
        self.noise = random.Random(f"{seed}:{info.name}:noise")
        self.extra_rng = random.Random(f"{seed}:{info.name}:extra")
        self.values: dict[str, str] = {}
        self.conditions: dict[str, dict[str, Condition]] = {role: {} for role in CONDITION_ROLES}
        self.connected = True
        self.base_execution = "READY"
        self.halts: dict[int, str] = {}
        self._halt_ids = 0
        self._estops = 0
        self._token = 0
        self._due_us: int | None = None
        self._frozen_us: int | None = None
        self.physics = _Physics(cutting_time=float(self.rng.randint(200_000, 9_000_000)))
        self.signals = [
            _Signal("spindle_speed", 5.0, 0), _Signal("spindle_load", 2.0, 0), _Signal("path_feedrate", 0.5, 1),
            _Signal("spindle_temperature", 0.5, 1), _Signal("cutting_time", 5.0, 0),
            *(_Signal(f"{a.lower()}_position", 0.05, 3) for a, _, _ in kind.linear_axes),
            *(_Signal(f"{a.lower()}_load", 2.0, 0) for a, _, _ in kind.linear_axes),
            *(_Signal(f"{a.lower()}_angle", 0.1, 2) for a in kind.rotary_axes),
        ]
        self.extras = [role for role in self.items if role.startswith("extra_")]
        self.extra_values = {role: 50.0 for role in self.extras}
        self.extra_rate = extra_rate
        self._program, self._cycle_s = self.rng.choice(kind.programs)
        for axis, lo, hi in kind.linear_axes:
            self.physics.positions[axis] = round(hi - 0.1 * (hi - lo), 3)

    # -- emission ---------------------------------------------------------------------------

    @property
    def now_us(self) -> int:
        return self.floor.scheduler.now_us

    def set(self, role: str, value: str) -> None:
        item_id = self.items[role]
        if self.values.get(item_id) == value:
            return
        self.values[item_id] = value
        if self.connected:
            self.floor.publish(item_id, value)

    def raise_condition(self, role: str, level: str, code: str, severity: str, qualifier: str, text: str) -> bool:
        active = self.conditions[role]
        if code in active:
            return False
        active[code] = Condition(level, code, severity, qualifier, text)
        if self.connected:
            self.floor.publish(self.items[role], active[code])
        return True

    def clear_condition(self, role: str, code: str) -> None:
        active = self.conditions[role]
        if active.pop(code, None) is None or not self.connected:
            return
        self.floor.publish(self.items[role], Condition("Normal", code) if active else NORMAL_CONDITION)

    def publish_all(self) -> None:
        """What an adapter sends when it (re)connects: every value it knows."""
        for item_id, value in self.values.items():
            self.floor.publish(item_id, value)
        for role, active in self.conditions.items():
            if active:
                for condition in active.values():
                    self.floor.publish(self.items[role], condition)
            else:
                self.floor.publish(self.items[role], NORMAL_CONDITION)

    # -- execution and halts ----------------------------------------------------------------

    def execution(self) -> str:
        if self.halts:
            return min(self.halts.values(), key=EXECUTION_PRIORITY.index)
        return self.base_execution

    def set_base_execution(self, value: str) -> None:
        self.base_execution = value
        self.set("execution", self.execution())

    def halt(self, execution: str, duration: float, on_end: list | None = None) -> None:  # type: ignore[type-arg]
        """Stop the production clock for `duration` showing `execution` (STOPPED, FEED_HOLD, ...)."""
        self._halt_ids += 1
        halt_id = self._halt_ids
        self.halts[halt_id] = execution
        if self._due_us is not None and self._frozen_us is None:
            self._frozen_us = self._due_us - self.now_us
            self._due_us = None
            self._token += 1
        self.set("execution", self.execution())

        def end() -> None:
            del self.halts[halt_id]
            for callback in on_end or ():
                callback()
            self.set("execution", self.execution())
            if not self.halts and self._frozen_us is not None:
                remaining, self._frozen_us = self._frozen_us, None
                self._schedule_resume(remaining)

        self.floor.scheduler.after(duration, end)

    def _schedule_resume(self, delay_us: int) -> None:
        if self.halts:
            self._frozen_us = delay_us
            return
        self._token += 1
        token = self._token
        self._due_us = self.now_us + delay_us
        self.floor.scheduler.at(self._due_us, lambda: self._resume(token))

    def _resume(self, token: int) -> None:
        if token != self._token:
            return
        self._due_us = None
        delay = next(self._process)
        self._schedule_resume(max(1, round(delay * US)))

    # -- the processes ----------------------------------------------------------------------

    def start(self) -> None:
        self.set("availability", "AVAILABLE")
        self.set("emergency_stop", "ARMED")
        self.set("functional_mode", "PRODUCTION")
        self.set("controller_mode", "AUTOMATIC")
        self.set_base_execution("READY")
        self.set("program", self._program)
        for role in ("part_count_all", "part_count_good", "part_count_bad"):
            self.set(role, "0")
        self.set("door_state", "CLOSED")
        self.set("spindle_rotary_mode", "SPINDLE")
        for axis in self.kind.rotary_axes:
            self.set(f"{axis.lower()}_rotary_mode", "INDEX")
        self.set("feedrate_override", "100")
        self.set("spindle_override", "100")
        self._signals_tick(first=True)
        for role in CONDITION_ROLES:
            self.floor.publish(self.items[role], NORMAL_CONDITION)
        for role in self.extras:
            self.set(role, _round(self.extra_values[role], 2))
        self.floor.set_connection_status(self.adapter_id, "ESTABLISHED")
        self._process = self._production()
        self._schedule_resume(max(1, round(next(self._process) * US)))
        self._next_shift_change()
        self._next_random(FAULT_RATE_PER_H, self._random_fault)
        self._next_random(WARNING_RATE_PER_H, self._random_warning)
        self._next_random(ESTOP_RATE_PER_H, self._random_estop)
        self._next_random(DROPOUT_RATE_PER_H, self._random_dropout)
        self.floor.scheduler.after(SIGNAL_PERIOD_S, self._signals_tick)
        if self.extras and self.extra_rate > 0:
            self.floor.scheduler.after(1 / self.extra_rate, self._extras_tick)

    def _working_delay(self) -> float:
        """Seconds until the plant's calendar plans work again (0 when it does now)."""
        calendar = self.floor.calendar
        if calendar is None:
            return 0.0
        planned = calendar.next_planned_busy(self.now_us)
        return (planned - self.now_us) / US if planned is not None else 86400.0

    def _production(self) -> Generator[float, None, None]:
        r, k = self.rng, self.kind
        first_job = True
        while True:
            batch = r.randint(*k.batch)
            self.physics.rpm_cmd = r.uniform(*k.spindle_rpm)
            self.physics.feed_cmd = r.uniform(*k.feedrate)
            self.physics.load_base = r.uniform(20, 60)
            if not first_job:
                while (delay := self._working_delay()) > 0:
                    self.set_base_execution("READY")
                    yield delay
                self._program, self._cycle_s = r.choice(k.programs)
                self.set("controller_mode", "MANUAL")
                self.set("functional_mode", "SETUP")
                self.set_base_execution("READY")
                self.set("program", self._program)
                self.set("door_state", "OPEN")
                yield r.uniform(240, 900)
                self.set("door_state", "CLOSED")
                if r.random() < 0.5:
                    self.set("controller_mode", "MANUAL_DATA_INPUT")
                    self.set_base_execution("ACTIVE")
                    yield r.uniform(20, 120)
                    self.set_base_execution("READY")
                self.set("controller_mode", "AUTOMATIC")
                self.set("functional_mode", "PRODUCTION")
            first_job = False
            for _ in range(batch):
                while (delay := self._working_delay()) > 0:
                    self.set_base_execution("READY")
                    yield delay
                self.set_base_execution("READY")
                self.set("door_state", "OPEN")
                yield r.uniform(*k.load_s)
                self.set("door_state", "CLOSED")
                yield r.uniform(2, 6)
                if r.random() < 0.08:
                    self.physics.feed_override = r.choice((80, 90, 100, 110, 120))
                    self.physics.spindle_override = r.choice((90, 100, 100, 110))
                    self.set("feedrate_override", str(self.physics.feed_override))
                    self.set("spindle_override", str(self.physics.spindle_override))
                self.physics.tau = 0.0
                self.set_base_execution("ACTIVE")
                cut = self._cycle_s * r.uniform(0.97, 1.05)
                incident = r.random()
                if incident < 0.17:
                    first_part = cut * r.uniform(0.1, 0.9)
                    yield first_part
                    if incident < 0.12:
                        self.halt("FEED_HOLD", r.uniform(10, 180))
                    else:
                        self.halt("INTERRUPTED", r.uniform(30, 300))
                    yield cut - first_part
                else:
                    yield cut
                self.set_base_execution("PROGRAM_COMPLETED")
                self.set("part_count_all", str(int(self.values[self.items["part_count_all"]]) + 1))
                quality = "part_count_bad" if r.random() < k.scrap_rate else "part_count_good"
                self.set(quality, str(int(self.values[self.items[quality]]) + 1))
                yield r.uniform(3, 10)

    def _next_shift_change(self) -> None:
        """Operators reset the part counters when a shift of the plant's calendar starts."""
        calendar = self.floor.calendar
        if calendar is None:
            return
        upcoming = [s.start_us for s in calendar.shifts_between(self.now_us, self.now_us + 15 * 86400 * US)]
        later = [start for start in upcoming if start > self.now_us]
        if not later:
            return

        def change() -> None:
            for role in ("part_count_all", "part_count_good", "part_count_bad"):
                self.set(role, "0")
            self._next_shift_change()

        self.floor.scheduler.at(later[0], change)

    def _next_random(self, rate_per_h: float, action: callable) -> None:  # type: ignore[valid-type]
        def fire() -> None:
            action()
            self._next_random(rate_per_h, action)

        self.floor.scheduler.after(self.rng.expovariate(rate_per_h / HOUR), fire)

    def _random_fault(self) -> None:
        role, code, severity, qualifier, text = self.rng.choice(FAULTS)
        self.fault(role, "Fault", code, severity, qualifier, text, self.rng.uniform(60, 900))

    def _random_warning(self) -> None:
        role, code, severity, qualifier, text = self.rng.choice(WARNINGS)
        self.fault(role, "Warning", code, severity, qualifier, text, self.rng.uniform(300, 2700))

    def _random_estop(self) -> None:
        self.emergency_stop(self.rng.uniform(30, 300))

    def _random_dropout(self) -> None:
        self.drop_out(self.rng.uniform(20, 600))

    def fault(self, role: str, level: str, code: str, severity: str, qualifier: str, text: str, duration: float) -> None:
        if role not in CONDITION_ROLES:
            raise ValueError(f"unknown condition {role!r}; one of {', '.join(CONDITION_ROLES)}")
        if not self.raise_condition(role, level, code, severity, qualifier, text):
            return
        clear = lambda: self.clear_condition(role, code)  # noqa: E731
        if level == "Fault":
            self.halt("STOPPED", duration, on_end=[clear])
        else:
            self.floor.scheduler.after(duration, clear)

    def emergency_stop(self, duration: float) -> None:
        self._estops += 1
        self.set("emergency_stop", "TRIGGERED")
        self.halt("STOPPED", duration, on_end=[self._release_estop])

    def _release_estop(self) -> None:
        self._estops -= 1
        if not self._estops:
            self.set("emergency_stop", "ARMED")

    def drop_out(self, duration: float) -> None:
        if not self.connected:
            return
        self.connected = False
        for role, item_id in self.items.items():
            value = UNAVAILABLE_CONDITION if role in CONDITION_ROLES else "UNAVAILABLE"
            self.floor.publish(item_id, value, agent_generated=True)
        self.floor.set_connection_status(self.adapter_id, "CLOSED")
        self.floor.scheduler.after(duration, self._reconnect)

    def _reconnect(self) -> None:
        self.connected = True
        self.floor.set_connection_status(self.adapter_id, "ESTABLISHED")
        self.publish_all()

    # -- signals ----------------------------------------------------------------------------

    def _signals_tick(self, first: bool = False) -> None:
        ph, n = self.physics, self.noise
        execution = self.execution()
        cutting = execution == "ACTIVE"
        dt = 0.0 if first else SIGNAL_PERIOD_S
        rpm = ph.rpm_cmd * ph.spindle_override / 100 * (1 + n.gauss(0, 0.003)) if cutting else 0.0
        load = max(0.0, ph.load_base + n.gauss(0, 4)) if cutting else 0.0
        feed = ph.feed_cmd * ph.feed_override / 100 * (1 + n.gauss(0, 0.02)) if cutting else 0.0
        target_temp = 24 + 0.3 * load + rpm / 1000
        ph.spindle_temp += (target_temp - ph.spindle_temp) * (1 - math.exp(-dt / 600))
        values = {"spindle_speed": rpm, "spindle_load": load, "path_feedrate": feed, "spindle_temperature": ph.spindle_temp}
        if cutting:
            ph.tau += dt
            ph.cutting_time += dt
            for i, (axis, lo, hi) in enumerate(self.kind.linear_axes):
                mid, amp = (lo + hi) / 2, (hi - lo) * 0.3
                ph.positions[axis] = mid + amp * math.sin(ph.tau / (17 + 11 * i) + i) + n.gauss(0, 0.01)
        values["cutting_time"] = ph.cutting_time
        for axis, _, _ in self.kind.linear_axes:
            values[f"{axis.lower()}_position"] = ph.positions[axis]
            values[f"{axis.lower()}_load"] = max(0.0, load * 0.4 + n.gauss(0, 2)) if cutting else 0.0
        for i, axis in enumerate(self.kind.rotary_axes):
            values[f"{axis.lower()}_angle"] = (
                (30 * math.sin(ph.tau / 40) if i == 0 else (ph.tau * 6) % 360) if cutting else 0.0
            )
        path_changed = False
        for signal in self.signals:
            value = values[signal.role]
            if signal.reported is None or abs(value - signal.reported) >= signal.deadband or (value == 0 and signal.reported != 0):
                signal.reported = round(value, signal.digits)
                self.set(signal.role, _round(value, signal.digits))
                path_changed |= signal.role.endswith("_position")
        if path_changed:
            pos = ph.positions
            self.set("path_position", " ".join(_round(pos.get(a, 0.0), 3) for a in ("X", "Y", "Z")))
        if not first:
            self.floor.scheduler.after(SIGNAL_PERIOD_S, self._signals_tick)

    def _extras_tick(self) -> None:
        r = self.extra_rng
        for role in self.extras:
            self.extra_values[role] += r.gauss(0, 1)
            self.set(role, _round(self.extra_values[role], 2))
        self.floor.scheduler.after(1 / self.extra_rate, self._extras_tick)


class ShopFloor(Floor):
    """Three (or `machines`) simulated machine tools behind one MTConnect agent.

    clock: None (real time x speed), "manual" (tests: advance() moves time), or a Clock.
    start: the simulated start (aware datetime); default: now, whole seconds.
    calendar: the plant's shifts and breaks: machines start no part in a break or between shifts,
        and part counters reset when a shift starts; None works around the clock.
    adapter_clock_offset: seconds the adapters' clock is ahead of the agent's (negative: behind).
    """

    def __init__(
        self,
        seed: int = 1,
        speed: float = 1.0,
        schema_version: str = "2.0",
        buffer_size: int = 131072,
        clock: Clock | str | None = None,
        *,
        start: datetime | None = None,
        machines: int = 3,
        extra_items: int = 0,
        change_rate: float = 1.0,
        timestamps_with_zone: bool = True,
        calendar: ShiftCalendar | None = DEMO_CALENDAR,
        adapter_clock_offset: float = 0.0,
    ) -> None:
        resolved, start_us = resolve_clock(clock, start, speed)
        self.calendar = calendar
        devices = element("Devices")
        infos = []
        for i in range(machines):
            kind = KINDS[i % len(KINDS)]
            name = f"{kind.prefix}-{i + 1:02d}"
            serial = f"{kind.key.upper()}-{1000 + 37 * i + seed % 1000}"
            device, items = build_machine(kind, name, f"factorydash-{safe_id(name)}", serial, extra_items)
            devices.append(device)
            infos.append(MachineInfo(name, f"factorydash-{safe_id(name)}", kind.key, kind.manufacturer, kind.model, serial, items))
        adapters = [(f"_127.0.0.1_{7878 + i}", f"shdr://127.0.0.1:{7878 + i}") for i in range(machines)]
        self.seed = seed
        self.recorder = Recorder()
        super().__init__(
            devices, clock=resolved, start_us=start_us, schema_version=schema_version, buffer_size=buffer_size,
            adapters=adapters, timestamps_with_zone=timestamps_with_zone, adapter_clock_offset=adapter_clock_offset,
        )
        self.devices: tuple[MachineInfo, ...] = tuple(infos)
        self._machines = {
            info.name: Machine(self, KINDS[i % len(KINDS)], info, adapters[i][0], seed, change_rate)
            for i, info in enumerate(infos)
        }
        with self.lock:
            for machine in self._machines.values():
                machine.start()

    def publish(self, item_id: str, value: str | Condition, agent_generated: bool = False) -> None:
        """Into the agent, stamped by the adapter's clock (or the agent's own for what it generates,
        such as the UNAVAILABLE of a disconnect); the ground truth records the true (agent) time."""
        now = self.scheduler.now_us
        stamp = now if agent_generated else now + self.adapter_clock_offset_us
        if self.agent.add(item_id, stamp, value) is not None:
            self.recorder.observe(self.agent.items[item_id], now, value)

    def _republish(self) -> None:
        for machine in self._machines.values():
            if machine.connected:
                self.set_connection_status(machine.adapter_id, "ESTABLISHED")
                machine.publish_all()

    def machine(self, device: str) -> Machine:
        for machine in self._machines.values():
            if device in (machine.info.name, machine.info.uuid):
                return machine
        raise KeyError(f"no simulated machine {device!r}")

    def schedule(self, at: float | datetime, event: ScriptedEvent) -> None:
        """Run a scripted event at `at` (seconds since the start, or an aware datetime)."""
        with self.lock:
            when = self.time_us(at)
            if isinstance(event, AgentRestart):
                self.scheduler.at(when, self._restart_now)
                return
            machine = self.machine(event.device)
            match event:
                case EmergencyStop(duration=d):
                    action = lambda: machine.emergency_stop(d)  # noqa: E731
                case FeedHold(duration=d):
                    action = lambda: machine.halt("FEED_HOLD", d)  # noqa: E731
                case Interruption(duration=d):
                    action = lambda: machine.halt("INTERRUPTED", d)  # noqa: E731
                case ConditionFault() | ConditionWarning():
                    level = "Fault" if isinstance(event, ConditionFault) else "Warning"
                    action = lambda: machine.fault(  # noqa: E731
                        event.condition, level, event.native_code, event.native_severity, event.qualifier, event.text, event.duration
                    )
                case AdapterDropout(duration=d):
                    action = lambda: machine.drop_out(d)  # noqa: E731
                case _:
                    raise TypeError(f"not a scripted event: {event!r}")
            self.scheduler.at(when, action)

    def ground_truth(self, device: str, start: float | datetime, end: float | datetime) -> GroundTruth:
        """Exact KPIs of one machine for [start, end) (seconds since the start, or aware datetimes)."""
        with self.lock:
            self.sync()
            start_us, end_us = self.time_us(start), self.time_us(end)
            if end_us > self.scheduler.now_us:
                raise ValueError("the window ends after the simulated present")
            return self.recorder.ground_truth(self.machine(device).info.name, start_us, end_us)

    def time_elements(
        self,
        device: str,
        start: float | datetime,
        end: float | datetime,
        ideal: IdealCycleTimes = IdealCycleTimes(),
        quality_source: str | None = None,
        per_shift: bool = True,
    ) -> tuple[TimeElements, ...]:
        """ISO 22400 time elements of one machine per shift of the floor's calendar within [start, end)
        (Recorder.time_elements)."""
        with self.lock:
            self.sync()
            start_us, end_us = self.time_us(start), self.time_us(end)
            if end_us > self.scheduler.now_us:
                raise ValueError("the window ends after the simulated present")
            name = self.machine(device).info.name
            return self.recorder.time_elements(name, self.calendar, start_us, end_us, ideal, quality_source, per_shift)
