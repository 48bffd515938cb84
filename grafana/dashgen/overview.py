"""Shop floor overview (the home dashboard): who is cutting, how the shift goes, what alarms."""

from __future__ import annotations

from .layout import dashboard
from .panels import (
    MACHINE_LEGEND,
    RANGE_NOTE,
    Json,
    bargauge,
    column,
    dashboard_link,
    instant_table,
    machine_link,
    oee_steps,
    ratio_column,
    stat,
    state_column,
    state_timeline,
    table,
    target,
    thresholds,
    timeseries,
)
from .promql import (
    AGENT,
    MACHINES,
    equals,
    OEE_LEGS,
    machine_sum,
    machines,
    oee_rule,
    per_machine_zero,
    period_gauge,
    seconds_in_current_state,
    selector,
    state_code,
)
from .states import AMBER, EXECUTION, GREEN, GREY

OEE = OEE_LEGS[0]


def build() -> Json:
    alarms_link = [dashboard_link("factorydash-alarms", "alarms-and-downtime", "Alarms and downtime")]
    oee_link = [dashboard_link("factorydash-oee", "oee-by-shift", "OEE by shift")]
    execution_seconds = "mtconnect_execution_state_seconds_total"
    panels = [
        stat(
            "Machines cutting now",
            "Machines whose EXECUTION is ACTIVE on at least one path right now.",
            "none",
            "count(max by (agent, device) "
            f'({machines(selector("mtconnect_execution_state", equals("state", "ACTIVE")))}) == 1) or vector(0)',
            (0, 0, 4, 4),
            steps=((None, GREY), (1, GREEN)),
        ),
        stat(
            "Machines",
            "Machines (devices) reported by the selected agents; the MTConnect Agent device of 2.x agents "
            "is no machine and is not counted.",
            "none",
            f"count({MACHINES}) or vector(0)",
            (4, 0, 4, 4),
        ),
        stat(
            "Plant OEE (last 8 hours)",
            "OEE of the whole plant over the last 8 hours (recording rule, ratio of the summed ISO 22400 "
            "times and parts of every machine; the Agent and Machine selection does not apply). Red below "
            "the plant's OEE target, green at or above it.",
            "percentunit",
            oee_rule("plant", OEE, "8h"),
            (8, 0, 4, 4),
            steps=oee_steps(),
            links=oee_link,
        ),
        stat(
            "Faults active",
            "Fault conditions active right now on the selected machines.",
            "none",
            f'count({machines(selector("mtconnect_condition_active", equals("level", "fault")))}) or vector(0)',
            (12, 0, 4, 4),
            steps=((None, GREEN), (1, "red")),
            links=alarms_link,
        ),
        stat(
            "Warnings active",
            "Warning conditions active right now on the selected machines.",
            "none",
            f'count({machines(selector("mtconnect_condition_active", equals("level", "warning")))}) or vector(0)',
            (16, 0, 4, 4),
            steps=((None, GREEN), (1, AMBER)),
            links=alarms_link,
        ),
        stat(
            "Agents down",
            "Agents whose last exchange with the exporter failed. If this is not 0, the panels below "
            "miss those agents' machines: see Exporter and agents.",
            "none",
            f"count(mtconnect_agent_up{{{AGENT}}} == 0) or vector(0)",
            (20, 0, 4, 4),
            steps=((None, GREEN), (1, "red")),
            links=[dashboard_link("factorydash-exporter", "exporter-and-agents", "Exporter and agents")],
        ),
        state_timeline(
            "Execution",
            "EXECUTION of every machine over time: ACTIVE (cutting) green, READY/WAIT (idle) blue, FEED_HOLD "
            "and INTERRUPTED amber, STOPPED red, UNAVAILABLE grey. A machine with several paths shows its "
            "busiest path.",
            state_code("mtconnect_execution_state", EXECUTION),
            MACHINE_LEGEND,
            EXECUTION,
            (0, 4, 24, 9),
        ),
        table(
            "Per machine",
            "One line per machine: its execution state now and how long it has lasted; utilization (share "
            f"of time ACTIVE) {RANGE_NOTE}; OEE and parts produced in the running shift (the exporter's exact "
            "shift figures: empty between shifts and for a machine without a quality source); parts per hour "
            "in the last hour and alarms active now. Click a machine for its detail.",
            "none",
            [
                instant_table(state_code("mtconnect_execution_state", EXECUTION), "A"),
                instant_table(seconds_in_current_state("mtconnect_execution_state"), "B"),
                instant_table(
                    machine_sum("agent, device", f'increase({selector(execution_seconds, equals("state", "ACTIVE"))}[$__range])')
                    + "\n/\n"
                    + machine_sum("agent, device", f"increase({selector(execution_seconds)}[$__range])"),
                    "C",
                ),
                instant_table(period_gauge("shift", "oee_ratio", "current"), "D"),
                instant_table(period_gauge("shift", "parts", "current", 'kind="produced"'), "E"),
                instant_table(machines(selector("device:mtconnect_parts:count_1h")), "F"),
                instant_table(
                    f"count by (agent, device) ({machines(selector('mtconnect_condition_active'))})\nor\n{per_machine_zero()}",
                    "G",
                ),
            ],
            (0, 13, 24, 10),
            columns={
                "device": "Machine",
                "agent": "Agent",
                "Value #A": "State",
                "Value #B": "In state for",
                "Value #C": "Utilization (range)",
                "Value #D": "OEE (this shift)",
                "Value #E": "Parts (this shift)",
                "Value #F": "Parts (last hour)",
                "Value #G": "Active alarms",
            },
            sort_by="Value #C",
            overrides=[
                state_column("State", EXECUTION),
                column("In state for", "dtdurations"),
                column(
                    "Utilization (range)",
                    "percentunit",
                    **{"custom.cellOptions": {"type": "gauge", "mode": "basic"}, "min": 0, "max": 1},
                ),
                ratio_column("OEE (this shift)"),
                column("Parts (this shift)", "none", decimals=0),
                column("Parts (last hour)", "none", decimals=0),
                column(
                    "Active alarms",
                    "none",
                    thresholds=thresholds((None, GREEN), (1, AMBER)),
                    **{"custom.cellOptions": {"type": "color-text"}},
                ),
            ],
            links=[machine_link("__data.fields")],
        ),
        bargauge(
            "OEE this shift against target",
            "OEE per machine in the running shift so far, from the exporter's exact shift figures (ISO 22400: "
            "availability x performance x quality over the shift's planned busy time). Red below the plant's "
            "OEE target, green at or above it. Empty between shifts.",
            "percentunit",
            [target(period_gauge("shift", "oee_ratio", "current"), MACHINE_LEGEND, instant=True)],
            (0, 23, 12, 8),
            steps=oee_steps(),
            defaults={"max": 1, "links": [machine_link("__field.labels")]},
            links=oee_link,
        ),
        timeseries(
            "Parts in the last hour",
            "Parts made by each machine in the hour before each moment (PART_COUNT sub-type ALL, a whole "
            "number from the exporter's reset-proof parts counter).",
            "none",
            [target(machines(selector("device:mtconnect_parts:count_1h")), MACHINE_LEGEND)],
            (12, 23, 12, 8),
            defaults={"decimals": 0},
        ),
    ]
    return dashboard(
        "factorydash-overview",
        "Shop floor overview",
        "Which machines are cutting, since when, how the shift is going and what is alarming.",
        "now-8h",
        panels,
    )
