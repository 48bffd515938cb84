"""The trickiest panel queries give the right numbers on known series.

promtool's rule unit tests evaluate the panels' own expressions (variables
substituted) on input series written here: current state and how long it has
lasted, active alarms per machine (0 included), alarm onsets, fault time by
alarm and loss time by cause, the machines
counted without the MTConnect Agent device (which here even claims to be
ACTIVE), availability per hour and the delay and down Pareto from the
exporter's ISO 22400 time counters.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from grafana_dashboards import iter_panel_queries
from tests.conftest import require_program

pytestmark = pytest.mark.integration  # every test here starts a server or a process

SUBSTITUTIONS = {
    "agent": ".*",
    "device": ".*",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "10m",
    "__range_s": "600",
}
ITEM = 'agent="a", device="m1", component="Path", component_id="p1", data_item_id="exec", name="execution", sub_type=""'
AGENT_ITEM = 'agent="a", device="Agent", component="Agent", component_id="ag", data_item_id="x", name="", sub_type=""'
CONDITION = (
    'agent="a", device="m1", component="Controller", component_id="c1", data_item_id="sys", name="", sub_type="", '
    'condition="SYSTEM", level="fault", native_code="E42", native_severity="", qualifier="", message="Coolant low"'
)
# 15 s steps: READY for 2 minutes (0..120 s), then ACTIVE (135 s..).
INPUT_SERIES = [
    {"series": f'mtconnect_execution_state{{{ITEM}, state="READY"}}', "values": "1x8 0x32"},
    {"series": f'mtconnect_execution_state{{{ITEM}, state="ACTIVE"}}', "values": "0x8 1x32"},
    {"series": f'mtconnect_execution_state{{{ITEM}, state="UNAVAILABLE"}}', "values": "0x40"},
    {"series": 'mtconnect_device_info{agent="a", device="m1", uuid="u1", is_agent="false"}', "values": "1x40"},
    {"series": 'mtconnect_device_info{agent="a", device="m2", uuid="u2", is_agent="false"}', "values": "1x40"},
    {"series": 'mtconnect_device_info{agent="a", device="Agent", uuid="ua", is_agent="true"}', "values": "1x40"},
    # The Agent device is no machine, whatever it reports.
    {"series": f'mtconnect_execution_state{{{AGENT_ITEM}, state="ACTIVE"}}', "values": "1x40"},
    # ISO 22400 elements per 15 s step: m1 9 s production, 2 s delay, 4 s down of 15 s planned busy; m2 all production.
    *(
        {"series": f'mtconnect_device_time_seconds_total{{agent="a", device="{device}", element="{element}"}}', "values": f"0+{step}x40"}
        for device, element, step in (
            ("m1", "planned_busy", 15), ("m1", "production", 9), ("m1", "delay", 2), ("m1", "down", 4),
            ("m2", "planned_busy", 15), ("m2", "production", 15), ("m2", "delay", 0), ("m2", "down", 0),
        )
    ),
    # The same delay and down seconds by cause, and 3 s of each 15 s step with fault E42 active in planned time.
    {"series": 'mtconnect_device_loss_seconds_total{agent="a", device="m1", element="delay", cause="FEED_HOLD"}', "values": "0+2x40"},
    {"series": 'mtconnect_device_loss_seconds_total{agent="a", device="m1", element="down", cause="READY"}', "values": "0+4x40"},
    {"series": 'mtconnect_device_loss_seconds_total{agent="a", device="m1", element="down", cause="STOPPED"}', "values": "0x40"},
    {"series": 'mtconnect_device_alarm_seconds_total{agent="a", device="m1", condition="SYSTEM", native_code="E42"}', "values": "0+3x40"},
    # The Agent device's series never count.
    {"series": 'mtconnect_device_alarm_seconds_total{agent="a", device="Agent", condition="SYSTEM", native_code="E42"}', "values": "0+15x40"},
    # Outside the shift until 120 s.
    {"series": 'mtconnect_device_planned_production{agent="a", device="m1"}', "values": "0x8 1x32"},
    # Active 0..45 s, cleared at 60 s, raised again at 135 s until the end.
    {"series": f"mtconnect_condition_active{{{CONDITION}}}", "values": "1x3 stale _x4 1x32"},
]


def expr_of(dashboard_uid: str, panel_title: str, ref_id: str = "A", **substitutions: str) -> str:
    return next(
        q.expr
        for q in iter_panel_queries({**SUBSTITUTIONS, **substitutions})
        if (q.dashboard_uid, q.panel_title, q.ref_id) == (dashboard_uid, panel_title, ref_id)
    )


def run_promtool(tests: list[dict[str, Any]], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    promtool = require_program("promtool")
    (tmp_path / "empty.yml").write_text("groups: []\n", encoding="utf-8")
    test_file = tmp_path / "panels_test.yml"
    test_file.write_text(
        yaml.safe_dump({"rule_files": ["empty.yml"], "evaluation_interval": "15s", "tests": tests}), encoding="utf-8"
    )
    return subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )


def test_current_state_its_duration_and_alarm_counts_on_known_series(tmp_path: Path) -> None:
    at = "4m"  # 240 s: ACTIVE since 135 s, the alarm raised again at 135 s
    machine = 'agent="a", device="m1"'
    cases = [
        (expr_of("factorydash-overview", "Execution"), [(machine, 11)]),  # the code of ACTIVE
        (expr_of("factorydash-overview", "Per machine", "A"), [(machine, 11)]),
        # last seen READY at 120 s: 240 - 120, one 15 s step above the true 105 s
        (expr_of("factorydash-overview", "Per machine", "B"), [(machine, 120)]),
        (expr_of("factorydash-overview", "Per machine", "G"), [(machine, 1), ('agent="a", device="m2"', 0)]),
        (expr_of("factorydash-overview", "Machines cutting now"), [("", 1)]),
        (expr_of("factorydash-overview", "Machines"), [("", 2)]),
        # one-minute cells: m1 produced 9 of every 15 planned seconds
        (
            expr_of("factorydash-oee", "Availability by machine and hour", __interval="1m"),
            [(machine, 0.6), ('agent="a", device="m2"', 1)],
        ),
        # 16 steps of 15 s in the range (no extrapolation before a counter's first 0): 16 x 4 s down, 16 x 2 s delay
        (
            expr_of("factorydash-alarms", "Delay and down time by machine"),
            [
                (f'{machine}, element="down", cause="m1 down"', 64),
                (f'{machine}, element="delay", cause="m1 delay"', 32),
            ],
        ),
        (expr_of("factorydash-overview", "Faults active"), [("", 1)]),
        (expr_of("factorydash-overview", "Warnings active"), [("", 0)]),
        # by cause: 16 x 2 s feed hold, 16 x 4 s ready; a cause with no time is no bar
        (
            expr_of("factorydash-alarms", "Delay and down time by cause"),
            [
                ('element="down", cause="READY", reason="down READY"', 64),
                ('element="delay", cause="FEED_HOLD", reason="delay FEED_HOLD"', 32),
            ],
        ),
        # 16 x 3 s of E42 on m1; the Agent device's 240 s are left out
        (
            expr_of("factorydash-alarms", "Fault time by alarm"),
            [('condition="SYSTEM", native_code="E42", alarm="SYSTEM E42"', 48)],
        ),
        # two onsets: at 0 s and again after the gap
        (
            expr_of("factorydash-alarms", "Most frequent alarms"),
            [('condition="SYSTEM", level="fault", message="Coolant low", native_code="E42"', 2)],
        ),
    ]
    tests = [
        {
            "interval": "15s",
            "input_series": INPUT_SERIES,
            "promql_expr_test": [
                {
                    "expr": expr,
                    "eval_time": at,
                    "exp_samples": [{"labels": "{" + labels + "}", "value": value} for labels, value in samples],
                }
                for expr, samples in cases
            ],
        }
    ]
    result = run_promtool(tests, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
