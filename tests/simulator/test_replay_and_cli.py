"""Replay of a recorded SHDR log (NIST Mazak03 sample, if present) and the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from factorydash.simulator import ReplayFloor, SimulatorServer

from .helpers import SAMPLES, START, get, header, local, observations

LOG = SAMPLES / "nist-mazak03-shdr-20160502.txt"
DEVICES = SAMPLES / "nist-vds-devices-config.xml"
needs_nist = pytest.mark.skipif(not (LOG.exists() and DEVICES.exists()), reason="NIST samples not in ../shared/samples")


def _replay(tmp_path, lines: str, **kwargs) -> ReplayFloor:
    log = tmp_path / "adapter.txt"
    log.write_text(lines)
    return ReplayFloor(log, DEVICES, clock="manual", start=START, device="Mazak03", **kwargs)


@pytest.mark.integration
@needs_nist
def test_replay_maps_keys_to_the_device_by_name_and_restamps_from_now():
    floor = ReplayFloor(LOG, DEVICES, clock="manual", start=START, schema_version="1.3")
    assert floor.device == "Mazak03"
    with SimulatorServer(floor) as server:
        floor.advance(8 * 3600)  # the log starts at 05:00 and the machine comes up at 12:41
        root = get(server.url + "Mazak03/current").root
        assert root.find(".//{*}Availability").text == "AVAILABLE"
        stamps = [o.get("timestamp") for o in observations(root)]
        assert min(stamps) >= "2026-01-05T06:00:00" and max(stamps) <= "2026-01-05T14:00:00.000001Z"
        assert "2026-01-05T13:41:37.252947Z" in stamps  # 12:41:37.252947 in the log, 7h41m after its first line
        assert any(local(o) == "Normal" and o.get("type") == "ACTUATOR" for o in observations(root))
        others = get(server.url + "GFAgie01/current").root
        assert {o.text for o in observations(others) if local(o) == "Availability"} == {"UNAVAILABLE"}


@needs_nist
def test_replay_conditions_and_multi_key_lines(tmp_path):
    floor = _replay(
        tmp_path,
        "2016-05-02T12:00:00.000000Z|avail|AVAILABLE|execution|ACTIVE\n"
        "2016-05-02T12:00:01.500000Z|servo_cond|fault|SV0401|3|HIGH|Servo alarm\n"
        "2016-05-02T12:00:02.000000Z|nosuchkey|1|execution|READY\n"
        "2016-05-02T12:00:03.000000Z|servo_cond|normal||||\n",
        loop=True,
    )
    floor.advance(1.6)
    fault = floor.agent.value("Mazak03-base_2")
    assert (fault.level, fault.native_code, fault.qualifier, fault.text) == ("Fault", "SV0401", "HIGH", "Servo alarm")
    floor.advance(0.5)
    execution_id = next(i.id for i in floor.agent.items.values() if i.device == "Mazak03" and i.type == "EXECUTION")
    assert floor.agent.value(execution_id) == "READY"
    floor.advance(2)  # looped: the log is 3 s long, it starts again 1 s after its last line
    assert floor.agent.value(execution_id) == "ACTIVE"


@needs_nist
def test_replay_speed_keeps_the_original_spacing_in_timestamps(tmp_path):
    floor = _replay(tmp_path, "2016-05-02T12:00:00Z|execution|ACTIVE\n2016-05-02T12:10:00Z|execution|READY\n")
    floor.advance(600)
    root = floor.agent.sample(None, 1, 10_000)[0]
    assert b'timestamp="2026-01-05T06:10:00.000000Z">READY<' in root


@pytest.mark.integration
def test_the_command_serves_an_agent_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "factorydash.simulator", "--web.listen-address", "127.0.0.1:0", "--seed", "3",
         "--speed", "10", "--schema-version", "1.8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "MTConnect agent at http://127.0.0.1:" in line
        url = line.split(" at ")[1].split()[0]
        reply = get(url + "current")
        assert reply.status == 200 and header(reply.root)["version"] == "1.8.0.3"
        assert reply.root.nsmap[None] == "urn:mtconnect.org:MTConnectStreams:1.8"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_the_command_rejects_a_replay_without_devices(capsys):
    from factorydash.simulator.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--replay", "x.txt"])
    assert exit_info.value.code == 2
    assert "--replay and --devices go together" in capsys.readouterr().err
