"""Fixtures: a shop floor on a manual clock, served on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from factorydash.simulator import ShopFloor, SimulatorServer

from .helpers import START


@pytest.fixture
def shop() -> ShopFloor:
    return ShopFloor(seed=7, clock="manual", start=START)


@pytest.fixture
def served(shop: ShopFloor) -> Iterator[tuple[ShopFloor, str]]:
    with SimulatorServer(shop) as server:
        yield shop, server.url
