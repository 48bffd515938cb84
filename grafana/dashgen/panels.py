"""Grafana panel builders: one function per panel kind, plus targets, thresholds, columns and links."""

from __future__ import annotations

from typing import Any

from .rules import oee_target
from .states import GREEN, GREY, State

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PASS_VARS = "${__url_time_range}&${datasource:queryparam}&${agent:queryparam}&${device:queryparam}"

Json = dict[str, Any]
Grid = tuple[int, int, int, int]  # x, y, width, height on Grafana's 24-column grid
MACHINE_LEGEND = "{{device}} ({{agent}})"
RANGE_NOTE = "over the selected time range"


def target(
    expr: str,
    legend: str = "",
    *,
    ref: str = "A",
    instant: bool = False,
    table: bool = False,
    min_step: str | None = None,
) -> Json:
    """A Prometheus query; `min_step` is the shortest step (and `$__interval`) Grafana may use."""
    result: Json = {
        "refId": ref,
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "instant": instant,
        "range": not instant,
        "format": "table" if table else "time_series",
    }
    if min_step:
        result["interval"] = min_step
    return result


def instant_table(expr: str, ref: str = "A") -> Json:
    """An instant query whose series become the rows of a table."""
    return target(expr, ref=ref, instant=True, table=True)


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


def oee_steps() -> tuple[tuple[float | None, str], ...]:
    """Red below the plant's OEE target (read from its recording rule), green at or above it."""
    return ((None, "red"), (oee_target(), GREEN))


def fixed_colour(name: str, colour: str) -> Json:
    """Override: the series or column `name` drawn in `colour`."""
    return {"matcher": {"id": "byName", "options": name}, "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": colour}}]}


def state_colours(states: tuple[State, ...]) -> list[Json]:
    """Overrides giving each state's series its colour (series named after the state)."""
    return [fixed_colour(s.value, s.colour) for s in states]


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
    grid: Grid,
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


def stat(title: str, description: str, unit: str, expr: str, grid: Grid, **kw: Any) -> Json:
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
    grid: Grid,
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
    title: str, description: str, expr: str, legend: str, states: tuple[State, ...], grid: Grid
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


def bargauge(title: str, description: str, unit: str, targets: list[Json], grid: Grid, **kw: Any) -> Json:
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
    grid: Grid,
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


def pareto(title: str, description: str, unit: str, expr: str, category: str, grid: Grid) -> Json:
    """A Pareto chart: horizontal bars of one instant query, largest first.

    `expr` yields one series per cause with the cause in label `category`
    (use `topk`: the chart shows what the query returns).
    """
    return panel(
        "barchart",
        title,
        description,
        unit,
        [instant_table(expr)],
        grid,
        defaults={"color": {"mode": "palette-classic"}, "min": 0, "custom": {"fillOpacity": 80, "lineWidth": 0}},
        options={
            "orientation": "horizontal",
            "xField": category,
            "showValue": "always",
            "groupWidth": 0.8,
            "barWidth": 0.9,
            "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "single", "sort": "none"},
        },
        transformations=[
            {"id": "filterFieldsByName", "options": {"include": {"names": [category, "Value"]}}},
            {"id": "sortBy", "options": {"sort": [{"field": "Value", "desc": True}]}},
        ],
    )


def status_history(title: str, description: str, unit: str, expr: str, min_step: str, grid: Grid, **kw: Any) -> Json:
    """One row per machine, one coloured cell per step of at least `min_step`."""
    steps = kw.pop("steps", ((None, "blue"),))
    return panel(
        "status-history",
        title,
        description,
        unit,
        [target(expr, MACHINE_LEGEND, min_step=min_step)],
        grid,
        defaults={
            "color": {"mode": "continuous-RdYlGr"},
            "thresholds": thresholds(*steps),
            "custom": {"fillOpacity": 85, "lineWidth": 1},
            **kw.pop("defaults", {}),
        },
        options={
            "showValue": "auto",
            "rowHeight": 0.9,
            "colWidth": 0.95,
            "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "single", "sort": "none"},
        },
        **kw,
    )


def piechart(title: str, description: str, unit: str, targets: list[Json], grid: Grid, **kw: Any) -> Json:
    return panel(
        "piechart",
        title,
        description,
        unit,
        targets,
        grid,
        defaults={"color": {"mode": "palette-classic"}},
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "pieType": "donut",
            "displayLabels": ["percent"],
            "legend": {"showLegend": True, "displayMode": "table", "placement": "right", "values": ["value", "percent"]},
            "tooltip": {"mode": "single", "sort": "none"},
        },
        **kw,
    )


def column(name: str, unit: str, **properties: Any) -> Json:
    """Override for one (renamed) table column."""
    props = [{"id": "unit", "value": unit}] + [{"id": key, "value": value} for key, value in properties.items()]
    return {"matcher": {"id": "byName", "options": name}, "properties": props}


def ratio_column(name: str) -> Json:
    """A 0..1 column drawn as a gauge, red below the OEE target and green above."""
    return column(
        name,
        "percentunit",
        thresholds=thresholds(*oee_steps()),
        min=0,
        max=1,
        **{"custom.cellOptions": {"type": "gauge", "mode": "basic"}, "color": {"mode": "thresholds"}},
    )


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
