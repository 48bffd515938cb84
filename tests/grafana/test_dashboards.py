"""Lint of the provisioned Grafana dashboards and their provisioning files.

The dashboard-linter rules of the house style, checked here in pytest:
template-datasource-rule, panel-datasource-rule, panel-title-description-rule,
panel-units-rule, target-rate-interval-rule, target-promql-rule (with
promtool), plus: a stable uid and no id, counters only inside
rate/increase, unique uids and titles, every variable defined, every link
target existing, every metric declared in factorydash.metrics or a recording rule.

Two deliberate exceptions to target-rate-interval-rule: a panel about "the
selected time range" may use `[$__range]` in rate/increase, and then its
description must say "selected time range"; a target with a minimum step
(`interval`, an hour for the availability heat map) may use `[$__interval]`:
its windows tile the time axis, one cell per step.

KPI rules of ISO 22400 (issue 10): no mean of ratios (`avg`/`avg_over_time`
of a ratio); every query about devices leaves the MTConnect Agent device out
(`is_agent="false"`); counts (parts, onsets, entries, restarts) are whole
numbers (`round()` around their increase); every OEE threshold is the OEE
target of the recording rules; "longest" and Pareto panels show the top N,
largest first.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from factorydash import metrics as declared
from factorydash.units import UNITS

from grafana_dashboards import (
    DASHBOARDS_DIR,
    DEFAULT_SUBSTITUTIONS,
    PROVISIONING_DIR,
    REPO_ROOT,
    Dashboard,
    iter_panel_queries,
    iter_panels,
    iter_variable_queries,
    load_dashboards,
    substitute,
    variable_names,
)

from tests.conftest import require_program

DASHBOARDS = load_dashboards()
UIDS = {
    "factorydash-overview": "Shop floor overview",
    "factorydash-machine": "Machine detail",
    "factorydash-alarms": "Alarms and downtime",
    "factorydash-oee": "OEE by shift",
    "factorydash-exporter": "Exporter and agents",
}
GRAFANA_SCHEMA_VERSIONS = range(36, 42)  # Grafana 10.0 .. 11.x
# Unit ids from Grafana's valueFormats/categories.ts that fit shop-floor data.
GRAFANA_UNITS = {
    "none", "short", "string", "percent", "percentunit", "s", "ms", "dtdurations", "dtdurationms",
    "dateTimeFromNow", "dateTimeAsIso", "rotrpm", "rothz", "velocityms", "lengthm", "lengthmm", "degree",
    "celsius", "watt", "kwatt", "massg", "masskg", "cps", "ops", "reqps", "bytes", "forceNm", "pressurebar",
}  # fmt: skip
# Grafana's variables, set by Grafana itself.
GRAFANA_BUILTIN_PREFIX = "__"
# Series Prometheus writes itself for every scrape target.
PROMETHEUS_SERIES = {"up", "scrape_samples_scraped", "scrape_series_added", "scrape_duration_seconds"}
RATE_FUNCTIONS = re.compile(r"\b(?:rate|irate|increase)\s*\(")
INCREASE = re.compile(r"\bincrease\s*\(")
ROUND = re.compile(r"\bround\s*\(")
# avg(...), avg by (...) (...), avg_over_time(...): where a mean of ratios would hide.
MEAN = re.compile(r"\bavg(?:_over_time)?\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(")
NOT_AGENT_DEVICE = 'is_agent="false"'
OEE_TARGET_RULE = "plant:mtconnect_oee_target:ratio"
RANGE_EXCEPTION_WORDS = "selected time range"
PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "offset", "inf", "nan",
}  # fmt: skip


def dashboard_id(dashboard: Dashboard) -> str:
    return dashboard.path.name


def panels_of(dashboard: Dashboard) -> Iterator[dict[str, Any]]:
    return iter_panels(dashboard.model)


# --- PromQL analysis (on expressions with variables substituted) -------------


def _blank(pattern: str, text: str) -> str:
    """Replaces matches by spaces, keeping every other character in place."""
    return re.sub(pattern, lambda m: " " * len(m.group(0)), text)


def _call_spans(text: str, function: re.Pattern[str]) -> list[tuple[int, int]]:
    """(start, end) of each call of `function`, end at its closing parenthesis."""
    spans = []
    for match in function.finditer(text):
        depth, position = 1, match.end()
        while depth and position < len(text):
            depth += {"(": 1, ")": -1}.get(text[position], 0)
            position += 1
        spans.append((match.start(), position))
    return spans


def _without_strings(expr: str) -> str:
    return _blank(r'"(?:[^"\\]|\\.)*"', expr)


def metric_occurrences(expr: str) -> list[tuple[str, int]]:
    """(metric name, position) of every metric selected by a PromQL expression."""
    text = _without_strings(expr)
    text = _blank(r"\{[^}]*\}", text)
    text = _blank(r"\[[^\]]*\]", text)
    text = _blank(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", text)
    return [
        (match.group(0), match.start())
        for match in re.finditer(r"(?<![\w.:])[a-zA-Z_:][\w:]*(?!\w*\s*\()", text)
        if match.group(0).lower() not in PROMQL_WORDS
    ]


def rate_ranges(expr: str) -> list[str]:
    """The range of every rate/irate/increase call."""
    text = _without_strings(expr)
    return [
        found
        for start, end in _call_spans(text, RATE_FUNCTIONS)
        for found in re.findall(r"\[([^\]]*)\]", text[start:end])
    ]


def test_promql_analysis_finds_metrics_outside_functions_labels_and_strings() -> None:
    expr = (
        'sum by (agent) (rate(a_total{x="b_total"}[1m])) / on (agent) group_left c '
        'or label_replace(d, "e", "$1", "f", "g") offset 5m'
    )
    assert [name for name, _ in metric_occurrences(expr)] == ["a_total", "c", "d"]
    assert rate_ranges(expr) == ["1m"]


# --- contract: metrics and recording rules -----------------------------------


def contract_metrics() -> tuple[set[str], list[re.Pattern[str]], set[str]]:
    """Names, name patterns and counter series of the metric families declared in factorydash.metrics."""
    units = "|".join(sorted({target.suffix for target in UNITS.values() if target.suffix}))
    names, patterns, counters = set(), [], set()
    for family in declared.FAMILIES:
        if family.type == "counter":
            counters.add(family.name)
        if family.type == "histogram":
            suffixes = ("_bucket", "_sum", "_count")
            names.update(family.name + suffix for suffix in suffixes)
            counters.update(family.name + suffix for suffix in suffixes)
        if not family.is_pattern:
            names.add(family.name)
        elif family is not declared.NUMERIC_EVENT:  # `mtconnect_<type>` would match any name
            patterns.append(declared.pattern(family, units))
        names.update(family.standard_names)
    return names, patterns, counters


def recording_rules() -> set[str]:
    records = set()
    for path in sorted((REPO_ROOT / "prometheus" / "rules").glob("*.yml")):
        for group in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("groups", []):
            records.update(rule["record"] for rule in group.get("rules", []) if "record" in rule)
    return records


def is_counter(name: str, contract_counters: set[str]) -> bool:
    return name.endswith("_total") or name in contract_counters


# --- dashboards --------------------------------------------------------------


def test_the_five_dashboards_exist_with_their_fixed_uids_and_titles() -> None:
    assert {d.uid: d.title for d in DASHBOARDS} == UIDS


def test_uids_and_titles_are_unique() -> None:
    assert not [uid for uid, n in Counter(d.uid for d in DASHBOARDS).items() if n > 1]
    assert not [title for title, n in Counter(d.title for d in DASHBOARDS).items() if n > 1]


@pytest.mark.integration
def test_dashboard_files_are_what_the_generator_writes() -> None:
    check = subprocess.run(
        [sys.executable, str(REPO_ROOT / "grafana" / "generate_dashboards.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=dashboard_id)
def test_dashboard_has_a_stable_uid_no_id_and_a_current_schema(dashboard: Dashboard) -> None:
    model = dashboard.model
    assert "id" not in model
    assert re.fullmatch(r"[a-z0-9-]{1,40}", model["uid"])
    assert model["schemaVersion"] in GRAFANA_SCHEMA_VERSIONS
    assert model["editable"] is False
    assert model["title"] and model["description"]


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=dashboard_id)
def test_dashboard_has_datasource_agent_and_device_variables(dashboard: Dashboard) -> None:
    variables = {v["name"]: v for v in dashboard.model["templating"]["list"]}
    datasource = variables["datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    for name in ("agent", "device"):
        variable = variables[name]
        assert variable["type"] == "query"
        assert variable["multi"] is True and variable["includeAll"] is True
        assert variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert variable["query"]["query"].startswith("label_values(")


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=dashboard_id)
def test_every_panel_has_type_title_description_unit_grid_and_the_datasource_variable(dashboard: Dashboard) -> None:
    problems = []
    panel_ids = [panel.get("id") for panel in panels_of(dashboard)]
    assert len(set(panel_ids)) == len(panel_ids), "panel ids must be unique"
    titles = [panel.get("title") for panel in panels_of(dashboard)]
    assert len(set(titles)) == len(titles), "panel titles must be unique: tests and links name panels by title"
    for panel in panels_of(dashboard):
        title = panel.get("title") or f"<untitled {panel.get('type')}>"
        if not panel.get("type"):
            problems.append(f"{title}: no type")
        if not panel.get("title") or not panel.get("description"):
            problems.append(f"{title}: title and description required")
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if unit not in GRAFANA_UNITS:
            problems.append(f"{title}: unit {unit!r} is not a Grafana unit")
        grid = panel.get("gridPos", {})
        if not all(isinstance(grid.get(key), int) for key in ("x", "y", "w", "h")) or grid["x"] + grid["w"] > 24:
            problems.append(f"{title}: bad gridPos {grid}")
        if panel.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
            problems.append(f"{title}: panel datasource must be the $datasource variable")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{title}: no targets")
        ref_ids = [t.get("refId") for t in targets]
        if len(set(ref_ids)) != len(ref_ids) or not all(ref_ids):
            problems.append(f"{title}: refIds must be set and unique")
        for t in targets:
            if not t.get("expr") or t.get("datasource", panel.get("datasource")) != panel.get("datasource"):
                problems.append(f"{title} {t.get('refId')}: needs an expr and the panel's datasource")
        for override in panel.get("fieldConfig", {}).get("overrides", []):
            for prop in override["properties"]:
                if prop["id"] == "unit" and prop["value"] not in GRAFANA_UNITS:
                    problems.append(f"{title}: override unit {prop['value']!r} is not a Grafana unit")
    assert not problems


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=dashboard_id)
def test_rate_and_increase_use_rate_interval_or_the_documented_range_exception(dashboard: Dashboard) -> None:
    problems = []
    for panel in panels_of(dashboard):
        for t in panel["targets"]:
            for window in rate_ranges(t["expr"]):
                if window == "$__range" and RANGE_EXCEPTION_WORDS in panel["description"]:
                    continue
                if window == "$__interval" and t.get("interval"):
                    continue
                if window != "$__rate_interval":
                    problems.append(f"{panel['title']} {t['refId']}: [{window}]")
    assert not problems


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=dashboard_id)
def test_counters_appear_only_inside_rate_or_increase(dashboard: Dashboard) -> None:
    _, _, contract_counters = contract_metrics()
    problems = []
    for panel in panels_of(dashboard):
        for t in panel["targets"]:
            expr = substitute(t["expr"], DEFAULT_SUBSTITUTIONS)
            spans = _call_spans(_without_strings(expr), RATE_FUNCTIONS)
            for name, position in metric_occurrences(expr):
                if is_counter(name, contract_counters) and not any(s <= position < e for s, e in spans):
                    problems.append(f"{panel['title']} {t['refId']}: {name} outside rate/increase")
    assert not problems


def test_no_panel_takes_a_mean_of_ratios() -> None:
    problems = []
    for query in iter_panel_queries(DEFAULT_SUBSTITUTIONS):
        text = _without_strings(query.expr)
        for start, end in _call_spans(text, MEAN):
            if "ratio" in text[start:end]:
                problems.append(f"{query.dashboard_uid} / {query.panel_title} {query.ref_id}: {text[start:end]}")
    assert not problems


def test_the_mean_of_ratios_check_finds_one() -> None:
    for expr in ("avg_over_time(device:mtconnect_oee:ratio_1h[8h])", "avg by (state) (x:ratio_1h)", "avg(a_ratio)"):
        assert any("ratio" in expr[s:e] for s, e in _call_spans(expr, MEAN)), expr


def test_every_query_about_devices_leaves_the_agent_device_out() -> None:
    problems = [
        f"{dashboard.uid} / {panel['title']} {t['refId']}"
        for dashboard in DASHBOARDS
        for panel in panels_of(dashboard)
        for t in panel["targets"]
        if "device" in variable_names(t["expr"]) and NOT_AGENT_DEVICE not in t["expr"]
    ]
    assert not problems
    for dashboard in DASHBOARDS:
        device = next(v for v in dashboard.model["templating"]["list"] if v["name"] == "device")
        assert NOT_AGENT_DEVICE in device["query"]["query"], dashboard.uid


def test_counts_are_whole_numbers() -> None:
    """Every increase() of a counter of things (parts, onsets, entries, restarts) sits inside round()."""
    problems = []
    for query in iter_panel_queries(DEFAULT_SUBSTITUTIONS):
        text = _without_strings(query.expr)
        rounded = _call_spans(text, ROUND)
        for start, end in _call_spans(text, INCREASE):
            counted = [name for name, _ in metric_occurrences(query.expr[start:end]) if not name.endswith("_seconds_total")]
            if counted and not any(s <= start and end <= e for s, e in rounded):
                problems.append(f"{query.dashboard_uid} / {query.panel_title} {query.ref_id}: {counted}")
    assert not problems


def oee_target_of_the_rules() -> float:
    """The value of the one OEE target rule, read here independently of the generator."""
    exprs = [
        rule["expr"]
        for path in sorted((REPO_ROOT / "prometheus" / "rules").glob("*.yml"))
        for group in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("groups", [])
        for rule in group.get("rules", [])
        if rule.get("record") == OEE_TARGET_RULE
    ]
    assert len(exprs) == 1, exprs
    return float(re.fullmatch(r"\s*(?:vector\()?\s*([\d.]+)\s*\)?\s*", exprs[0]).group(1))


def _thresholds(panel: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, thresholds) of the panel's defaults and of its column overrides."""
    field_config = panel.get("fieldConfig", {})
    if "thresholds" in field_config.get("defaults", {}):
        yield panel["title"], field_config["defaults"]["thresholds"]
    for override in field_config.get("overrides", []):
        for prop in override["properties"]:
            if prop["id"] == "thresholds":
                yield f"{panel['title']} / {override['matcher']['options']}", prop["value"]


def test_every_oee_threshold_is_the_target_of_the_rules() -> None:
    target = oee_target_of_the_rules()
    checked, problems = 0, []
    for dashboard in DASHBOARDS:
        for panel in panels_of(dashboard):
            for where, thresholds in _thresholds(panel):
                if "OEE" not in where:
                    continue
                values = {step["value"] for step in thresholds["steps"] if step["value"] is not None}
                checked += 1
                if values != {target}:
                    problems.append(f"{dashboard.uid} / {where}: {sorted(values)} instead of {target}")
    assert not problems
    assert checked >= 6  # overview stat, bar gauge and table column, machine bar gauge, plant stat and graph, ...


def test_longest_and_pareto_panels_show_the_top_largest_first() -> None:
    ranked = [
        (dashboard.uid, panel)
        for dashboard in DASHBOARDS
        for panel in panels_of(dashboard)
        if panel["title"].startswith("Longest") or panel["type"] == "barchart"
    ]
    assert len(ranked) >= 4
    problems = []
    for uid, panel in ranked:
        if not panel["targets"][0]["expr"].lstrip().startswith("topk("):
            problems.append(f"{uid} / {panel['title']}: not a topk")
        sort = panel.get("options", {}).get("sortBy") or next(
            (t["options"]["sort"] for t in panel.get("transformations", []) if t["id"] == "sortBy"), None
        )
        if not sort or not sort[0]["desc"]:
            problems.append(f"{uid} / {panel['title']}: not sorted largest first")
    assert not problems


def test_shift_and_day_panels_read_the_exporters_exact_gauges() -> None:
    problems = [
        f"{query.dashboard_uid} / {query.panel_title} {query.ref_id}"
        for query in iter_panel_queries(DEFAULT_SUBSTITUTIONS)
        if re.search(r"\b(?:shift|today)\b", query.panel_title, re.I)
        and not re.search(r"\bmtconnect_device_(?:shift|day)_\w+\{[^}]*period=", query.expr)
    ]
    assert not problems


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=dashboard_id)
def test_every_referenced_variable_is_defined(dashboard: Dashboard) -> None:
    defined = {v["name"] for v in dashboard.model["templating"]["list"]}
    text = "\n".join(
        [str(panel.get(key, "")) for panel in panels_of(dashboard) for key in ("targets", "links", "fieldConfig")]
        + [str(v.get("query", "")) for v in dashboard.model["templating"]["list"]]
    )
    used = {name for name in variable_names(text) if not name.startswith(GRAFANA_BUILTIN_PREFIX)}
    assert used and used <= defined


def _links(dashboard: Dashboard) -> Iterator[dict[str, Any]]:
    yield from dashboard.model.get("links", [])
    for panel in panels_of(dashboard):
        yield from panel.get("links", [])
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        yield from defaults.get("links", [])


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=dashboard_id)
def test_links_reach_existing_dashboards_and_keep_time_and_variables(dashboard: Dashboard) -> None:
    uids = {d.uid for d in DASHBOARDS}
    tags = {tag for d in DASHBOARDS for tag in d.model.get("tags", [])}
    links = list(_links(dashboard))
    assert any(link.get("type") == "dashboards" for link in links), "a dashboard link bar to the others"
    problems = []
    for link in links:
        if link.get("type") == "dashboards":
            if not set(link["tags"]) <= tags or not (link["includeVars"] and link["keepTime"]):
                problems.append(f"dashboards link {link['tags']}: unknown tag or drops time/variables")
            continue
        url = link["url"]
        target = re.match(r"^/d/([\w-]+)/", url)
        if target is None or target.group(1) not in uids:
            problems.append(f"{url}: not a link to one of our dashboards")
        if "${__url_time_range}" not in url or "var-agent=" not in url and "${agent:queryparam}" not in url:
            problems.append(f"{url}: drops the time range or the agent")
    assert not problems


def test_the_overview_links_to_every_other_dashboard_through_its_panels() -> None:
    overview = next(d for d in DASHBOARDS if d.uid == "factorydash-overview")
    reached = {re.match(r"^/d/([\w-]+)/", link["url"]).group(1) for link in _links(overview) if link.get("url")}
    assert reached == set(UIDS) - {"factorydash-overview"}


def test_every_metric_a_panel_uses_is_in_the_contract_or_a_recording_rule() -> None:
    names, patterns, _ = contract_metrics()
    known = names | recording_rules() | PROMETHEUS_SERIES
    unknown = {
        f"{query.dashboard_uid} / {query.panel_title}: {name}"
        for query in iter_panel_queries(DEFAULT_SUBSTITUTIONS)
        for name, _ in metric_occurrences(query.expr)
        if name not in known and not any(pattern.match(name) for pattern in patterns)
    }
    assert not unknown


def test_the_contract_check_rejects_a_misspelt_metric() -> None:
    names, patterns, _ = contract_metrics()
    assert "mtconnect_agent_up" in names
    assert any(p.match("mtconnect_execution_state_seconds_total") for p in patterns)
    assert any(p.match("mtconnect_temperature_celsius") for p in patterns)
    assert not any(p.match("mtconnect_temperature_kelvins") for p in patterns)
    assert "mtconnect_agent_upp" not in names
    assert {"mtconnect_device_shift_parts", "mtconnect_device_day_parts"} <= names
    assert "mtconnect_device_shift_part" not in names


@pytest.mark.integration
def test_panel_and_variable_queries_are_valid_promql() -> None:
    promtool = require_program("promtool")
    exprs = [q.expr for q in iter_panel_queries(DEFAULT_SUBSTITUTIONS)]
    exprs += [q.expr for q in iter_variable_queries(DEFAULT_SUBSTITUTIONS)]
    rules = {"groups": [{"name": "dashboards", "rules": [{"record": f"dashboard:query:{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    check = subprocess.run(
        [promtool, "check", "rules", "/dev/stdin"],
        input=yaml.safe_dump(rules),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_legitimately_empty_panels_are_few_and_documented() -> None:
    empty = {(q.dashboard_uid, q.panel_title) for q in iter_panel_queries(DEFAULT_SUBSTITUTIONS) if q.may_be_empty}
    assert ("factorydash-alarms", "Emergency stops triggered") in empty
    assert ("factorydash-exporter", "Observations lost") in empty
    assert ("factorydash-overview", "Machines") not in empty
    assert len(empty) <= 12


def test_alert_dashboard_urls_point_at_existing_dashboards() -> None:
    uids = {d.uid for d in DASHBOARDS}
    urls = [
        rule["annotations"]["dashboard_url"]
        for path in sorted((REPO_ROOT / "prometheus" / "rules").glob("*.yml"))
        for group in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("groups", [])
        for rule in group.get("rules", [])
        if "dashboard_url" in rule.get("annotations", {})
    ]
    wrong = [url for url in urls if (target := re.search(r"/d/([\w-]+)", url)) is None or target.group(1) not in uids]
    assert urls and not wrong


# --- provisioning -------------------------------------------------------------


def _compose_mounts(service: str) -> dict[str, Path]:
    """Container path -> host path of the service's bind mounts in docker-compose.yaml."""
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
    mounts = {}
    for volume in compose["services"][service].get("volumes", []):
        host, container = volume.split(":")[:2]
        if host.startswith("."):
            mounts[container] = (REPO_ROOT / host).resolve()
    return mounts


def _host_path(container_path: str, mounts: dict[str, Path]) -> Path:
    for container, host in mounts.items():
        if container_path == container or container_path.startswith(container + "/"):
            return host / container_path[len(container) :].lstrip("/")
    raise AssertionError(f"{container_path} is not mounted from the repository")


def test_datasource_is_prometheus_with_a_fixed_uid_and_not_editable() -> None:
    files = sorted((PROVISIONING_DIR / "datasources").glob("*.yaml"))
    assert files
    datasources = [ds for path in files for ds in yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]]
    assert len(datasources) == 1
    (datasource,) = datasources
    assert datasource["uid"] == "prometheus" and datasource["type"] == "prometheus"
    assert datasource["editable"] is False
    assert datasource["url"] == "http://prometheus:9090"


def test_dashboard_provider_is_read_only_and_points_at_the_mounted_dashboards_folder() -> None:
    files = sorted((PROVISIONING_DIR / "dashboards").glob("*.yaml"))
    providers = [p for path in files for p in yaml.safe_load(path.read_text(encoding="utf-8"))["providers"]]
    assert len(providers) == 1
    (provider,) = providers
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
    mounts = _compose_mounts("grafana")
    assert _host_path(provider["options"]["path"], mounts) == DASHBOARDS_DIR
    assert _host_path("/etc/grafana/provisioning", mounts) == PROVISIONING_DIR
    assert not str(DASHBOARDS_DIR).startswith(str(PROVISIONING_DIR))


def test_grafana_home_dashboard_is_the_overview() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
    environment = compose["services"]["grafana"]["environment"]
    home = _host_path(environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"], _compose_mounts("grafana"))
    assert home == DASHBOARDS_DIR / "factorydash-overview.json"
