"""A lightweight stand-in for many MTConnect agents: documents computed from sequence numbers.

The project's simulator is a faithful agent, but it spends its CPU being
faithful; a benchmark of the exporter needs 100 agents x 1,000 items changing
every second on the same two cores. So each stand-in agent is arithmetic:
observation `k` belongs to scan `(k - first) // items` and item
`(k - first) % items`, every item of a scan shares its timestamp (as an
adapter's SHDR line does), and values are a cheap function of `k`. A document
is byte templates joined together.

`ScriptedAgent` serves an explicit list of observations instead (feed holds,
faults): the ground truth of the "what does the baseline miss" run.

One HTTP server serves every agent under `/<agent name>/probe|current|sample`.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

EXECUTION_VALUES = ("ACTIVE", "READY", "ACTIVE", "FEED_HOLD", "ACTIVE", "INTERRUPTED")
_SAMPLE_KINDS = (
    ("TEMPERATURE", "CELSIUS", "Temperature"),
    ("LOAD", "PERCENT", "Load"),
    ("PRESSURE", "PASCAL", "Pressure"),
    ("POSITION", "MILLIMETER", "Position"),
)
_CONTAINERS = {"SAMPLE": "Samples", "EVENT": "Events", "CONDITION": "Condition"}
STREAMS_NS = "urn:mtconnect.org:MTConnectStreams:2.0"
DEVICES_NS = "urn:mtconnect.org:MTConnectDevices:2.0"
ERROR_NS = "urn:mtconnect.org:MTConnectError:2.0"


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    category: str  # SAMPLE | EVENT | CONDITION
    type: str
    element: str  # observation element name (PascalCase)
    units: str = ""
    sub_type: str = ""


def fleet_items(prefix: str, count: int) -> tuple[Item, ...]:
    """A machine's worth of items: availability, execution, mode, part count, a condition, then sensors."""
    fixed = (
        Item(f"{prefix}_avail", "EVENT", "AVAILABILITY", "Availability"),
        Item(f"{prefix}_execution", "EVENT", "EXECUTION", "Execution"),
        Item(f"{prefix}_mode", "EVENT", "CONTROLLER_MODE", "ControllerMode"),
        Item(f"{prefix}_parts", "EVENT", "PART_COUNT", "PartCount", sub_type="ALL"),
        Item(f"{prefix}_system", "CONDITION", "SYSTEM", "System"),
    )
    sensors = tuple(
        Item(f"{prefix}_s{i}", "SAMPLE", kind, element, units)
        for i in range(max(count - len(fixed), 0))
        for kind, units, element in (_SAMPLE_KINDS[i % len(_SAMPLE_KINDS)],)
    )
    return (fixed + sensors)[:count]


def iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}Z"


def probe_document(name: str, device: str, items: Sequence[Item], instance_id: int) -> bytes:
    by_component: dict[str, list[str]] = {"Controller": [], "Sensor": []}
    for item in items:
        attributes = f'id="{item.id}" category="{item.category}" type="{item.type}"'
        if item.units:
            attributes += f' units="{item.units}"'
        if item.sub_type:
            attributes += f' subType="{item.sub_type}"'
        component = "Sensor" if item.category == "SAMPLE" else "Controller"
        by_component[component].append(f"<DataItem {attributes}/>")
    components = "".join(
        f'<{kind} id="{device}_{kind.lower()}" name="{kind.lower()}"><DataItems>{"".join(lines)}</DataItems></{kind}>'
        for kind, lines in by_component.items()
        if lines
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<MTConnectDevices xmlns="{DEVICES_NS}">'
        f'<Header creationTime="{iso(time.time())}" sender="standin" instanceId="{instance_id}" version="2.0.0.1"'
        f' assetBufferSize="8" assetCount="0" bufferSize="131072"/>'
        f'<Devices><Device id="{device}" name="{device}" uuid="uuid-{device}">'
        f'<Description manufacturer="bench" model="standin" serialNumber="{name}"/>'
        f"<Components>{components}</Components></Device></Devices></MTConnectDevices>"
    ).encode()


class Source(ABC):
    """Observations by sequence number; subclasses define `last_sequence`, `observation`, `latest_sequences`."""

    name: str
    device: str
    items: tuple[Item, ...]
    first: int = 1
    buffer_size: int = 131072
    instance_id: int = 1_700_000_000

    def __init__(self) -> None:
        self.probe = probe_document(self.name, self.device, self.items, self.instance_id)
        self.requested_from = self.first  # the follower's cursor, as its requests show it

    @abstractmethod
    def last_sequence(self, now: float) -> int:
        """The newest sequence number the agent holds at `now`."""

    @abstractmethod
    def observation(self, sequence: int) -> tuple[Item, str]:
        """(item, the observation's XML element) of one sequence number."""

    @abstractmethod
    def latest_sequences(self, last: int) -> list[int]:
        """The sequence of every item's latest observation up to `last` (what /current shows)."""

    def render(self, sequences: Sequence[int], last: int, next_sequence: int) -> bytes:
        containers: dict[str, list[str]] = {"SAMPLE": [], "EVENT": [], "CONDITION": []}
        for sequence in sequences:
            item, line = self.observation(sequence)
            containers[item.category].append(line)
        controller = "".join(
            f"<{_CONTAINERS[category]}>{''.join(containers[category])}</{_CONTAINERS[category]}>"
            for category in ("EVENT", "CONDITION")
            if containers[category]
        )
        streams = ""
        if containers["SAMPLE"]:
            streams += (
                f'<ComponentStream component="Sensor" name="sensor" componentId="{self.device}_sensor">'
                f"<Samples>{''.join(containers['SAMPLE'])}</Samples></ComponentStream>"
            )
        if controller:
            streams += (
                f'<ComponentStream component="Controller" name="controller" componentId="{self.device}_controller">'
                f"{controller}</ComponentStream>"
            )
        first = max(self.first, last - self.buffer_size + 1)
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<MTConnectStreams xmlns="{STREAMS_NS}">'
            f'<Header creationTime="{iso(time.time())}" sender="standin" instanceId="{self.instance_id}"'
            f' version="2.0.0.1" bufferSize="{self.buffer_size}" nextSequence="{next_sequence}"'
            f' firstSequence="{first}" lastSequence="{last}"/>'
            f'<Streams><DeviceStream name="{self.device}" uuid="uuid-{self.device}">{streams}'
            f"</DeviceStream></Streams></MTConnectStreams>"
        ).encode()

    def current(self, now: float) -> bytes:
        last = self.last_sequence(now)
        return self.render(self.latest_sequences(last), last, last + 1)

    def sample(self, start: int, count: int, now: float) -> bytes:
        last = self.last_sequence(now)
        first = max(self.first, last - self.buffer_size + 1)
        self.requested_from = start
        if start < first or start > last + 1:
            return error_document("OUT_OF_RANGE", f"'from' must be in [{first}, {last + 1}]")
        end = min(start + count, last + 1)
        return self.render(range(start, end), last, end)

    def lag(self, now: float) -> int:
        """Observations the agent holds that the follower has not asked for yet."""
        return max(self.last_sequence(now) + 1 - self.requested_from, 0)


def value_element(item: Item, timestamp: str, sequence: int, value: str) -> str:
    return f'<{item.element} dataItemId="{item.id}" timestamp="{timestamp}" sequence="{sequence}">{value}</{item.element}>'


def condition_element(item: Item, timestamp: str, sequence: int, level: str, code: str = "", text: str = "") -> str:
    code_attributes = f' nativeCode="{code}"' if code else ""
    return (
        f'<{level} dataItemId="{item.id}" timestamp="{timestamp}" sequence="{sequence}" type="{item.type}"'
        f"{code_attributes}>{escape(text)}</{level}>"
        if text
        else f'<{level} dataItemId="{item.id}" timestamp="{timestamp}" sequence="{sequence}" type="{item.type}"{code_attributes}/>'
    )


class FleetAgent(Source):
    """`items` data items, each changing `rate` times a second, all of one scan sharing a timestamp."""

    def __init__(self, index: int, items: int, rate: float, start: float, clock: Callable[[], float]) -> None:
        self.name = f"agent-{index:03d}"
        self.device = f"Machine-{index:03d}"
        self.items = fleet_items(f"m{index:03d}", items)
        self.rate = rate
        self.start = start
        self.clock = clock
        self._stamps: dict[int, str] = {}
        super().__init__()

    def last_sequence(self, now: float) -> int:
        scans = int((now - self.start) * self.rate) + 1  # scan 0 is there from the start
        return self.first + scans * len(self.items) - 1

    def _stamp(self, scan: int) -> str:
        stamp = self._stamps.get(scan)
        if stamp is None:
            if len(self._stamps) > 64:
                self._stamps.clear()
            stamp = self._stamps[scan] = iso(self.start + scan / self.rate)
        return stamp

    def observation(self, sequence: int) -> tuple[Item, str]:
        scan, index = divmod(sequence - self.first, len(self.items))
        item = self.items[index]
        timestamp = self._stamp(scan)
        if item.category == "CONDITION":
            return item, condition_element(item, timestamp, sequence, "Normal")
        if item.type == "EXECUTION":
            value = EXECUTION_VALUES[scan % len(EXECUTION_VALUES)]
        elif item.type == "AVAILABILITY":
            value = "AVAILABLE"
        elif item.type == "CONTROLLER_MODE":
            value = "AUTOMATIC"
        elif item.type == "PART_COUNT":
            value = str(scan // 10)
        else:
            value = f"{(sequence * 7919) % 100000 / 100:.2f}"
        return item, value_element(item, timestamp, sequence, value)

    def latest_sequences(self, last: int) -> list[int]:
        return list(range(last - len(self.items) + 1, last + 1))


@dataclass(frozen=True, slots=True)
class Scripted:
    """One scripted observation: at `at` seconds, `item` (an index) takes `value` (or a condition level)."""

    at: float
    item: int
    value: str
    code: str = ""
    text: str = ""


class ScriptedAgent(Source):
    """Serves an explicit list of observations: the ground truth is the script itself."""

    def __init__(self, name: str, items: tuple[Item, ...], script: Sequence[Scripted], start: float) -> None:
        self.name = name
        self.device = name.capitalize()
        self.items = items
        self.script = sorted(script, key=lambda scripted: scripted.at)
        self.start = start
        self._times = [scripted.at for scripted in self.script]
        super().__init__()

    def last_sequence(self, now: float) -> int:
        seen = bisect_right(self._times, now - self.start)
        return self.first + seen - 1

    def observation(self, sequence: int) -> tuple[Item, str]:
        scripted = self.script[sequence - self.first]
        item = self.items[scripted.item]
        timestamp = iso(self.start + scripted.at)
        if item.category == "CONDITION":
            return item, condition_element(item, timestamp, sequence, scripted.value, scripted.code, scripted.text)
        return item, value_element(item, timestamp, sequence, scripted.value)

    def latest_sequences(self, last: int) -> list[int]:
        latest: dict[int, int] = {}
        for sequence in range(self.first, last + 1):
            latest[self.script[sequence - self.first].item] = sequence
        return sorted(latest.values())


def error_document(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<MTConnectError xmlns="{ERROR_NS}">'
        f'<Header creationTime="{iso(time.time())}" sender="standin" instanceId="1" version="2.0.0.1"'
        f' bufferSize="131072"/><Errors><Error errorCode="{code}">{escape(message)}</Error></Errors></MTConnectError>'
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: StandInServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        url = urlsplit(self.path)
        name, _, request = url.path.strip("/").partition("/")
        source = self.server.sources.get(name)
        now = self.server.clock()
        if source is None:
            body = error_document("NO_DEVICE", f"no agent {name!r}")
        elif request == "probe":
            body = source.probe
        elif request == "current":
            body = source.current(now)
        elif request == "sample":
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            body = source.sample(int(query.get("from", source.first)), int(query.get("count", 100)), now)
        else:
            body = error_document("INVALID_URI", f"unknown request {request!r}")
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class StandInServer(ThreadingHTTPServer):
    """Every source under /<name>/ on 127.0.0.1:<free port>; `clock` is the agents' time."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, sources: Sequence[Source], clock: Callable[[], float] = time.time) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.sources = {source.name: source for source in sources}
        self.clock = clock
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="standin", daemon=True)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a follower that goes away mid-request (the process under test was stopped) is no error

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}/"

    def __enter__(self) -> StandInServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
