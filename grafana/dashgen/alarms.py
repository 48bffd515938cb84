"""Alarms"""

from __future__ import annotations

from .layout import dashboard
from .panels import Json, RANGE_NOTE, bargauge, column, machine_link, stat, state_timeline, table, target, timeseries
from .promql import DEVICE, state_code
from .states import AMBER, EMERGENCY_STOP, EXECUTION, GREEN

def build() -> Json:
    onsets = f"(mtconnect_condition_active{{{DEVICE}}} unless mtconnect_condition_active{{{DEVICE}}} offset 1m)"
    stop_states = 'state=~"FEED_HOLD|INTERRUPTED|STOPPED|PROGRAM_STOPPED"'
    panels = [
        timeseries(
            "Fault and warning onsets",
            "New Fault and Warning activations across the selected machines in each interval.",
            "none",
            [
                target(
                    f"sum by (level) (increase(mtconnect_condition_activations_total{{{DEVICE}}}[$__rate_interval]))",
                    "{{level}}",
                )
            ],
            (0, 0, 12, 8),
            bars=True,
            stacked=True,
            defaults={"decimals": 0},
            overrides=[
                {"matcher": {"id": "byName", "options": "fault"}, "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}]},
                {"matcher": {"id": "byName", "options": "warning"}, "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": AMBER}}]},
            ],
        ),
        timeseries(
            "Fault onsets per hour by machine",
            "Fault activations per hour per machine over a sliding hour (recording rule).",
            "none",
            [target(f"device:mtconnect_fault_onsets:rate_per_hour_1h{{{DEVICE}}}", "{{device}} ({{agent}})")],
            (12, 0, 12, 8),
        ),
        table(
            "Most frequent alarms",
            f"Native alarm codes by number of onsets {RANGE_NOTE}, counted at one-minute resolution from the "
            "active conditions. Empty when no alarm was raised in the range.",
            "none",
            [
                target(
                    f"topk(20, sum by (condition, level, native_code, message) (sum_over_time({onsets}[$__range:1m])))",
                    instant=True,
                    table=True,
                )
            ],
            (0, 8, 14, 10),
            columns={
                "native_code": "Native code",
                "level": "Level",
                "condition": "Condition",
                "message": "Message",
                "Value": "Onsets",
            },
            sort_by="Value",
            overrides=[column("Onsets", "none", decimals=0)],
        ),
        table(
            "Longest feed holds and stops",
            f"Time each machine spent in FEED_HOLD, INTERRUPTED, STOPPED and PROGRAM_STOPPED {RANGE_NOTE}, "
            "how often it entered them and the mean length of one stop. Empty when no machine stopped in the "
            "range.",
            "none",
            [
                target(
                    f"sum by (agent, device, state) (increase(mtconnect_execution_state_seconds_total{{{DEVICE}, {stop_states}}}[$__range])) > 0",
                    ref="A",
                    instant=True,
                    table=True,
                ),
                target(
                    f"sum by (agent, device, state) (increase(mtconnect_execution_state_transitions_total{{{DEVICE}, {stop_states}}}[$__range])) > 0",
                    ref="B",
                    instant=True,
                    table=True,
                ),
                target(
                    f"sum by (agent, device, state) (increase(mtconnect_execution_state_seconds_total{{{DEVICE}, {stop_states}}}[$__range]))\n"
                    f"/\nsum by (agent, device, state) (increase(mtconnect_execution_state_transitions_total{{{DEVICE}, {stop_states}}}[$__range])) > 0",
                    ref="C",
                    instant=True,
                    table=True,
                ),
            ],
            (14, 8, 10, 10),
            columns={
                "device": "Machine",
                "agent": "Agent",
                "state": "State",
                "Value #A": "Total",
                "Value #B": "Times",
                "Value #C": "Mean length",
            },
            sort_by="Value #A",
            overrides=[
                column("Total", "dtdurations"),
                column("Times", "none", decimals=0),
                column("Mean length", "dtdurations"),
            ],
            links=[machine_link("__data.fields")],
        ),
        state_timeline(
            "Emergency stops",
            "EMERGENCY_STOP of every machine: ARMED green, TRIGGERED red, UNAVAILABLE grey. Empty when no "
            "selected machine reports an emergency stop.",
            state_code("mtconnect_emergency_stop_state", EMERGENCY_STOP),
            "{{device}} ({{agent}})",
            EMERGENCY_STOP,
            (0, 18, 18, 7),
        ),
        stat(
            "Emergency stops triggered",
            f"Number of times an emergency stop was triggered {RANGE_NOTE}. Empty when no selected machine "
            "reports an emergency stop.",
            "none",
            f'sum(increase(mtconnect_emergency_stop_state_transitions_total{{{DEVICE}, state="TRIGGERED"}}[$__range]))',
            (18, 18, 6, 7),
            steps=((None, GREEN), (1, "red")),
            defaults={"decimals": 0},
        ),
        timeseries(
            "Time in execution states",
            "Share of each execution state across the selected machines over a sliding hour: where the "
            "downtime goes.",
            "percentunit",
            [
                target(
                    f"avg by (state) (device_state:mtconnect_execution:ratio_1h{{{DEVICE}}})",
                    "{{state}}",
                )
            ],
            (0, 25, 12, 8),
            stacked=True,
            defaults={"min": 0, "max": 1},
            overrides=[
                {
                    "matcher": {"id": "byName", "options": s.value},
                    "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": s.colour}}],
                }
                for s in EXECUTION
            ],
        ),
        bargauge(
            "Unavailable time",
            f"Time each machine was UNAVAILABLE (no data from the machine: adapter disconnected, machine off) "
            f"{RANGE_NOTE}.",
            "dtdurations",
            [
                target(
                    f'sum by (agent, device) (increase(mtconnect_availability_state_seconds_total{{{DEVICE}, state="UNAVAILABLE"}}[$__range]))',
                    "{{device}} ({{agent}})",
                    instant=True,
                )
            ],
            (12, 25, 12, 8),
            steps=((None, GREEN), (60, AMBER), (900, "red")),
        ),
    ]
    return dashboard(
        "factorydash-alarms",
        "Alarms and downtime",
        "Across machines: alarm onsets, the most frequent alarms, feed holds and stops, emergency stops.",
        "now-24h",
        panels,
    )
