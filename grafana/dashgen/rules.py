"""What the dashboards take from the Prometheus rules: the plant's OEE target.

The target is defined once, as the recording rule `plant:mtconnect_oee_target:ratio`
in prometheus/rules/recording.yml (the OEE alert compares with it). The
dashboards' OEE thresholds are read from that rule when they are generated,
so changing the target there and regenerating moves every threshold.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

RECORDING_RULES = Path(__file__).resolve().parents[2] / "prometheus" / "rules" / "recording.yml"
OEE_TARGET_RULE = "plant:mtconnect_oee_target:ratio"
# The rule's expression is a constant: `0.85` or `vector(0.85)`.
_CONSTANT = re.compile(r"^\s*(?:vector\s*\(\s*)?(?P<value>\d+(?:\.\d+)?)\s*\)?\s*$")


@cache
def oee_target() -> float:
    """The value of the OEE target rule; ValueError when it is missing or not a constant."""
    groups = yaml.safe_load(RECORDING_RULES.read_text(encoding="utf-8")).get("groups", [])
    exprs = [rule["expr"] for group in groups for rule in group.get("rules", []) if rule.get("record") == OEE_TARGET_RULE]
    if len(exprs) != 1:
        raise ValueError(f"{RECORDING_RULES}: expected one rule {OEE_TARGET_RULE}, found {len(exprs)}")
    match = _CONSTANT.match(str(exprs[0]))
    if match is None:
        raise ValueError(f"{RECORDING_RULES}: {OEE_TARGET_RULE} is not a constant: {exprs[0]!r}")
    return float(match["value"])
