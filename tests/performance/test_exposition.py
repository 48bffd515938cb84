"""The pre-rendered exposition is prometheus_client's exposition, only faster.

The fast renderer writes cached label strings; prometheus_client's
generate_latest, given the same registry, builds every sample from its label
dict. Both must give the same bytes, promtool must accept them, and the fast
path must stay well clear of the generic path's cost (guards, not benchmarks:
the bounds are several times the measured medians).
"""

from __future__ import annotations

import gc
import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bench.micro import follow_offline, parse_apply_us
from factorydash.collector import FactorydashCollector, render_metrics
from factorydash.parser import parse_document
from factorydash.state import AgentState, SeriesBudget, StateSettings
from tests.conftest import require_program
from tests.exporter.agentdocs import Obs, condition, current_mill, probe, streams

FIXTURES = Path(__file__).resolve().parents[1] / "exporter" / "fixtures"
HOSTILE = 'quote " backslash \\ newline \n tab \t unicode \u00e9\u2603'


def rich_states() -> list[AgentState]:
    """Every kind of series: samples, 3D, DATA_SET/TABLE keys, states, conditions with hostile messages."""
    settings = StateSettings(event_info_types=frozenset({"PROGRAM"}))
    cell = AgentState("cell-3", "http://agent.test/mtc/", settings, SeriesBudget(100_000))
    cell.load_model(parse_document((FIXTURES / "agent-2.x-probe.xml").read_bytes()))
    cell.apply_sample(parse_document((FIXTURES / "agent-2.x-sample.xml").read_bytes()))
    mill = AgentState('mill "7"', "http://agent.test/", settings, SeriesBudget(100_000))
    mill.load_model(parse_document(probe()))
    mill.apply_current(parse_document(current_mill()), initial=True)
    mill.apply_sample(parse_document(streams([
        condition(200, "Fault", 1.0, code="E\\1", message=HOSTILE),
        Obs("program", 201, HOSTILE, "2026-11-23T10:00:01Z", element="Program"),
    ], first=1, last=201, next_=202)))
    return [cell, mill]


@pytest.fixture
def registry() -> CollectorRegistry:
    states = rich_states()  # never marked up: their agent clock stands still between two renders
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FactorydashCollector(lambda: states))
    return registry


def test_the_fast_renderer_writes_the_same_bytes_as_generate_latest(registry):
    fast = render_metrics(registry)
    assert fast == generate_latest(registry)
    assert b'mtconnect_condition_active{' in fast and b"\\n" in fast and b'\\"' in fast


def test_every_rendered_line_is_a_sample_the_text_parser_reads_back(registry):
    fast = render_metrics(registry).decode()
    lines = [line for line in fast.splitlines() if line and not line.startswith("#")]
    parsed = [sample for family in text_string_to_metric_families(fast) for sample in family.samples]
    assert len(parsed) == len(lines) > 50
    assert any(sample.labels.get("message") == HOSTILE for sample in parsed)


def test_promtool_accepts_the_fast_exposition(registry):
    promtool = require_program("promtool")
    result = subprocess.run([promtool, "check", "metrics"], input=render_metrics(registry), capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_rendering_costs_a_few_microseconds_per_series():
    fleet = follow_offline(20, 1000)
    collector = FactorydashCollector(lambda: fleet.states)
    series = sum(1 for line in render_metrics(collector).splitlines() if not line.startswith(b"#"))
    gc.collect()
    started = time.perf_counter()
    render_metrics(collector)
    per_series = (time.perf_counter() - started) / series
    assert series > 20_000 and per_series < 15e-6  # measured ~3.5 us; the generic path costs ~45 us


def test_parse_and_apply_cost_a_few_microseconds_per_observation():
    assert parse_apply_us(items=500, scans_per_document=4, documents=5, repeats=3) < 20  # measured ~5 us
