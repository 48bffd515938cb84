"""The simulated machine tools: their kinds, their fault and warning catalogue, and the MTConnect device model
(Devices XML and data item ids by role) each one exposes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from .model import element, safe_id

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
