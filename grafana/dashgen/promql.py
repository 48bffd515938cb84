"""PromQL building blocks shared by the dashboards: the machine selection, state codes, durations.

Every query about devices goes through `MACHINES` (or `machines()`): the
selected agents' and machines' devices except the MTConnect Agent device
(`is_agent="true"` on `mtconnect_device_info`), which 2.x agents report
beside the machines and which is no machine: it must not be counted, listed
or drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from .states import State

DEVICE = 'agent=~"$agent", device=~"$device"'
AGENT = 'agent=~"$agent"'
NOT_AGENT_DEVICE = 'is_agent="false"'
MACHINES = f"mtconnect_device_info{{{DEVICE}, {NOT_AGENT_DEVICE}}}"
MACHINE_LABELS = "agent, device"


def selector(metric: str, *matchers: str) -> str:
    """`metric` of the selected agents and devices, with extra label matchers."""
    return f"{metric}{{{', '.join((DEVICE, *matchers))}}}"


def equals(label: str, value: str) -> str:
    """The label matcher `label="value"`."""
    return f'{label}="{value}"'


def machines(expr: str) -> str:
    """`expr` (series labelled agent and device) restricted to the selected machines."""
    return f"({expr}\n  and on ({MACHINE_LABELS}) {MACHINES})"


def machine_sum(by: str, expr: str) -> str:
    """`sum by (by)` over the selected machines of `expr`."""
    return f"sum by ({by}) (\n  {machines(expr)}\n)"


def state_code(metric: str, states: tuple[State, ...]) -> str:
    """One series per machine whose value is the code of its current state."""
    terms = [f"{selector(metric, equals('state', s.value))} * {s.code}" for s in states]
    return machines(f"max by ({MACHINE_LABELS}) (\n    " + "\n  or ".join(terms) + "\n)")


def seconds_in_current_state(metric: str) -> str:
    """How long each machine has been in its current state, in seconds.

    The run started after the last moment the current state's one-hot series
    was 0; if it was never 0 in the range, at the first moment it was seen.
    """
    series = selector(metric)
    return machines(
        f"time() - max by ({MACHINE_LABELS}) (\n"
        "  (\n"
        f"      max_over_time(timestamp({series} == 0)[$__range:$__interval])\n"
        f"    or\n"
        f"      min_over_time(timestamp({series} == 1)[$__range:$__interval])\n"
        "  )\n"
        f"  and {series} == 1\n"
        ")"
    )


def per_machine_zero() -> str:
    """0 for every selected machine, to complete counts that are absent at 0."""
    return f"0 * max by ({MACHINE_LABELS}) ({MACHINES})"


def period_gauge(scope: str, name: str, period: str, *matchers: str) -> str:
    """One of the exporter's exact shift or day gauges for the selected machines.

    `scope` is "shift" or "day", `name` the gauge after `mtconnect_device_<scope>_`,
    `period` "current" or "previous". The period label is dropped so that
    tables can merge the gauges on agent and device.
    """
    gauge = selector(f"mtconnect_device_{scope}_{name}", f'period="{period}"', *matchers)
    return f"max by ({MACHINE_LABELS}) ({machines(gauge)})"


@dataclass(frozen=True)
class Leg:
    """OEE or one of its factors, under its recording-rule and its shift-gauge name."""

    title: str
    rule: str  # device:mtconnect_<rule>:ratio_<window>
    gauge: str  # mtconnect_device_shift_<gauge>_ratio


OEE_LEGS = (
    Leg("OEE", "oee", "oee"),
    Leg("Availability", "oee_availability", "availability"),
    Leg("Performance", "oee_performance", "performance"),
    Leg("Quality", "oee_quality", "quality"),
)


def oee_rule(level: str, leg: Leg, window: str) -> str:
    """A KPI recording rule, `level` "device" or "plant", `window` 1h, 8h or 24h."""
    name = f"{level}:mtconnect_{leg.rule}:ratio_{window}"
    return machines(selector(name)) if level == "device" else name
