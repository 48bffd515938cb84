"""`kill -9` of the exporter mid-shift and a restart 30 s later lose nothing: with `--storage.path` its
counters continue from the snapshot and the gap is read from the agent's buffer.

Two real exporter processes follow one simulated shop floor (manual clock, served on 127.0.0.1): one runs
uninterrupted, the other is killed with SIGKILL and started again. At the end both expose the same
time-in-state, transitions, parts, condition onsets and ISO 22400 device counters and day gauges, and
those equal the simulator's ground truth. Once with `/sample` answers that hold a whole minute, once with
answers of 40 observations, so the restart's gap is read in many documents.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from factorydash.simulator import ShopFloor, SimulatorServer

from .agents import wait_until
from .test_signals import ExporterProcess

pytestmark = pytest.mark.integration  # every test here starts a server or a process

START = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)  # a Tuesday morning, mid-shift
STEP_SECONDS = 60.0
AGENT = "floor"
# Series that are counters of what happened on the shop floor: they must continue across the restart.
COUNTER = re.compile(
    r"^(mtconnect_\w+_state_seconds_total|mtconnect_\w+_state_transitions_total|mtconnect_parts_total"
    r"|mtconnect_condition_activations_total|mtconnect_agent_observations_total"
    r"|mtconnect_agent_observations_lost_total|mtconnect_device_time_seconds_total"
    r"|mtconnect_device_parts_produced_total|mtconnect_device_day_seconds|mtconnect_device_day_parts)"
    r"(\{[^}]*\}) (\S+)$",
    re.MULTILINE,
)


def counters(exporter: ExporterProcess) -> dict[str, float]:
    status, text = exporter.get("metrics")
    assert status == 200
    return {name + labels: float(value) for name, labels, value in COUNTER.findall(text)}


def caught_up(exporter: ExporterProcess, shop: ShopFloor, first_last_sequence: int) -> bool:
    """Every sequence the agent produced since the exporters' first `/current` has been applied."""
    return exporter.value("mtconnect_agent_observations_total", AGENT) == shop.agent.last_sequence - first_last_sequence


def run(shop: ShopFloor, exporters: list[ExporterProcess], minutes: float, first_last_sequence: int) -> None:
    for _ in range(int(minutes * 60 / STEP_SECONDS)):
        shop.advance(STEP_SECONDS)
        for exporter in exporters:
            wait_until(lambda: caught_up(exporter, shop, first_last_sequence), timeout=20)


def snapshot_cursor(path: Path) -> int | None:
    try:
        return json.loads(path.read_text())["snapshot"]["cursor"]
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture
def floor() -> Iterator[tuple[ShopFloor, str]]:
    shop = ShopFloor(seed=5, clock="manual", start=START, machines=3)
    with SimulatorServer(shop) as server:
        yield shop, server.url


@pytest.mark.parametrize("sample_count", [100_000, 40], ids=["one-answer", "answers-of-40"])
def test_a_kill_9_and_a_restart_30_s_later_give_the_uninterrupted_counters_and_the_ground_truth(
    tmp_path: Path, floor: tuple[ShopFloor, str], sample_count: int
) -> None:
    shop, url = floor
    config = tmp_path / "factorydash.yml"
    config.write_text(
        f"defaults: {{poll_interval: 20ms, timeout: 2s, sample_count: {sample_count}}}\n"
        f"agents:\n  - {{name: {AGENT}, url: \"{url}\"}}\n"
    )
    storage = tmp_path / "storage"
    restartable_args = [f"--storage.path={storage}", "--storage.interval=50ms"]
    first_last_sequence = shop.agent.last_sequence  # the clock stands still until both exporters follow
    steady = ExporterProcess(config, tmp_path)
    restarted = ExporterProcess(config, tmp_path, restartable_args)
    processes = [steady, restarted]
    try:
        for exporter in (steady, restarted):
            wait_until(lambda: exporter.value("mtconnect_agent_up", AGENT) == 1, timeout=20)
        baseline = counters(steady)
        assert counters(restarted) == baseline

        run(shop, [steady, restarted], 10, first_last_sequence)
        snapshot = storage / f"{AGENT}.snapshot.json"
        wait_until(lambda: snapshot_cursor(snapshot) == shop.agent.last_sequence + 1, timeout=20)
        # The file as it was 10 minutes before the kill: as if the writer had not come round since (a kill
        # between two writes), so observations the killed process had applied are read and applied again.
        behind = tmp_path / "behind.json"
        shutil.copy(snapshot, behind)
        cursor = snapshot_cursor(behind)
        run(shop, [steady, restarted], 10, first_last_sequence)

        restarted.process.send_signal(signal.SIGKILL)
        assert restarted.process.wait(10) == -signal.SIGKILL
        shutil.copy(behind, snapshot)
        shop.advance(30)
        restarted = ExporterProcess(config, tmp_path, restartable_args)
        processes.append(restarted)
        assert f"agent={AGENT} resuming instance {shop.agent.instance_id} from sequence {cursor}" in restarted.log
        wait_until(lambda: caught_up(restarted, shop, first_last_sequence), timeout=20)
        run(shop, [steady, restarted], 20, first_last_sequence)

        final_steady, final_restarted = counters(steady), counters(restarted)
        # The open interval of each value, from the restarted exporter's own snapshot at the end.
        wait_until(lambda: snapshot_cursor(snapshot) == shop.agent.last_sequence + 1, timeout=20)
        final = json.loads(snapshot.read_text())["snapshot"]["state"]
    finally:
        for exporter in processes:
            exporter.stop()

    assert final_restarted.keys() == final_steady.keys()
    for family in ("mtconnect_device_time_seconds_total{", "mtconnect_device_day_seconds{", "mtconnect_parts_total{"):
        assert any(series.startswith(family) for series in final_steady), family
    for series, value in final_steady.items():
        assert final_restarted[series] == pytest.approx(value, abs=1e-6), series
    lost = f'mtconnect_agent_observations_lost_total{{agent="{AGENT}"}}'
    assert final_restarted[lost] == 0

    end = (shop.now() - START).total_seconds()
    assert end == 40 * 60 + 30
    agent_clock = final["clock"]["now"]
    assert agent_clock == shop.now().timestamp()
    checked = 0
    for machine in shop.devices:
        # Closed intervals book their device-time length; the open one its exposed part, A - since_agent
        # (docs/time-accounting.md section 2). Ground truth: the simulator's timeline up to the open value.
        tracker = final["trackers"][machine.items["execution"]]
        since_device, since_agent, _ = tracker["since"]
        closed = shop.ground_truth(machine.name, 0, since_device - START.timestamp()).execution_seconds
        expected = dict(closed)
        expected[tracker["current"]] = expected.get(tracker["current"], 0.0) + agent_clock - since_agent
        for state, seconds in expected.items():
            series = next(
                key for key in final_restarted
                if key.startswith("mtconnect_execution_state_seconds_total{")
                and f'device="{machine.name}"' in key and f'state="{state}"' in key
            )
            assert final_restarted[series] - baseline.get(series, 0.0) == pytest.approx(seconds, abs=1e-3), series
            checked += 1
        truth = shop.ground_truth(machine.name, 0, end)
        parts = [
            value - baseline.get(key, 0.0) for key, value in final_restarted.items()
            if key.startswith("mtconnect_parts_total{") and f'device="{machine.name}"' in key
            and 'sub_type="ALL"' in key
        ]
        assert parts == [truth.parts.get("ALL", 0)], machine.name
        # ISO 22400 without a calendar: every part counts as produced (the time elements equal the
        # uninterrupted exporter's, compared above with every other counter).
        device = f'agent="{AGENT}",device="{machine.name}"'
        produced = final_restarted[f"mtconnect_device_parts_produced_total{{{device}}}"]
        assert produced == truth.parts.get("ALL", 0), machine.name
    assert checked >= 6
    assert sum(shop.ground_truth(m.name, 0, end).parts.get("ALL", 0) for m in shop.devices) > 0
