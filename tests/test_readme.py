"""README.md stays true: the metrics reference lists every metric, the unit table every unit."""

from __future__ import annotations

import re

from factorydash.units import UNITS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def section(name: str) -> str:
    match = re.search(rf"<!-- section:{name}\b.*?-->(.*?)<!-- /section:{name} -->", README, re.S)
    assert match, f"README section {name} is missing"
    return match.group(1)


def documented_metric_patterns() -> list[re.Pattern[str]]:
    patterns = []
    for line in section("metrics").splitlines():
        if not line.startswith("| `"):
            continue
        for name in re.findall(r"`([a-z_<>]+)`", line.split("|")[1]):
            if name.startswith(("mtconnect_", "factorydash_")):
                patterns.append(re.compile("^" + re.sub(r"<[a-z]+>", "[a-z0-9_]+", name) + "$"))
    return patterns


def fixed_documented_names() -> set[str]:
    return {p.pattern.strip("^$") for p in documented_metric_patterns() if "[a-z0-9_]+" not in p.pattern}


def names_in_collector() -> set[str]:
    # Every fixed metric name is spelt in collector.py (the one place that names metrics).
    source = (ROOT / "exporter" / "factorydash" / "collector.py").read_text()
    names = set(re.findall(r'"((?:mtconnect|factorydash)_[a-z_]+)"', source)) - {"mtconnect_condition"}
    return {re.sub(r"_(bucket|count|sum)$", "", name) if "duration" in name else name for name in names}


def test_every_metric_the_exporter_names_is_in_the_metrics_reference():
    documented = fixed_documented_names()
    missing = sorted(name for name in names_in_collector() if name not in documented and name + "_total" not in documented)
    assert missing == []


def test_every_fixed_metric_name_of_the_reference_is_produced_by_the_exporter():
    produced = names_in_collector()
    assert "mtconnect_agent_up" in produced
    phantom = sorted(
        name for name in fixed_documented_names() if name not in produced and name.removesuffix("_total") not in produced
    )
    assert phantom == []


def test_every_data_item_metric_of_the_golden_exposition_fits_a_documented_pattern():
    golden = (ROOT / "tests" / "exporter" / "golden" / "metrics.prom").read_text()
    families = {line.split()[2] for line in golden.splitlines() if line.startswith("# TYPE ")}
    patterns = documented_metric_patterns()
    unmatched = sorted(
        name for name in families
        if name.startswith("mtconnect_") and not any(p.match(name) or p.match(name + "_total") for p in patterns)
    )
    assert unmatched == []


def test_the_unit_table_lists_every_unit_with_its_suffix_and_factor():
    table = section("metrics")
    for unit, target in UNITS.items():
        row = f"| `{unit}` | `{target.suffix or '(none)'}` | {target.scale:g} |"
        assert row in table, row


def test_the_first_screen_shows_the_two_commands_and_ci_runs_the_test_one():
    first_screen = section("quickstart")
    assert "make run" in first_screen and "make test" in first_screen
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
