"""Micro-benchmarks: parse+apply per observation, exposition per series, memory per series.

They run in-process on documents of the stand-in agents (no HTTP), so they
measure the exporter's own code and nothing else. Memory runs in a fresh
interpreter (`python -m bench.micro memory ...`) so that earlier work does not
blur the resident-set difference.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from lxml import etree

from factorydash.collector import FactorydashCollector
from factorydash.exposition import render_metrics
from factorydash.limits import SeriesBudget
from factorydash.parser import parse_document
from factorydash.state import AgentState, StateSettings

from .standin import FleetAgent

START = 1_767_600_000.0  # 2026-01-05T08:00:00Z


@dataclass(frozen=True)
class Fleet:
    agents: list[FleetAgent]
    states: list[AgentState]


def fleet_sources(agents: int, items: int) -> list[FleetAgent]:
    return [FleetAgent(index, items, 1.0, START, lambda: START) for index in range(agents)]


def follow_offline(agents: int, items: int, scans: int = 1, sources: list[FleetAgent] | None = None) -> Fleet:
    """States loaded with the probe and the current document, plus `scans` sample scans, as a follower would."""
    budget = SeriesBudget(10_000_000)
    sources = sources or fleet_sources(agents, items)
    states = []
    for source in sources:
        state = AgentState(source.name, f"http://standin/{source.name}/", StateSettings(), SeriesBudget(1_000_000, budget))
        state.load_model(parse_document(source.probe))
        state.apply_current(parse_document(source.current(START)), initial=True)
        if scans:
            state.apply_sample(parse_document(source.sample(source.first + items, scans * items, START + scans)))
        states.append(state)
    return Fleet(sources, states)


def sample_bodies(source: FleetAgent, items: int, scans_per_document: int, documents: int) -> list[bytes]:
    """`documents` consecutive /sample answers of `source`, each with `scans_per_document` changes of every item."""
    per_document = scans_per_document * items
    return [
        source.sample(source.first + items + n * per_document, per_document, START + (n + 1) * scans_per_document + 1)
        for n in range(documents)
    ]


def lxml_parse_us(items: int = 1000, scans_per_document: int = 10, documents: int = 20, repeats: int = 5) -> float:
    """CPU microseconds for lxml alone to build the tree of one /sample observation (median): the floor."""
    bodies = sample_bodies(fleet_sources(1, items)[0], items, scans_per_document, documents)
    results = []
    for _ in range(repeats):
        gc.collect()
        started = time.process_time()
        for body in bodies:
            etree.fromstring(body)
        results.append((time.process_time() - started) / (documents * scans_per_document * items) * 1e6)
    return statistics.median(results)


def parse_apply_us(items: int = 1000, scans_per_document: int = 10, documents: int = 20, repeats: int = 5) -> float:
    """CPU microseconds to parse one /sample observation and apply it to the agent's state (median)."""
    fleet = follow_offline(1, items, scans=0)
    source, state = fleet.agents[0], fleet.states[0]
    per_document = scans_per_document * items
    bodies = sample_bodies(source, items, scans_per_document, documents)
    results = []
    for _ in range(repeats):
        state.load_model(parse_document(source.probe))
        state.apply_current(parse_document(source.current(START)), initial=True)
        gc.collect()
        started = time.process_time()
        for body in bodies:
            state.apply_sample(parse_document(body))
        results.append((time.process_time() - started) / (documents * per_document) * 1e6)
    return statistics.median(results)


def exposition(agents: int = 100, items: int = 1000, repeats: int = 5) -> dict[str, float]:
    """Render /metrics for agents x items: seconds, bytes, series, microseconds per series (medians)."""
    fleet = follow_offline(agents, items)
    collector = FactorydashCollector(lambda: fleet.states)
    body = render_metrics(collector)
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        render_metrics(collector)
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    return {"seconds": median, "bytes": len(body), "series": series, "us_per_series": median / series * 1e6}


def memory_in_fresh_process(agents: int, items: int) -> dict[str, float]:
    """Resident bytes per series of agents x items, measured in a new interpreter."""
    output = subprocess.run(
        [sys.executable, "-m", "bench.micro", "memory", str(agents), str(items)],
        capture_output=True, check=True, timeout=600, text=True,
    ).stdout
    return json.loads(output)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def _memory(agents: int, items: int) -> dict[str, float]:
    sources = fleet_sources(agents, items)  # the agents' side is not the exporter's memory
    gc.collect()
    before = rss_bytes()
    fleet = follow_offline(agents, items, sources=sources)
    collector = FactorydashCollector(lambda: fleet.states)
    body = render_metrics(collector)  # a scrape builds the caches a running exporter keeps
    del body
    gc.collect()
    after = rss_bytes()
    series = sum(1 for line in render_metrics(collector).splitlines() if line and not line.startswith(b"#"))
    return {"series": series, "bytes": after - before, "bytes_per_series": (after - before) / series}


if __name__ == "__main__" and sys.argv[1:2] == ["memory"]:
    print(json.dumps(_memory(int(sys.argv[2]), int(sys.argv[3]))))
