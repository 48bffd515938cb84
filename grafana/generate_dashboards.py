"""Writes grafana/dashboards/*.json, the four factorydash dashboards.

The JSON files are what Grafana provisions and what the tests lint; this
script is their source, so that the panel skeleton, the datasource, the
variables, the links and the state colours are written once. Run it after
editing and commit both:

    python grafana/generate_dashboards.py           # rewrite the JSON files
    python grafana/generate_dashboards.py --check   # exit 1 if they are stale

Query conventions (checked by tests/grafana/test_dashboards.py):
- every rate/increase uses `[$__rate_interval]`, except panels about "the
  selected time range so far" (the shift), which use `[$__range]` and say so
  in their description;
- counters appear only inside rate/increase;
- a panel whose description contains "Empty when" may legitimately return
  no data (no emergency stop happened, nothing was lost).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
SCHEMA_VERSION = 39  # Grafana 10.4 / 11.x
TAG = "factorydash"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
DEVICE = 'agent=~"$agent", device=~"$device"'
AGENT = 'agent=~"$agent"'
PASS_VARS = "${__url_time_range}&${datasource:queryparam}&${agent:queryparam}&${device:queryparam}"

Json = dict[str, Any]

GREEN, AMBER, RED, BLUE, PURPLE, GREY = "green", "#FFBF00", "red", "blue", "purple", "#8E8E8E"


@dataclass(frozen=True)
class State:
    """One value of a closed MTConnect vocabulary, drawn as `code` in a timeline."""

    value: str
    code: int
    colour: str


# Codes grow with what a supervisor wants to see first: when a machine has
# several paths, `max by (agent, device)` shows ACTIVE if any path is cutting.
EXECUTION = (
    State("UNAVAILABLE", 1, GREY),
    State("STOPPED", 2, RED),
    State("PROGRAM_STOPPED", 3, "dark-red"),
    State("PROGRAM_OPTIONAL_STOP", 4, PURPLE),
    State("OPTIONAL_STOP", 5, PURPLE),
    State("PROGRAM_COMPLETED", 6, "light-blue"),
    State("WAIT", 7, BLUE),
    State("READY", 8, BLUE),
    State("INTERRUPTED", 9, AMBER),
    State("FEED_HOLD", 10, AMBER),
    State("ACTIVE", 11, GREEN),
)
CONTROLLER_MODE = (
    State("UNAVAILABLE", 1, GREY),
    State("EDIT", 2, PURPLE),
    State("FEED_HOLD", 3, AMBER),
    State("MANUAL", 4, "yellow"),
    State("MANUAL_DATA_INPUT", 5, BLUE),
    State("SEMI_AUTOMATIC", 6, "light-green"),
    State("AUTOMATIC", 7, GREEN),
)
AVAILABILITY = (State("UNAVAILABLE", 1, GREY), State("AVAILABLE", 2, GREEN))
EMERGENCY_STOP = (State("UNAVAILABLE", 1, GREY), State("ARMED", 2, GREEN), State("TRIGGERED", 3, RED))
AGENT_UP = (State("DOWN", 0, RED), State("UP", 1, GREEN))


# --- PromQL building blocks -------------------------------------------------


def state_code(metric: str, states: tuple[State, ...]) -> str:
    """One series per machine whose value is the code of its current state."""
    terms = [f'{metric}{{{DEVICE}, state="{s.value}"}} * {s.code}' for s in states]
    return "max by (agent, device) (\n    " + "\n  or ".join(terms) + "\n)"


def seconds_in_current_state(metric: str) -> str:
    """How long each machine has been in its current state, in seconds.

    The run started after the last moment the current state's one-hot series
    was 0; if it was never 0 in the range, at the first moment it was seen.
    """
    series = f"{metric}{{{DEVICE}}}"
    return (
        "time() - max by (agent, device) (\n"
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
    return f"0 * max by (agent, device) (mtconnect_device_info{{{DEVICE}}})"


def shift_average(rule: str) -> str:
    """A 5-minute recording rule averaged over the selected range (the shift)."""
    return f"avg_over_time({rule}{{{DEVICE}}}[$__range])"


# --- panel building blocks ---------------------------------------------------


def target(expr: str, legend: str = "", *, ref: str = "A", instant: bool = False, table: bool = False) -> Json:
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "instant": instant,
        "range": not instant,
        "format": "table" if table else "time_series",
    }


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


def value_mappings(states: tuple[State, ...]) -> list[Json]:
    return [
        {
            "type": "value",
            "options": {
                str(s.code): {"text": s.value, "color": s.colour, "index": i} for i, s in enumerate(states)
            },
        }
    ]


def panel(
    kind: str,
    title: str,
    description: str,
    unit: str,
    targets: list[Json],
    grid: tuple[int, int, int, int],
    *,
    defaults: Json | None = None,
    options: Json | None = None,
    overrides: list[Json] | None = None,
    transformations: list[Json] | None = None,
    links: list[Json] | None = None,
) -> Json:
    x, y, w, h = grid
    result: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit, **(defaults or {})}, "overrides": overrides or []},
        "options": options or {},
        "targets": targets,
    }
    if transformations:
        result["transformations"] = transformations
    if links:
        result["links"] = links
    return result


def stat(title: str, description: str, unit: str, expr: str, grid: tuple[int, int, int, int], **kw: Any) -> Json:
    steps = kw.pop("steps", ((None, "blue"),))
    return panel(
        "stat",
        title,
        description,
        unit,
        [target(expr, kw.pop("legend", ""), instant=True)],
        grid,
        defaults={"color": {"mode": "thresholds"}, "thresholds": thresholds(*steps), **kw.pop("defaults", {})},
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value",
            "justifyMode": "auto",
            "orientation": "auto",
        },
        **kw,
    )


def timeseries(
    title: str,
    description: str,
    unit: str,
    targets: list[Json],
    grid: tuple[int, int, int, int],
    *,
    bars: bool = False,
    stacked: bool = False,
    **kw: Any,
) -> Json:
    return panel(
        "timeseries",
        title,
        description,
        unit,
        targets,
        grid,
        defaults={
            "color": {"mode": "palette-classic"},
            "custom": {
                "drawStyle": "bars" if bars else "line",
                "fillOpacity": 60 if bars else 10,
                "lineWidth": 1,
                "showPoints": "never",
                "spanNulls": False,
                "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
            },
            **kw.pop("defaults", {}),
        },
        options={
            "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom", "calcs": []},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        **kw,
    )


def state_timeline(
    title: str, description: str, expr: str, legend: str, states: tuple[State, ...], grid: tuple[int, int, int, int]
) -> Json:
    return panel(
        "state-timeline",
        title,
        description,
        "none",
        [target(expr, legend)],
        grid,
        defaults={
            "color": {"mode": "thresholds"},
            "thresholds": thresholds((None, GREY)),
            "mappings": value_mappings(states),
            "custom": {"fillOpacity": 85, "lineWidth": 0},
        },
        options={
            "mergeValues": True,
            "showValue": "auto",
            "alignValue": "left",
            "rowHeight": 0.85,
            "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "single", "sort": "none"},
        },
    )


def bargauge(title: str, description: str, unit: str, targets: list[Json], grid: tuple[int, int, int, int], **kw: Any) -> Json:
    steps = kw.pop("steps", ((None, "blue"),))
    return panel(
        "bargauge",
        title,
        description,
        unit,
        targets,
        grid,
        defaults={"color": {"mode": "thresholds"}, "thresholds": thresholds(*steps), "min": 0, **kw.pop("defaults", {})},
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "horizontal",
            "displayMode": "gradient",
            "valueMode": "color",
            "showUnfilled": True,
            "namePlacement": "auto",
            "sizing": "auto",
            "minVizHeight": 16,
            "minVizWidth": 8,
            "maxVizHeight": 300,
        },
        **kw,
    )


def table(
    title: str,
    description: str,
    unit: str,
    targets: list[Json],
    grid: tuple[int, int, int, int],
    *,
    columns: dict[str, str],
    sort_by: str,
    overrides: list[Json] | None = None,
    links: list[Json] | None = None,
) -> Json:
    """A table of instant queries merged on their labels.

    `columns` maps source column names (labels, "Value #A", ...) to header
    names, in display order; every other column is hidden.
    """
    transformations = [
        {"id": "filterFieldsByName", "options": {"include": {"names": list(columns)}}},
        {
            "id": "organize",
            "options": {
                "excludeByName": {},
                "indexByName": {name: i for i, name in enumerate(columns)},
                "renameByName": columns,
            },
        },
    ]
    if len(targets) > 1:
        transformations.insert(0, {"id": "merge", "options": {}})
    defaults: Json = {"custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True}}
    if links:
        defaults["links"] = links
    return panel(
        "table",
        title,
        description,
        unit,
        targets,
        grid,
        defaults=defaults,
        options={
            "showHeader": True,
            "cellHeight": "sm",
            "footer": {"show": False, "reducer": ["sum"], "fields": "", "countRows": False},
            "sortBy": [{"displayName": columns[sort_by], "desc": True}],
        },
        overrides=overrides,
        transformations=transformations,
    )


def column(name: str, unit: str, **properties: Any) -> Json:
    """Override for one (renamed) table column."""
    props = [{"id": "unit", "value": unit}] + [{"id": key, "value": value} for key, value in properties.items()]
    return {"matcher": {"id": "byName", "options": name}, "properties": props}


def state_column(name: str, states: tuple[State, ...]) -> Json:
    return column(
        name,
        "none",
        mappings=value_mappings(states),
        **{"custom.cellOptions": {"type": "color-background", "mode": "basic"}},
    )


def machine_link(source: str) -> Json:
    """Data link to the machine detail of one machine.

    `source` is where the machine's labels are: `__data.fields` for a table
    row, `__field.labels` for a series.
    """
    return {
        "title": f"Machine detail: ${{{source}.device}}",
        "url": "/d/factorydash-machine/machine-detail?${__url_time_range}&${datasource:queryparam}"
        f"&var-agent=${{{source}.agent}}&var-device=${{{source}.device}}",
    }


def dashboard_link(uid: str, slug: str, title: str) -> Json:
    """Panel link to another dashboard keeping time range and variables."""
    return {"title": title, "url": f"/d/{uid}/{slug}?{PASS_VARS}"}


# --- dashboards --------------------------------------------------------------


def variables() -> list[Json]:
    def query_variable(name: str, label: str, query: str) -> Json:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": DATASOURCE,
            "definition": query,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "multi": True,
            "includeAll": True,
            "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "options": [],
            "refresh": 2,
            "regex": "",
            "sort": 1,
            "hide": 0,
        }

    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {"selected": False, "text": "Prometheus", "value": "prometheus"},
            "options": [],
            "refresh": 1,
            "regex": "",
            "hide": 0,
        },
        query_variable("agent", "Agent", "label_values(mtconnect_agent_up, agent)"),
        query_variable("device", "Machine", 'label_values(mtconnect_device_info{agent=~"$agent"}, device)'),
    ]


def dashboard(uid: str, title: str, description: str, time_from: str, panels: list[Json]) -> Json:
    for number, p in enumerate(panels, start=1):
        p["id"] = number
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "editable": False,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": time_from, "to": "now"},
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "title": "factorydash",
                "type": "dashboards",
                "tags": [TAG],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "targetBlank": False,
                "icon": "external link",
                "tooltip": "",
                "url": "",
            }
        ],
        "templating": {"list": variables()},
        "panels": panels,
    }


RANGE_NOTE = "over the selected time range (set it to the shift: it is the 'so far' of the shift)"


def overview() -> Json:
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


def machine() -> Json:
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


def alarms() -> Json:
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


def exporter() -> Json:
    agent_sel = f"{{{AGENT}}}"
    panels = [
        state_timeline(
            "Agent up",
            "Whether the exporter's last exchange with each agent succeeded (mtconnect_agent_up).",
            f"max by (agent) (mtconnect_agent_up{agent_sel})",
            "{{agent}}",
            AGENT_UP,
            (0, 0, 24, 5),
        ),
        table(
            "Agents",
            "The agents followed: URL, agent version, schema version and instance id.",
            "string",
            [target(f"mtconnect_agent_info{agent_sel}", instant=True, table=True)],
            (0, 5, 16, 6),
            columns={
                "agent": "Agent",
                "url": "URL",
                "version": "Agent version",
                "schema_version": "Schema",
                "instance_id": "Instance id",
                "sender": "Sender",
            },
            sort_by="agent",
        ),
        table(
            "Exporter build",
            "Version of factorydash and of Python running it.",
            "string",
            [target("factorydash_build_info", instant=True, table=True)],
            (16, 5, 8, 6),
            columns={"version": "factorydash", "python_version": "Python"},
            sort_by="version",
        ),
        timeseries(
            "Agent restarts",
            "Agent restarts seen (new instanceId or device model change): each one re-probes the agent.",
            "none",
            [target(f"sum by (agent) (increase(mtconnect_agent_restarts_total{agent_sel}[$__rate_interval]))", "{{agent}}")],
            (0, 11, 8, 8),
            bars=True,
            defaults={"decimals": 0},
        ),
        timeseries(
            "Request errors",
            "Failed exchanges with the agents per second, by reason. Empty when no exchange failed.",
            "reqps",
            [
                target(
                    f"sum by (agent, reason) (rate(mtconnect_agent_request_errors_total{agent_sel}[$__rate_interval])) > 0",
                    "{{agent}} {{reason}}",
                )
            ],
            (8, 11, 8, 8),
        ),
        timeseries(
            "Time since last successful exchange",
            "Seconds since the exporter last exchanged successfully with each agent.",
            "s",
            [target(f"time() - mtconnect_agent_last_success_timestamp_seconds{agent_sel}", "{{agent}}")],
            (16, 11, 8, 8),
        ),
        timeseries(
            "Request latency",
            "Median, 90th and 99th percentile of request latency per agent and request kind "
            "(probe, current, sample, stream).",
            "s",
            [
                target(
                    f"histogram_quantile({q}, sum by (agent, request, le) (rate(mtconnect_agent_request_duration_seconds_bucket{agent_sel}[$__rate_interval])))",
                    f"p{round(q * 100)} {{{{agent}}}} {{{{request}}}}",
                    ref=ref,
                )
                for ref, q in (("A", 0.5), ("B", 0.9), ("C", 0.99))
            ],
            (0, 19, 12, 8),
        ),
        timeseries(
            "Sequence lag (share of the agent's buffer)",
            "Observations the agent holds that the exporter has not read yet, as a share of the agent's "
            "buffer: at 100 % observations are lost.",
            "percentunit",
            [
                target(
                    f"mtconnect_agent_sequence_lag{agent_sel} / mtconnect_agent_buffer_size{agent_sel}",
                    "{{agent}}",
                )
            ],
            (12, 19, 12, 8),
            defaults={"min": 0, "max": 1},
        ),
        timeseries(
            "Observations per second",
            "Observations applied per second, per agent.",
            "cps",
            [target(f"sum by (agent) (rate(mtconnect_agent_observations_total{agent_sel}[$__rate_interval]))", "{{agent}}")],
            (0, 27, 12, 8),
        ),
        timeseries(
            "Observations lost",
            "Sequence numbers lost per second to agent buffer overruns (OUT_OF_RANGE): the exporter fell behind "
            "or was down longer than the agent's buffer lasts. Empty when nothing was lost.",
            "cps",
            [
                target(
                    f"sum by (agent) (rate(mtconnect_agent_observations_lost_total{agent_sel}[$__rate_interval])) > 0",
                    "{{agent}}",
                )
            ],
            (12, 27, 12, 8),
        ),
        timeseries(
            "Series per agent",
            "Number of mtconnect_* series each agent's data produces, and series not created because a "
            "series cap was reached (dropped).",
            "short",
            [
                target(f'count by (agent) ({{__name__=~"mtconnect_.+", {AGENT}}})', "{{agent}}", ref="A"),
                target(
                    f"sum by (agent) (rate(mtconnect_series_dropped_total{agent_sel}[$__rate_interval]))",
                    "dropped/s {{agent}}",
                    ref="B",
                ),
            ],
            (0, 35, 12, 8),
        ),
        timeseries(
            "Scrape",
            "Series the exporter exposes per scrape (scrape_samples_scraped) and new series per scrape "
            "(scrape_series_added), for the exporter's scrape job.",
            "short",
            [
                target('scrape_samples_scraped{job=~".*factorydash.*"}', "samples {{instance}}", ref="A"),
                target('scrape_series_added{job=~".*factorydash.*"}', "added {{instance}}", ref="B"),
            ],
            (12, 35, 12, 8),
        ),
    ]
    return dashboard(
        "factorydash-exporter",
        "Exporter and agents",
        "What an operator checks when a panel looks wrong: agents up, restarts, latency, lag, losses, series.",
        "now-6h",
        panels,
    )


DASHBOARDS = {
    "factorydash-overview.json": overview,
    "factorydash-machine.json": machine,
    "factorydash-alarms.json": alarms,
    "factorydash-exporter.json": exporter,
}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a dashboard file differs from the generator")
    args = parser.parse_args()
    stale = []
    for name, build in DASHBOARDS.items():
        path = DASHBOARDS_DIR / name
        text = render(build)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale, run python grafana/generate_dashboards.py: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
