"""Every metric family the exporter exposes, declared once: name, type, HELP, label names, reference text.

The collector builds its families from these declarations. The metrics reference docs/metrics.md and
docs/design.md's metric contract are generated from them, between marker comments:

    python -m factorydash.metrics --markdown docs/metrics.md docs/design.md

(`--check` instead of rewriting reports stale files; tests/test_metrics_reference.py fails on them).
Families of data items are patterns (`mtconnect_<type>_<unit>`): `<type>` and `<unit>` follow
`units.metric_name`, their HELP is formatted with the item's type and category.

Over 400 lines because it is a table: one declaration per family, with the reference text a reader of
docs/metrics.md needs; the code that reads it is the last hundred lines.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DATA_ITEM_LABELS = ("agent", "device", "component", "component_id", "data_item_id", "name", "sub_type")

AGENTS, ACCOUNTING, SAMPLES, EVENTS, CONDITIONS = "agents", "accounting", "samples", "events", "conditions"
SECTIONS = (AGENTS, ACCOUNTING, SAMPLES, EVENTS, CONDITIONS)


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family. `name` is spelt as queries use it (counters end in `_total`)."""

    name: str
    type: str  # gauge, counter or histogram
    help: str  # the HELP line; a data-item family's has {type} and {category} fields
    labels: tuple[str, ...]  # after the data item labels when `data_item`
    doc: str  # the meaning cell of the metrics reference docs/metrics.md (Markdown)
    section: str
    data_item: bool = False
    optional_labels: tuple[str, ...] = ()  # on some series only (axis of 3D values, key of DATA_SET entries)
    # names of a pattern that dashboards and rules may read (MTConnect standard types, named by metric_name)
    standard_names: tuple[str, ...] = ()

    @property
    def exposed(self) -> str:
        """The family name of the text format (`# TYPE`): a counter's without `_total`."""
        return self.name.removesuffix("_total") if self.type == "counter" else self.name

    @property
    def all_labels(self) -> tuple[str, ...]:
        return (*(DATA_ITEM_LABELS if self.data_item else ()), *self.labels, *self.optional_labels)

    @property
    def is_pattern(self) -> bool:
        return "<" in self.name

    def help_for(self, item_type: str, category: str = "") -> str:
        return self.help.format(type=item_type, category=category.lower())

    def name_for(self, state_metric: str) -> str:
        """The name of a state family (`mtconnect_<type>_state...`) for one item's `mtconnect_<type>_state`."""
        return self.name.replace(STATE.name, state_metric)


# -- agents, devices and the exporter -------------------------------------------------------------

BUILD_INFO = Family(
    "factorydash_build_info", "gauge", "factorydash version and the Python it runs on; always 1.",
    ("version", "python_version"), "1", AGENTS,
)
CONFIG_RELOAD_SUCCESSFUL = Family(
    "factorydash_config_last_reload_successful", "gauge",
    "1 if the last configuration reload (SIGHUP or /-/reload) succeeded or none was tried, else 0.", (),
    "1 if the last configuration reload (`SIGHUP` or `POST /-/reload`) succeeded or none was tried yet, 0 after a "
    "failed one (the old configuration is still in force); plain `/metrics` only", AGENTS,
)
CONFIG_RELOAD_SUCCESS_TIMESTAMP = Family(
    "factorydash_config_last_reload_success_timestamp_seconds", "gauge",
    "Wall clock of the last successful configuration load (the start counts).", (),
    "wall clock of the last configuration load that succeeded (the start counts); plain `/metrics` only", AGENTS,
)
AGENT_UP = Family(
    "mtconnect_agent_up", "gauge", "1 if the last exchange with the agent succeeded, else 0.", ("agent",),
    "1 when the last exchange with the agent succeeded, else 0; present for every configured agent", AGENTS,
)
AGENT_INFO = Family(
    "mtconnect_agent_info", "gauge",
    "Identity of the agent: instance, software version, schema version, sender; always 1.",
    ("agent", "url", "instance_id", "version", "schema_version", "sender"),
    "1; `version` is the agent software, `schema_version` the MTConnect schema", AGENTS,
)
AGENT_RESTARTS = Family(
    "mtconnect_agent_restarts_total", "counter", "Agent restarts seen (a new instanceId).", ("agent",),
    "agent restarts seen: a new `instanceId` (the model is probed again, the new instance read from its first "
    "sequence)", AGENTS,
)
AGENT_OBSERVATIONS = Family(
    "mtconnect_agent_observations_total", "counter", "Observations read from the agent's stream.", ("agent",),
    "observations read from the agent's stream (applied, or set aside when undeclared); with `..._lost_total` it "
    "adds up to every sequence the agent produced while followed", AGENTS,
)
AGENT_OBSERVATIONS_LOST = Family(
    "mtconnect_agent_observations_lost_total", "counter",
    "Observations the agent no longer held when the exporter asked (buffer overrun or restart).", ("agent",),
    "observations the exporter could not read because the agent no longer held them (its buffer overran: "
    "OUT_OF_RANGE; or it restarted)", AGENTS,
)
AGENT_OBSERVATIONS_UNDECLARED = Family(
    "mtconnect_agent_observations_undeclared_total", "counter",
    "Observations of data items the agent's probe did not declare, set aside (also in observations_total).",
    ("agent",),
    "observations of data items the agent's probe did not declare: set aside, not applied (also counted in "
    "`..._observations_total`)", AGENTS,
)
AGENT_REQUEST_ERRORS = Family(
    "mtconnect_agent_request_errors_total", "counter", "Failed exchanges with the agent by reason.",
    ("agent", "reason"),
    "failed or fruitless exchanges, a closed set: transport `connection`, `timeout`, `tls`, `http`, `http_status`, "
    "`redirect`; documents `invalid_document`, `forbidden_dtd`, `document_too_large`, `unexpected_root`, "
    "`unexpected_document`, `stream_closed`; no progress `stalled`, `out_of_range_held`, `resync_repeated`, "
    "`reprobe_unchanged`, `identity_mismatch`; MTConnect errors `mtconnect_<error code>` for the standard's codes "
    "(`out_of_range`, `invalid_xpath`, `invalid_parameter_value`, `invalid_query_parameter`, `no_device`, "
    "`invalid_uri`, `invalid_request`, `too_many`, `unsupported`, `query_error`, `internal_error`, "
    "`asset_not_found`, `unauthorized`) and `mtconnect_other` for any other code", AGENTS,
)
AGENT_REQUEST_DURATION = Family(
    "mtconnect_agent_request_duration_seconds", "histogram", "Duration of requests to the agent by request.",
    ("agent", "request"), "duration of `probe`, `current` and `sample` requests", AGENTS,
)
AGENT_BUFFER_SIZE = Family(
    "mtconnect_agent_buffer_size", "gauge", "Observations the agent's buffer holds.", ("agent",),
    "observations the agent's buffer holds", AGENTS,
)
AGENT_SEQUENCE_LAG = Family(
    "mtconnect_agent_sequence_lag", "gauge", "Observations the agent holds that the exporter has not read yet.",
    ("agent",),
    "observations the agent holds that the exporter has not read yet (`lastSequence - nextSequence + 1`)", AGENTS,
)
AGENT_LAST_SUCCESS = Family(
    "mtconnect_agent_last_success_timestamp_seconds", "gauge",
    "Exporter clock of the last successful exchange with the agent.", ("agent",),
    "exporter clock of the last successful exchange", AGENTS,
)
SERIES_DROPPED = Family(
    "mtconnect_series_dropped_total", "counter", "Series not created because a series cap was reached.",
    ("agent",), "series not created because a series cap was reached", AGENTS,
)
AGENT_TIMESTAMPS_REJECTED = Family(
    "mtconnect_agent_timestamps_rejected_total", "counter",
    "Observation timestamps not taken as they are, by reason (unparsable, future, outlier).", ("agent", "reason"),
    "observation timestamps not taken as they are ([time accounting](time-accounting.md) section 3): "
    "`unparsable` (value applied, its time unknown), `future` (beyond the document's creationTime plus "
    "`max_clock_skew`: clamped), `outlier` (a lone observation far off its device's timeline: books nothing)",
    AGENTS,
)
AGENT_COLLECT_ERRORS = Family(
    "mtconnect_agent_collect_errors_total", "counter",
    "Scrapes that left out the agent's series because rendering them failed (see the exporter log).", ("agent",),
    "scrapes that left out the agent's series because rendering them failed (logged once per agent); the other "
    "agents are never affected", AGENTS,
)
ADAPTER_INFO = Family(
    "mtconnect_adapter_info", "gauge",
    "Identity of each adapter of the Agent device: its URI, software and MTConnect versions; always 1.",
    ("agent", "device", "component_id", "adapter", "uri", "software_version", "mtconnect_version"),
    "1 per adapter of the Agent device (2.x agents) once one of its ADAPTER_URI, ADAPTER_SOFTWARE_VERSION, "
    "MTCONNECT_VERSION is known; an unknown one is `\"\"`. The adapter's CONNECTION_STATUS is "
    "`mtconnect_connection_status_state`", AGENTS,
)
DEVICE_INFO = Family(
    "mtconnect_device_info", "gauge", "Identity of the device from the agent's probe; always 1.",
    ("agent", "device", "uuid", "manufacturer", "model", "serial_number", "is_agent"),
    "1 per device of the probe; `is_agent=\"true\"` marks the MTConnect Agent device of 2.x agents (no time "
    "accounting, leave it out of machine counts)", AGENTS,
)
DEVICE_AVAILABLE = Family(
    "mtconnect_device_available", "gauge",
    "1 if the device's AVAILABILITY is AVAILABLE (its data source is connected), else 0.", ("agent", "device"),
    "1 when the device's AVAILABILITY is AVAILABLE (its data source is connected), else 0", AGENTS,
)
DEVICE_LAST_OBSERVATION = Family(
    "mtconnect_device_last_observation_timestamp_seconds", "gauge",
    "Exporter clock when the newest observation of the device arrived.", ("agent", "device"),
    "exporter clock when the newest observation of the device arrived", AGENTS,
)
DEVICE_PLANNED_PRODUCTION = Family(
    "mtconnect_device_planned_production", "gauge",
    "1 inside a planned production shift of the device's calendar, 0 outside.", ("agent", "device"),
    "1 inside a planned shift of the device's calendar, 0 outside; only devices with a calendar", AGENTS,
)
DEVICE_IDEAL_CYCLE_TIME = Family(
    "mtconnect_device_ideal_cycle_time_seconds", "gauge", "Configured ideal cycle time of one part on the device.",
    ("agent", "device"), "configured ideal cycle time of one part", AGENTS,
)

# -- ISO 22400 time accounting ------------------------------------------------------------------

DEVICE_TIME = Family(
    "mtconnect_device_time_seconds_total", "counter",
    "ISO 22400 time elements of the device on agent time (docs/time-accounting.md): planned_busy is "
    "unavailable + setup + production + delay + down.",
    ("agent", "device", "element"),
    "ISO 22400 time elements: `planned_busy` (PBT: in a shift, outside its breaks) = `unavailable` + `setup` (ASUT) "
    "+ `production` (APT) + `delay` (ADET) + `down` (ADOT); `unplanned_production` (a path ACTIVE outside PBT). "
    "All seven from 0", ACCOUNTING,
)
DEVICE_LOSS = Family(
    "mtconnect_device_loss_seconds_total", "counter",
    "Seconds of the loss elements delay, down, setup and unavailable by the cause that put the device "
    "there (docs/time-accounting.md section 5); per element they add up to its time element.",
    ("agent", "device", "element", "cause"),
    "the seconds of `delay`, `down`, `setup` and `unavailable` split by the cause that put the device there (for "
    "each element the causes add up to its `mtconnect_device_time_seconds_total`): delay `INTERRUPTED`, "
    "`FEED_HOLD`, `OPTIONAL_STOP` or `FAULT` (only a Fault condition); down the EXECUTION state (`STOPPED`, "
    "`PROGRAM_STOPPED`, `WAIT`, `PROGRAM_OPTIONAL_STOP`, `PROGRAM_COMPLETED`, `READY`, `OTHER` outside the "
    "vocabulary); setup `FUNCTIONAL_MODE_SETUP` or `MANUAL_MODE`; unavailable `AVAILABILITY`, "
    "`EXECUTION_UNAVAILABLE` or `AGENT_RESTART`. Paths that differ: the first in this order ([time "
    "accounting](time-accounting.md) section 5). All 16 from 0: the downtime Pareto by state", ACCOUNTING,
)
DEVICE_ALARM = Family(
    "mtconnect_device_alarm_seconds_total", "counter",
    "Planned busy seconds during which a Fault activation of the condition was active, by native "
    "code (conditionId without one).",
    ("agent", "device", "condition", "native_code"),
    "PBT seconds during which a Fault activation of the condition type (`SYSTEM`, ...) with that native code (its "
    "conditionId without one) was active, whatever the element (a Fault while ACTIVE counts too): the Pareto by "
    "alarm. A series from the first activation on; at most 100 per device and within the agent's series cap "
    "(refused ones counted in `mtconnect_series_dropped_total`); values cut at `max_label_value_length`",
    ACCOUNTING,
)
DEVICE_PARTS_PRODUCED = Family(
    "mtconnect_device_parts_produced_total", "counter", "Parts produced in planned busy time, across counter resets.",
    ("agent", "device"),
    "parts completed in PBT: increases of PART_COUNT `ALL` (or without subType; `GOOD` + `BAD` without one), "
    "across resets", ACCOUNTING,
)
DEVICE_PARTS_GOOD = Family(
    "mtconnect_device_parts_good_total", "counter",
    "Good parts produced in planned busy time, from the device's quality source.", ("agent", "device"),
    "good parts in PBT for `quality_source` `good_count` (GOOD increases) or `assume_good` (= produced); absent "
    "otherwise (without a quality source OEE is absent too)", ACCOUNTING,
)
DEVICE_PARTS_BAD = Family(
    "mtconnect_device_parts_bad_total", "counter",
    "Bad parts (increases of the BAD count) in planned busy time, for quality_source bad_count: "
    "good parts are produced minus bad.",
    ("agent", "device"),
    "bad parts in PBT (BAD increases) for `quality_source` `bad_count`: good parts are produced minus bad over a "
    "window", ACCOUNTING,
)
DEVICE_IDEAL_PRODUCTION = Family(
    "mtconnect_device_ideal_production_seconds_total", "counter",
    "Ideal cycle time of each part produced in planned busy time, summed.", ("agent", "device"),
    "the ideal cycle time (the running PROGRAM's from planning, else the device's) of each part produced; absent "
    "without an ideal cycle time", ACCOUNTING,
)


@dataclass(frozen=True, slots=True)
class PeriodFamilies:
    """The gauges of a shift or of a calendar day."""

    start: Family
    end: Family
    seconds: Family
    parts: Family
    ideal: Family
    oee: Family
    availability: Family
    performance: Family
    quality: Family


def _period_families(kind: str, what: str, which: str) -> PeriodFamilies:
    prefix = f"mtconnect_device_{kind}"
    pairs = ("agent", "device")

    def family(suffix: str, help: str, labels: tuple[str, ...], doc: str) -> Family:
        return Family(f"{prefix}_{suffix}", "gauge", help, labels, doc, ACCOUNTING)

    def ratio(name: str, kpi: str, formula: str, undefined: str) -> Family:
        return family(
            f"{name}_ratio", f"ISO 22400 {kpi} of the {what} so far (a ratio of its sums).", (*pairs, "period"),
            f"{formula} over the {what} so far; absent {undefined}",
        )

    return PeriodFamilies(
        start=family(
            "start_timestamp_seconds", f"Start of the {what}.", (*pairs, "period"),
            f"start of the {what} (`period=\"current\"`: {which}; `\"previous\"`: the last finished one, until the "
            "next one finishes)",
        ),
        end=family("end_timestamp_seconds", f"End of the {what}.", (*pairs, "period"), f"end of the {what}"),
        seconds=family(
            "seconds", f"ISO 22400 time elements of the {what} so far.", (*pairs, "element", "period"),
            f"the time elements of that {what} (so far)",
        ),
        parts=family(
            "parts", f"Parts produced and good parts in planned busy time of the {what} so far.",
            (*pairs, "kind", "period"),
            f"parts of that {what}: `kind=\"produced\"`, `\"good\"` (absent without a quality source)",
        ),
        ideal=family(
            "ideal_production_seconds", f"Ideal production seconds of the parts of the {what} so far.",
            (*pairs, "period"), f"ideal production seconds of that {what}'s parts (absent without an ideal cycle time)",
        ),
        oee=ratio(
            "oee", "OEE", "availability x performance x quality (0 with planned busy time and no production)",
            "when one of them is undefined",
        ),
        availability=ratio("availability", "availability", "production / planned_busy", "without planned busy time"),
        performance=ratio(
            "performance", "performance", "ideal_production / production",
            "without production or without an ideal cycle time",
        ),
        quality=ratio("quality", "quality", "good / produced", "without parts or without a quality source"),
    )


PERIODS = {
    "shift": _period_families("shift", "shift", "the running one, absent between shifts"),
    "day": _period_families(
        "day", "calendar day", "today in the calendar's timezone (UTC without a calendar)"
    ),
}

# -- data items ---------------------------------------------------------------------------------

SAMPLE = Family(
    "mtconnect_<type>_<unit>", "gauge", "MTConnect {type} {category} values, in base units.", (),
    "the latest numeric value of a SAMPLE in base units, e.g. `mtconnect_position_meters`, "
    "`mtconnect_rotary_velocity_revolutions_per_minute`, `mtconnect_load_ratio`, "
    "`mtconnect_path_feedrate_meters_per_second`, `mtconnect_temperature_celsius`, "
    "`mtconnect_accumulated_time_seconds`; `axis` (x, y, z) for 3D values, `key` for DATA_SET / TABLE entries",
    SAMPLES, data_item=True, optional_labels=("axis", "key"),
)
STATE = Family(
    "mtconnect_<type>_state", "gauge", "1 for the current {type} value, 0 for every other.", ("state",),
    "closed-vocabulary events (EXECUTION, CONTROLLER_MODE, AVAILABILITY, EMERGENCY_STOP, FUNCTIONAL_MODE, "
    "DOOR_STATE, ROTARY_MODE, CONNECTION_STATUS, VALVE_STATE, ... every controlled vocabulary of the MTConnect "
    "model; COMPOSITION_STATE and the interface events OPEN_DOOR, CLOSE_CHUCK, MATERIAL_LOAD, ... take the "
    "vocabulary of their subType): 1 for the current value, 0 for every other value of the vocabulary "
    "(UNAVAILABLE included); a value outside the vocabulary gets its own series", EVENTS, data_item=True,
)
STATE_SECONDS = Family(
    "mtconnect_<type>_state_seconds_total", "counter", "Seconds spent in each {type} value, from the agent's timestamps.",
    ("state",),
    "seconds spent in each value, from the observations' timestamps ([time accounting](time-accounting.md)); "
    "the current value's time grows with the agent's clock (the newest document's creationTime) and never "
    "decreases", EVENTS, data_item=True,
)
STATE_TRANSITIONS = Family(
    "mtconnect_<type>_state_transitions_total", "counter", "Entries into each {type} value.", ("state",),
    "entries into each value, every one seen in the stream", EVENTS, data_item=True,
)
NUMERIC_EVENT = Family(
    "mtconnect_<type>", "gauge", "MTConnect {type} event value.", (),
    "numeric events, `mtconnect_<type>_<unit>` when the item has units: every EVENT type whose result is a number "
    "in the MTConnect model (PART_COUNT as `mtconnect_part_count_value`, overrides as "
    "`mtconnect_path_feedrate_override_ratio`, TRANSFER_COUNT, LINE_NUMBER, ...), LINE and TOOL_NUMBER (numbers "
    "on real controllers), any EVENT with `units`, and the vendor events listed in `numeric_event_types` "
    "(`x:PALLET_NUMBER` -> `mtconnect_x_pallet_number`); `axis` for ROTATION / TRANSLATION, `key` for DATA_SET "
    "entries. ASSET_COUNT is a gauge per asset type: `mtconnect_asset_count_value{key=\"CuttingTool\"}`",
    EVENTS, data_item=True, optional_labels=("axis", "key"), standard_names=("mtconnect_part_count_value",),
)
PARTS = Family(
    "mtconnect_parts_total", "counter", "Parts counted from increases of PART_COUNT, across controller resets.", (),
    "increases of PART_COUNT (`sub_type` ALL, GOOD, BAD, ...), across controller resets; a PART_COUNT without "
    "subType is `ALL` (the standard's default); a step larger than `part_count_max_step` is not counted and is "
    "logged", EVENTS, data_item=True,
)
EVENT_INFO = Family(
    "mtconnect_event_info", "gauge", "Current value of a free-text event enabled in the config; always 1.",
    ("event", "value"),
    "1 for the current value of the free-text events enabled by `event_info_types` (default PROGRAM); value "
    "capped at `max_label_value_length`", EVENTS, data_item=True,
)
CONDITION_LEVEL = Family(
    "mtconnect_condition_level", "gauge",
    "1 for the condition's highest active level (normal, warning, fault, unavailable), 0 for the others.",
    ("condition", "level"),
    "one-hot over `normal`, `warning`, `fault`, `unavailable`: the highest active level; `condition` is the "
    "condition's MTConnect type (SYSTEM, TEMPERATURE, ...)", CONDITIONS, data_item=True,
)
CONDITION_ACTIVE = Family(
    "mtconnect_condition_active", "gauge",
    "1 for each active warning or fault activation, with its native code and message.",
    ("condition", "level", "native_code", "native_severity", "qualifier", "message"),
    "1 for each active Warning/Fault activation (several can be active at once, keyed by conditionId or "
    "nativeCode)", CONDITIONS, data_item=True,
)
CONDITION_ACTIVATIONS = Family(
    "mtconnect_condition_activations_total", "counter", "Onsets of warning and fault activations of the condition.",
    ("condition", "level"),
    "onsets of warning and fault activations (an activation escalating from warning to fault is a fault onset)",
    CONDITIONS, data_item=True,
)

_PERIOD_ORDER = ("start", "end", "seconds", "parts", "ideal", "availability", "performance", "quality", "oee")

FAMILIES: tuple[Family, ...] = (
    AGENT_UP, AGENT_INFO, AGENT_RESTARTS, AGENT_OBSERVATIONS, AGENT_OBSERVATIONS_LOST, AGENT_OBSERVATIONS_UNDECLARED,
    AGENT_REQUEST_ERRORS, AGENT_REQUEST_DURATION, AGENT_BUFFER_SIZE, AGENT_SEQUENCE_LAG, AGENT_LAST_SUCCESS,
    SERIES_DROPPED, AGENT_TIMESTAMPS_REJECTED, AGENT_COLLECT_ERRORS, ADAPTER_INFO, DEVICE_INFO, DEVICE_AVAILABLE,
    DEVICE_LAST_OBSERVATION, DEVICE_PLANNED_PRODUCTION, DEVICE_IDEAL_CYCLE_TIME, BUILD_INFO,
    CONFIG_RELOAD_SUCCESSFUL, CONFIG_RELOAD_SUCCESS_TIMESTAMP,
    DEVICE_TIME, DEVICE_LOSS, DEVICE_ALARM, DEVICE_PARTS_PRODUCED, DEVICE_PARTS_GOOD, DEVICE_PARTS_BAD,
    DEVICE_IDEAL_PRODUCTION,
    *(getattr(PERIODS[kind], field) for kind in ("shift", "day") for field in _PERIOD_ORDER),
    SAMPLE, STATE, STATE_SECONDS, STATE_TRANSITIONS, NUMERIC_EVENT, PARTS, EVENT_INFO,
    CONDITION_LEVEL, CONDITION_ACTIVE, CONDITION_ACTIVATIONS,
)


def most_specific_first(families: Iterable[Family]) -> list[Family]:
    """Fixed names first, then patterns by their literal length: `mtconnect_<type>_state_seconds_total` before
    `mtconnect_<type>_state` before `mtconnect_<type>_<unit>`, so the first match is the right family."""
    return sorted(families, key=lambda family: (family.is_pattern, -len(re.sub(r"<\w+>", "", family.name))))


def family_of(exposed: str) -> Family | None:
    """The declared family of an exposed family name (the `# TYPE` name, counters without `_total`)."""
    for family in most_specific_first(FAMILIES):
        if pattern(family).match(exposed + ("_total" if family.type == "counter" else "")):
            return family
    return None


def pattern(family: Family, unit: str = r"[a-z0-9_]+") -> re.Pattern[str]:
    """A regex of a family's names as queries spell them (counters with `_total`), anchored at both ends:
    `<type>` any snake-case name, `<unit>` as given."""
    text = re.escape(family.name).replace(re.escape("<type>"), r"[a-z][a-z0-9_]*")
    return re.compile("^" + text.replace(re.escape("<unit>"), f"(?:{unit})") + "$")


# -- the generated documentation ----------------------------------------------------------------


def _labels_cell(family: Family) -> str:
    own = ", ".join(family.labels)
    optional = ", ".join(f"{label} (some series)" for label in family.optional_labels)
    if family.data_item:
        extra = ", ".join(part for part in (own, optional) if part)
        return "data item labels" + (f" + {extra}" if extra else "")
    return ", ".join(part for part in (own, optional) if part)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reference_table(section: str) -> str:
    """The table of one section of docs/metrics.md."""
    rows = [
        f"| `{family.name}` | {family.type} | {_labels_cell(family)} | {_cell(family.doc)} |"
        for family in FAMILIES
        if family.section == section
    ]
    return "\n".join(["| metric | type | labels | meaning |", "|---|---|---|---|", *rows])


def contract_table() -> str:
    """docs/design.md's metric contract: every family with its HELP."""
    rows = [f"| `{f.name}` | {f.type} | {_labels_cell(f)} | {_cell(f.help)} |" for f in FAMILIES]
    return "\n".join(
        [
            f"Data item labels (in this order): `{', '.join(DATA_ITEM_LABELS)}` (empty string where absent). "
            "No label is called `type`.",
            "",
            "| metric | type | labels | HELP |",
            "|---|---|---|---|",
            *rows,
        ]
    )


GENERATED = {f"metrics:{section}": (lambda section=section: reference_table(section)) for section in SECTIONS}
GENERATED["metrics:contract"] = contract_table
_BLOCK = re.compile(r"(<!-- generated:(?P<name>[\w:]+) .*?-->\n)(.*?)(<!-- /generated:(?P=name) -->)", re.S)


def regenerate(text: str) -> str:
    """`text` with every generated block rewritten from the declarations above."""

    def block(match: re.Match[str]) -> str:
        render = GENERATED.get(match.group("name"))
        if render is None:
            raise ValueError(f"unknown generated block {match.group('name')!r}")
        return match.group(1) + render() + "\n" + match.group(4)

    return _BLOCK.sub(block, text)


def generated_blocks(text: str) -> list[str]:
    return [match.group("name") for match in _BLOCK.finditer(text)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m factorydash.metrics", description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", nargs="+", type=Path, required=True, metavar="FILE",
                        help="rewrite the generated metric tables of these Markdown files")
    parser.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    stale = _stale(args.markdown, write=not args.check)
    if args.check:
        for path in stale:
            sys.stderr.write(f"{path}: metric tables are stale; run python -m factorydash.metrics --markdown {path}\n")
        return 1 if stale else 0
    return 0


def _stale(paths: Iterable[Path], write: bool) -> list[Path]:
    """The files whose generated blocks differ from the declarations (rewritten when `write`)."""
    stale = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        fresh = regenerate(text)
        if fresh != text:
            stale.append(path)
            if write:
                path.write_text(fresh, encoding="utf-8")
    return stale


if __name__ == "__main__":
    sys.exit(main())
