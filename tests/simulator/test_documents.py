"""Probe, current and sample documents are well formed and shaped like cppagent's."""

from __future__ import annotations

import pytest

from factorydash.simulator import ShopFloor, SimulatorServer

from .helpers import START, get, header, local, observations

pytestmark = pytest.mark.integration  # every test here starts a server or a process


def test_probe_lists_three_machines_of_different_kinds_with_description(served):
    shop, url = served
    reply = get(url + "probe")
    root = reply.root
    assert reply.status == 200 and reply.content_type == "text/xml"
    assert root.nsmap[None] == "urn:mtconnect.org:MTConnectDevices:2.0"
    devices = root.findall("{*}Devices/{*}Device")
    assert [d.get("name") for d in devices] == ["Mill5X-01", "Lathe-02", "VMC-03"]
    for device in devices:
        description = device.find("{*}Description")
        assert description.get("manufacturer") and description.get("model") and description.get("serialNumber")
        assert device.get("uuid")
    models = {d.find("{*}Description").get("model") for d in devices}
    assert len(models) == 3


def test_probe_declares_the_items_the_exporter_turns_into_kpis(served):
    _, url = served
    mill = get(url + "Mill5X-01/probe").root.find("{*}Devices/{*}Device")
    items = {(di.get("type"), di.get("subType")): di for di in mill.iter("{*}DataItem")}
    for key in [("AVAILABILITY", None), ("EMERGENCY_STOP", None), ("EXECUTION", None), ("CONTROLLER_MODE", None),
                ("PROGRAM", None), ("PART_COUNT", "ALL"), ("PART_COUNT", "GOOD"), ("PART_COUNT", "BAD"),
                ("FUNCTIONAL_MODE", None), ("DOOR_STATE", None), ("ROTARY_MODE", None)]:
        assert key in items, key
    assert items[("PATH_FEEDRATE", "ACTUAL")].get("units") == "MILLIMETER/SECOND"
    assert items[("PATH_POSITION", "ACTUAL")].get("units") == "MILLIMETER_3D"
    assert items[("ROTARY_VELOCITY", "ACTUAL")].get("units") == "REVOLUTION/MINUTE"
    assert items[("ACCUMULATED_TIME", "x:CUTTING_TIME")].get("units") == "SECOND"
    assert items[("ANGLE", "ACTUAL")].get("units") == "DEGREE"
    conditions = {di.get("type") for di in mill.iter("{*}DataItem") if di.get("category") == "CONDITION"}
    assert {"SYSTEM", "LOGIC_PROGRAM", "MOTION_PROGRAM", "TEMPERATURE", "ACTUATOR"} <= conditions
    linear = {c.get("name") for c in mill.iter("{*}Linear")}
    assert linear == {"X", "Y", "Z"}
    assert {c.get("name") for c in mill.iter("{*}Rotary")} == {"A", "C", "S1"}


def test_schema_2_has_an_agent_device_with_adapter_connection_status(served):
    shop, url = served
    shop.advance(5)
    probe = get(url + "probe").root
    agent = probe.find("{*}Devices/{*}Agent")
    assert agent is not None
    assert len([di for di in agent.iter("{*}DataItem") if di.get("type") == "CONNECTION_STATUS"]) == 3
    current = get(url + "current").root
    statuses = [el.text for el in current.iter("{*}ConnectionStatus")]
    assert statuses == ["ESTABLISHED"] * 3
    assert "deviceModelChangeTime" in header(current)


def test_current_has_one_value_per_item_in_device_component_category_streams(served):
    shop, url = served
    shop.advance(120)
    reply = get(url + "current")
    root = reply.root
    h = header(root)
    assert set(h) >= {"creationTime", "sender", "instanceId", "version", "bufferSize", "nextSequence", "firstSequence", "lastSequence"}
    assert int(h["nextSequence"]) == int(h["lastSequence"]) + 1
    assert h["creationTime"] == "2026-01-05T06:02:00Z"
    stream = root.find("{*}Streams/{*}DeviceStream[@name='Mill5X-01']")
    device_component = stream.find("{*}ComponentStream[@component='Device']")
    assert device_component.find("{*}Events/{*}Availability").text == "AVAILABLE"
    for container in stream.iter("{*}Samples", "{*}Events", "{*}Condition"):
        assert local(container.getparent()) == "ComponentStream"
    condition = stream.find(".//{*}ComponentStream[@component='Controller']/{*}Condition/{*}Normal")
    assert condition.get("type") == "SYSTEM"
    for obs in observations(root):
        assert obs.get("timestamp").endswith("Z") and len(obs.get("timestamp")) == len("2026-01-05T06:00:00.000000Z")
    ids = [obs.get("dataItemId") for obs in observations(root) if local(obs) not in ("Fault", "Warning")]
    assert len(ids) == len(set(ids))


def test_sample_is_grouped_by_component_but_holds_consecutive_sequences(served):
    shop, url = served
    shop.advance(600)  # long enough for the machines to be cutting: well over 500 observations
    root = get(url + "sample?from=1&count=500").root
    sequences = [int(o.get("sequence")) for o in observations(root)]
    assert sequences == list(range(1, 501))
    assert int(header(root)["nextSequence"]) == 501


def test_schema_1_3_has_no_agent_device_and_may_drop_the_timestamp_zone():
    shop = ShopFloor(seed=7, clock="manual", start=START, schema_version="1.3", timestamps_with_zone=False)
    with SimulatorServer(shop) as server:
        shop.advance(30)
        probe = get(server.url + "probe").root
        assert probe.nsmap[None] == "urn:mtconnect.org:MTConnectDevices:1.3"
        assert probe.find("{*}Devices/{*}Agent") is None
        current = get(server.url + "current").root
        assert "deviceModelChangeTime" not in header(current)
        assert header(current)["version"] == "1.4.0.10"
        assert all(not o.get("timestamp").endswith("Z") for o in observations(current))


@pytest.mark.parametrize("version", ["1.3", "1.7", "1.8", "2.0", "2.5"])
def test_every_schema_version_is_in_the_namespace_urn(version):
    shop = ShopFloor(seed=1, clock="manual", start=START, schema_version=version)
    assert f'urn:mtconnect.org:MTConnectStreams:{version}"'.encode() in shop.agent.current(None)
    assert f'urn:mtconnect.org:MTConnectDevices:{version}"'.encode() in shop.agent.probe()


def test_assets_answers_an_empty_assets_document(served):
    _, url = served
    root = get(url + "assets").root
    assert local(root) == "MTConnectAssets" and len(root.find("{*}Assets")) == 0


def test_two_warnings_at_once_on_one_item_both_appear_in_current(served):
    from factorydash.simulator import ConditionWarning

    shop, url = served
    shop.schedule(10, ConditionWarning("VMC-03", 300, condition="coolant", native_code="2025", text="COOLANT LEVEL LOW"))
    shop.schedule(20, ConditionWarning("VMC-03", 300, condition="coolant", native_code="2026", text="CONCENTRATION LOW"))
    shop.advance(30)
    root = get(url + "VMC-03/current?path=//Coolant").root
    warnings = root.findall(".//{*}Condition/{*}Warning")
    assert sorted(w.get("nativeCode") for w in warnings) == ["2025", "2026"]
    assert {w.get("type") for w in warnings} == {"SYSTEM"}
    shop.advance(320)
    root = get(url + "VMC-03/current?path=//Coolant").root
    assert [local(c) for c in root.find(".//{*}Condition")] == ["Normal"]
