"""Issue 17's reference-agent cases, reproduced with the simulator and followed over HTTP on 127.0.0.1.

The NIST Mazak03 adapter log of 2016-05-02 is replayed with its original timestamps while the
simulated agent stamps its own values with its clock (2026), as cppagent 2.5 did. The exporter's
real follower reads it; what it exports is compared with truth computed from the log itself
(`execution_from_shdr`, consecutive differences of the log's own timestamps) and with the
sequences the simulated agent counted as produced - both independent of the exporter's code.

Simulated time runs on a manual clock: the 15-hour log replays in seconds, nothing sleeps.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from factorydash.config import parse_config
from factorydash.exporter import Exporter
from factorydash.simulator import ReplayFloor, SimulatorServer
from factorydash.simulator.clock import US
from factorydash.simulator.replay import read_shdr
from factorydash.simulator.truth import execution_from_shdr
from factorydash.web import ExporterApp
from tests.conftest import require_sample
from tests.exporter.test_golden import wsgi_get

pytestmark = pytest.mark.integration

START = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)  # the agent's clock; the log's is 2016-05-02
AGENT = "mazak"
DEVICE = "Mazak03"
CAUGHT_UP_SECONDS = 20.0  # real-time bound of every wait for the follower
# The states the log spends closed intervals in. UNAVAILABLE is not compared: its first interval is the
# agent's own start-up value (stamped 2026, the log's 05:00 UNAVAILABLE is dropped as its duplicate) and
# its last one is still open when the log ends.
COMPARED = ("ACTIVE", "READY", "INTERRUPTED", "STOPPED")


def _log_files():
    return require_sample("nist-mazak03-shdr-20160502.txt"), require_sample("nist-vds-devices-config.xml")


@dataclass
class Followed:
    floor: ReplayFloor
    server: SimulatorServer
    exporter: Exporter

    @property
    def follower(self):
        return self.exporter.agents[AGENT].follower

    @property
    def state(self):
        return self.exporter.agents[AGENT].state

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, _, body = wsgi_get(ExporterApp(self.exporter), "/metrics")
        assert status == "200 OK"
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
        }

    def agent_counter(self, name: str) -> float:
        return self.metrics().get((name, (("agent", AGENT),)), 0.0)

    def caught_up(self) -> bool:
        header = self.state.header
        return (
            header is not None
            and header.instance_id == str(self.floor.agent.instance_id)
            and header.next_sequence == self.floor.agent.last_sequence + 1
        )

    def step_until_caught_up(self) -> None:
        """Synchronous following: requests until the follower has read everything the agent holds."""
        for _ in range(2000):
            delay = self.follower.step()
            if delay > 0 and self.caught_up():
                return
        raise AssertionError("the follower did not catch up")

    def wait_until_caught_up(self) -> None:
        """The follower runs in its own thread (polling or streaming): wait, bounded, until it has read all."""
        deadline = time.monotonic() + CAUGHT_UP_SECONDS
        while not self.caught_up():
            assert time.monotonic() < deadline, "the follower did not catch up in time"
            time.sleep(0.005)

    def execution(self, suffix: str) -> dict[str, float]:
        name = f"mtconnect_execution_state_{suffix}"
        found: dict[str, float] = {}
        for (metric, labels), value in self.metrics().items():
            labels_map = dict(labels)
            if metric == name and labels_map.get("device") == DEVICE:
                found[labels_map["state"]] = found.get(labels_map["state"], 0.0) + value
        return found


@contextmanager
def followed_replay(*, buffer_size: int = 131072, stream: bool = False) -> Iterator[Followed]:
    log_file, devices_file = _log_files()
    floor = ReplayFloor(
        log_file, devices_file, clock="manual", start=START, device=DEVICE, schema_version="2.5",
        buffer_size=buffer_size, timestamps="original",
    )
    with SimulatorServer(floor) as server:
        config = parse_config(
            f"agents:\n  - name: {AGENT}\n    url: {server.url}\n"
            f"    poll_interval: 10ms\n    heartbeat: 1s\n    stream: {'true' if stream else 'false'}\n"
        )
        exporter = Exporter(config)
        try:
            yield Followed(floor, server, exporter)
        finally:
            exporter.stop()


def _replay_to_the_end(followed: Followed, step_seconds: float, in_thread: bool) -> None:
    floor = followed.floor
    lines = read_shdr(_log_files()[0])
    log_seconds = (lines[-1][0] - lines[0][0]) / US
    steps = int(log_seconds / step_seconds) + 2
    for _ in range(steps):
        floor.advance(step_seconds)
        if in_thread:
            followed.wait_until_caught_up()
        else:
            followed.step_until_caught_up()


@pytest.mark.parametrize("stream", [False, True], ids=["poll", "stream"])
def test_time_in_each_execution_state_equals_the_logs_to_the_second_across_two_clocks(stream):
    truth = execution_from_shdr(_log_files()[0])
    with followed_replay(stream=stream) as followed:
        followed.exporter.start()
        followed.wait_until_caught_up()
        _replay_to_the_end(followed, step_seconds=300, in_thread=True)
        seconds = followed.execution("seconds_total")
        entries = followed.execution("transitions_total")
    measured = {state: round(seconds.get(state, 0.0), 3) for state in COMPARED}
    expected = {state: round(truth.seconds[state], 3) for state in COMPARED}
    # issue 17: cppagent's replay booked 0.0 s in every state (truth ACTIVE 4,546 s, READY 22,455 s, ...)
    for state in COMPARED:
        assert abs(measured[state] - expected[state]) < 1.0, (state, measured, expected)
    assert {state: int(entries.get(state, 0)) for state in COMPARED} == {state: truth.entries[state] for state in COMPARED}


def test_a_512_slot_buffer_polled_every_3_simulated_seconds_loses_only_what_is_counted():
    with followed_replay(buffer_size=512) as followed:
        followed.step_until_caught_up()
        first_followed = followed.state.header.next_sequence  # everything from here on is read or counted lost
        applied_before = followed.agent_counter("mtconnect_agent_observations_total")
        lost_before = followed.agent_counter("mtconnect_agent_observations_lost_total")
        # 3 s polls at 200x: 600 simulated seconds between polls, more than 512 observations in busy stretches
        _replay_to_the_end(followed, step_seconds=600, in_thread=False)
        produced = followed.floor.agent.last_sequence - first_followed + 1
        applied = followed.agent_counter("mtconnect_agent_observations_total") - applied_before
        lost = followed.agent_counter("mtconnect_agent_observations_lost_total") - lost_before
    assert lost > 0, "the buffer never overran: the case is not exercised"
    assert (applied, lost, applied + lost) == (applied, lost, produced)


def test_every_observation_of_a_restarted_agent_is_read():
    with followed_replay() as followed:
        floor = followed.floor
        followed.step_until_caught_up()
        floor.advance(9 * 3600)  # mid-replay: 14:00 in the log, the machine busy
        followed.step_until_caught_up()
        old_instance = floor.agent.instance_id
        applied_old = followed.agent_counter("mtconnect_agent_observations_total")
        lost_old = followed.agent_counter("mtconnect_agent_observations_lost_total")
        request = urllib.request.Request(followed.server.url + "-/restart", method="POST")
        with urllib.request.urlopen(request, timeout=10) as reply:
            new_instance = int(reply.read())
        assert new_instance != old_instance
        floor.advance(300)
        followed.step_until_caught_up()
        produced_new = floor.agent.produced[new_instance]
        applied_new = followed.agent_counter("mtconnect_agent_observations_total") - applied_old
        lost_new = followed.agent_counter("mtconnect_agent_observations_lost_total") - lost_old
        restarts = followed.agent_counter("mtconnect_agent_restarts_total")
    # issue 17: cppagent killed and restarted - 301 observations of the new instance skipped uncounted
    assert restarts == 1
    assert (applied_new, lost_new) == (produced_new, 0)
