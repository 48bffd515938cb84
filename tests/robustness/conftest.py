"""Fixtures: a simulated shop floor on a manual clock, served on 127.0.0.1, and a faulty proxy in front of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from factorydash.simulator import ShopFloor, SimulatorServer

from .agents import FaultyAgent

START = datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc)


@pytest.fixture
def shop() -> ShopFloor:
    return ShopFloor(seed=3, clock="manual", start=START, machines=1, buffer_size=4096)


@pytest.fixture
def simulator(shop: ShopFloor) -> Iterator[str]:
    with SimulatorServer(shop) as server:
        yield server.url


@pytest.fixture
def proxy(simulator: str) -> Iterator[FaultyAgent]:
    with FaultyAgent(simulator) as agent:
        yield agent


@pytest.fixture
def scripted() -> Iterator[FaultyAgent]:
    """An agent with no upstream: every answer is scripted by the test."""
    with FaultyAgent() as agent:
        yield agent
