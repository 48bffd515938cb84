"""What kind of metric each MTConnect EVENT type becomes.

Closed vocabularies become one-hot `_state` gauges with time-in-state and
transition counters; numeric events become gauges; everything else is free
text, exported only as `mtconnect_event_info` when the config enables it.

The tables follow the MTConnect SysML model (tests/model checks them against
the model's generated enums and classes): every controlled vocabulary, every
EVENT type whose result is a number and every unit is here or in
`NOT_EXPORTED` with its reason.
"""

from __future__ import annotations

UNAVAILABLE = "UNAVAILABLE"

# Every value of the vocabulary, UNAVAILABLE last. Deprecated values that
# real controllers still send are kept so they do not become "unknown".
_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "ACTUATOR_STATE": ("ACTIVE", "INACTIVE"),
    "AVAILABILITY": ("AVAILABLE",),
    "AXIS_COUPLING": ("TANDEM", "SYNCHRONOUS", "MASTER", "SLAVE"),
    "AXIS_INTERLOCK": ("ACTIVE", "INACTIVE"),
    "AXIS_STATE": ("HOME", "TRAVEL", "PARKED", "STOPPED"),
    "CHUCK_INTERLOCK": ("ACTIVE", "INACTIVE"),
    "CHUCK_STATE": ("OPEN", "CLOSED", "UNLATCHED"),
    "CONNECTION_STATUS": ("CLOSED", "LISTEN", "ESTABLISHED"),
    "CONTROLLER_MODE": ("AUTOMATIC", "MANUAL", "MANUAL_DATA_INPUT", "SEMI_AUTOMATIC", "EDIT", "FEED_HOLD"),
    "CONTROLLER_MODE_OVERRIDE": ("ON", "OFF"),
    "BATTERY_STATE": ("CHARGED", "CHARGING", "DISCHARGING", "DISCHARGED"),
    "BINDING_STATE": ("INACTIVE", "PREPARING", "COMMITTED"),
    "CHARACTERISTIC_STATUS": (
        "PASS",
        "FAIL",
        "REWORK",
        "SYSTEM_ERROR",
        "INDETERMINATE",
        "NOT_ANALYZED",
        "BASIC_OR_THEORETIC_EXACT_DIMENSION",
        "UNDEFINED",
    ),
    # ROTARY and LINEAR subtypes each use half of it, plus NONE.
    "DIRECTION": ("CLOCKWISE", "COUNTER_CLOCKWISE", "POSITIVE", "NEGATIVE", "NONE"),
    "DOOR_STATE": ("OPEN", "CLOSED", "UNLATCHED"),
    "EMERGENCY_STOP": ("ARMED", "TRIGGERED"),
    "END_OF_BAR": ("YES", "NO"),
    "EQUIPMENT_MODE": ("ON", "OFF"),
    "EXECUTION": (
        "READY",
        "ACTIVE",
        "INTERRUPTED",
        "FEED_HOLD",
        "STOPPED",
        "OPTIONAL_STOP",
        "PROGRAM_STOPPED",
        "PROGRAM_COMPLETED",
        "WAIT",
        "PROGRAM_OPTIONAL_STOP",
    ),
    "FUNCTIONAL_MODE": ("PRODUCTION", "SETUP", "TEARDOWN", "MAINTENANCE", "PROCESS_DEVELOPMENT"),
    "INTERFACE_STATE": ("ENABLED", "DISABLED"),
    "LEAK_DETECT": ("DETECTED", "NOT_DETECTED"),
    "LOCK_STATE": ("LOCKED", "UNLOCKED"),
    "OPERATING_MODE": ("AUTOMATIC", "MANUAL", "SEMI_AUTOMATIC"),
    "PART_COUNT_TYPE": ("EACH", "BATCH"),
    "PART_DETECT": ("PRESENT", "NOT_PRESENT"),
    "PART_PROCESSING_STATE": (
        "NEEDS_PROCESSING",
        "IN_PROCESS",
        "PROCESSING_ENDED",
        "PROCESSING_ENDED_COMPLETE",
        "PROCESSING_ENDED_STOPPED",
        "PROCESSING_ENDED_ABORTED",
        "PROCESSING_ENDED_LOST",
        "PROCESSING_ENDED_SKIPPED",
        "PROCESSING_ENDED_REJECTED",
        "WAITING_FOR_TRANSIT",
        "IN_TRANSIT",
        "TRANSIT_COMPLETE",
    ),
    "PART_STATUS": ("PASS", "FAIL"),
    "PATH_MODE": ("INDEPENDENT", "MASTER", "SYNCHRONOUS", "MIRROR"),
    "POWER_STATE": ("ON", "OFF"),
    "POWER_STATUS": ("ON", "OFF"),
    "PROCESS_STATE": ("INITIALIZING", "READY", "ACTIVE", "COMPLETE", "INTERRUPTED", "ABORTED"),
    "PROGRAM_EDIT": ("ACTIVE", "READY", "NOT_READY"),
    "PROGRAM_LOCATION_TYPE": ("LOCAL", "EXTERNAL"),
    "ROTARY_MODE": ("SPINDLE", "INDEX", "CONTOUR"),
    "SPINDLE_INTERLOCK": ("ACTIVE", "INACTIVE"),
    "UNCERTAINTY_TYPE": ("COMBINED", "MEAN"),
    "VALVE_STATE": ("OPEN", "OPENING", "CLOSED", "CLOSING"),
    "WAIT_STATE": (
        "POWERING_UP",
        "POWERING_DOWN",
        "PART_LOAD",
        "PART_UNLOAD",
        "TOOL_LOAD",
        "TOOL_UNLOAD",
        "MATERIAL_LOAD",
        "MATERIAL_UNLOAD",
        "SECONDARY_PROCESS",
        "PAUSING",
        "RESUMING",
    ),
}
# Types whose vocabulary depends on the subType: composition states, the request and response sides of
# interfaces (MTConnect Part 5), wireless networks and detecting sensors.
_REQUEST = ("NOT_READY", "READY", "ACTIVE", "FAIL")
_RESPONSE = ("NOT_READY", "READY", "ACTIVE", "COMPLETE", "FAIL")
_INTERFACES = (
    "CLOSE_CHUCK",
    "CLOSE_DOOR",
    "MATERIAL_CHANGE",
    "MATERIAL_FEED",
    "MATERIAL_LOAD",
    "MATERIAL_RETRACT",
    "MATERIAL_UNLOAD",
    "OPEN_CHUCK",
    "OPEN_DOOR",
    "PART_CHANGE",
)
_SUBTYPE_VOCABULARIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("COMPOSITION_STATE", "ACTION"): ("ACTIVE", "INACTIVE"),
    ("COMPOSITION_STATE", "LATERAL"): ("RIGHT", "LEFT", "TRANSITIONING"),
    ("COMPOSITION_STATE", "MOTION"): ("OPEN", "UNLATCHED", "CLOSED"),
    ("COMPOSITION_STATE", "SWITCHED"): ("ON", "OFF"),
    ("COMPOSITION_STATE", "VERTICAL"): ("UP", "DOWN", "TRANSITIONING"),
    ("NETWORK", "WIRELESS"): ("YES", "NO"),
    # The model's result is ON/OFF; the DETECTED/NOT_DETECTED/UNKNOWN of its subType enum are taken too.
    ("SENSOR_STATE", "DETECT"): ("ON", "OFF", "DETECTED", "NOT_DETECTED", "UNKNOWN"),
    **{(interface, "REQUEST"): _REQUEST for interface in _INTERFACES},
    **{(interface, "RESPONSE"): _RESPONSE for interface in _INTERFACES},
}
CLOSED_VOCABULARIES: dict[str, tuple[str, ...]] = {
    key: values + (UNAVAILABLE,) for key, values in _VOCABULARIES.items()
}
SUBTYPE_VOCABULARIES: dict[tuple[str, str], tuple[str, ...]] = {
    key: values + (UNAVAILABLE,) for key, values in _SUBTYPE_VOCABULARIES.items()
}
# Every type that has a `_state` family (for the metric-name collision rule).
STATE_TYPES = frozenset(CLOSED_VOCABULARIES) | {kind for kind, _ in SUBTYPE_VOCABULARIES}


def vocabulary_for(kind: str, sub_type: str) -> tuple[str, ...] | None:
    """The closed vocabulary of an EVENT data item (UNAVAILABLE last), or None: not a controlled one."""
    return SUBTYPE_VOCABULARIES.get((kind, sub_type)) or CLOSED_VOCABULARIES.get(kind)


# EVENT types whose result is a number in the model: exported as a gauge `mtconnect_<type>`.
# ASSET_COUNT is a DATA_SET (a count per asset type): a gauge per key.
_MODEL_NUMERIC_EVENT_TYPES = frozenset(
    {
        "ACTIVATION_COUNT",
        "ASSET_COUNT",
        "AXIS_FEEDRATE_OVERRIDE",
        "BLOCK_COUNT",
        "CYCLE_COUNT",
        "DEACTIVATION_COUNT",
        "DEPTH",
        "HARDNESS",
        "LINE_NUMBER",
        "LOAD_COUNT",
        "MATERIAL_LAYER",
        "MEASUREMENT_VALUE",
        "PART_COUNT",
        "PART_INDEX",
        "PATH_FEEDRATE_OVERRIDE",
        "PROGRAM_NEST_LEVEL",
        "ROTARY_VELOCITY_OVERRIDE",
        "SWING_ANGLE",
        "SWING_DIAMETER",
        "SWING_RADIUS",
        "THICKNESS",
        "TOOL_OFFSET",
        "TRANSFER_COUNT",
        "UNCERTAINTY",
        "UNLOAD_COUNT",
    }
)
# Numbers on real controllers although the model has no numeric result for them (or no longer has them).
NUMERIC_BEYOND_MODEL: dict[str, str] = {
    "LINE": "deprecated for LINE_NUMBER, but 1.x adapters (NIST Mazak, Okuma) still send block numbers in it",
    "TOOL_NUMBER": "the model calls it text, but controllers send the active tool number (T12 -> 12)",
    "SPINDLE_SPEED_OVERRIDE": "1.2 name of ROTARY_VELOCITY_OVERRIDE, still sent by older adapters",
    "FEEDRATE_OVERRIDE": "pre-1.3 name of PATH_FEEDRATE_OVERRIDE, still sent by older adapters",
}
NUMERIC_EVENT_TYPES = _MODEL_NUMERIC_EVENT_TYPES | frozenset(NUMERIC_BEYOND_MODEL)

# EVENT types whose result is three numbers: a gauge per axis, like 3D samples.
VECTOR_EVENT_TYPES = frozenset({"ROTATION", "TRANSLATION"})

# The Agent device's adapter items: one `mtconnect_adapter_info` series per adapter, label by label.
ADAPTER_INFO_LABELS: dict[str, str] = {
    "ADAPTER_URI": "uri",
    "ADAPTER_SOFTWARE_VERSION": "software_version",
    "MTCONNECT_VERSION": "mtconnect_version",
}

# What the model defines and the exporter deliberately does not turn into a gauge or a state, with the
# reason (shown on the landing page). A (type, "") entry covers every subType of the type. Such items are
# free text: `event_info_types` still exports them as `mtconnect_event_info` where that is wanted.
NOT_EXPORTED: dict[tuple[str, str], str] = {
    ("NETWORK_PORT", ""): "a port number names a connection, it does not measure anything",
    ("SENSOR_STATE", "BINARY"): "a sensor's raw true/false reading; its DETECT subType is a state",
    ("SENSOR_STATE", "BOOLEAN"): "a sensor's raw true/false reading; its DETECT subType is a state",
    ("SENSOR_STATE", "ENUMERATED"): "an index into a vendor's own list, meaningless without that list",
}


def not_exported_reason(kind: str, sub_type: str) -> str | None:
    return NOT_EXPORTED.get((kind, sub_type)) or NOT_EXPORTED.get((kind, ""))


def untracked_reason(category: str, kind: str, sub_type: str) -> str:
    """Why a data item the exporter follows gets no series by its kind (shown on the landing page)."""
    if category not in ("SAMPLE", "EVENT", "CONDITION"):
        return f"unknown category {category or '(none)'}"
    reason = not_exported_reason(kind, sub_type)
    if reason is not None:
        return f"not exported: {reason} (event_info_types can export it as text)"
    if ":" in kind:
        return "vendor event not enabled: add it to numeric_event_types (numbers) or event_info_types (text)"
    return "free text not enabled: add it to event_info_types"
