"""Numbers and codes an agent sends are checked before they reach a metric (issue 11, defects 1, 7 and 14).

A Header integer of ~1e309 made `/metrics` answer 500 for every agent; a firstSequence beyond
lastSequence was trusted as a loss of 12,098 observations from an agent that had produced 125; error
codes an agent invents became new `reason` label values without bound.
"""

from __future__ import annotations

import math
import subprocess

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from factorydash.collector import FactorydashCollector
from factorydash.follower import MTCONNECT_ERROR_CODES, Phase
from tests.conftest import require_program
from tests.exporter import agentdocs

from .agents import FaultyAgent, Reply, follower_for, step_until

pytestmark = pytest.mark.integration  # every test here starts a server or a process


def exposition(*states) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FactorydashCollector(lambda: list(states)))
    return generate_latest(registry).decode()


def with_header(**attributes: str) -> bytes:
    document = agentdocs.streams([agentdocs.execution(7, "ACTIVE", 60)], last=7, next_=8)
    for name, value in attributes.items():
        document = document.replace(f'{name}="'.encode(), f'{name}="{value}'.encode(), 1)
    return document


HUGE = "9" * 310  # prefixed to the real value: ~1e310


@pytest.mark.parametrize(
    "sample",
    [
        with_header(bufferSize=HUGE),
        with_header(firstSequence=HUGE),
        with_header(lastSequence=HUGE),
        with_header(nextSequence=HUGE),
        agentdocs.streams([], first=12_099, last=125, next_=126),
        agentdocs.streams([], first=1, last=7, next_=12_000),
    ],
    ids=["bufferSize 1e310", "firstSequence 1e310", "lastSequence 1e310", "nextSequence 1e310",
         "firstSequence beyond lastSequence", "nextSequence beyond lastSequence"],
)
def test_extreme_or_inconsistent_header_numbers_are_an_invalid_document_and_metrics_still_render(
    scripted: FaultyAgent, sample: bytes
) -> None:
    healthy = FaultyAgent().start()
    try:
        healthy.script("probe", Reply(agentdocs.probe()))
        healthy.script("current", Reply(agentdocs.current_mill()))
        healthy.script("sample", Reply(agentdocs.streams([agentdocs.execution(7, "ACTIVE", 60)], last=7, next_=8)))
        other = follower_for(healthy.url, name="line2")
        step_until(other, Phase.SAMPLE)
        other.step()
    finally:
        healthy.stop()
    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill()))
    scripted.script("sample", Reply(sample))
    follower = follower_for(scripted.url)
    step_until(follower, Phase.SAMPLE)

    follower.step()

    counters = follower.state.counters
    assert counters.errors == {"invalid_document": 1}
    assert (counters.lost, counters.observations, follower.cursor) == (0, 0, 7)  # nothing trusted
    text = exposition(follower.state, other.state)
    assert 'mtconnect_agent_up{agent="line1"} 0.0' in text
    assert 'mtconnect_agent_up{agent="line2"} 1.0' in text
    values = [float(line.rpartition(" ")[2]) for line in text.splitlines() if line and not line.startswith("#")]
    assert all(math.isfinite(value) and abs(value) < 2**64 for value in values)
    result = subprocess.run(
        [require_program("promtool"), "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_error_codes_an_agent_invents_cannot_grow_the_reason_label_set(scripted: FaultyAgent) -> None:
    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill()))
    invented = [Reply(agentdocs.error(f"MADE_UP_{index}", "x"), 400) for index in range(50)]
    known = [Reply(agentdocs.error(code, "x"), 400) for code in sorted(MTCONNECT_ERROR_CODES - {"OUT_OF_RANGE"})]
    scripted.script("sample", *invented, *known)
    follower = follower_for(scripted.url)
    step_until(follower, Phase.SAMPLE)

    for _ in range(len(invented) + len(known)):
        follower.step()

    reasons = follower.state.counters.errors
    assert reasons["mtconnect_other"] == 50
    assert set(reasons) == {"mtconnect_other"} | {
        "mtconnect_" + code.lower() for code in MTCONNECT_ERROR_CODES - {"OUT_OF_RANGE"}
    }
