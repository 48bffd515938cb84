"""The Prometheus mixin: config, recording rules and alerts, checked by promtool
and against the conventions and the metric families declared in factorydash.metrics."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from factorydash import metrics as declared
from tests.conftest import ROOT as REPO
from tests.conftest import require_program

PROMETHEUS = REPO / "prometheus"
CONFIG = PROMETHEUS / "prometheus.yml"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))
ALERTMANAGER = REPO / "alertmanager" / "alertmanager.yml"
DOCS = REPO / "docs"
DESIGN = REPO / "docs" / "design.md"

RUNBOOK_PREFIX = "https://github.com/factorydash/factorydash/blob/main/docs/runbooks.md#"
DASHBOARD_UIDS = {"factorydash-overview", "factorydash-machine", "factorydash-alarms", "factorydash-exporter", "factorydash-oee"}
SEVERITIES = {"critical", "warning", "info"}
# Every dashboard_url starts with the external label grafana_url, or Grafana's default address without it.
GRAFANA_URL = "{{ with $externalLabels.grafana_url }}{{ . }}{{ else }}http://localhost:3000{{ end }}"
# Labels Prometheus attaches to every scraped series, and the series it makes itself.
TARGET_LABELS = {"job", "instance"}
PROMETHEUS_SERIES = {"up": TARGET_LABELS}
AGGREGATIONS = r"sum|min|max|avg|count|group|stddev|stdvar|topk|bottomk|quantile|count_values"
DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


# --- helpers -----------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules_of_kind(kind: str) -> list[dict[str, Any]]:
    """Every rule with key `kind` ("alert" or "record"), with its group name under "_group"."""
    found = []
    for path in RULE_FILES:
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                if kind in rule:
                    found.append({**rule, "_group": group["name"]})
    return found


ALERTS = rules_of_kind("alert")
RECORDS = rules_of_kind("record")


def seconds(duration: str) -> float:
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a Prometheus duration: {duration!r}"
    return sum(int(n) * DURATION_UNITS[u] for n, u in parts)


def doc(name: str) -> str:
    """A reference page of docs/ (the README is the guide; the references live there)."""
    return (DOCS / name).read_text(encoding="utf-8")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def recipe(name: str) -> str:
    """The lines between `# >>> recipe: name` and `# <<< recipe: name`, one `#` removed."""
    text = CONFIG.read_text(encoding="utf-8")
    match = re.search(rf"^# >>> recipe: {name}\n(.*?)^# <<< recipe: {name}$", text, re.S | re.M)
    assert match, f"recipe {name} not found in {CONFIG}"
    lines = match.group(1).splitlines()
    assert all(line.startswith("#") for line in lines), f"recipe {name} has an uncommented line"
    return "\n".join(line[1:] for line in lines)


def uncomment_shard(text: str) -> str:
    """Remove one more comment level between the `# >>> shard` and `# <<< shard` markers."""

    def strip(match: re.Match[str]) -> str:
        return re.sub(r"^(\s*)# ?", r"\1", match.group(1), flags=re.M)

    result, count = re.subn(r"^\s*# >>> shard\n(.*?)^\s*# <<< shard$", strip, text, flags=re.S | re.M)
    assert count == 1, "the probe recipe has no shard block"
    return result


# --- the metric contract -------------------------------------------------------


def contract() -> list[tuple[re.Pattern[str], set[str]]]:
    """(name pattern, label names) for every family declared in factorydash.metrics.

    Families whose whole name is a placeholder after the prefix (`mtconnect_<type>`) would accept any name;
    rules must not rely on them, since those names depend on each agent's device model.
    """
    found = []
    for family in declared.most_specific_first(declared.FAMILIES):
        if family is declared.NUMERIC_EVENT:
            continue
        labels = set(family.all_labels) | TARGET_LABELS
        found.append((declared.pattern(family), labels))
        if family.type == "histogram":
            for suffix in ("_count", "_sum"):
                found.append((re.compile(re.escape(family.name + suffix)), labels))
            found.append((re.compile(re.escape(family.name + "_bucket")), labels | {"le"}))
    return found


def contract_labels(metric: str, metrics: list[tuple[re.Pattern[str], set[str]]]) -> set[str] | None:
    if metric in PROMETHEUS_SERIES:
        return PROMETHEUS_SERIES[metric]
    for pattern, labels in metrics:
        if pattern.fullmatch(metric):
            return labels
    return None


def exprs() -> Iterator[tuple[str, str]]:
    for rule in ALERTS + RECORDS:
        yield rule.get("alert") or rule["record"], rule["expr"]


def without_comments(expr: str) -> str:
    return re.sub(r"#[^\n]*", "", expr)


# --- promtool ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_program("promtool")


def run(command: list[str]) -> None:
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"


def check_config(promtool: str, config: dict[str, Any], directory: Path) -> None:
    config["rule_files"] = [str(PROMETHEUS / "rules" / "*.yml")]
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    run([promtool, "check", "config", str(path)])


@pytest.mark.integration
def test_the_prometheus_config_passes_promtool_check_config(promtool: str) -> None:
    run([promtool, "check", "config", str(CONFIG.relative_to(REPO))])


@pytest.mark.integration
@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_the_rule_file_passes_promtool_check_rules(promtool: str, path: Path) -> None:
    run([promtool, "check", "rules", str(path.relative_to(REPO))])


@pytest.mark.integration
@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_the_promtool_unit_tests_pass(promtool: str, path: Path) -> None:
    run([promtool, "test", "rules", str(path.relative_to(REPO))])


@pytest.mark.integration
@pytest.mark.parametrize("shard", [False, True], ids=["one server", "sharded"])
def test_the_commented_probe_recipe_is_a_valid_config(promtool: str, tmp_path: Path, shard: bool) -> None:
    text = recipe("probe")
    jobs = yaml.safe_load(uncomment_shard(text) if shard else text)
    probe = next(job for job in jobs if job.get("metrics_path") == "/probe")
    actions = [step.get("action", "replace") for step in probe["relabel_configs"]]
    assert ("hashmod" in actions) is shard
    assert {"target_label": "__param_target", "source_labels": ["__address__"]} in probe["relabel_configs"]
    config = load_yaml(CONFIG)
    config["scrape_configs"] = [job for job in config["scrape_configs"] if job["job_name"] != "factorydash"] + jobs
    check_config(promtool, config, tmp_path)


@pytest.mark.integration
def test_the_commented_remote_write_recipe_is_a_valid_config(promtool: str, tmp_path: Path) -> None:
    config = load_yaml(CONFIG) | yaml.safe_load(recipe("remote_write"))
    assert config["remote_write"][0]["url"].startswith("http")
    check_config(promtool, config, tmp_path)


# --- prometheus.yml --------------------------------------------------------------------


def test_the_config_scrapes_the_exporter_prometheus_and_alerts_to_alertmanager() -> None:
    config = load_yaml(CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["factorydash"]["static_configs"] == [{"targets": ["exporter:9700"]}]
    assert seconds(jobs["factorydash"]["scrape_timeout"]) < seconds(jobs["factorydash"]["scrape_interval"])
    assert "prometheus" in jobs
    assert config["alerting"]["alertmanagers"][0]["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    assert config["rule_files"] == ["rules/*.yml"]


def test_retention_is_a_flag_documented_in_the_deployment_guide_not_a_config_key() -> None:
    assert "retention" not in load_yaml(CONFIG).get("storage", {}).get("tsdb", {})
    assert "--storage.tsdb.retention.time=${DATA_RETENTION_DAYS:-2}d" in doc("deployment.md")


# --- alerts ------------------------------------------------------------------------


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_the_alert_follows_the_naming_labelling_and_annotation_conventions(alert: dict[str, Any]) -> None:
    name = alert["alert"]
    assert re.fullmatch(r"MTConnect(?:[A-Z][a-z0-9]*)+", name), f"{name} is not MTConnect + CamelCase"
    assert alert["labels"]["severity"] in SEVERITIES
    assert seconds(alert["for"]) >= 60, f"{name}: for: {alert['for']} would flap"
    annotations = alert["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url", "dashboard_url"}
    assert "{{" not in annotations["summary"] and annotations["summary"].endswith(".")
    assert "{{" in annotations["description"]
    assert annotations["runbook_url"] == RUNBOOK_PREFIX + name.lower()
    # Each alert group is named after the dashboard that shows its alerts.
    uid = alert["_group"]
    assert uid in DASHBOARD_UIDS
    assert annotations["dashboard_url"] == (
        GRAFANA_URL + f"/d/{uid}?var-agent={{{{ $labels.agent }}}}&var-device={{{{ $labels.device }}}}"
    )


def test_every_alert_has_a_runbook_section_its_runbook_url_points_to() -> None:
    runbooks = doc("runbooks.md")
    headings = re.findall(r"^## (.+)$", runbooks, re.M)
    anchors = {github_anchor(heading) for heading in headings}
    for alert in ALERTS:
        assert alert["alert"] in headings, f"docs/runbooks.md has no ## {alert['alert']} section"
        anchor = alert["annotations"]["runbook_url"].removeprefix(RUNBOOK_PREFIX)
        assert anchor in anchors
    assert len(headings) == len(ALERTS), "docs/runbooks.md documents an alert that does not exist"


def alert_tests() -> Iterator[tuple[float, dict[str, Any]]]:
    """(evaluation interval in seconds, test group) for every test group with alert tests."""
    for path in TEST_FILES:
        suite = load_yaml(path)
        interval = seconds(suite.get("evaluation_interval", "1m"))
        for group in suite["tests"]:
            if group.get("alert_rule_test"):
                yield interval, group


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_every_alert_is_tested_just_before_and_just_after_its_for_elapses(alert: dict[str, Any]) -> None:
    name = alert["alert"]
    tested = False
    for interval, group in alert_tests():
        cases = [case for case in group["alert_rule_test"] if case["alertname"] == name]
        quiet = [seconds(case["eval_time"]) for case in cases if not case.get("exp_alerts")]
        firing = [(seconds(case["eval_time"]), case["exp_alerts"]) for case in cases if case.get("exp_alerts")]
        for at, expected in firing:
            assert at - interval in quiet, f"{name}: no quiet evaluation one step before {at}s"
            for instance in expected:
                assert instance["exp_labels"]["severity"] == alert["labels"]["severity"]
                assert set(instance["exp_annotations"]) == set(alert["annotations"])
            tested = True
    assert tested, f"{name} has no promtool test group that sees it fire"


# --- recording rules ------------------------------------------------------------------


@pytest.mark.parametrize("rule", RECORDS, ids=lambda r: r["record"])
def test_the_recording_rule_is_named_level_metric_operations(rule: dict[str, Any]) -> None:
    name = rule["record"]
    assert re.fullmatch(r"(device|device_state|device_element|plant):mtconnect_[a-z0-9_]+:[a-z0-9_]+_(5m|1h|8h|24h)", name) or (
        name == "plant:mtconnect_oee_target:ratio"
    )


def test_every_aggregation_names_its_labels_with_by_or_without() -> None:
    for name, expr in exprs():
        bare = re.findall(rf"\b(?:{AGGREGATIONS})\s*\(", without_comments(expr))
        assert not bare, f"{name}: aggregation without by/without: {bare}"


def test_every_recording_rule_has_a_comment() -> None:
    for path in RULE_FILES:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if line.strip().startswith("- record:"):
                assert lines[number - 1].strip().startswith("#"), f"{path.name}:{number + 1} has no comment"


def inputs(expr: str) -> set[str]:
    """The series and recorded rules an expression reads (none for a constant such as the OEE target)."""
    return set(re.findall(r"(?<![\w:])(?:mtconnect_[a-z0-9_]+|up|[a-z_]+:[a-z0-9_]+:[a-z0-9_]+)\b", without_comments(expr)))


def expr_tests() -> Iterator[dict[str, Any]]:
    for path in TEST_FILES:
        for group in load_yaml(path)["tests"]:
            yield from group.get("promql_expr_test") or []


@pytest.mark.parametrize("rule", RECORDS, ids=lambda r: r["record"])
def test_every_recording_rule_has_a_value_test_and_an_empty_result_test(rule: dict[str, Any]) -> None:
    name = rule["record"]
    tests = [test for test in expr_tests() if re.fullmatch(rf"{re.escape(name)}(\{{.*\}})?", test["expr"])]
    assert any(test["exp_samples"] for test in tests), f"{name}: no promql_expr_test with a value"
    if inputs(rule["expr"]):
        assert any(not test["exp_samples"] for test in tests), f"{name}: no missing-input / zero-denominator test"


def test_every_recording_rule_is_listed_in_the_rules_reference_and_the_design() -> None:
    reference = doc("rules.md")
    design = DESIGN.read_text(encoding="utf-8").split("## Recording rules", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \|", design, re.M)
    patterns = [re.compile(re.escape(row).replace(re.escape("<window>"), "(5m|1h|8h|24h)")) for row in rows]
    names = [rule["record"] for rule in RECORDS]
    for name in names:
        assert f"`{name}`" in reference, f"docs/rules.md does not list {name}"
        assert any(pattern.fullmatch(name) for pattern in patterns), f"docs/design.md does not list {name}"
    for row, pattern in zip(rows, patterns, strict=True):
        assert any(pattern.fullmatch(name) for name in names), f"docs/design.md lists {row}, which no rule records"


# --- the metric contract -----------------------------------------------------------------


def test_every_metric_and_label_a_rule_reads_is_in_the_metric_contract() -> None:
    metrics = contract()
    recorded = {rule["record"] for rule in RECORDS}
    all_labels = set().union(*(labels for _, labels in metrics))
    for name, expr in exprs():
        expr = without_comments(expr)
        for metric in set(re.findall(r"(?<![\w:])(?:mtconnect_[a-z0-9_]+|up)\b(?![:(])", expr)):
            assert contract_labels(metric, metrics) is not None, f"{name} reads {metric}, not in the contract"
        for metric, selector in re.findall(r"(?<![\w:])(mtconnect_[a-z0-9_]+|up)\{([^}]*)\}", expr):
            for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector):
                assert label in (contract_labels(metric, metrics) or set()), f"{name}: {metric} has no label {label}"
        for clause in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr):
            for label in filter(None, (label.strip() for label in clause.split(","))):
                assert label in all_labels, f"{name} groups by {label}, which no metric has"
        for reference in re.findall(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b", expr):
            assert reference in recorded, f"{name} reads {reference}, which no rule records"


# --- Alertmanager -------------------------------------------------------------------------


@pytest.mark.integration
def test_the_alertmanager_config_passes_amtool_check_config() -> None:
    run([require_program("amtool"), "check-config", str(ALERTMANAGER.relative_to(REPO))])


def alerts_matching(matchers: list[str]) -> list[dict[str, Any]]:
    """The alerts whose name and static labels satisfy every `label="value"` / `label=~"regex"` matcher."""
    found = []
    for alert in ALERTS:
        labels = {"alertname": alert["alert"], **alert["labels"]}
        for matcher in matchers:
            match = re.fullmatch(r'(\w+)(=~|=)"(.*)"', matcher)
            assert match, f"unsupported matcher {matcher!r}"
            label, operator, value = match.groups()
            pattern = value if operator == "=~" else re.escape(value)
            if label not in labels or not re.fullmatch(pattern, labels[label]):
                break
        else:
            found.append(alert)
    return found


def test_every_inhibit_rule_matches_alerts_that_carry_its_equal_labels() -> None:
    """An inhibit rule whose matchers name no alert, or whose `equal` labels one side lacks, never inhibits."""
    rules = load_yaml(ALERTMANAGER)["inhibit_rules"]
    assert rules, "no inhibit rule: then say so in docs/runbooks.md instead of testing one"
    for rule in rules:
        sources = alerts_matching(rule["source_matchers"])
        targets = alerts_matching(rule["target_matchers"])
        assert sources and targets, f"{rule} matches no alert on one side"
        assert not {a["alert"] for a in sources} & {a["alert"] for a in targets}, f"{rule} inhibits its own source"
        names = {alert["alert"] for alert in sources + targets}
        for _, group in alert_tests():
            for case in group["alert_rule_test"]:
                if case["alertname"] in names:
                    for instance in case.get("exp_alerts") or []:
                        missing = set(rule["equal"]) - set(instance["exp_labels"])
                        assert not missing, f"{case['alertname']} fires without {missing}: {rule} cannot match it"
