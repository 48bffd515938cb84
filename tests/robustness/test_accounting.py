"""Exact accounting against a real HTTP agent: applied + lost = what the agent produced while followed.

The ground truth is the simulator's own sequence counter (`shop.agent.last_sequence`,
`first_sequence`), never the follower's counters. The follower polls slowly on
purpose: between its requests the shop floor produces more than the agent's
512-slot buffer holds, so it falls behind again and again (OUT_OF_RANGE) and
has to resume from what the agent still holds.
"""

from __future__ import annotations

import random

import pytest

from factorydash.follower import Phase
from factorydash.simulator import ShopFloor, SimulatorServer

from .agents import catch_up, follower_for, step_until
from .conftest import START

pytestmark = pytest.mark.integration  # every test here starts a server or a process


def followed_counts(follower) -> int:
    counters = follower.state.counters
    return counters.observations + counters.lost


def test_a_slow_follower_overrunning_a_512_slot_buffer_accounts_for_every_sequence_exactly() -> None:
    shop = ShopFloor(seed=11, clock="manual", start=START, machines=3, buffer_size=512, change_rate=20.0)
    rng = random.Random(7)
    with SimulatorServer(shop) as server:
        follower = follower_for(server.url, sample_count=100)
        step_until(follower, Phase.SAMPLE)
        start = shop.agent.last_sequence + 1  # the first /current's nextSequence, from the simulator
        overruns = 0
        for _ in range(40):
            shop.advance(rng.uniform(5, 60))  # a slow poll: often more than the buffer holds
            if shop.agent.first_sequence > follower.cursor:
                overruns += 1
            for _ in range(rng.randint(1, 4)):  # a few requests, then the floor runs on
                follower.step()
        catch_up(follower)
        produced = shop.agent.last_sequence + 1 - start

    counters = follower.state.counters
    assert overruns >= 10, "the scenario must overrun the buffer many times"
    assert counters.lost > 0 and counters.errors["mtconnect_out_of_range"] >= 10
    assert follower.cursor == shop.agent.last_sequence + 1
    assert counters.observations + counters.lost == produced  # exactly: nothing skipped uncounted
    assert counters.restarts == 0


def test_after_a_restart_every_observation_of_the_new_instance_is_read() -> None:
    shop = ShopFloor(seed=12, clock="manual", start=START, machines=2, buffer_size=4096)
    with SimulatorServer(shop) as server:
        follower = follower_for(server.url, sample_count=100)
        step_until(follower, Phase.SAMPLE)
        start = shop.agent.last_sequence + 1
        shop.advance(120)
        catch_up(follower)
        old_instance = shop.agent.last_sequence + 1 - start
        assert followed_counts(follower) == old_instance

        shop.restart()  # new instanceId, every item UNAVAILABLE, then the adapters publish again
        shop.advance(90)  # the new instance produces before the follower notices
        new_instance = shop.agent.last_sequence  # numbered from 1
        assert shop.agent.first_sequence == 1
        catch_up(follower)

    assert follower.state.counters.restarts == 1
    assert follower.state.counters.lost == 0
    assert followed_counts(follower) == old_instance + new_instance
    assert follower.cursor == new_instance + 1
    for item_id, tracker in follower.state.trackers.items():  # the state is the new instance's
        value = shop.agent.value(item_id)
        if hasattr(tracker, "current") and isinstance(value, str):
            assert tracker.current == value, item_id


def test_a_new_instance_that_overran_its_buffer_before_being_noticed_counts_only_the_overwritten() -> None:
    shop = ShopFloor(seed=13, clock="manual", start=START, machines=3, buffer_size=512, change_rate=20.0)
    with SimulatorServer(shop) as server:
        follower = follower_for(server.url, sample_count=100)
        step_until(follower, Phase.SAMPLE)
        start = shop.agent.last_sequence + 1
        catch_up(follower)
        old_instance = shop.agent.last_sequence + 1 - start

        shop.restart()
        shop.advance(120)
        assert shop.agent.first_sequence > 1, "the new instance must have overwritten its first observations"
        overwritten = shop.agent.first_sequence - 1
        new_instance = shop.agent.last_sequence
        catch_up(follower)

    assert follower.state.counters.restarts == 1
    assert follower.state.counters.lost == overwritten
    assert followed_counts(follower) == old_instance + new_instance
