"""The agent: bounded circular buffer, sequence numbers and the XML documents.

Behaves like cppagent: observations get consecutive sequence numbers; the
buffer keeps the newest `buffer_size`; `sample` answers from `from` with at
most `count` observations and a `nextSequence` that is the first sequence NOT
in the document (past non-matching observations when `path=` filters);
errors are MTConnectError documents with cppagent's HTTP status per schema
version. Observations are rendered to XML once, when they enter the buffer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import groupby
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from .clock import US, format_creation_time, format_timestamp
from .model import CATEGORY_CONTAINERS, DataItem, DeviceModel, element, index_devices

SCHEMA_VERSIONS = ("1.3", "1.7", "1.8", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5")
_NOT_FOUND_CODES = frozenset({"NO_DEVICE", "INVALID_URI"})
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_VENDOR_NS = "urn:factorydash.example:simulator:{}"
_SELECTION_CACHE_LIMIT = 256


def software_version(schema_version: str) -> str:
    """The agent SOFTWARE version in the Header (not the schema version), like real cppagents."""
    major, minor = (int(p) for p in schema_version.split("."))
    if major == 1:
        return "1.4.0.10" if minor < 7 else "1.8.0.3"
    return "2.5.0.11"


def schema_at_least(schema_version: str, major: int, minor: int) -> bool:
    v = tuple(int(p) for p in schema_version.split("."))
    return v >= (major, minor)


@dataclass(frozen=True)
class Condition:
    level: str  # Normal | Warning | Fault | Unavailable
    native_code: str = ""
    native_severity: str = ""
    qualifier: str = ""
    text: str = ""

    @property
    def active(self) -> bool:
        return self.level in ("Warning", "Fault")


UNAVAILABLE_CONDITION = Condition("Unavailable")
NORMAL_CONDITION = Condition("Normal")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/xml"


class AgentError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Observation:
    __slots__ = ("seq", "item", "timestamp_us", "value", "xml")

    def __init__(self, seq: int, item: DataItem, timestamp_us: int, value: str | Condition, xml: str) -> None:
        self.seq = seq
        self.item = item
        self.timestamp_us = timestamp_us
        self.value = value
        self.xml = xml


State = dict[str, list[Observation]]


def _apply(state: State, obs: Observation) -> None:
    """Latest value per item; for conditions every active Warning/Fault, keyed by native code."""
    item_id = obs.item.id
    value = obs.value
    if not isinstance(value, Condition):
        state[item_id] = [obs]
        return
    if value.level == "Unavailable" or (value.level == "Normal" and not value.native_code):
        state[item_id] = [obs]
        return
    remaining = [
        o for o in state.get(item_id, ()) if o.value.active and o.value.native_code != value.native_code  # type: ignore[union-attr]
    ]
    state[item_id] = remaining + [obs] if value.active else (remaining or [obs])


def agent_device(uuid: str, schema_version: str, adapters: Iterable[tuple[str, str]]) -> etree._Element:
    """The Agent device of schema >= 2.0: agent availability and one Adapter per (id, uri)."""
    adapter_elements = [
        element(
            "Adapter",
            {"id": adapter_id, "name": uri},
            element(
                "DataItems",
                None,
                element("DataItem", {"category": "EVENT", "id": f"{adapter_id}_connection_status", "type": "CONNECTION_STATUS"}),
                element("DataItem", {"category": "EVENT", "id": f"{adapter_id}_adapter_uri", "type": "ADAPTER_URI"}),
            ),
        )
        for adapter_id, uri in adapters
    ]
    return element(
        "Agent",
        {"id": "agent_" + uuid[:8], "mtconnectVersion": schema_version, "name": "Agent", "uuid": uuid},
        element(
            "DataItems",
            None,
            element("DataItem", {"category": "EVENT", "id": "agent_avail", "type": "AVAILABILITY"}),
            element("DataItem", {"category": "EVENT", "id": "device_added", "type": "DEVICE_ADDED"}),
            element("DataItem", {"category": "EVENT", "id": "device_removed", "type": "DEVICE_REMOVED"}),
            element("DataItem", {"category": "EVENT", "id": "device_changed", "type": "DEVICE_CHANGED"}),
        ),
        element("Components", None, element("Adapters", {"id": "__adapters__"}, element("Components", None, *adapter_elements))),
    )


class Agent:
    """Thread-safe; `add` is called by the simulation, the rest by the HTTP server."""

    def __init__(
        self,
        devices: etree._Element,
        *,
        schema_version: str,
        buffer_size: int,
        now_us: Callable[[], int],
        sender: str = "factorydash-simulator",
        timestamps_with_zone: bool = True,
    ) -> None:
        if schema_version not in SCHEMA_VERSIONS:
            raise ValueError(f"schema version {schema_version!r} not in {', '.join(SCHEMA_VERSIONS)}")
        if buffer_size < 1:
            raise ValueError("buffer size must be positive")
        self.schema_version = schema_version
        self.buffer_size = buffer_size
        self.sender = sender
        self.version = software_version(schema_version)
        self._now_us = now_us
        self._zone = timestamps_with_zone
        self._lock = threading.RLock()
        self._model_root = element("MTConnectDevices", None, devices)
        self._devices_element = devices
        self.devices: tuple[DeviceModel, ...] = index_devices(devices)
        self.items: dict[str, DataItem] = {item.id: item for dev in self.devices for item in dev.items}
        self._static_attrs = {item.id: self._item_attributes(item) for item in self.items.values()}
        self._vendor_prefix = any(":" in item.tag for item in self.items.values())
        self._selections: dict[tuple[str | None, str | None], frozenset[str] | None] = {}
        self.instance_id = 0
        self._finished_instances: dict[int, int] = {}
        self._reset(now_us())

    # -- buffer ---------------------------------------------------------------

    def _reset(self, now_us: int) -> None:
        if self.instance_id:
            self._finished_instances[self.instance_id] = self._next_seq - 1
        self.instance_id = max(self.instance_id + 1, now_us // US)
        self.device_model_change_time_us = now_us
        self._ring: list[Observation | None] = [None] * self.buffer_size
        self._next_seq = 1
        self._first_seq = 1
        self._state: State = {}
        self._checkpoint: State = {}
        for item in self.items.values():
            self.add(item.id, now_us, UNAVAILABLE_CONDITION if item.is_condition else "UNAVAILABLE")

    def restart(self) -> None:
        """A new instanceId and an empty buffer, as when cppagent restarts; items start UNAVAILABLE."""
        with self._lock:
            self._reset(self._now_us())

    @property
    def produced(self) -> dict[int, int]:
        """Sequences produced per instanceId (all instances so far): what a loss-free client must
        account for as applied + lost, counted on the agent's side."""
        with self._lock:
            return {**self._finished_instances, self.instance_id: self._next_seq - 1}

    @property
    def first_sequence(self) -> int:
        return self._first_seq

    @property
    def last_sequence(self) -> int:
        return self._next_seq - 1

    def value(self, item_id: str) -> str | Condition | None:
        """The latest value of an item (the first activation of a condition)."""
        with self._lock:
            observations = self._state.get(item_id)
            return observations[-1].value if observations else None

    def add(self, item_id: str, timestamp_us: int, value: str | Condition) -> int | None:
        """Append an observation; duplicates of the current value are dropped like cppagent does."""
        item = self.items[item_id]
        with self._lock:
            current = self._state.get(item_id)
            if current and self._is_duplicate(current, value):
                return None
            seq = self._next_seq
            obs = Observation(seq, item, timestamp_us, value, self._render(seq, item, timestamp_us, value))
            slot = seq % self.buffer_size
            evicted = self._ring[slot]
            if evicted is not None:
                _apply(self._checkpoint, evicted)
                self._first_seq = evicted.seq + 1
            self._ring[slot] = obs
            self._next_seq = seq + 1
            _apply(self._state, obs)
            return seq

    @staticmethod
    def _is_duplicate(current: list[Observation], value: str | Condition) -> bool:
        if not isinstance(value, Condition):
            return current[-1].value == value
        if value.active:
            return any(o.value == value for o in current)
        return len(current) == 1 and current[0].value == value

    # -- rendering ------------------------------------------------------------

    def _item_attributes(self, item: DataItem) -> str:
        attrs = f" dataItemId={quoteattr(item.id)}"
        if item.name:
            attrs += f" name={quoteattr(item.name)}"
        if item.sub_type:
            attrs += f" subType={quoteattr(item.sub_type)}"
        if item.is_condition:
            attrs += f" type={quoteattr(item.type)}"
        return attrs

    def _render(self, seq: int, item: DataItem, timestamp_us: int, value: str | Condition) -> str:
        head = f'{self._static_attrs[item.id]} sequence="{seq}" timestamp="{format_timestamp(timestamp_us, self._zone)}"'
        if isinstance(value, Condition):
            tag = value.level
            if value.native_code:
                head += f" nativeCode={quoteattr(value.native_code)}"
                if schema_at_least(self.schema_version, 2, 3):
                    head += f" conditionId={quoteattr(value.native_code)}"
            if value.native_severity:
                head += f" nativeSeverity={quoteattr(value.native_severity)}"
            if value.qualifier:
                head += f" qualifier={quoteattr(value.qualifier)}"
            body = escape(value.text)
        else:
            tag = item.tag
            body = escape(value)
            if value != "UNAVAILABLE":
                if item.representation == "TIME_SERIES":
                    head += f' sampleCount="{len(value.split())}"'
                elif item.representation in ("DATA_SET", "TABLE"):
                    body = "".join(
                        f"<Entry key={quoteattr(key)}>{escape(entry)}</Entry>"
                        for key, _, entry in (pair.partition("=") for pair in value.split())
                    )
        return f"<{tag}{head}>{body}</{tag}>" if body else f"<{tag}{head}/>"

    def _namespaces(self, document: str) -> str:
        urn = f"urn:mtconnect.org:{document}:{self.schema_version}"
        vendor = f' xmlns:x="{_VENDOR_NS.format(self.schema_version)}"' if self._vendor_prefix and document != "MTConnectError" else ""
        return (
            f'xmlns:m="{urn}" xmlns="{urn}" xmlns:xsi="{_XSI}"{vendor} '
            f'xsi:schemaLocation="{urn} /schemas/{document}_{self.schema_version}.xsd"'
        )

    def _header(self, extra: str) -> str:
        change = ""
        if schema_at_least(self.schema_version, 1, 7):
            change = f' deviceModelChangeTime="{format_timestamp(self.device_model_change_time_us)}"'
        return (
            f'<Header creationTime="{format_creation_time(self._now_us())}" sender={quoteattr(self.sender)} '
            f'instanceId="{self.instance_id}" version="{self.version}"{change}{extra}/>'
        )

    def _document(self, root: str, header_extra: str, body: str) -> bytes:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} {self._namespaces(root)}>'
            f"{self._header(header_extra)}{body}</{root}>\n"
        ).encode()

    def _streams(self, observations: list[Observation], next_seq: int) -> bytes:
        header = (
            f' bufferSize="{self.buffer_size}" nextSequence="{next_seq}"'
            f' firstSequence="{self._first_seq}" lastSequence="{self._next_seq - 1}"'
        )
        if not observations:
            return self._document("MTConnectStreams", header, "<Streams/>")
        observations.sort(key=lambda o: (o.item.sort_key, o.seq))
        parts = ["<Streams>"]
        for _, by_device in groupby(observations, key=lambda o: o.item.sort_key[0]):
            by_device_list = list(by_device)
            first = by_device_list[0].item
            parts.append(f"<DeviceStream name={quoteattr(first.device)} uuid={quoteattr(first.device_uuid)}>")
            for _, by_component in groupby(by_device_list, key=lambda o: o.item.sort_key[1]):
                by_component_list = list(by_component)
                c = by_component_list[0].item
                name = f" name={quoteattr(c.component_name)}" if c.component_name else ""
                parts.append(f"<ComponentStream component={quoteattr(c.component)}{name} componentId={quoteattr(c.component_id)}>")
                for category, by_category in groupby(by_component_list, key=lambda o: o.item.category):
                    container = CATEGORY_CONTAINERS.get(category, "Events")
                    parts.append(f"<{container}>")
                    parts.extend(o.xml for o in by_category)
                    parts.append(f"</{container}>")
                parts.append("</ComponentStream>")
            parts.append("</DeviceStream>")
        parts.append("</Streams>")
        return self._document("MTConnectStreams", header, "".join(parts))

    def error(self, code: str, message: str) -> Response:
        with self._lock:
            body = self._document(
                "MTConnectError",
                f' bufferSize="{self.buffer_size}"',
                f"<Errors><Error errorCode={quoteattr(code)}>{escape(message)}</Error></Errors>",
            )
        status = 200
        if schema_at_least(self.schema_version, 1, 7):
            status = 404 if code in _NOT_FOUND_CODES else 400
        return Response(status, body)

    # -- requests -------------------------------------------------------------

    def select(self, device: str | None, path: str | None) -> frozenset[str] | None:
        """Data item ids selected by a device (name or uuid) and an XPath; None means all."""
        key = (device, path)
        with self._lock:
            if key in self._selections:
                return self._selections[key]
        scope: frozenset[str] | None = None
        if device is not None:
            model = next((d for d in self.devices if device in (d.name, d.uuid) and d.element_tag == "Device"), None)
            if model is None:
                raise AgentError("NO_DEVICE", f"Could not find the device '{device}'")
            scope = frozenset(item.id for item in model.items)
        selected = scope
        if path:
            try:
                nodes = self._model_root.xpath(path)
            except etree.XPathError:
                raise AgentError("INVALID_XPATH", f"The path could not be parsed. Invalid syntax: {path}") from None
            ids: set[str] = set()
            for node in nodes if isinstance(nodes, list) else ():
                if isinstance(node, etree._Element):
                    ids.update(di.get("id", "") for di in node.iter("DataItem"))
            selected = frozenset(ids if scope is None else ids & scope)
            if not selected:
                raise AgentError("INVALID_XPATH", f"The path could not be parsed. Invalid syntax: {path}")
        with self._lock:
            if len(self._selections) >= _SELECTION_CACHE_LIMIT:
                self._selections.clear()
            self._selections[key] = selected
        return selected

    def probe(self, device: str | None = None) -> bytes:
        with self._lock:
            if device is None:
                children = list(self._devices_element)
            else:
                children = [
                    el for el in self._devices_element if el.tag == "Device" and device in (el.get("name"), el.get("uuid"))
                ]
                if not children:
                    raise AgentError("NO_DEVICE", f"Could not find the device '{device}'")
            body = "<Devices>" + "".join(etree.tostring(el, encoding="unicode") for el in children) + "</Devices>"
            header = f' assetBufferSize="1024" assetCount="0" bufferSize="{self.buffer_size}"'
            return self._document("MTConnectDevices", header, body)

    def assets(self) -> bytes:
        with self._lock:
            return self._document("MTConnectAssets", ' assetBufferSize="1024" assetCount="0"', "<Assets/>")

    def current(self, selection: frozenset[str] | None, at: int | None = None) -> bytes:
        with self._lock:
            if at is None:
                state = self._state
            else:
                if at < self._first_seq:
                    raise AgentError("OUT_OF_RANGE", f"'at' must be greater than {self._first_seq - 1}")
                if at >= self._next_seq:
                    raise AgentError("OUT_OF_RANGE", f"'at' must be less than {self._next_seq}")
                state = {k: list(v) for k, v in self._checkpoint.items()}
                for seq in range(self._first_seq, at + 1):
                    _apply(state, self._ring[seq % self.buffer_size])  # type: ignore[arg-type]
            observations = [
                o for item_id, latest in state.items() if selection is None or item_id in selection for o in latest
            ]
            next_seq = self._next_seq if at is None else at + 1
            return self._streams(observations, next_seq)

    def sample(self, selection: frozenset[str] | None, from_: int | None, count: int) -> tuple[bytes, int, int]:
        """(document, nextSequence, number of observations) from `from_` (default: firstSequence)."""
        with self._lock:
            if count > self.buffer_size:
                raise AgentError("OUT_OF_RANGE", f"'count' must be less than {self.buffer_size + 1}")
            if count < 1:
                raise AgentError("INVALID_PARAMETER_VALUE", f"'count' must be greater than 0 (got {count})")
            start = self._first_seq if from_ is None else from_
            if start < self._first_seq:
                raise AgentError("OUT_OF_RANGE", f"'from' must be greater than {self._first_seq - 1}")
            if start > self._next_seq:
                raise AgentError("OUT_OF_RANGE", f"'from' must be less than {self._next_seq + 1}")
            found: list[Observation] = []
            seq = start
            ring, size, end = self._ring, self.buffer_size, self._next_seq
            while seq < end and len(found) < count:
                obs = ring[seq % size]
                if selection is None or obs.item.id in selection:  # type: ignore[union-attr]
                    found.append(obs)  # type: ignore[arg-type]
                seq += 1
            return self._streams(found, seq), seq, len(found)
