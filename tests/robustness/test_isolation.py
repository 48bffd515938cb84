"""One agent misbehaving never slows /metrics or stops another agent's data (real Exporter + WebServer)."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from factorydash.config import Config, parse_config
from factorydash.exporter import Exporter
from factorydash.simulator import ShopFloor
from factorydash.web import ExporterApp, WebServer
from tests.exporter import agentdocs
from tests.exporter.agentdocs import Obs, ts

from .agents import REFUSE, FaultyAgent, Reply, wait_until

pytestmark = pytest.mark.integration  # every test here starts a server or a process

SCRAPE_BUDGET_SECONDS = 0.5
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<MTConnectStreams>&lol3;</MTConnectStreams>"""
UNDECLARED = agentdocs.streams([Obs("ghost", 1, "X", ts(1), "Ghost", "Events")], first=1, last=1, next_=2)

FAULTS = {
    "refused": REFUSE,
    "slower-than-timeout": Reply(agentdocs.streams([]), delay=3.0),
    "hanging-mid-body": Reply(agentdocs.streams([]), cut_after=150, hang=True),
    "proxy-html-502": Reply(b"<html><body><h1>502 Bad Gateway</h1></body></html>", 502, "text/html"),
    "empty-body": Reply(b""),
    "truncated-xml": Reply(agentdocs.streams([])[:-30]),
    "entity-bomb": Reply(BOMB),
    "endless-body": Reply(b"<x>" * 10_000, endless=True),
    "error-document-500": Reply(agentdocs.error("INTERNAL_ERROR", "boom"), 500),
    "undeclared-items": Reply(UNDECLARED),
}


def exporter_config(good: str, bad: str) -> Config:
    return parse_config(
        f"""
global: {{max_document_bytes: 300000}}
defaults: {{poll_interval: 20ms, timeout: 300ms}}
agents:
  - {{name: good, url: "{good}"}}
  - {{name: bad, url: "{bad}"}}
"""
    )


@dataclass
class Running:
    exporter: Exporter
    server: WebServer

    def scrape(self) -> tuple[str, float]:
        started = time.monotonic()
        with urllib.request.urlopen(self.server.url + "metrics", timeout=5) as response:
            body = response.read().decode()
        return body, time.monotonic() - started


def value(exposition: str, name: str, agent: str) -> float:
    match = re.search(rf'^{name}\{{agent="{agent}"\}} (\S+)$', exposition, re.MULTILINE)
    return float(match.group(1)) if match else -1.0


@pytest.fixture
def running(simulator: str, proxy: FaultyAgent) -> Iterator[Running]:
    exporter = Exporter(exporter_config(simulator, proxy.url))
    server = WebServer(ExporterApp(exporter), "127.0.0.1", 0)
    exporter.start()
    server.start()
    try:
        yield Running(exporter, server)
    finally:
        server.stop()
        exporter.stop()


@pytest.mark.parametrize("fault", list(FAULTS))
def test_while_one_agent_misbehaves_metrics_answer_quickly_and_the_other_agents_data_flows(
    shop: ShopFloor, proxy: FaultyAgent, running: Running, fault: str
) -> None:
    wait_until(lambda: all(state.up for state in running.exporter.states()))
    usual = max(running.scrape()[1] for _ in range(3))
    budget = SCRAPE_BUDGET_SECONDS + 3 * usual  # a loaded CI machine slows every scrape, not only these
    proxy.script("*", FAULTS[fault])
    wait_until(lambda: not running.exporter.agents["bad"].state.up)
    for _ in range(3):
        before, seconds = running.scrape()
        assert seconds < budget
        shop.advance(60)
        target = shop.agent.last_sequence + 1
        wait_until(lambda: running.exporter.agents["good"].follower.cursor == target, timeout=10)
        after, seconds = running.scrape()
        assert seconds < budget
        assert value(after, "mtconnect_agent_observations_total", "good") > value(
            before, "mtconnect_agent_observations_total", "good"
        )
        assert value(after, "mtconnect_agent_up", "good") == 1
        assert value(after, "mtconnect_agent_up", "bad") == 0
