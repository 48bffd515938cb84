"""Reading the provisioned dashboards for tests: panels, queries, variables.

The end-to-end query test (every panel query against a real Prometheus fed by
the exporter following the simulator) uses `iter_panel_queries` and
`iter_variable_queries`:

    for query in iter_panel_queries(DEFAULT_SUBSTITUTIONS):
        result = prometheus_query(query.expr, instant=query.instant)
        assert result.status == "success"
        if not query.may_be_empty:
            assert result.data

A panel may legitimately return no data when its description says
"Empty when ..." (no emergency stop happened, nothing was lost).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO_ROOT / "grafana" / "dashboards"
PROVISIONING_DIR = REPO_ROOT / "grafana" / "provisioning"
EMPTY_MARKER = "Empty when"

# Values for Grafana's variables in queries sent straight to Prometheus:
# every agent and device, and intervals fit for a test run of a few minutes.
DEFAULT_SUBSTITUTIONS: Mapping[str, str] = {
    "agent": ".*",
    "device": ".*",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "5m",
    "__range_s": "300",
}

# $name, ${name}, ${name:format}, [[name]]
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]")


@dataclass(frozen=True)
class Dashboard:
    path: Path
    model: dict[str, Any]

    @property
    def uid(self) -> str:
        return str(self.model.get("uid"))

    @property
    def title(self) -> str:
        return str(self.model.get("title"))


@dataclass(frozen=True)
class PanelQuery:
    dashboard_uid: str
    panel_title: str
    ref_id: str
    expr: str  # variables substituted
    instant: bool
    may_be_empty: bool


@dataclass(frozen=True)
class VariableQuery:
    dashboard_uid: str
    variable: str
    expr: str  # a PromQL equivalent of the label_values() query, substituted


def load_dashboards() -> list[Dashboard]:
    return [
        Dashboard(path, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    ]


def iter_panels(model: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def variable_names(text: str) -> set[str]:
    """Names of the Grafana variables referenced in `text`."""
    return {next(group for group in match.groups() if group) for match in _VARIABLE.finditer(text)}


def substitute(text: str, substitutions: Mapping[str, str]) -> str:
    """Replaces Grafana variables; KeyError names a variable without a value."""

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        return substitutions[name]

    return _VARIABLE.sub(value, text)


def iter_panel_queries(substitutions: Mapping[str, str] = DEFAULT_SUBSTITUTIONS) -> Iterator[PanelQuery]:
    for dashboard in load_dashboards():
        for panel in iter_panels(dashboard.model):
            may_be_empty = EMPTY_MARKER in panel.get("description", "")
            for target in panel.get("targets", []):
                yield PanelQuery(
                    dashboard_uid=dashboard.uid,
                    panel_title=panel["title"],
                    ref_id=target["refId"],
                    expr=substitute(target["expr"], substitutions),
                    instant=bool(target.get("instant")),
                    may_be_empty=may_be_empty,
                )


_LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")


def variable_query_as_promql(query: str) -> str:
    """`label_values(sel, label)` -> a PromQL query returning one series per value."""
    match = _LABEL_VALUES.match(query.strip())
    if match is None:
        raise ValueError(f"not a label_values() query: {query}")
    selector = match["selector"] or f'{{{match["label"]}!=""}}'
    return f"count by ({match['label']}) ({selector})"


def iter_variable_queries(substitutions: Mapping[str, str] = DEFAULT_SUBSTITUTIONS) -> Iterator[VariableQuery]:
    for dashboard in load_dashboards():
        for variable in dashboard.model["templating"]["list"]:
            if variable["type"] != "query":
                continue
            yield VariableQuery(
                dashboard_uid=dashboard.uid,
                variable=variable["name"],
                expr=substitute(variable_query_as_promql(variable["query"]["query"]), substitutions),
            )
