"""OEE by shift: the plant's OEE against its target, each machine's shift, day and previous shift, availability by hour."""

from __future__ import annotations

from .layout import dashboard
from .panels import (
    Grid,
    Json,
    column,
    instant_table,
    machine_link,
    oee_steps,
    ratio_column,
    stat,
    status_history,
    table,
    target,
    thresholds,
    timeseries,
)
from .promql import OEE_LEGS, equals, machine_sum, oee_rule, period_gauge, selector
from .rules import OEE_TARGET_RULE
from .states import GREY

PLANT_NOTE = (
    "the whole plant (recording rules: the ISO 22400 times and parts of every machine summed, then divided; "
    "the Agent and Machine selection does not apply)"
)
PERIODS = {
    # title: (scope, period, what the figures cover)
    "This shift": ("shift", "current", "the running shift so far; empty between shifts"),
    "Today": ("day", "current", "the calendar day so far, in the calendar's timezone"),
    "Previous shift": ("shift", "previous", "the last finished shift, until the next one finishes"),
}


def period_table(title: str, grid: Grid) -> Json:
    """A, P, Q, OEE, parts and times of every machine for one period, from the exporter's exact gauges."""
    scope, period, covers = PERIODS[title]
    queries = [(f"{leg.gauge}_ratio", ()) for leg in OEE_LEGS] + [
        ("parts", (equals("kind", "produced"),)),
        ("parts", (equals("kind", "good"),)),
        ("seconds", (equals("element", "planned_busy"),)),
        ("seconds", (equals("element", "production"),)),
    ]
    refs = "ABCDEFGH"
    targets = [instant_table(period_gauge(scope, name, period, *matchers), ref) for ref, (name, matchers) in zip(refs, queries)]
    targets.append(instant_table(f"1000 * {period_gauge(scope, 'start_timestamp_seconds', period)}", "I"))
    headers = [leg.title for leg in OEE_LEGS] + ["Parts", "Good parts", "Planned busy", "Production", "Started"]
    return table(
        title,
        f"Each machine's ISO 22400 KPIs for {covers}: the exporter's exact figures, ratios of the period's "
        "summed times and parts (availability = production / planned busy time, performance = ideal time of "
        "the parts / production, quality = good / produced parts). OEE and quality are absent for a machine "
        "without a quality source. Red below the plant's OEE target.",
        "none",
        targets,
        grid,
        columns={"device": "Machine", "agent": "Agent"} | {f"Value #{ref}": header for ref, header in zip(refs + "I", headers)},
        sort_by="Value #A",
        overrides=[
            *(ratio_column(leg.title) for leg in OEE_LEGS),
            column("Parts", "none", decimals=0),
            column("Good parts", "none", decimals=0),
            column("Planned busy", "dtdurations"),
            column("Production", "dtdurations"),
            column("Started", "dateTimeAsIso"),
        ],
        links=[machine_link("__data.fields")],
    )


def availability_by_hour() -> str:
    """Production / planned busy time of each machine in each step (an hour at least)."""

    def seconds(element: str) -> str:
        counter = selector("mtconnect_device_time_seconds_total", equals("element", element))
        return machine_sum("agent, device", f"increase({counter}[$__interval])")

    return f"{seconds('production')}\n/\n({seconds('planned_busy')} > 0)"


def build() -> Json:
    oee = OEE_LEGS[0]
    panels = [
        stat(
            "OEE target",
            "The plant's OEE target: the recording rule plant:mtconnect_oee_target:ratio, which the OEE alert "
            "compares with and every OEE threshold on these dashboards is drawn from.",
            "percentunit",
            OEE_TARGET_RULE,
            (0, 0, 4, 4),
            steps=oee_steps(),
        ),
        *(
            stat(
                f"Plant {leg.title.lower() if leg is not oee else 'OEE'} (last 8 hours)",
                f"{leg.title} of {PLANT_NOTE}, over the last 8 hours."
                + (" Red below the OEE target, green at or above it." if leg is oee else ""),
                "percentunit",
                oee_rule("plant", leg, "8h"),
                (4 + 5 * i, 0, 5, 4),
                steps=oee_steps() if leg is oee else ((None, "blue"),),
            )
            for i, leg in enumerate(OEE_LEGS)
        ),
        timeseries(
            "Plant OEE",
            f"OEE of {PLANT_NOTE}, over the hour, the 8 hours and the 24 hours before each moment, and the "
            "plant's OEE target (dashed; the red area lies below it).",
            "percentunit",
            [target(oee_rule("plant", oee, window), f"OEE {window}", ref=ref) for ref, window in zip("ABC", ("1h", "8h", "24h"))]
            + [target(OEE_TARGET_RULE, "target", ref="D")],
            (0, 4, 24, 8),
            defaults={
                "min": 0,
                "max": 1,
                "thresholds": thresholds(*oee_steps()),
                "custom": {
                    "drawStyle": "line",
                    "fillOpacity": 0,
                    "lineWidth": 2,
                    "showPoints": "never",
                    "spanNulls": False,
                    "stacking": {"mode": "none", "group": "A"},
                    "thresholdsStyle": {"mode": "line+area"},
                },
            },
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "target"},
                    "properties": [
                        {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                        {"id": "color", "value": {"mode": "fixed", "fixedColor": GREY}},
                    ],
                }
            ],
        ),
        period_table("This shift", (0, 12, 24, 7)),
        period_table("Today", (0, 19, 24, 7)),
        period_table("Previous shift", (0, 26, 24, 7)),
        status_history(
            "Availability by machine and hour",
            "Heat map of availability: one row per machine, one cell per hour (longer when the time range "
            "holds too many hours to draw), coloured by production time / planned busy time in that hour "
            "(the exporter's ISO 22400 counters; red 0 %, green 100 %). No cell for an hour without planned "
            "time.",
            "percentunit",
            availability_by_hour(),
            "1h",
            (0, 33, 24, 9),
            defaults={"min": 0, "max": 1, "links": [machine_link("__field.labels")]},
        ),
    ]
    return dashboard(
        "factorydash-oee",
        "OEE by shift",
        "The plant's OEE against its target; availability, performance, quality and OEE of each machine for "
        "this shift, today and the previous shift; availability by machine and hour.",
        "now-24h",
        panels,
    )
