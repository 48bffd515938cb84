"""factorydash-simulator: the simulated shop floor (or a replayed adapter log) as an MTConnect agent."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from datetime import datetime
from pathlib import Path

from ..durations import parse_duration  # one duration syntax for both programs
from .agent import SCHEMA_VERSIONS
from .floor import Floor
from .replay import TIMESTAMP_MODES, ReplayFloor
from .shifts import DEMO_CALENDAR
from .server import SimulatorServer
from .shopfloor import ShopFloor

log = logging.getLogger(__name__)


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _positive(kind: type) -> object:
    def parse(text: str) -> object:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def _duration(text: str) -> float:
    """Seconds from the exporter's duration syntax ("90s", "1h30m", a number), optionally negative."""
    sign, rest = (-1.0, text[1:]) if text.startswith("-") else (1.0, text)
    seconds = parse_duration(rest)
    if seconds is None:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90s, -2h or 1h30m, got {text!r}")
    return sign * seconds


def _start(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("--start needs a zone, e.g. 2026-01-05T06:00:00Z")
    return moment


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="factorydash-simulator",
        description="A simulated shop floor served as a real MTConnect agent (probe, current, sample, streaming).",
    )
    p.add_argument("--web.listen-address", dest="listen", type=_address, default=("127.0.0.1", 5000),
                   metavar="HOST:PORT", help="address to serve the agent on (default 127.0.0.1:5000)")
    p.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same shop floor (default 1)")
    p.add_argument("--speed", type=_positive(float), default=1.0, help="simulated seconds per real second (default 1)")
    p.add_argument("--schema-version", choices=SCHEMA_VERSIONS, default="2.0", help="MTConnect schema version (default 2.0)")
    p.add_argument("--buffer-size", type=_positive(int), default=131072, help="observations the agent keeps (default 131072)")
    p.add_argument("--start", type=_start, help="simulated start time, ISO 8601 with zone (default: now)")
    p.add_argument("--machines", type=_positive(int), default=3, help="number of simulated machines (default 3)")
    p.add_argument("--extra-items", type=int, default=0, help="extra SAMPLE data items per machine (benchmarks)")
    p.add_argument("--change-rate", type=_positive(float), default=1.0, help="changes per second of each extra item")
    p.add_argument("--timestamps.without-zone", dest="no_zone", action="store_true",
                   help="write timestamps without 'Z', like the NIST test bed agent")
    p.add_argument("--replay", type=Path, metavar="FILE", help="replay this SHDR adapter log instead of simulating")
    p.add_argument("--devices", type=Path, metavar="DEVICES.xml", help="device file for --replay")
    p.add_argument("--replay.device", dest="replay_device", metavar="NAME",
                   help="device the log belongs to (default: the one whose data item names match most keys)")
    p.add_argument("--loop", action="store_true", help="start the replay over after its last line")
    p.add_argument("--replay.timestamps", dest="replay_timestamps", choices=TIMESTAMP_MODES, default="now",
                   help="adapter data stamped with the simulated present (now, default) or the log's own "
                        "timestamps (original); the agent stamps what it generates with its own clock")
    p.add_argument("--adapter.clock-offset", dest="clock_offset", type=_duration, default=0.0, metavar="DURATION",
                   help="the adapters' clock minus the agent's, e.g. 90s or -2h (default 0)")
    p.add_argument("--calendar", choices=("demo", "always"), default="demo",
                   help="when the simulated machines work: the demo plant's two weekday shifts with breaks "
                        "(demo, default; deploy/factorydash-demo.yml plans the same) or around the clock")
    p.add_argument("--log.level", dest="log_level", choices=("debug", "info", "warning", "error"), default="info")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.replay is None) != (args.devices is None):
        parser.error("--replay and --devices go together")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    floor: Floor
    try:
        if args.replay:
            floor = ReplayFloor(
                args.replay, args.devices, speed=args.speed, loop=args.loop, device=args.replay_device,
                schema_version=args.schema_version, buffer_size=args.buffer_size, start=args.start,
                timestamps_with_zone=not args.no_zone, timestamps=args.replay_timestamps,
                adapter_clock_offset=args.clock_offset,
            )
        else:
            floor = ShopFloor(
                seed=args.seed, speed=args.speed, schema_version=args.schema_version, buffer_size=args.buffer_size,
                start=args.start, machines=args.machines, extra_items=args.extra_items,
                change_rate=args.change_rate, timestamps_with_zone=not args.no_zone,
                calendar=DEMO_CALENDAR if args.calendar == "demo" else None, adapter_clock_offset=args.clock_offset,
            )
        server = SimulatorServer(floor, *args.listen)
    except (OSError, ValueError) as e:
        log.error("cannot start: %s", e)
        return 1
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    # SIGHUP restarts the agent (new instanceId, empty buffer), like POST /-/restart from loopback.
    restart = threading.Event()
    signal.signal(signal.SIGHUP, lambda *_: restart.set())
    with server:
        names = ", ".join(d.name for d in floor.agent.devices if d.element_tag == "Device")
        print(f"factorydash-simulator: MTConnect agent at {server.url} (schema {args.schema_version}; devices: {names})", flush=True)
        print(f"  try: curl {server.url}current", flush=True)
        while not done.wait(0.2):
            if restart.is_set():
                restart.clear()
                floor.restart()
                log.info("simulator: agent restarted on SIGHUP, instanceId %d", floor.agent.instance_id)
    return 0
