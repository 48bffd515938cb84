"""Build MTConnect documents for tests, shaped after real cppagent and NIST answers.

Written by us (the real samples in ../shared/samples are read, never copied).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

STREAMS_NS = "urn:mtconnect.org:MTConnectStreams:{version}"
DEVICES_NS = "urn:mtconnect.org:MTConnectDevices:{version}"
ERROR_NS = "urn:mtconnect.org:MTConnectError:{version}"


@dataclass
class Obs:
    """One observation: `element` is the PascalCase element name, `container` Samples/Events/Condition."""

    item: str
    sequence: int
    value: str
    timestamp: str
    element: str = "Execution"
    container: str = "Events"
    component: str = "Path"
    component_id: str = "p1"
    attributes: dict[str, str] = field(default_factory=dict)
    children: str = ""  # raw XML children (DataSet entries)


def _attrs(attributes: dict[str, object]) -> str:
    return "".join(f" {key}={quoteattr(str(value))}" for key, value in attributes.items() if value is not None)


def header(
    instance_id: str = "1700000000",
    first: int | None = 1,
    last: int | None = 100,
    next_: int | None = 101,
    buffer_size: int = 131072,
    creation_time: str = "2026-11-23T10:00:00Z",
    version: str = "2.5.0.11",
    model_change: str | None = None,
) -> str:
    attributes = {
        "creationTime": creation_time,
        "sender": "test-agent",
        "instanceId": instance_id,
        "version": version,
        "deviceModelChangeTime": model_change,
        "bufferSize": buffer_size,
        "nextSequence": next_,
        "firstSequence": first,
        "lastSequence": last,
    }
    return f"<Header{_attrs(attributes)}/>"


def streams(
    observations: Iterable[Obs],
    device: str = "Mill",
    uuid: str = "mill-1",
    schema: str = "2.5",
    **header_kw: object,
) -> bytes:
    """A Streams document; without `creation_time` it is created when its newest observation was made
    (an agent never creates a document before the observations it holds)."""
    observations = list(observations)
    stamps = [obs.timestamp for obs in observations if obs.timestamp[:1].isdigit()]  # ts() layout: text order is time order
    if "creation_time" not in header_kw and stamps:
        header_kw["creation_time"] = max(stamps)
    by_component: dict[tuple[str, str], dict[str, list[Obs]]] = {}
    for obs in observations:
        by_component.setdefault((obs.component, obs.component_id), {}).setdefault(obs.container, []).append(obs)
    parts = []
    for (component, component_id), containers in by_component.items():
        body = ""
        for container, items in containers.items():
            elements = "".join(
                f"<{o.element}{_attrs({'dataItemId': o.item, 'timestamp': o.timestamp, 'sequence': o.sequence, **o.attributes})}>"
                f"{o.children or escape(o.value)}</{o.element}>"
                for o in items
            )
            body += f"<{container}>{elements}</{container}>"
        parts.append(
            f'<ComponentStream component="{component}" name="{component_id}" componentId="{component_id}">{body}</ComponentStream>'
        )
    ns = STREAMS_NS.format(version=schema)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<MTConnectStreams xmlns="{ns}" xmlns:m="{ns}">'
        f"{header(**header_kw)}<Streams><DeviceStream name={quoteattr(device)} uuid={quoteattr(uuid)}>"
        f"{''.join(parts)}</DeviceStream></Streams></MTConnectStreams>"
    ).encode()


def error(code: str, message: str = "", schema: str = "2.5", with_header: bool = True) -> bytes:
    ns = ERROR_NS.format(version=schema)
    head = '<Header creationTime="2026-11-23T10:00:00Z" sender="test-agent" instanceId="1700000000" version="2.5.0.11" bufferSize="131072"/>'
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<MTConnectError xmlns="{ns}">{head if with_header else ""}'
        f'<Errors><Error errorCode="{code}">{escape(message)}</Error></Errors></MTConnectError>'
    ).encode()


# A small mill: the items the state and follower tests use.
MILL_DATA_ITEMS = """
<DataItems>
  <DataItem category="EVENT" id="avail" type="AVAILABILITY"/>
  <DataItem category="EVENT" id="estop" type="EMERGENCY_STOP"/>
</DataItems>
<Components>
  <Axes id="ax" name="base"><Components>
    <Linear id="x" name="X"><DataItems>
      <DataItem category="SAMPLE" id="xpos" name="Xact" type="POSITION" subType="ACTUAL" units="MILLIMETER"/>
    </DataItems></Linear>
    <Rotary id="c" name="C"><DataItems>
      <DataItem category="SAMPLE" id="cspeed" name="Srpm" type="ROTARY_VELOCITY" subType="ACTUAL" units="REVOLUTION/MINUTE"/>
      <DataItem category="SAMPLE" id="cload" name="Sload" type="LOAD" units="PERCENT"/>
    </DataItems></Rotary>
  </Components></Axes>
  <Controller id="cont" name="controller"><DataItems>
    <DataItem category="CONDITION" id="system" type="SYSTEM"/>
  </DataItems><Components>
    <Path id="p1" name="path"><DataItems>
      <DataItem category="EVENT" id="exec" type="EXECUTION"/>
      <DataItem category="EVENT" id="mode" type="CONTROLLER_MODE"/>
      <DataItem category="EVENT" id="program" type="PROGRAM"/>
      <DataItem category="EVENT" id="block" type="BLOCK"/>
      <DataItem category="EVENT" id="pc" type="PART_COUNT" subType="ALL"/>
      <DataItem category="EVENT" id="pcgood" type="PART_COUNT" subType="GOOD"/>
      <DataItem category="SAMPLE" id="ppos" type="PATH_POSITION" subType="ACTUAL" units="MILLIMETER_3D"/>
      <DataItem category="SAMPLE" id="feed" type="PATH_FEEDRATE" subType="ACTUAL" units="MILLIMETER/SECOND"/>
      <DataItem category="SAMPLE" id="cutting" type="ACCUMULATED_TIME" subType="x:CUTTING_TIME" units="SECOND"/>
      <DataItem category="EVENT" id="vars" type="VARIABLE" representation="DATA_SET"/>
    </DataItems></Path>
  </Components></Controller>
</Components>
"""


def probe(
    schema: str = "2.5",
    instance_id: str = "1700000000",
    model_change: str | None = None,
    device: str = "Mill",
    uuid: str = "mill-1",
    data_items: str = MILL_DATA_ITEMS,
    extra_devices: str = "",
) -> bytes:
    ns = DEVICES_NS.format(version=schema)
    head = header(instance_id=instance_id, first=None, last=None, next_=None, model_change=model_change)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<MTConnectDevices xmlns="{ns}" xmlns:m="{ns}">{head}<Devices>'
        f'<Device id="d1" name={quoteattr(device)} uuid={quoteattr(uuid)}>'
        f'<Description manufacturer="Acme" model="VMC-5" serialNumber="SN-42">A test mill</Description>'
        f"{data_items}</Device>{extra_devices}</Devices></MTConnectDevices>"
    ).encode()


def ts(seconds: float) -> str:
    """2026-11-23T10:00:00Z plus `seconds`, with microseconds, as cppagent writes it."""
    from datetime import datetime, timedelta, timezone

    moment = datetime(2026, 11, 23, 10, 0, 0, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


T0 = 1795428000.0  # ts(0) as seconds since the epoch


def execution(sequence: int, value: str, at: float) -> Obs:
    return Obs("exec", sequence, value, ts(at), "Execution")


def part_count(sequence: int, value: str, at: float, item: str = "pc") -> Obs:
    return Obs(item, sequence, value, ts(at), "PartCount")


def condition(sequence: int, level: str, at: float, code: str = "", message: str = "", **attributes: str) -> Obs:
    attrs = {"type": "SYSTEM", **({"nativeCode": code} if code else {}), **attributes}
    return Obs("system", sequence, message, ts(at), level, "Condition", "Controller", "cont", attrs)


def current_mill(sequence_base: int = 1, at: float = 0.0, **header_kw: object) -> bytes:
    """A /current of the mill: available, READY, AUTOMATIC, part count 0, Normal."""
    observations = [
        Obs("avail", sequence_base, "AVAILABLE", ts(at), "Availability", "Events", "Device", "d1"),
        Obs("estop", sequence_base + 1, "ARMED", ts(at), "EmergencyStop", "Events", "Device", "d1"),
        execution(sequence_base + 2, "READY", at),
        Obs("mode", sequence_base + 3, "AUTOMATIC", ts(at), "ControllerMode"),
        part_count(sequence_base + 4, "0", at),
        condition(sequence_base + 5, "Normal", at),
    ]
    header_kw.setdefault("first", 1)
    header_kw.setdefault("last", sequence_base + 5)
    header_kw.setdefault("next_", sequence_base + 6)
    return streams(observations, **header_kw)
