"""The whole model on the wire: new vocabularies, numeric and vector events, numeric data sets with a
`key`, adapter identity, vendor numbers from the config, and the coverage of every data item."""

from __future__ import annotations

from factorydash.collector import FactorydashCollector
from factorydash.coverage import VALUE_UNAVAILABLE, agent_coverage, coverage_text
from factorydash.exposition import render_metrics
from factorydash.landing import render_landing_page
from factorydash.limits import SeriesBudget
from factorydash.parser import parse_document
from factorydash.state import MAX_LISTED_UNTRACKED, UNTRACKED_CAP, AgentState, StateSettings

STREAMS_NS = "urn:mtconnect.org:MTConnectStreams:2.5"

# Our own device file, shaped after cppagent 2.5 publishing a lathe: an Agent device with one adapter and
# ASSET_COUNT, and a device with vendor events, newer model types and one sample that stays UNAVAILABLE.
PROBE = b"""<?xml version="1.0" encoding="UTF-8"?>
<MTConnectDevices xmlns="urn:mtconnect.org:MTConnectDevices:2.5">
  <Header creationTime="2026-01-05T08:00:00Z" sender="t" instanceId="7" version="2.5.0.11" bufferSize="1000"/>
  <Devices>
    <Agent id="agent_1" name="Agent" uuid="agent-uuid">
      <DataItems>
        <DataItem category="EVENT" id="agent_avail" type="AVAILABILITY"/>
        <DataItem category="EVENT" id="agent_assets" type="ASSET_COUNT" representation="DATA_SET"/>
        <DataItem category="EVENT" id="device_added" type="DEVICE_ADDED"/>
      </DataItems>
      <Components><Adapters id="adapters"><Components>
        <Adapter id="ad1" name="shdr://10.0.0.5:7878"><DataItems>
          <DataItem category="EVENT" id="ad1_status" type="CONNECTION_STATUS"/>
          <DataItem category="EVENT" id="ad1_uri" type="ADAPTER_URI"/>
          <DataItem category="EVENT" id="ad1_version" type="ADAPTER_SOFTWARE_VERSION"/>
          <DataItem category="EVENT" id="ad1_mtc" type="MTCONNECT_VERSION"/>
        </DataItems></Adapter>
      </Components></Adapters></Components>
    </Agent>
    <Device id="lathe" name="Lathe1" uuid="lathe-uuid">
      <DataItems>
        <DataItem category="EVENT" id="avail" type="AVAILABILITY"/>
        <DataItem category="EVENT" id="pallet_num" type="x:PALLET_NUMBER"/>
        <DataItem category="EVENT" id="tool_suffix" type="x:TOOL_SUFFIX"/>
        <DataItem category="EVENT" id="pallet_id" type="PALLET_ID"/>
        <DataItem category="EVENT" id="transfers" type="TRANSFER_COUNT"/>
        <DataItem category="EVENT" id="battery" type="BATTERY_STATE"/>
        <DataItem category="EVENT" id="clamp" type="COMPOSITION_STATE" subType="VERTICAL"/>
        <DataItem category="EVENT" id="door_req" type="CLOSE_DOOR" subType="REQUEST"/>
        <DataItem category="EVENT" id="rotation" type="ROTATION" units="DEGREE_3D"/>
        <DataItem category="EVENT" id="port" type="NETWORK_PORT"/>
        <DataItem category="SAMPLE" id="accel" type="ACCELERATION" units="METER/SECOND^2"/>
        <DataItem category="SAMPLE" id="temp" type="TEMPERATURE" units="CELSIUS"/>
      </DataItems>
    </Device>
  </Devices>
</MTConnectDevices>
"""


def streams(sequence: int, events: str, samples: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<MTConnectStreams xmlns="{STREAMS_NS}">
  <Header creationTime="2026-01-05T08:00:10Z" sender="t" instanceId="7" version="2.5.0.11" bufferSize="1000"
    firstSequence="1" lastSequence="{sequence}" nextSequence="{sequence + 1}"/>
  <Streams><DeviceStream name="Lathe1" uuid="lathe-uuid"><ComponentStream component="Device" name="Lathe1"
    componentId="lathe"><Samples>{samples}</Samples><Events>{events}</Events></ComponentStream></DeviceStream>
  </Streams>
</MTConnectStreams>""".encode()


def ts(second: int) -> str:
    return f"2026-01-05T08:00:{second:02d}Z"


CURRENT = streams(
    30,
    f"""<AssetCountDataSet dataItemId="agent_assets" sequence="2" timestamp="{ts(0)}" count="0">UNAVAILABLE</AssetCountDataSet>
<AdapterURI dataItemId="ad1_uri" sequence="3" timestamp="{ts(0)}">shdr://10.0.0.5:7878</AdapterURI>
<AdapterSoftwareVersion dataItemId="ad1_version" sequence="4" timestamp="{ts(0)}">UNAVAILABLE</AdapterSoftwareVersion>
<MTConnectVersion dataItemId="ad1_mtc" sequence="5" timestamp="{ts(0)}">2.5</MTConnectVersion>
<PalletNumber dataItemId="pallet_num" sequence="6" timestamp="{ts(1)}">2</PalletNumber>
<ToolSuffix dataItemId="tool_suffix" sequence="7" timestamp="{ts(1)}">E</ToolSuffix>
<PalletId dataItemId="pallet_id" sequence="8" timestamp="{ts(1)}">P-0042</PalletId>
<TransferCount dataItemId="transfers" sequence="9" timestamp="{ts(1)}">17</TransferCount>
<BatteryState dataItemId="battery" sequence="10" timestamp="{ts(1)}">CHARGING</BatteryState>
<CompositionState dataItemId="clamp" sequence="11" timestamp="{ts(1)}">DOWN</CompositionState>
<CloseDoor dataItemId="door_req" sequence="12" timestamp="{ts(1)}">ACTIVE</CloseDoor>
<Rotation dataItemId="rotation" sequence="13" timestamp="{ts(1)}">0 90 180</Rotation>
<NetworkPort dataItemId="port" sequence="14" timestamp="{ts(1)}">7878</NetworkPort>""",
    f"""<Acceleration dataItemId="accel" sequence="15" timestamp="{ts(1)}">2.5</Acceleration>
<Temperature dataItemId="temp" sequence="16" timestamp="{ts(1)}">UNAVAILABLE</Temperature>""",
)


def follow(settings: StateSettings, limit: int = 10_000) -> AgentState:
    state = AgentState("cell", "http://agent.test/", settings, SeriesBudget(limit))
    state.load_model(parse_document(PROBE))
    state.apply_current(parse_document(CURRENT), initial=True)
    return state


VENDOR_NUMBERS = StateSettings(numeric_event_types=frozenset({"x:PALLET_NUMBER"}))


def series(state: AgentState) -> list[str]:
    text = render_metrics(FactorydashCollector(lambda: [state])).decode()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def lines_of(state: AgentState, metric: str) -> list[str]:
    return [line for line in series(state) if line.split("{")[0] == metric]


def test_model_types_the_exporter_missed_now_have_series_with_base_units() -> None:
    state = follow(VENDOR_NUMBERS)

    assert [line.rsplit(" ", 1)[1] for line in lines_of(state, "mtconnect_transfer_count_value")] == ["17.0"]
    battery = {line.split('state="')[1].split('"')[0]: line.rsplit(" ", 1)[1]
               for line in lines_of(state, "mtconnect_battery_state_state")}  # fmt: skip
    assert battery == {"CHARGED": "0.0", "CHARGING": "1.0", "DISCHARGING": "0.0", "DISCHARGED": "0.0",
                       "UNAVAILABLE": "0.0"}  # fmt: skip
    # 2.5 m/s^2 is already in base units: no scale, the unit spelt out.
    assert [line.rsplit(" ", 1)[1] for line in lines_of(state, "mtconnect_acceleration_meters_per_second_squared")] == [
        "2.5"
    ]
    rotation = sorted(line.split('axis="')[1][0] + "=" + line.rsplit(" ", 1)[1]
                      for line in lines_of(state, "mtconnect_rotation_degrees"))  # fmt: skip
    assert rotation == ["x=0.0", "y=90.0", "z=180.0"]


def test_a_subtype_decides_the_vocabulary_of_composition_states_and_interfaces() -> None:
    trackers = follow(StateSettings()).trackers

    assert trackers["clamp"].vocabulary == ("UP", "DOWN", "TRANSITIONING", "UNAVAILABLE")
    assert trackers["clamp"].current == "DOWN"
    assert trackers["door_req"].vocabulary == ("NOT_READY", "READY", "ACTIVE", "FAIL", "UNAVAILABLE")


def test_a_pallet_id_is_text_and_a_vendor_number_is_a_gauge_only_when_configured() -> None:
    without = follow(StateSettings())
    assert "pallet_num" not in without.trackers and "pallet_id" not in without.trackers

    state = follow(VENDOR_NUMBERS)
    assert [line.rsplit(" ", 1)[1] for line in lines_of(state, "mtconnect_x_pallet_number")] == ["2.0"]
    assert "pallet_id" not in state.trackers  # PALLET_ID has no numeric result in the model


def test_asset_count_is_a_gauge_per_asset_type_that_follows_the_agent() -> None:
    state = follow(StateSettings())
    assert lines_of(state, "mtconnect_asset_count_value") == []  # count="0", UNAVAILABLE: nothing to show

    state.apply_sample(parse_document(streams(32, f"""
<AssetCountDataSet dataItemId="agent_assets" sequence="31" timestamp="{ts(20)}" count="2"><Entry key="CuttingTool">3</Entry><Entry key="QIFDocument">1</Entry></AssetCountDataSet>
<AssetCountDataSet dataItemId="agent_assets" sequence="32" timestamp="{ts(21)}" count="1"><Entry key="CuttingTool">4</Entry><Entry key="QIFDocument" removed="true"/></AssetCountDataSet>""")))

    counts = {line.split('key="')[1].split('"')[0]: line.rsplit(" ", 1)[1]
              for line in lines_of(state, "mtconnect_asset_count_value")}  # fmt: skip
    assert counts == {"CuttingTool": "4.0"}
    assert all('device="Agent"' in line for line in lines_of(state, "mtconnect_asset_count_value"))


def test_each_adapter_has_one_info_series_with_its_uri_and_versions() -> None:
    state = follow(StateSettings())

    assert lines_of(state, "mtconnect_adapter_info") == [
        'mtconnect_adapter_info{adapter="shdr://10.0.0.5:7878",agent="cell",component_id="ad1",device="Agent",'
        'mtconnect_version="2.5",software_version="",uri="shdr://10.0.0.5:7878"} 1.0'
    ]
    state.apply_sample(parse_document(streams(
        31, f'<AdapterSoftwareVersion dataItemId="ad1_version" sequence="31" timestamp="{ts(20)}">1.4.2</AdapterSoftwareVersion>'
    )))  # fmt: skip
    assert 'software_version="1.4.2"' in lines_of(state, "mtconnect_adapter_info")[0]


def test_coverage_gives_every_data_item_a_series_or_its_reason() -> None:
    state = follow(VENDOR_NUMBERS)
    with state.lock:
        coverage = agent_coverage(state)
    exposed = {line.split('data_item_id="')[1].split('"')[0] for line in series(state) if "data_item_id=" in line}
    # The adapter info and the device gauges carry no data_item_id: the adapter items are exposed through it.
    exposed |= {"ad1_uri", "ad1_mtc"}

    by_reason = {text: sorted(item.item_id for item in reason.items) for text, reason in coverage.without_series.items()}
    assert by_reason == {
        VALUE_UNAVAILABLE: ["ad1_version", "agent_assets", "temp"],
        "free text not enabled: add it to event_info_types": ["device_added", "pallet_id"],
        "not exported: a port number names a connection, it does not measure anything "
        "(event_info_types can export it as text)": ["port"],
        "vendor event not enabled: add it to numeric_event_types (numbers) or event_info_types (text)": [
            "tool_suffix"
        ],
    }
    declared = {"agent_avail", "agent_assets", "device_added", "ad1_status", "ad1_uri", "ad1_version", "ad1_mtc",
                "avail", "pallet_num", "tool_suffix", "pallet_id", "transfers", "battery", "clamp", "door_req",
                "rotation", "port", "accel", "temp"}  # fmt: skip
    without = {item for items in by_reason.values() for item in items}
    assert coverage.declared == len(declared) == 19
    assert coverage.with_series == len(declared - without) == 12
    assert declared - without == exposed  # "has series" is exactly what the scrape shows
    text = coverage_text(coverage)
    assert text.splitlines()[0] == "agent cell: 12 of 19 data items have series"
    assert "    Lathe1 tool_suffix EVENT x:TOOL_SUFFIX" in text


def test_coverage_names_the_series_cap_and_the_devices_filter() -> None:
    # Room for the device's own series, AVAILABILITY (3 per value, 2 values) and TRANSFER_COUNT: no more.
    capped = follow(StateSettings(devices=("Lathe1",)), limit=5 + 3 * 2 + 1)
    with capped.lock:
        coverage = agent_coverage(capped)
    assert coverage.unfollowed_devices == {"Agent": 7}
    assert [item.item_id for item in coverage.without_series[UNTRACKED_CAP].items] == [
        "battery", "clamp", "door_req", "rotation", "accel", "temp"
    ]
    assert coverage.with_series == 2 and coverage.declared == 12


def test_a_huge_probe_keeps_only_the_first_untracked_items_of_each_reason_and_counts_the_rest() -> None:
    items = "".join(f'<DataItem category="EVENT" id="t{n}" type="x:TEXT_{n}"/>' for n in range(MAX_LISTED_UNTRACKED + 50))
    probe = PROBE.replace(b"<DataItems>", f"<DataItems>{items}".encode(), 1)
    state = AgentState("cell", "http://agent.test/", StateSettings(), SeriesBudget(10_000))
    state.load_model(parse_document(probe))
    with state.lock:
        vendor = agent_coverage(state).without_series[
            "vendor event not enabled: add it to numeric_event_types (numbers) or event_info_types (text)"
        ]
    assert vendor.count == MAX_LISTED_UNTRACKED + 50 + 2  # ours plus x:PALLET_NUMBER and x:TOOL_SUFFIX
    assert len(vendor.items) == MAX_LISTED_UNTRACKED and vendor.items[0].item_id == "t0"
    assert f"    and {vendor.count - MAX_LISTED_UNTRACKED} more" in coverage_text(agent_coverage(state))


def test_the_landing_page_lists_each_data_item_without_series_with_its_reason() -> None:
    state = follow(StateSettings())

    page = render_landing_page([state]).decode()

    assert "cell: 11 of 19 data items have series" in page
    for item_id in ("pallet_num", "tool_suffix", "pallet_id", "port", "temp", "device_added"):
        assert f'data-item="{item_id}"' in page
    assert 'data-reason="vendor event not enabled: add it to numeric_event_types (numbers) or event_info_types' in page
