"""The simulated shop floor: machines driven by a seeded discrete-event simulation.

Each machine has its own random streams (process and signal noise), seeded
from the floor seed and its name, and all events run from one scheduler in
time order, so a seed gives the same observations whenever requests arrive.
"""

from __future__ import annotations

from datetime import datetime

from .agent import Condition
from .clock import Clock
from .events import (
    AdapterDropout,
    AgentRestart,
    ConditionFault,
    ConditionWarning,
    EmergencyStop,
    FeedHold,
    Interruption,
    ScriptedEvent,
)
from .floor import Floor, resolve_clock
from .machines import KINDS, MachineInfo, build_machine
from .model import element, safe_id
from .production import Machine
from .shifts import DEMO_CALENDAR, ShiftCalendar
from .truth import GroundTruth, IdealCycleTimes, Recorder, TimeElements


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
