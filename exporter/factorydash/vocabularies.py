"""What kind of metric each MTConnect EVENT type becomes.

Closed vocabularies become one-hot `_state` gauges with time-in-state and
transition counters; numeric events become gauges; everything else is free
text, exported only as `mtconnect_event_info` when the config enables it.
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
    "DIRECTION": ("CLOCKWISE", "COUNTER_CLOCKWISE", "POSITIVE", "NEGATIVE"),
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
    "OPERATING_MODE": ("AUTOMATIC", "MANUAL", "SEMI_AUTOMATIC"),
    "PART_DETECT": ("PRESENT", "NOT_PRESENT"),
    "PART_STATUS": ("PASS", "FAIL"),
    "PATH_MODE": ("INDEPENDENT", "MASTER", "SYNCHRONOUS", "MIRROR"),
    "POWER_STATE": ("ON", "OFF"),
    "POWER_STATUS": ("ON", "OFF"),
    "PROCESS_STATE": ("INITIALIZING", "READY", "ACTIVE", "COMPLETE", "INTERRUPTED", "ABORTED"),
    "PROGRAM_EDIT": ("ACTIVE", "READY", "NOT_READY"),
    "ROTARY_MODE": ("SPINDLE", "INDEX", "CONTOUR"),
    "SPINDLE_INTERLOCK": ("ACTIVE", "INACTIVE"),
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
CLOSED_VOCABULARIES: dict[str, tuple[str, ...]] = {
    key: values + (UNAVAILABLE,) for key, values in _VOCABULARIES.items()
}

# EVENT types whose value is a number: exported as a gauge `mtconnect_<type>`.
NUMERIC_EVENT_TYPES = frozenset(
    {
        "PART_COUNT",
        "LINE",
        "LINE_NUMBER",
        "PATH_FEEDRATE_OVERRIDE",
        "ROTARY_VELOCITY_OVERRIDE",
        "SPINDLE_SPEED_OVERRIDE",
        "FEEDRATE_OVERRIDE",
        "TOOL_NUMBER",
        "TOOL_OFFSET",
        "PALLET_ID",
        "BLOCK_COUNT",
        "PART_INDEX",
        "PROGRAM_NEST_LEVEL",
        "CYCLE_COUNT",
    }
)
