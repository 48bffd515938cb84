"""Machine detail"""

from __future__ import annotations

from .layout import dashboard
from .panels import Json, RANGE_NOTE, bargauge, column, panel, state_timeline, table, target, timeseries
from .promql import DEVICE, shift_average, state_code
from .states import AMBER, AVAILABILITY, CONTROLLER_MODE, EXECUTION, GREEN

def build() -> Json:
    def series(metric: str, extra: str = "") -> str:
        return f"{metric}{{{DEVICE}{', ' + extra if extra else ''}}}"

    item_legend = "{{device}} {{component}} {{name}}"
    oee_legs = [
        ("OEE", "device:mtconnect_oee:ratio"),
        ("Availability", "device:mtconnect_oee_availability:ratio"),
        ("Performance", "device:mtconnect_oee_performance:ratio"),
        ("Quality", "device:mtconnect_oee_quality:ratio"),
    ]
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
        panel(
            "piechart",
            "Time in each execution state",
            f"Time spent in each EXECUTION state {RANGE_NOTE}, from the agents' timestamps.",
            "s",
            [
                target(
                    f"sum by (state) (increase(mtconnect_execution_state_seconds_total{{{DEVICE}}}[$__range])) > 0",
                    "{{state}}",
                    instant=True,
                )
            ],
            (0, 13, 8, 9),
            defaults={"color": {"mode": "palette-classic"}},
            options={
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "pieType": "donut",
                "displayLabels": ["percent"],
                "legend": {"showLegend": True, "displayMode": "table", "placement": "right", "values": ["value", "percent"]},
                "tooltip": {"mode": "single", "sort": "none"},
            },
            overrides=[
                {
                    "matcher": {"id": "byName", "options": s.value},
                    "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": s.colour}}],
                }
                for s in EXECUTION
            ],
        ),
        bargauge(
            "OEE and its legs (shift so far)",
            f"OEE = availability x performance x quality, {RANGE_NOTE}: means of the 5-minute recording rules "
            "over the planned production windows of the range.",
            "percentunit",
            [
                target(shift_average(f"{rule}_5m"), f"{name} {{{{device}}}}", ref=chr(ord("A") + i), instant=True)
                for i, (name, rule) in enumerate(oee_legs)
            ],
            (8, 13, 8, 9),
            steps=((None, "red"), (0.6, AMBER), (0.85, GREEN)),
            defaults={"max": 1},
        ),
        timeseries(
            "OEE over the last hour",
            "OEE and its three legs over a sliding hour (recording rules, 1h window).",
            "percentunit",
            [
                target(f"{rule}_1h{{{DEVICE}}}", f"{name} {{{{device}}}}", ref=chr(ord("A") + i))
                for i, (name, rule) in enumerate(oee_legs)
            ],
            (16, 13, 8, 9),
            defaults={"min": 0, "max": 1},
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
            (0, 22, 12, 8),
        ),
        timeseries(
            "Spindle and axis load",
            "LOAD of spindles and axes, as a share of their rated load.",
            "percentunit",
            [target(series("mtconnect_load_ratio"), item_legend)],
            (12, 22, 12, 8),
        ),
        timeseries(
            "Path feedrate",
            "PATH_FEEDRATE: the tool's feedrate along the programmed path, in meters per second.",
            "velocityms",
            [target(series("mtconnect_path_feedrate_meters_per_second"), item_legend)],
            (0, 30, 12, 8),
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
            (12, 30, 12, 8),
        ),
        timeseries(
            "Linear axis positions",
            "POSITION of the linear axes in meters (sub-type ACTUAL where the machine reports it).",
            "lengthm",
            [target(series("mtconnect_position_meters"), item_legend + " {{sub_type}}")],
            (0, 38, 12, 8),
        ),
        timeseries(
            "Rotary axis angles",
            "ANGLE of the rotary axes in degrees. Empty when the machine has no rotary axes (a 3-axis "
            "machining centre, say).",
            "degree",
            [target(series("mtconnect_angle_degrees"), item_legend + " {{sub_type}}")],
            (12, 38, 12, 8),
        ),
        timeseries(
            "Temperatures",
            "TEMPERATURE samples of the machine (spindle, axes, coolant...) in degrees Celsius.",
            "celsius",
            [target(series("mtconnect_temperature_celsius"), item_legend)],
            (0, 46, 12, 8),
        ),
        timeseries(
            "Part count and parts per hour",
            "The machine's PART_COUNT as the controller shows it (left) and parts per hour over a sliding hour "
            "(right axis).",
            "none",
            [
                target(series("mtconnect_part_count_value"), "count {{device}} {{sub_type}}", ref="A"),
                target(f"device:mtconnect_parts:rate_per_hour_1h{{{DEVICE}}}", "parts/h {{device}}", ref="B"),
            ],
            (12, 46, 12, 8),
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
            (0, 54, 16, 8),
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
            (16, 54, 8, 8),
            columns={"device": "Machine", "component": "Path", "value": "Program"},
            sort_by="device",
        ),
        timeseries(
            "Alarm onsets",
            "Onsets of Warning and Fault conditions, per condition type, in each interval. Empty when no "
            "alarm was raised in the range.",
            "none",
            [
                target(
                    f"sum by (device, condition, level) (increase(mtconnect_condition_activations_total{{{DEVICE}}}[$__rate_interval])) > 0",
                    "{{device}} {{condition}} {{level}}",
                )
            ],
            (0, 62, 24, 8),
            bars=True,
            stacked=True,
            defaults={"decimals": 0},
        ),
    ]
    return dashboard(
        "factorydash-machine",
        "Machine detail",
        "One machine: states, spindle, feed, axes, temperatures, parts, OEE, alarms and the running program.",
        "now-8h",
        panels,
    )
