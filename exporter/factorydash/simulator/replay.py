"""Replay of a recorded SHDR adapter log through the agent.

Lines are `timestamp|key|value|key|value...`; a condition takes five fields
(`level|nativeCode|nativeSeverity|qualifier|text`), MESSAGE and ALARM two
(`nativeCode|text`). Keys map to the device file's data items by name, then
id, like cppagent; `Device:key` addresses another device. The first line is
played at the start and the original spacing is kept in simulated time (so
`speed` plays it faster in real time); with `loop` it starts over after the
last line.

Timestamps (`timestamps`): "now" re-stamps each line with the simulated
present; "original" keeps the log's own timestamps on the adapter's data, as
cppagent does when an adapter sends timestamped lines, while the agent stamps
what it generates itself (its start-up UNAVAILABLE, the Agent device's items,
every Header's creationTime) with its own clock. A looped original replay
starts over at the log's first timestamp, a jump back in time each round.
`adapter_clock_offset` (seconds) is added to every adapter timestamp.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from .agent import Condition
from .clock import US, Clock, to_us
from .floor import Floor, resolve_clock
from .model import DataItem, DeviceModel, index_devices, parse_devices_file

log = logging.getLogger(__name__)
_LEVELS = {"normal": "Normal", "warning": "Warning", "fault": "Fault", "unavailable": "Unavailable"}
_ADAPTER = ("_127.0.0.1_7878", "shdr://127.0.0.1:7878")
TIMESTAMP_MODES = ("now", "original")


def read_shdr(path: Path) -> list[tuple[int, list[str]]]:
    """(timestamp µs, fields after the timestamp) per line; blank and unparsable lines are skipped."""
    lines = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, raw in enumerate(f, 1):
            fields = raw.rstrip("\r\n").split("|")
            if len(fields) < 3:
                continue
            try:
                stamp = datetime.fromisoformat(fields[0])
            except ValueError:
                log.warning("replay: %s:%d: bad timestamp %r, line skipped", path, number, fields[0][:40])
                continue
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            lines.append((to_us(stamp), fields[1:]))
    if not lines:
        raise ValueError(f"{path}: no SHDR lines")
    return lines


def _lookup_table(model: DeviceModel) -> dict[str, DataItem]:
    table = {item.id: item for item in model.items}
    table.update({item.name: item for item in model.items if item.name})
    return table


class ReplayFloor(Floor):
    def __init__(
        self,
        log_file: Path,
        devices_file: Path,
        *,
        speed: float = 1.0,
        loop: bool = False,
        device: str | None = None,
        schema_version: str = "1.3",
        buffer_size: int = 131072,
        clock: Clock | str | None = None,
        start: datetime | None = None,
        timestamps_with_zone: bool = True,
        timestamps: str = "now",
        adapter_clock_offset: float = 0.0,
    ) -> None:
        if timestamps not in TIMESTAMP_MODES:
            raise ValueError(f"timestamps {timestamps!r} not in {', '.join(TIMESTAMP_MODES)}")
        self.timestamps = timestamps
        self._lines = read_shdr(Path(log_file))
        devices = parse_devices_file(Path(devices_file))
        models = [m for m in index_devices(devices) if m.element_tag == "Device"]
        tables = {m.name: _lookup_table(m) for m in models}
        if device is None:
            keys = Counter(fields[i] for _, fields in self._lines[:5000] for i in range(0, len(fields), 2))
            device = max(tables, key=lambda name: sum(n for key, n in keys.items() if key in tables[name]))
        if device not in tables:
            raise ValueError(f"device {device!r} not in {devices_file}")
        self.device = device
        self._tables = tables
        self._unknown: set[str] = set()
        self._loop = loop
        self._loop_length_us = self._lines[-1][0] - self._lines[0][0] + US
        self._values: dict[str, str | Condition] = {}
        self._active: dict[str, dict[str, Condition]] = {}
        resolved, start_us = resolve_clock(clock, start, speed)
        super().__init__(
            devices, clock=resolved, start_us=start_us, schema_version=schema_version, buffer_size=buffer_size,
            adapters=[_ADAPTER], timestamps_with_zone=timestamps_with_zone, adapter_clock_offset=adapter_clock_offset,
        )
        self.set_connection_status(_ADAPTER[0], "ESTABLISHED")
        self._offset_us = start_us - self._lines[0][0]
        self.scheduler.at(start_us, lambda: self._play(0))

    def _adapter_now_us(self) -> int:
        """The adapter's clock now: the simulated present, or the log's time at this point of the replay."""
        shift = self._offset_us if self.timestamps == "original" else 0
        return self.scheduler.now_us - shift + self.adapter_clock_offset_us

    def _play(self, index: int) -> None:
        line_us, fields = self._lines[index]
        if self.timestamps == "original":
            self._apply_line(fields, line_us + self.adapter_clock_offset_us)
        else:
            self._apply_line(fields, self.scheduler.now_us + self.adapter_clock_offset_us)
        index += 1
        if index == len(self._lines):
            if not self._loop:
                return
            index = 0
            self._offset_us += self._loop_length_us
        self.scheduler.at(max(self.scheduler.now_us, self._lines[index][0] + self._offset_us), lambda: self._play(index))

    def _item(self, key: str) -> DataItem | None:
        device, _, local = key.rpartition(":")
        table = self._tables.get(device) if device in self._tables else self._tables[self.device]
        item = table.get(local if device in self._tables else key)
        if item is None and key not in self._unknown:
            self._unknown.add(key)
            log.warning("replay: no data item named %r in device %s, ignored", key, self.device)
        return item

    def _apply_line(self, fields: list[str], stamp_us: int) -> None:
        i = 0
        while i < len(fields):
            item = self._item(fields[i])
            if item is None:
                i += 2
                continue
            value: str | Condition
            if item.is_condition:
                level, code, severity, qualifier, text = (fields[i + 1 : i + 6] + [""] * 5)[:5]
                i += 6
                if level.lower() not in _LEVELS:
                    continue
                value = Condition(_LEVELS[level.lower()], code, severity, qualifier, text)
            elif item.type in ("MESSAGE", "ALARM"):
                value = fields[i + 2] if i + 2 < len(fields) else ""
                i += 3
            else:
                value = fields[i + 1] if i + 1 < len(fields) else ""
                i += 2
            self._remember(item, value)
            self.agent.add(item.id, stamp_us, value)

    def _remember(self, item: DataItem, value: str | Condition) -> None:
        if isinstance(value, Condition):
            active = self._active.setdefault(item.id, {})
            if value.active:
                active[value.native_code] = value
                return
            if value.level == "Normal" and value.native_code:
                active.pop(value.native_code, None)
            else:
                active.clear()
        self._values[item.id] = value

    def _republish(self) -> None:
        self.set_connection_status(_ADAPTER[0], "ESTABLISHED")
        now = self._adapter_now_us()
        for item_id in self._values.keys() | {k for k, active in self._active.items() if active}:
            active = self._active.get(item_id)
            for value in active.values() if active else (self._values[item_id],):
                self.agent.add(item_id, now, value)
