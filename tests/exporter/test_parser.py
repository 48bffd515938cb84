"""Parser: our fixtures shaped after every quirk of the client notes, the real samples, hostile input."""

from __future__ import annotations

from pathlib import Path

import re
import pytest

from factorydash.parser import (
    DevicesDocument,
    ErrorDocument,
    InvalidDocument,
    StreamsDocument,
    parse_document,
    parse_timestamp,
)
from tests.conftest import SAMPLES, require_sample

from .agentdocs import error, header

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_a_schema_1_3_document_with_vendor_elements_and_zoneless_timestamps_parses():
    document = parse_document(load("nist-like-1.3-current.xml"))
    assert isinstance(document, StreamsDocument)
    assert document.schema_version == "1.3"
    assert document.header.instance_id == "1683217207"
    assert (document.header.first_sequence, document.header.last_sequence, document.header.next_sequence) == (
        1,
        4999,
        5000,
    )
    by_id = {o.data_item_id: o for o in document.observations}
    assert by_id["L7-xcomment"].value == "VENDOR NOTE"  # same local name in two namespaces
    assert by_id["L7-pcomment"].value == "ROUGH OD"
    assert by_id["L7-unit"].value == "2"
    assert parse_timestamp(by_id["L7-avail"].timestamp) == parse_timestamp("2026-03-01T07:00:00.123456Z")


def test_observations_come_out_in_sequence_order_not_document_order():
    document = parse_document(load("agent-2.x-sample.xml"))
    sequences = [o.sequence for o in document.observations]
    assert sequences == sorted(sequences)
    assert sequences[0] == 101 and sequences[-1] == 119


def test_several_active_faults_and_unavailable_conditions_are_kept_apart():
    document = parse_document(load("nist-like-1.3-current.xml"))
    faults = [o for o in document.observations if o.data_item_id == "L7-system"]
    assert [(f.level, f.native_code, f.value) for f in faults] == [
        ("fault", "3AA", "Key non-functional"),
        ("fault", "454B", "Limit switch Y-"),
    ]
    assert faults[1].native_severity == "2" and faults[1].qualifier == "LOW"
    unavailable = next(o for o in document.observations if o.data_item_id == "L7-Stemp")
    assert unavailable.level == "unavailable" and unavailable.category == "CONDITION"


def test_unavailable_samples_and_3d_values_are_passed_as_text():
    by_id = {o.data_item_id: o for o in parse_document(load("nist-like-1.3-current.xml")).observations}
    assert by_id["L7-Sload"].value == "UNAVAILABLE"
    assert by_id["L7-ppos"].value == "10.5 -2 300.25"
    assert by_id["L7-Srpm"].category == "SAMPLE"


def test_data_sets_tables_and_time_series_are_parsed_with_their_entries():
    by_id = {o.data_item_id: o for o in parse_document(load("agent-2.x-sample.xml")).observations}
    assert [(e.key, e.value, e.removed) for e in by_id["vars"].entries] == [
        ("V100", "1.5", False),
        ("V101", "text", False),
        ("V102", "", True),
    ]
    (g54,) = by_id["offsets"].entries
    assert g54.key == "G54" and g54.cells == (("X", "100.5"), ("Y", "-20"))
    assert by_id["accel"].value == "1 2 3 4"
    assert by_id["cut"].value == "828.5"


def test_a_2x_probe_lists_the_agent_device_and_every_component_of_each_item():
    document = parse_document(load("agent-2.x-probe.xml"))
    assert isinstance(document, DevicesDocument)
    assert document.schema_version == "2.2"
    assert document.header.device_model_change_time == "2026-11-23T09:59:59.000001Z"
    agent, hmc = document.devices
    assert agent.is_agent and not hmc.is_agent
    connection = next(i for i in agent.data_items if i.id == "adapter_conn")
    assert (connection.component, connection.component_id, connection.device) == ("Adapter", "adapter_1", "Agent")
    assert (hmc.manufacturer, hmc.model, hmc.serial_number, hmc.uuid) == ("Mazak", "HCN-6800", "M123", "hmc-1")
    items = {i.id: i for i in hmc.data_items}
    assert items["ppos"].units == "MILLIMETER_3D" and items["ppos"].sub_type == "ACTUAL"
    assert items["accel"].representation == "TIME_SERIES"
    assert items["offsets"].representation == "TABLE"
    assert items["cut"].type == "x:CUTTING_TIME"
    assert (items["exec"].component, items["exec"].component_name) == ("Path", "path")


@pytest.mark.parametrize("schema", ["1.3", "1.8", "2.5"])
def test_error_documents_are_recognised_by_their_root_whatever_the_version(schema):
    document = parse_document(error("OUT_OF_RANGE", "'from' must be greater than 459", schema=schema))
    assert isinstance(document, ErrorDocument)
    assert document.codes == ("OUT_OF_RANGE",)
    assert document.errors[0].message == "'from' must be greater than 459"


def test_a_cppagent_1_4_error_without_an_errors_wrapper_is_understood():
    body = (
        b'<?xml version="1.0"?><MTConnectError xmlns="urn:mtconnect.org:MTConnectError:1.3">'
        b'<Header creationTime="2026-01-01T00:00:00Z" sender="a" instanceId="1" version="1.4.0.10" bufferSize="10"/>'
        b'<Error errorCode="NO_DEVICE">Could not find the device</Error></MTConnectError>'
    )
    document = parse_document(body)
    assert isinstance(document, ErrorDocument) and document.codes == ("NO_DEVICE",)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-23T22:43:56.1345Z", 1795473836.1345),  # cppagent trims trailing zeros
        ("2026-11-23T22:43:56", 1795473836.0),  # NIST: no zone means UTC
        ("2026-11-23T23:43:56+01:00", 1795473836.0),
    ],
)
def test_timestamps_are_utc_when_they_have_no_zone(text, expected):
    assert parse_timestamp(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "invalid_document"),
        (b"<html><body>502 Bad Gateway</body></html>", "unexpected_root"),
        (b"<MTConnectStreams><Header", "invalid_document"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b"<MTConnectStreams><Header instanceId='&lol2;'/></MTConnectStreams>",
            "forbidden_dtd",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><MTConnectError>&x;</MTConnectError>',
            "forbidden_dtd",
        ),
        (b"<MTConnectStreams>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</MTConnectStreams>", "invalid_document"),
        (b"<MTConnectStreams><Streams/></MTConnectStreams>", "invalid_document"),  # no Header
    ],
    ids=["empty", "html", "truncated", "entity-bomb", "external-entity", "deep-nesting", "no-header"],
)
def test_hostile_or_broken_documents_are_refused_with_a_reason(body, reason):
    with pytest.raises(InvalidDocument) as refused:
        parse_document(body)
    assert refused.value.reason == reason


def test_a_document_over_the_size_limit_is_refused_before_parsing():
    with pytest.raises(InvalidDocument) as refused:
        parse_document(b"<MTConnectStreams>" + b" " * 2000 + b"</MTConnectStreams>", max_bytes=1000)
    assert refused.value.reason == "document_too_large"


def test_an_observation_without_sequence_is_an_invalid_document():
    body = (
        b'<MTConnectStreams xmlns="urn:mtconnect.org:MTConnectStreams:2.5">'
        + header().encode()
        + b'<Streams><DeviceStream name="d"><ComponentStream component="Device"><Events>'
        b'<Availability dataItemId="a" timestamp="2026-01-01T00:00:00Z">AVAILABLE</Availability>'
        b"</Events></ComponentStream></DeviceStream></Streams></MTConnectStreams>"
    )
    with pytest.raises(InvalidDocument, match="lacks dataItemId or sequence"):
        parse_document(body)


REAL_SAMPLES = sorted(p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*.xml")) if SAMPLES.exists() else []


@pytest.mark.skipif(not REAL_SAMPLES, reason="../shared/samples not present beside the project")
@pytest.mark.parametrize("relative", REAL_SAMPLES)
def test_every_real_agent_document_parses(relative):
    document = parse_document((SAMPLES / relative).read_bytes())
    name = Path(relative).name
    if name.startswith("error-"):
        assert isinstance(document, ErrorDocument) and document.codes
    elif "probe" in name or "devices" in name:
        assert isinstance(document, DevicesDocument) and document.devices
        assert all(item.id and item.category in ("SAMPLE", "EVENT", "CONDITION") for d in document.devices for item in d.data_items)
    else:
        assert isinstance(document, StreamsDocument) and document.observations
        assert document.header.next_sequence is not None


def test_the_nist_probe_and_current_agree_on_every_observed_item():
    probe = parse_document(require_sample("nist-vds-probe-2025.xml").read_bytes())
    current = parse_document(require_sample("nist-vds-current-2025.xml").read_bytes())
    declared = {item.id for device in probe.devices for item in device.data_items}
    observed = {o.data_item_id for o in current.observations}
    assert observed <= declared
    assert len(probe.devices) == 8


# -- Header numbers ------------------------------------------------------------------


def header_document(**attributes: str) -> bytes:
    values = {"instanceId": "1", "bufferSize": "4096", "firstSequence": "1", "lastSequence": "100", "nextSequence": "101"}
    values.update(attributes)
    attrs = "".join(f' {key}="{value}"' for key, value in values.items())
    return (
        f'<MTConnectStreams xmlns="urn:mtconnect.org:MTConnectStreams:2.5"><Header creationTime="2026-01-01T00:00:00Z"'
        f' sender="s" version="2.5.0.11"{attrs}/><Streams/></MTConnectStreams>'
    ).encode()


@pytest.mark.parametrize(
    "attributes, message",
    [
        ({"bufferSize": "1" + "0" * 309}, "bufferSize is not an unsigned integer"),  # ~1e309: float('inf') in rendering
        ({"lastSequence": str(2**64)}, "lastSequence 18446744073709551616 is out of range"),
        ({"firstSequence": "-5"}, "firstSequence is not an unsigned integer"),
        ({"nextSequence": "-5"}, "nextSequence is not an unsigned integer"),
        ({"nextSequence": "1e3"}, "nextSequence is not an unsigned integer"),
        ({"bufferSize": "0"}, "bufferSize is 0"),
        ({"bufferSize": str(2**32 + 1)}, "bufferSize 4294967297 is out of range"),
        ({"firstSequence": "12099", "lastSequence": "125", "nextSequence": "126"}, "firstSequence 12099 is beyond"),
        ({"nextSequence": "500"}, "nextSequence 500 is beyond lastSequence 100 + 1"),
        ({"firstSequence": "1", "lastSequence": "5000", "nextSequence": "5001"}, "more than bufferSize 4096"),
        ({"lastSequence": "\u0661\u0662"}, "lastSequence is not an unsigned integer"),  # Arabic-Indic digits: isdigit()
    ],
    ids=["1e309", "2**64", "negative first", "negative next", "exponent", "buffer 0", "buffer 2**32+1",
         "first > last", "next beyond last", "more than the buffer", "non-ASCII digits"],
)
def test_header_numbers_out_of_range_or_inconsistent_make_an_invalid_document(attributes, message):
    with pytest.raises(InvalidDocument, match=re.escape(message)) as refused:
        parse_document(header_document(**attributes))
    assert refused.value.reason == "invalid_document"


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"firstSequence": "1", "lastSequence": "0", "nextSequence": "1"},  # an empty buffer
        {"firstSequence": str(2**64 - 4096), "lastSequence": str(2**64 - 1), "nextSequence": str(2**64)},
        {"nextSequence": "7"},  # a sample that stopped early (count, path=)
    ],
    ids=["plain", "empty buffer", "top of the 64-bit range", "next below last"],
)
def test_header_numbers_of_real_buffers_are_accepted_exactly(attributes):
    document = parse_document(header_document(**attributes))
    expected = {"firstSequence": 1, "lastSequence": 100, "nextSequence": 101}
    expected.update({key: int(value) for key, value in attributes.items()})
    header = document.header
    assert (header.first_sequence, header.last_sequence, header.next_sequence) == (
        expected["firstSequence"], expected["lastSequence"], expected["nextSequence"]
    )
