"""How one simulated machine behaves: production cycles, shifts, halts, faults, dropouts and its signals.

Over 400 lines because `Machine` is one state machine: its production loop, the halts that interrupt it
(emergency stop, feed hold, faults, adapter dropouts) and the signals that follow it share the same
schedule token and execution state, and split apart they would have to reach into each other.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .agent import NORMAL_CONDITION, UNAVAILABLE_CONDITION, Condition
from .clock import US
from .machines import CONDITION_ROLES, FAULTS, WARNINGS, MachineInfo, MachineKind

if TYPE_CHECKING:
    from .shopfloor import ShopFloor

SIGNAL_PERIOD_S = 1.0
HOUR = 3600.0
FAULT_RATE_PER_H = 0.25
WARNING_RATE_PER_H = 0.6
ESTOP_RATE_PER_H = 0.04
DROPOUT_RATE_PER_H = 0.03
EXECUTION_PRIORITY = ("STOPPED", "INTERRUPTED", "FEED_HOLD")


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
