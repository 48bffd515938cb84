"""The cases of the reference agent without cppagent: two clocks, small buffers, restarts on demand.

What cppagent 2.5 did when fed the NIST Mazak03 log with its original timestamps
(../shared/samples/cppagent-2.5.0.11-mazak03-schema2.5/) is the reference: the agent's own
start-up UNAVAILABLE values and the Agent device carry the agent's clock, the adapter's data the
log's 2016 timestamps, and the buffer starts with the agent's values.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

import pytest
from lxml import etree

from factorydash.simulator import ReplayFloor, ShopFloor, SimulatorServer
from factorydash.simulator.clock import format_timestamp, to_us

from .helpers import SAMPLES, START, error_code, get, header, observations

DEVICES = SAMPLES / "nist-vds-devices-config.xml"
needs_nist = pytest.mark.skipif(not DEVICES.exists(), reason="NIST device file not in ../shared/samples")
LOG = (
    "2016-05-02T05:00:00.000000Z|execution|UNAVAILABLE\n"
    "2016-05-02T12:41:37.252947Z|avail|AVAILABLE\n"
    "2016-05-02T12:41:37.489481Z|execution|STOPPED\n"
    "2016-05-02T12:41:50.186810Z|execution|READY\n"
)
START_STAMP = format_timestamp(to_us(START))


def _replay(tmp_path, **kwargs) -> ReplayFloor:
    log = tmp_path / "adapter.txt"
    log.write_text(LOG)
    return ReplayFloor(log, DEVICES, clock="manual", start=START, device="Mazak03", schema_version="2.5", **kwargs)


def floor_root(floor):
    """The agent's whole buffer as one sample document."""
    return etree.fromstring(floor.agent.sample(None, floor.agent.first_sequence, floor.agent.buffer_size)[0])


def _stamps_by_item(floor) -> dict[str, list[tuple[int, str, str]]]:
    found: dict[str, list[tuple[int, str, str]]] = {}
    for o in observations(floor_root(floor)):
        found.setdefault(o.get("dataItemId"), []).append((int(o.get("sequence")), o.get("timestamp"), o.text or ""))
    return found


@needs_nist
def test_original_timestamps_keep_the_logs_stamps_while_the_agent_stamps_its_own_values(tmp_path):
    floor = _replay(tmp_path, timestamps="original")
    floor.advance(8 * 3600)  # the log spans 7 h 41 min 50 s: its spacing is kept in simulated time
    items = _stamps_by_item(floor)
    execution = items["Mazak03-path_10"]
    # The agent's start-up UNAVAILABLE first (its clock), then the adapter's data (the log's clock);
    # the log's own 05:00 UNAVAILABLE is a duplicate the agent drops, as cppagent does.
    assert [(stamp, value) for _, stamp, value in execution] == [
        (START_STAMP, "UNAVAILABLE"),
        ("2016-05-02T12:41:37.489481Z", "STOPPED"),
        ("2016-05-02T12:41:50.186810Z", "READY"),
    ]
    assert items["Mazak03-dtop_1"][-1][1:] == ("2016-05-02T12:41:37.252947Z", "AVAILABLE")
    assert items["agent_avail"][-1][1:] == (START_STAMP, "AVAILABLE")
    root = floor_root(floor)
    assert header(root)["creationTime"] == "2026-01-05T14:00:00Z"  # the agent's clock, 8 h after the start


@needs_nist
def test_original_timestamps_pace_the_log_in_simulated_time(tmp_path):
    floor = _replay(tmp_path, timestamps="original")
    floor.advance(7 * 3600 + 41 * 60 + 37.3)  # 12:41:37.3 in log time: avail applied, execution not yet
    assert floor.agent.value("Mazak03-dtop_1") == "AVAILABLE"
    assert floor.agent.value("Mazak03-path_10") == "UNAVAILABLE"
    floor.advance(0.2)
    assert floor.agent.value("Mazak03-path_10") == "STOPPED"


@needs_nist
def test_an_adapter_clock_offset_moves_the_adapters_stamps_only(tmp_path):
    floor = _replay(tmp_path, adapter_clock_offset=-7200)
    floor.advance(8 * 3600)
    items = _stamps_by_item(floor)
    log_start = START - timedelta(hours=2)  # the adapter's clock is two hours behind the agent's
    ready = log_start + timedelta(hours=7, minutes=41, seconds=50.18681)
    assert items["Mazak03-path_10"][-1][1:] == (format_timestamp(to_us(ready)), "READY")
    assert items["Mazak03-path_10"][0][1] == START_STAMP  # the agent's start-up value: the agent's clock


def test_an_adapter_clock_offset_on_the_shop_floor_spares_what_the_agent_generates():
    shop = ShopFloor(seed=4, clock="manual", start=START, machines=1, adapter_clock_offset=90)
    mill = shop.machine("Mill5X-01")
    shop.advance(10)
    execution = [o for o in observations(floor_root(shop)) if o.get("dataItemId") == mill.items["execution"]]
    assert [o.get("timestamp") for o in execution] == [START_STAMP, format_timestamp(to_us(START) + 90_000_000)]
    mill.drop_out(30)  # the agent notices the adapter is gone and stamps UNAVAILABLE with its own clock
    shop.advance(60)
    execution = [o for o in observations(floor_root(shop)) if o.get("dataItemId") == mill.items["execution"]]
    dropped = next(o for o in execution[1:] if o.text == "UNAVAILABLE")
    assert dropped.get("timestamp") == format_timestamp(to_us(START) + 10_000_000)
    reconnected = execution[execution.index(dropped) + 1]
    assert reconnected.get("timestamp") == format_timestamp(to_us(START) + (40 + 90) * 1_000_000)


@needs_nist
def test_a_restart_mid_replay_starts_over_with_the_agents_unavailable_then_the_replay_continues(tmp_path):
    floor = _replay(tmp_path, timestamps="original")
    floor.advance(7 * 3600 + 41 * 60 + 40)  # STOPPED since 12:41:37 log time
    old = floor.agent.instance_id
    produced_before = floor.agent.last_sequence
    floor.restart()
    restarted = floor.now()
    assert floor.agent.instance_id != old and floor.agent.first_sequence == 1
    floor.advance(20)
    execution = _stamps_by_item(floor)["Mazak03-path_10"]
    assert [(stamp, value) for _, stamp, value in execution] == [
        (format_timestamp(to_us(restarted)), "UNAVAILABLE"),  # the agent's clock
        ("2016-05-02T12:41:40.000000Z", "STOPPED"),  # the adapter resends what it has, stamped with its clock
        ("2016-05-02T12:41:50.186810Z", "READY"),  # and the replay goes on
    ]
    assert floor.agent.produced == {old: produced_before, floor.agent.instance_id: floor.agent.last_sequence}


@pytest.mark.integration
def test_a_512_slot_buffer_answers_like_cppagent():
    shop = ShopFloor(seed=6, clock="manual", start=START, buffer_size=512)
    shop.advance(1800)
    with SimulatorServer(shop) as server:
        head = header(get(server.url + "current").root)
        first, last = int(head["firstSequence"]), int(head["lastSequence"])
        assert last - first + 1 == 512 and int(head["nextSequence"]) == last + 1
        assert shop.agent.produced == {shop.agent.instance_id: last}
        # cppagent: from must lie in [firstSequence, nextSequence], at in [firstSequence, lastSequence]
        assert error_code(get(server.url + f"sample?from={first - 1}").root) == "OUT_OF_RANGE"
        assert error_code(get(server.url + f"current?at={first - 1}").root) == "OUT_OF_RANGE"
        assert error_code(get(server.url + f"current?at={last + 1}").root) == "OUT_OF_RANGE"
        assert error_code(get(server.url + "sample?count=513").root) == "OUT_OF_RANGE"
        at_first = get(server.url + f"current?at={first}").root
        assert int(header(at_first)["nextSequence"]) == first + 1
        # the state at the oldest held observation: that observation itself is in it
        oldest = observations(get(server.url + f"sample?from={first}&count=1").root)[0]
        held = {o.get("dataItemId"): o for o in observations(at_first)}
        assert held[oldest.get("dataItemId")].get("sequence") == str(first)
        whole = observations(get(server.url + f"sample?from={first}&count=512").root)
        assert [int(o.get("sequence")) for o in whole] == list(range(first, last + 1))


def _post(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.status, reply.read().decode()


@pytest.mark.integration
def test_the_admin_endpoints_restart_the_agent_and_tell_what_each_instance_produced():
    shop = ShopFloor(seed=6, clock="manual", start=START, machines=1)
    with SimulatorServer(shop) as server:
        shop.advance(300)
        old, produced = shop.agent.instance_id, shop.agent.last_sequence
        status, body = _post(server.url + "-/restart")
        assert status == 200 and int(body) == shop.agent.instance_id != old
        shop.advance(60)
        counts = json.loads(get(server.url + "-/produced").body)
        assert counts == {str(old): produced, str(shop.agent.instance_id): shop.agent.last_sequence}
        assert int(header(get(server.url + "current").root)["firstSequence"]) == 1


@pytest.mark.integration
def test_sighup_restarts_the_agent_of_the_command():
    proc = subprocess.Popen(
        [sys.executable, "-m", "factorydash.simulator", "--web.listen-address", "127.0.0.1:0", "--seed", "3",
         "--machines", "1", "--calendar", "always"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = proc.stdout.readline().split(" at ")[1].split()[0]
        before = header(get(url + "current").root)["instanceId"]
        proc.send_signal(signal.SIGHUP)
        for _ in range(50):  # the command checks for SIGHUP every 0.2 s: bounded wait
            counts = json.loads(get(url + "-/produced").body)
            if len(counts) == 2:
                break
            time.sleep(0.1)
        assert len(counts) == 2 and before in counts
        assert header(get(url + "current").root)["instanceId"] != before
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
