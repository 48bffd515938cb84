"""MTConnect units -> Prometheus metric name suffixes and scale factors.

This is the one table of units. Prometheus names carry base units
(meters, seconds, ratio, joules, grams, ...); values are converted with
`scale`. Two documented choices keep shop-floor readings recognisable:
REVOLUTION/MINUTE stays `revolutions_per_minute` (spindle speeds are read
and commanded in rpm everywhere) and angles stay in `degrees` (machine axes
are programmed in degrees; Prometheus has no angle base unit).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Unit:
    suffix: str  # appended to the metric name; "" for dimensionless counts
    scale: float = 1.0


UNITS: dict[str, Unit] = {
    "AMPERE": Unit("amperes"),
    "CELSIUS": Unit("celsius"),
    "COUNT": Unit(""),
    "COULOMB": Unit("coulombs"),
    "COUNT/SECOND": Unit("per_second"),
    "CUBIC_METER": Unit("cubic_meters"),
    "CUBIC_MILLIMETER": Unit("cubic_meters", 1e-9),
    "CUBIC_MILLIMETER/SECOND": Unit("cubic_meters_per_second", 1e-9),
    "CUBIC_MILLIMETER/SECOND^2": Unit("cubic_meters_per_second_squared", 1e-9),
    "DECIBEL": Unit("decibels"),
    "DEGREE": Unit("degrees"),
    "DEGREE/SECOND": Unit("degrees_per_second"),
    "DEGREE/SECOND^2": Unit("degrees_per_second_squared"),
    "DEGREE_3D": Unit("degrees"),
    "GRAM": Unit("grams"),
    "GRAM/CUBIC_METER": Unit("grams_per_cubic_meter"),
    "GRAVITATIONAL_ACCELERATION": Unit("meters_per_second_squared", 9.80665),
    "HERTZ": Unit("hertz"),
    "JOULE": Unit("joules"),
    "KILOGRAM": Unit("grams", 1000.0),
    "KILOWATT_HOUR": Unit("joules", 3.6e6),
    "LITER": Unit("liters"),
    "LITER/SECOND": Unit("liters_per_second"),
    "LITER/MINUTE": Unit("liters_per_second", 1 / 60),
    "METER/SECOND^2": Unit("meters_per_second_squared"),
    "MICRO_RADIAN": Unit("radians", 1e-6),
    "MILLIGRAM": Unit("grams", 1e-3),
    "MILLIGRAM/CUBIC_MILLIMETER": Unit("grams_per_cubic_meter", 1e6),
    "MILLIGRAM/LITER": Unit("grams_per_cubic_meter"),  # 1 mg/L = 1 g/m^3
    "MILLILITER": Unit("liters", 1e-3),
    "MILLIMETER": Unit("meters", 1e-3),
    "MILLIMETER/REVOLUTION": Unit("meters_per_revolution", 1e-3),
    "MILLIMETER/SECOND": Unit("meters_per_second", 1e-3),
    "MILLIMETER/SECOND^2": Unit("meters_per_second_squared", 1e-3),
    "MILLIMETER_3D": Unit("meters", 1e-3),
    "NEWTON": Unit("newtons"),
    "NEWTON_METER": Unit("newton_meters"),
    "OHM": Unit("ohms"),
    "OHM_METER": Unit("ohm_meters"),
    "PASCAL": Unit("pascals"),
    "PASCAL/SECOND": Unit("pascals_per_second"),
    "PASCAL_SECOND": Unit("pascal_seconds"),
    "PERCENT": Unit("ratio", 1e-2),
    "PH": Unit("ph"),
    "PART_PER_MILLION": Unit("ratio", 1e-6),
    "RADIAN": Unit("radians"),
    "RADIAN/SECOND": Unit("radians_per_second"),
    "RADIAN/SECOND^2": Unit("radians_per_second_squared"),
    "REVOLUTION/MINUTE": Unit("revolutions_per_minute"),
    "REVOLUTION/SECOND": Unit("revolutions_per_minute", 60.0),
    "REVOLUTION/SECOND^2": Unit("revolutions_per_second_squared"),
    "SECOND": Unit("seconds"),
    "SIEMENS/METER": Unit("siemens_per_meter"),
    "SQUARE_MILLIMETER": Unit("square_meters", 1e-6),
    "UNIT_VECTOR_3D": Unit(""),
    "VOLT": Unit("volts"),
    "VOLT_AMPERE": Unit("volt_amperes"),
    "VOLT_AMPERE_REACTIVE": Unit("volt_amperes_reactive"),
    "WATT": Unit("watts"),
    "WATT_SECOND": Unit("joules"),
}

_NOT_NAME = re.compile(r"[^a-z0-9_]+")


def unit_for(units: str) -> Unit:
    """The Prometheus unit of an MTConnect `units` attribute ("" -> no suffix).

    An unknown unit is kept, sanitised, as the suffix without conversion.
    """
    if not units:
        return Unit("")
    known = UNITS.get(units.upper())
    if known is not None:
        return known
    log.debug("unknown MTConnect unit %r kept without conversion", units)
    return Unit(sanitize(units.lower().replace("/", "_per_")))


def sanitize(text: str) -> str:
    """A metric name fragment: lower snake case, only [a-z0-9_]."""
    return _NOT_NAME.sub("_", text.lower()).strip("_")


def type_name(mtconnect_type: str) -> str:
    """`ROTARY_VELOCITY` -> `rotary_velocity`; vendor `x:CUTTING_TIME` -> `x_cutting_time`."""
    return sanitize(mtconnect_type.replace(":", "_"))


# Suffixes Prometheus reserves for counters, histograms, summaries and info metrics.
_RESERVED_SUFFIXES = ("_count", "_sum", "_bucket", "_total", "_info", "_created")

# The exporter's own families: every name under these prefixes and these names (counters without
# `_total`). A data item never joins one of them.
EXPORTER_PREFIXES = ("mtconnect_agent_", "mtconnect_device_", "mtconnect_condition_", "mtconnect_series_")
EXPORTER_NAMES = frozenset({"mtconnect_parts", "mtconnect_event_info"})


def is_exporter_family(name: str) -> bool:
    return name.startswith(EXPORTER_PREFIXES) or name in EXPORTER_NAMES


# Name parts promtool's lint reads as a metric type, an abbreviated unit or a non-base unit.
_LINTED_PARTS = frozenset(
    {"gauge", "counter", "histogram", "summary"}
    | {"s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d"}
    | {"minutes", "hours", "days", "weeks", "milliseconds", "microseconds", "nanoseconds", "feet", "inches",
       "yards", "miles", "millimeters", "centimeters", "kilometers", "kilobytes", "megabytes", "gigabytes",
       "terabytes", "petabytes", "exabytes", "zettabytes", "yottabytes", "kibibytes", "mebibytes", "gibibytes",
       "tebibytes", "pebibytes", "exbibytes", "zebibytes", "yobibytes", "fahrenheit", "kilograms", "milligrams",
       "micrograms", "nanograms", "kilovolts", "millivolts", "microvolts", "kilojoules", "millijoules",
       "milliamperes", "microamperes"}
)


def _state_families() -> frozenset[str]:
    from .vocabularies import STATE_TYPES  # names of the state families: one-hot, seconds, transitions

    return frozenset(
        f"mtconnect_{type_name(kind)}_state{suffix}"
        for kind in STATE_TYPES
        for suffix in ("", "_seconds", "_transitions")
    )


def metric_name(mtconnect_type: str, units: str) -> str:
    """The gauge family of a data item: `mtconnect_<type>_<unit>`, made collision-free and lint-clean.

    The rule (docs/metrics.md, "Samples"): a name part that promtool's lint would flag is glued to the part
    before it (`x:FOO_GAUGE` -> `mtconnect_x_foogauge`), and a name that ends in a suffix Prometheus
    reserves or that is (or is named like) one of the exporter's own or the state families gets `_value`
    (PART_COUNT -> `mtconnect_part_count_value`, PARTS -> `mtconnect_parts_value`).
    """
    suffix = unit_for(units).suffix
    name = type_name(mtconnect_type)
    if suffix and name != suffix and not name.endswith("_" + suffix):
        name = f"{name}_{suffix}" if name else suffix
    name = "mtconnect_" + "_".join(_glue_linted_parts(name.split("_")))
    if name.endswith(_RESERVED_SUFFIXES) or is_exporter_family(name) or name in _STATE_FAMILIES:
        name += "_value"
    return name


def _glue_linted_parts(parts: list[str]) -> list[str]:
    glued: list[str] = []
    pending = ""
    for part in parts:
        if not part:
            continue
        if part in _LINTED_PARTS:
            if glued:
                glued[-1] += part
            else:
                pending += part  # no part before it: glued to the next one
        else:
            glued.append(pending + part)
            pending = ""
    if pending or not glued:
        glued.append(pending + "value")
    return glued


_STATE_FAMILIES = _state_families()
