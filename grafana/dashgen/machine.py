"""Machine detail: one machine's states, shift KPIs and time elements, spindle, feed, axes, parts and alarms."""

from __future__ import annotations

from .layout import dashboard
from .panels import (
    RANGE_NOTE,
    Json,
    bargauge,
    column,
    oee_steps,
    piechart,
    state_colours,
    state_timeline,
    table,
    target,
    timeseries,
)
from .promql import OEE_LEGS, equals, machine_sum, machines, oee_rule, period_gauge, selector, state_code
from .states import AMBER, AVAILABILITY, CONTROLLER_MODE, EXECUTION

# The ISO 22400 elements that partition planned busy time (docs/time-accounting.md).
PBT_ELEMENTS = ("production", "setup", "delay", "down", "unavailable")


def series(metric: str, *matchers: str) -> str:
    return machines(selector(metric, *matchers))


def build() -> Json:
    item_legend = "{{device}} {{component}} {{name}}"
    panels = [
        state_timeline(
            "Execution",
            "EXECUTION over time: ACTIVE green, READY/WAIT blue, FEED_HOLD and INTERRUPTED amber, STOPPED red, "
            "UNAVAILABLE grey.",
            state_code("mtconnect_execution_state", EXECUTION),
            "{{device}} execution",
            EXECUTION,
            (0, 0, 24, 5),
        ),
        state_timeline(
            "Controller mode",
            "CONTROLLER_MODE over time: AUTOMATIC green, SEMI_AUTOMATIC light green, MDI blue, MANUAL yellow, "
            "EDIT purple, UNAVAILABLE grey.",
            state_code("mtconnect_controller_mode_state", CONTROLLER_MODE),
            "{{device}} mode",
            CONTROLLER_MODE,
            (0, 5, 24, 4),
        ),
        state_timeline(
            "Availability",
            "The device's AVAILABILITY: UNAVAILABLE (grey) means the agent has no data from the machine "
            "(adapter disconnected, machine off).",
            state_code("mtconnect_availability_state", AVAILABILITY),
            "{{device}} availability",
            AVAILABILITY,
            (0, 9, 24, 4),
        ),
        piechart(
            "Time in each execution state",
            f"Time spent in each EXECUTION state {RANGE_NOTE}, from the agents' timestamps, planned or "
            "not (a machine with several paths counts each path's time).",
            "s",
            [
                target(
                    machine_sum("state", "increase(" + selector("mtconnect_execution_state_seconds_total") + "[$__range])") + " > 0",
                    "{{state}}",
                    instant=True,
                )
            ],
            (0, 13, 8, 9),
            overrides=state_colours(EXECUTION),
        ),
        bargauge(
            "OEE and its legs (this shift)",
            "OEE = availability x performance x quality in the running shift so far, from the exporter's "
            "exact shift figures (ISO 22400: ratios of the shift's summed times and parts). Red below the "
            "plant's OEE target, green at or above it. Empty between shifts; OEE and quality are absent for "
            "a machine without a quality source.",
            "percentunit",
            [
                target(period_gauge("shift", f"{leg.gauge}_ratio", "current"), f"{leg.title} {{{{device}}}}", ref=ref, instant=True)
                for ref, leg in zip("ABCD", OEE_LEGS)
            ],
            (8, 13, 8, 9),
            steps=oee_steps(),
            defaults={"max": 1},
        ),
        timeseries(
            "OEE over a sliding hour",
            "OEE and its three legs over the hour before each moment (recording rules: ratios of the "
            "increases of the exporter's time and parts counters over that hour).",
            "percentunit",
            [target(oee_rule("device", leg, "1h"), f"{leg.title} {{{{device}}}}", ref=ref) for ref, leg in zip("ABCD", OEE_LEGS)],
            (16, 13, 8, 9),
            defaults={"min": 0, "max": 1},
        ),
        bargauge(
            "Planned time this shift",
            "Where the running shift's planned busy time went so far (ISO 22400 elements booked by the "
            "exporter: production, setup, delay, down, unavailable add up to planned busy time). Empty "
            "between shifts.",
            "dtdurations",
            [
                target(period_gauge("shift", "seconds", "current", equals("element", element)), element, ref=ref, instant=True)
                for ref, element in zip("ABCDE", PBT_ELEMENTS)
            ],
            (0, 22, 12, 8),
        ),
        bargauge(
            "Planned time today",
            "The same for the calendar day so far (in the calendar's timezone).",
            "dtdurations",
            [
                target(period_gauge("day", "seconds", "current", equals("element", element)), element, ref=ref, instant=True)
                for ref, element in zip("ABCDE", PBT_ELEMENTS)
            ],
            (12, 22, 12, 8),
        ),
        timeseries(
            "Spindle speed",
            "Spindle (rotary axis) speed in revolutions per minute: ROTARY_VELOCITY, and SPINDLE_SPEED from "
            "older agents.",
            "rotrpm",
            [
                target(
                    f'{series("mtconnect_rotary_velocity_revolutions_per_minute")} '
                    f'or {series("mtconnect_spindle_speed_revolutions_per_minute")}',
                    item_legend,
                    ref="A",
                ),
            ],
            (0, 30, 12, 8),
        ),
        timeseries(
            "Spindle and axis load",
            "LOAD of spindles and axes, as a share of their rated load.",
            "percentunit",
            [target(series("mtconnect_load_ratio"), item_legend)],
            (12, 30, 12, 8),
        ),
        timeseries(
            "Path feedrate",
            "PATH_FEEDRATE: the tool's feedrate along the programmed path, in meters per second.",
            "velocityms",
            [target(series("mtconnect_path_feedrate_meters_per_second"), item_legend)],
            (0, 38, 12, 8),
        ),
        timeseries(
            "Feedrate and spindle overrides",
            "Operator overrides (PATH_FEEDRATE_OVERRIDE, ROTARY_VELOCITY_OVERRIDE): 100 % runs the program "
            "as written.",
            "percentunit",
            [
                target(series("mtconnect_path_feedrate_override_ratio"), "feed " + item_legend, ref="A"),
                target(series("mtconnect_rotary_velocity_override_ratio"), "spindle " + item_legend, ref="B"),
            ],
            (12, 38, 12, 8),
        ),
        timeseries(
            "Linear axis positions",
            "POSITION of the linear axes in meters (sub-type ACTUAL where the machine reports it).",
            "lengthm",
            [target(series("mtconnect_position_meters"), item_legend + " {{sub_type}}")],
            (0, 46, 12, 8),
        ),
        timeseries(
            "Rotary axis angles",
            "ANGLE of the rotary axes in degrees. Empty when the machine has no rotary axes (a 3-axis "
            "machining centre, say).",
            "degree",
            [target(series("mtconnect_angle_degrees"), item_legend + " {{sub_type}}")],
            (12, 46, 12, 8),
        ),
        timeseries(
            "Temperatures",
            "TEMPERATURE samples of the machine (spindle, axes, coolant...) in degrees Celsius.",
            "celsius",
            [target(series("mtconnect_temperature_celsius"), item_legend)],
            (0, 54, 12, 8),
        ),
        timeseries(
            "Part count and parts in the last hour",
            "The machine's PART_COUNT as the controller shows it (left) and the parts made in the hour before "
            "each moment, a whole number from the exporter's reset-proof counter (right axis).",
            "none",
            [
                target(series("mtconnect_part_count_value"), "count {{device}} {{sub_type}}", ref="A"),
                target(series("device:mtconnect_parts:count_1h"), "parts/h {{device}}", ref="B"),
            ],
            (12, 54, 12, 8),
            overrides=[
                {
                    "matcher": {"id": "byFrameRefID", "options": "B"},
                    "properties": [{"id": "custom.axisPlacement", "value": "right"}, {"id": "unit", "value": "none"}],
                }
            ],
        ),
        table(
            "Active alarms",
            "Warning and Fault conditions active now. Since: first time the alarm was seen within the selected "
            "range (if it cleared and came back inside the range, its first appearance). Empty when no alarm "
            "is active.",
            "none",
            [
                target(
                    f"1000 * min_over_time(timestamp({series('mtconnect_condition_active')})[$__range:$__interval])\n"
                    f"and {series('mtconnect_condition_active')}",
                    instant=True,
                    table=True,
                )
            ],
            (0, 62, 16, 8),
            columns={
                "device": "Machine",
                "level": "Level",
                "condition": "Condition",
                "native_code": "Native code",
                "native_severity": "Severity",
                "qualifier": "Qualifier",
                "message": "Message",
                "component": "Component",
                "Value": "Since",
            },
            sort_by="Value",
            overrides=[
                column("Since", "dateTimeFromNow"),
                column(
                    "Level",
                    "string",
                    mappings=[
                        {
                            "type": "value",
                            "options": {
                                "fault": {"text": "fault", "color": "red", "index": 0},
                                "warning": {"text": "warning", "color": AMBER, "index": 1},
                            },
                        }
                    ],
                    **{"custom.cellOptions": {"type": "color-background", "mode": "basic"}},
                ),
            ],
        ),
        table(
            "Current program",
            "The PROGRAM each path is running (mtconnect_event_info).",
            "string",
            [target(series("mtconnect_event_info", 'event="PROGRAM"'), instant=True, table=True)],
            (16, 62, 8, 8),
            columns={"device": "Machine", "component": "Path", "value": "Program"},
            sort_by="device",
        ),
        timeseries(
            "Alarm onsets",
            "Onsets of Warning and Fault conditions, per condition type, in each interval (whole numbers). Empty when no "
            "alarm was raised in the range.",
            "none",
            [
                target(
                    "round(\n"
                    + machine_sum(
                        "device, condition, level",
                        f"increase({selector('mtconnect_condition_activations_total')}[$__rate_interval])",
                    )
                    + "\n) > 0",
                    "{{device}} {{condition}} {{level}}",
                )
            ],
            (0, 70, 24, 8),
            bars=True,
            stacked=True,
            defaults={"decimals": 0},
        ),
    ]
    return dashboard(
        "factorydash-machine",
        "Machine detail",
        "One machine: states, OEE and planned time of the shift and the day, spindle, feed, axes, temperatures, parts, "
        "alarms and the running program.",
        "now-8h",
        panels,
    )
