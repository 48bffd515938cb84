"""The device model: a namespace-free lxml tree of <Devices> and its data item index.

The tree is kept without namespaces so `path=` XPath filters written the way
clients write them for cppagent (`//Axes`, `//DataItem[@type="EXECUTION"]`)
match; the probe document puts the versioned default namespace around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

CATEGORY_CONTAINERS = {"SAMPLE": "Samples", "EVENT": "Events", "CONDITION": "Condition"}
_CATEGORY_ORDER = {"SAMPLE": 0, "EVENT": 1, "CONDITION": 2}
_REPRESENTATION_SUFFIX = {"TIME_SERIES": "TimeSeries", "DATA_SET": "DataSet", "TABLE": "Table"}
DEVICE_ELEMENTS = ("Device", "Agent")


@dataclass(frozen=True)
class DataItem:
    id: str
    device: str
    device_uuid: str
    component: str
    component_id: str
    component_name: str | None
    category: str
    type: str
    sub_type: str | None
    name: str | None
    units: str | None
    representation: str
    tag: str
    sort_key: tuple[int, int, int, int]

    @property
    def is_condition(self) -> bool:
        return self.category == "CONDITION"


@dataclass(frozen=True)
class DeviceModel:
    name: str
    uuid: str
    id: str
    element_tag: str
    items: tuple[DataItem, ...]


_IRREGULAR_NAMES = {"ADAPTER_URI": "AdapterURI", "MTCONNECT_VERSION": "MTConnectVersion"}


def pascal_case(mtconnect_type: str) -> str:
    """ROTARY_VELOCITY -> RotaryVelocity; x:CUTTING_TIME -> x:CuttingTime."""
    prefix, _, local = mtconnect_type.rpartition(":")
    camel = _IRREGULAR_NAMES.get(local) or "".join(part.capitalize() for part in local.split("_"))
    return f"{prefix}:{camel}" if prefix else camel


def element(tag: str, attrib: dict[str, str | None] | None = None, *children: etree._Element) -> etree._Element:
    el = etree.Element(tag, {k: v for k, v in (attrib or {}).items() if v is not None})
    el.extend(children)
    return el


def parse_devices_file(path: Path) -> etree._Element:
    """A device file (MTConnectDevices document) -> namespace-free <Devices> element."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True)
    root = etree.parse(str(path), parser).getroot()
    for el in root.iter():
        if isinstance(el.tag, str):
            el.tag = etree.QName(el).localname
    etree.cleanup_namespaces(root)
    devices = root.find("Devices") if root.tag != "Devices" else root
    if devices is None:
        raise ValueError(f"{path}: no Devices element")
    return devices


def index_devices(devices: etree._Element) -> tuple[DeviceModel, ...]:
    """Every Agent/Device with its data items, each with its component and sort key."""
    models = []
    component_counter = 0
    for device_index, dev in enumerate(el for el in devices if el.tag in DEVICE_ELEMENTS):
        name = dev.get("name", dev.get("id", ""))
        uuid = dev.get("uuid", name)
        order = {el: i for i, el in enumerate(dev.iter())}
        items = []
        for item_index, di in enumerate(dev.iter("DataItem")):
            owner = di.getparent().getparent()
            component = "Device" if owner is dev and dev.tag == "Device" else owner.tag
            category = di.get("category", "EVENT")
            mt_type = di.get("type", "")
            representation = di.get("representation", "VALUE")
            tag = pascal_case(mt_type) + _REPRESENTATION_SUFFIX.get(representation, "")
            items.append(
                DataItem(
                    id=di.get("id", ""),
                    device=name,
                    device_uuid=uuid,
                    component=component,
                    component_id=owner.get("id", ""),
                    component_name=owner.get("name"),
                    category=category,
                    type=mt_type,
                    sub_type=di.get("subType"),
                    name=di.get("name"),
                    units=di.get("units"),
                    representation=representation,
                    tag=tag,
                    sort_key=(device_index, component_counter + order[owner], _CATEGORY_ORDER.get(category, 1), item_index),
                )
            )
        component_counter += len(order)
        models.append(DeviceModel(name=name, uuid=uuid, id=dev.get("id", name), element_tag=dev.tag, items=tuple(items)))
    return tuple(models)


_SAFE_ID = re.compile(r"[^A-Za-z0-9_]")


def safe_id(text: str) -> str:
    return _SAFE_ID.sub("", text).lower()
