"""Alarms and downtime: alarm onsets, the most frequent alarms, where planned time is lost, emergency stops."""

from __future__ import annotations

from .layout import dashboard
from .panels import (
    MACHINE_LEGEND,
    RANGE_NOTE,
    Json,
    bargauge,
    column,
    fixed_colour,
    instant_table,
    machine_link,
    pareto,
    stat,
    state_colours,
    state_timeline,
    table,
    target,
    timeseries,
)
from .promql import equals, machine_sum, machines, selector, state_code
from .states import AMBER, EMERGENCY_STOP, EXECUTION, GREEN

TOP = 10
STOP_STATES = 'state=~"FEED_HOLD|INTERRUPTED|STOPPED|PROGRAM_STOPPED"'


def increase_over_range(metric: str, *matchers: str) -> str:
    return f"increase({selector(metric, *matchers)}[$__range])"


def longest_stops() -> list[Json]:
    """Total time, entries and mean length of the TOP (machine, stop state) pairs with the most time."""
    by = "agent, device, state"
    seconds = machine_sum(by, increase_over_range("mtconnect_execution_state_seconds_total", STOP_STATES))
    entries = f"round(\n{machine_sum(by, increase_over_range('mtconnect_execution_state_transitions_total', STOP_STATES))}\n)"
    longest = f"topk({TOP}, {seconds} > 0)"
    return [
        instant_table(longest, "A"),
        instant_table(f"{entries}\nand on ({by}) {longest}", "B"),
        instant_table(f"{seconds}\n/\n({entries} > 0)\nand on ({by}) {longest}", "C"),
    ]


def build() -> Json:
    active = selector("mtconnect_condition_active")
    onsets = machines(f"{active} unless {active} offset 1m")
    panels = [
        timeseries(
            "Fault and warning onsets",
            "New Fault and Warning activations across the selected machines in each interval (whole numbers).",
            "none",
            [
                target(
                    "round(\n"
                    + machine_sum("level", f"increase({selector('mtconnect_condition_activations_total')}[$__rate_interval])")
                    + "\n)",
                    "{{level}}",
                )
            ],
            (0, 0, 12, 8),
            bars=True,
            stacked=True,
            defaults={"decimals": 0},
            overrides=[fixed_colour("fault", "red"), fixed_colour("warning", AMBER)],
        ),
        timeseries(
            "Fault onsets in the last hour by machine",
            "Fault activations of each machine in the hour before each moment (recording rule, a whole number).",
            "none",
            [target(machines(selector("device:mtconnect_fault_onsets:count_1h")), MACHINE_LEGEND)],
            (12, 0, 12, 8),
            defaults={"decimals": 0},
        ),
        table(
            "Most frequent alarms",
            f"The {TOP} native alarm codes with the most onsets {RANGE_NOTE}, counted at one-minute resolution "
            "from the active conditions. Empty when no alarm was raised in the range.",
            "none",
            [
                instant_table(
                    f"topk({TOP}, sum by (condition, level, native_code, message) (sum_over_time({onsets}[$__range:1m])))"
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
            f"The {TOP} pairs of machine and state (FEED_HOLD, INTERRUPTED, STOPPED, PROGRAM_STOPPED) with the "
            f"most time {RANGE_NOTE}, longest first: total time, how often the machine entered the state and "
            "the mean length of one stop. Empty when no machine stopped in the range.",
            "none",
            longest_stops(),
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
        pareto(
            "Delay and down time by machine",
            f"Downtime Pareto, exact: the {TOP} largest ISO 22400 delay (ADET: feed hold, interrupted, optional "
            "stop, an active fault) and down (ADOT: available, not producing) times booked by the exporter in "
            f"planned busy time, per machine, {RANGE_NOTE}.",
            "dtdurations",
            f"topk({TOP},\n"
            + "label_join(\n"
            + machine_sum("agent, device, element", increase_over_range("mtconnect_device_time_seconds_total", 'element=~"delay|down"'))
            + ',\n"cause", " ", "device", "element") > 0\n)',
            "cause",
            (0, 18, 8, 10),
        ),
        pareto(
            "Delay and down time by cause",
            f"Downtime Pareto by cause, exact: the {TOP} largest causes of ISO 22400 delay and down time booked "
            f"by the exporter in planned busy time over the selected machines, {RANGE_NOTE}. The cause is the "
            "EXECUTION state that put a machine there (a fixed precedence picks one when paths differ), or FAULT "
            "when only an active fault did (docs/time-accounting.md, causes and alarms).",
            "dtdurations",
            f"topk({TOP},\n"
            + "label_join(\n"
            + machine_sum("element, cause", increase_over_range("mtconnect_device_loss_seconds_total", 'element=~"delay|down"'))
            + ',\n"reason", " ", "element", "cause") > 0\n)',
            "reason",
            (8, 18, 8, 10),
        ),
        pareto(
            "Fault time by alarm",
            f"The {TOP} Fault alarms (condition and native code) by the planned busy time they were active, exact "
            f"(booked by the exporter), summed over the selected machines, {RANGE_NOTE}. Two faults active together "
            "both count. Empty when no fault was active in planned time.",
            "dtdurations",
            f"topk({TOP},\n"
            "label_join(\n"
            + machine_sum("condition, native_code", increase_over_range("mtconnect_device_alarm_seconds_total"))
            + ',\n"alarm", " ", "condition", "native_code") > 0\n)',
            "alarm",
            (16, 18, 8, 10),
        ),
        state_timeline(
            "Emergency stops",
            "EMERGENCY_STOP of every machine: ARMED green, TRIGGERED red, UNAVAILABLE grey. Empty when no "
            "selected machine reports an emergency stop.",
            state_code("mtconnect_emergency_stop_state", EMERGENCY_STOP),
            MACHINE_LEGEND,
            EMERGENCY_STOP,
            (0, 28, 18, 7),
        ),
        stat(
            "Emergency stops triggered",
            f"Number of times an emergency stop was triggered {RANGE_NOTE}. Empty when no selected machine "
            "reports an emergency stop.",
            "none",
            "round(\n"
            + machine_sum("", increase_over_range("mtconnect_emergency_stop_state_transitions_total", equals("state", "TRIGGERED")))
            + "\n)",
            (18, 28, 6, 7),
            steps=((None, GREEN), (1, "red")),
            defaults={"decimals": 0},
        ),
        timeseries(
            "Time in execution states",
            "Share of each execution state in the time of the selected machines' paths, in each interval: "
            "where the time goes (the time of all paths summed per state, divided by the time of all paths).",
            "percentunit",
            [
                target(
                    machine_sum("state", f"increase({selector('mtconnect_execution_state_seconds_total')}[$__rate_interval])")
                    + "\n/ ignoring (state) group_left ()\n"
                    + machine_sum("", f"increase({selector('mtconnect_execution_state_seconds_total')}[$__rate_interval])"),
                    "{{state}}",
                )
            ],
            (0, 35, 12, 8),
            stacked=True,
            defaults={"min": 0, "max": 1},
            overrides=state_colours(EXECUTION),
        ),
        bargauge(
            "Unavailable time",
            f"Time each machine was UNAVAILABLE (no data from the machine: adapter disconnected, machine off) "
            f"{RANGE_NOTE}.",
            "dtdurations",
            [
                target(
                    machine_sum("agent, device", increase_over_range("mtconnect_availability_state_seconds_total", equals("state", "UNAVAILABLE"))),
                    MACHINE_LEGEND,
                    instant=True,
                )
            ],
            (12, 35, 12, 8),
            steps=((None, GREEN), (60, AMBER), (900, "red")),
        ),
    ]
    return dashboard(
        "factorydash-alarms",
        "Alarms and downtime",
        "Across machines: alarm onsets, the most frequent alarms, where planned time is lost (downtime Pareto), "
        "feed holds and stops, emergency stops.",
        "now-24h",
        panels,
    )
