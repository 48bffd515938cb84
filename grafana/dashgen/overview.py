"""Shop floor overview"""

from __future__ import annotations

from .layout import dashboard
from .panels import Json, RANGE_NOTE, bargauge, column, dashboard_link, machine_link, stat, state_column, state_timeline, table, target, thresholds, timeseries
from .promql import AGENT, DEVICE, per_machine_zero, seconds_in_current_state, shift_average, state_code
from .states import AMBER, EXECUTION, GREEN, GREY

def build() -> Json:
    alarms_link = [dashboard_link("factorydash-alarms", "alarms-and-downtime", "Alarms and downtime")]
    oee_steps = ((None, "red"), (0.6, AMBER), (0.85, GREEN))
    panels = [
        stat(
            "Machines cutting now",
            "Machines whose EXECUTION is ACTIVE on at least one path right now.",
            "none",
            f'count(max by (agent, device) (mtconnect_execution_state{{{DEVICE}, state="ACTIVE"}}) == 1) or vector(0)',
            (0, 0, 4, 4),
            steps=((None, GREY), (1, GREEN)),
        ),
        stat(
            "Machines",
            "Machines (devices) reported by the selected agents.",
            "none",
            f"count(mtconnect_device_info{{{DEVICE}}}) or vector(0)",
            (4, 0, 4, 4),
        ),
        stat(
            "Fleet utilization (shift so far)",
            f"Share of time the selected machines were ACTIVE, {RANGE_NOTE}. Time in each execution state "
            "comes from the agents' timestamps (mtconnect_execution_state_seconds_total).",
            "percentunit",
            f'sum(increase(mtconnect_execution_state_seconds_total{{{DEVICE}, state="ACTIVE"}}[$__range]))\n'
            f"/\nsum(increase(mtconnect_execution_state_seconds_total{{{DEVICE}}}[$__range]))",
            (8, 0, 4, 4),
            steps=((None, "red"), (0.5, AMBER), (0.75, GREEN)),
        ),
        stat(
            "Faults active",
            "Fault conditions active right now on the selected machines.",
            "none",
            f'count(mtconnect_condition_active{{{DEVICE}, level="fault"}}) or vector(0)',
            (12, 0, 4, 4),
            steps=((None, GREEN), (1, "red")),
            links=alarms_link,
        ),
        stat(
            "Warnings active",
            "Warning conditions active right now on the selected machines.",
            "none",
            f'count(mtconnect_condition_active{{{DEVICE}, level="warning"}}) or vector(0)',
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
            "{{device}} ({{agent}})",
            EXECUTION,
            (0, 4, 24, 9),
        ),
        table(
            "Per machine",
            f"One line per machine: its execution state now and how long it has lasted, utilization, OEE "
            f"(against the 85 % world-class target) and parts {RANGE_NOTE}, parts per hour over the last hour, "
            "and alarms active now. Click a machine for its detail.",
            "none",
            [
                target(state_code("mtconnect_execution_state", EXECUTION), ref="A", instant=True, table=True),
                target(seconds_in_current_state("mtconnect_execution_state"), ref="B", instant=True, table=True),
                target(
                    f'sum by (agent, device) (increase(mtconnect_execution_state_seconds_total{{{DEVICE}, state="ACTIVE"}}[$__range]))\n'
                    f"/\nsum by (agent, device) (increase(mtconnect_execution_state_seconds_total{{{DEVICE}}}[$__range]))",
                    ref="C",
                    instant=True,
                    table=True,
                ),
                target(shift_average("device:mtconnect_oee:ratio_5m"), ref="D", instant=True, table=True),
                target(
                    f'sum by (agent, device) (increase(mtconnect_parts_total{{{DEVICE}, sub_type=~"ALL|"}}[$__range]))',
                    ref="E",
                    instant=True,
                    table=True,
                ),
                target(f"device:mtconnect_parts:rate_per_hour_1h{{{DEVICE}}}", ref="F", instant=True, table=True),
                target(
                    f"count by (agent, device) (mtconnect_condition_active{{{DEVICE}}})\nor\n{per_machine_zero()}",
                    ref="G",
                    instant=True,
                    table=True,
                ),
            ],
            (0, 13, 24, 10),
            columns={
                "device": "Machine",
                "agent": "Agent",
                "Value #A": "State",
                "Value #B": "In state for",
                "Value #C": "Utilization (shift)",
                "Value #D": "OEE (shift)",
                "Value #E": "Parts (shift)",
                "Value #F": "Parts per hour",
                "Value #G": "Active alarms",
            },
            sort_by="Value #C",
            overrides=[
                state_column("State", EXECUTION),
                column("In state for", "dtdurations"),
                column(
                    "Utilization (shift)",
                    "percentunit",
                    **{"custom.cellOptions": {"type": "gauge", "mode": "basic"}, "min": 0, "max": 1},
                ),
                column(
                    "OEE (shift)",
                    "percentunit",
                    thresholds=thresholds(*oee_steps),
                    **{"custom.cellOptions": {"type": "color-text"}},
                ),
                column("Parts (shift)", "none", decimals=0),
                column("Parts per hour", "none", decimals=1),
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
            "OEE (shift so far) against target",
            f"OEE per machine {RANGE_NOTE}: the mean of the 5-minute OEE recording rule over the planned "
            "production windows of the range. Red below 60 %, amber below the 85 % world-class target.",
            "percentunit",
            [target(shift_average("device:mtconnect_oee:ratio_5m"), "{{device}} ({{agent}})", instant=True)],
            (0, 23, 12, 8),
            steps=oee_steps,
            defaults={"max": 1, "links": [machine_link("__field.labels")]},
        ),
        timeseries(
            "Parts per hour",
            "Parts made per hour by each machine (PART_COUNT sub-type ALL), over a sliding hour.",
            "none",
            [target(f"device:mtconnect_parts:rate_per_hour_1h{{{DEVICE}}}", "{{device}} ({{agent}})")],
            (12, 23, 12, 8),
        ),
    ]
    return dashboard(
        "factorydash-overview",
        "Shop floor overview",
        "Which machines are cutting, since when, how the shift is going and what is alarming.",
        "now-8h",
        panels,
    )
