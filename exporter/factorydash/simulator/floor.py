"""What the simulated shop floor and the replay have in common: clock, scheduler, agent, lock."""

from __future__ import annotations

import threading
import time
import uuid as uuidlib
from abc import ABC, abstractmethod
from datetime import datetime

from lxml import etree

from .agent import Agent, agent_device, schema_at_least
from .clock import US, Clock, ManualClock, RealClock, Scheduler, from_us, to_us


def resolve_clock(clock: Clock | str | None, start: datetime | None, speed: float) -> tuple[Clock, int]:
    """(clock, start in µs): "manual" -> ManualClock, None -> real time x speed, or a given clock."""
    if isinstance(clock, str):
        if clock != "manual":
            raise ValueError(f"unknown clock {clock!r} (use 'manual', None or a Clock)")
        start_us = to_us(start) if start else int(time.time()) * US
        return ManualClock(start_us), start_us
    if clock is None:
        start_us = to_us(start) if start else int(time.time()) * US
        return RealClock(start_us, speed), start_us
    return clock, clock.now_us()


class Floor(ABC):
    """Owns the agent; `sync()` runs every simulation event up to the clock's now."""

    def __init__(
        self,
        devices: etree._Element,
        *,
        clock: Clock,
        start_us: int,
        schema_version: str,
        buffer_size: int,
        adapters: list[tuple[str, str]],
        timestamps_with_zone: bool = True,
        adapter_clock_offset: float = 0.0,
    ) -> None:
        self.clock = clock
        # The adapters' clock minus the agent's: what the agent generates itself carries its own clock.
        self.adapter_clock_offset_us = round(adapter_clock_offset * US)
        self.start_us = start_us
        self.lock = threading.RLock()
        self.scheduler = Scheduler(start_us)
        self._adapters = adapters
        self._has_agent_device = schema_at_least(schema_version, 2, 0)
        if self._has_agent_device:
            agent_uuid = str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "factorydash-simulator"))
            devices.insert(0, agent_device(agent_uuid, schema_version, adapters))
        self.agent = Agent(
            devices,
            schema_version=schema_version,
            buffer_size=buffer_size,
            now_us=lambda: self.scheduler.now_us,
            timestamps_with_zone=timestamps_with_zone,
        )
        self._publish_agent_items()

    @property
    def start(self) -> datetime:
        return from_us(self.start_us)

    def now(self) -> datetime:
        return from_us(self.scheduler.now_us)

    def sync(self) -> None:
        with self.lock:
            self.scheduler.run_until(self.clock.now_us())

    def advance(self, seconds: float) -> None:
        """Manual clock only: move simulated time forward and run everything up to it."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs a manual clock (clock='manual')")
        self.clock.advance(seconds)
        self.sync()

    def restart(self) -> None:
        """Agent restart: new instanceId, empty buffer, every item UNAVAILABLE, then the adapters resend."""
        with self.lock:
            self.sync()
            self._restart_now()

    def _restart_now(self) -> None:
        self.agent.restart()
        self._publish_agent_items()
        self._republish()

    @abstractmethod
    def _republish(self) -> None:
        """After an agent restart: publish every machine's current values again, as adapters do."""

    def _publish_agent_items(self) -> None:
        if not self._has_agent_device:
            return
        now = self.scheduler.now_us
        self.agent.add("agent_avail", now, "AVAILABLE")
        for adapter_id, uri in self._adapters:
            self.agent.add(f"{adapter_id}_adapter_uri", now, uri)
            self.agent.add(f"{adapter_id}_connection_status", now, "LISTEN")

    def set_connection_status(self, adapter_id: str, status: str) -> None:
        if self._has_agent_device:
            self.agent.add(f"{adapter_id}_connection_status", self.scheduler.now_us, status)

    def time_us(self, at: float | datetime) -> int:
        """Seconds since the start, or an aware datetime, as simulated µs."""
        return to_us(at) if isinstance(at, datetime) else self.start_us + round(at * US)
