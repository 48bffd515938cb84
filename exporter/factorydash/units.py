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
    "COUNT/SECOND": Unit("per_second"),
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
    "MICRO_RADIAN": Unit("radians", 1e-6),
    "MILLIGRAM": Unit("grams", 1e-3),
    "MILLIGRAM/CUBIC_MILLIMETER": Unit("grams_per_cubic_meter", 1e6),
    "MILLILITER": Unit("liters", 1e-3),
    "MILLIMETER": Unit("meters", 1e-3),
    "MILLIMETER/REVOLUTION": Unit("meters_per_revolution", 1e-3),
    "MILLIMETER/SECOND": Unit("meters_per_second", 1e-3),
    "MILLIMETER/SECOND^2": Unit("meters_per_second_squared", 1e-3),
    "MILLIMETER_3D": Unit("meters", 1e-3),
    "NEWTON": Unit("newtons"),
    "NEWTON_METER": Unit("newton_meters"),
    "OHM": Unit("ohms"),
    "PASCAL": Unit("pascals"),
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


def metric_name(mtconnect_type: str, units: str) -> str:
    """`mtconnect_<type>_<unit>`; a name ending in a reserved suffix gets `_value` (PART_COUNT)."""
    suffix = unit_for(units).suffix
    name = f"mtconnect_{type_name(mtconnect_type)}"
    if suffix and not name.endswith("_" + suffix):
        name = f"{name}_{suffix}"
    if name.endswith(_RESERVED_SUFFIXES):
        name += "_value"
    return name
