"""Hostile documents are refused before they cost memory or reach the file system or network;
strings from agents are escaped on the landing page and give valid exposition text."""

from __future__ import annotations

import logging
import re
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from factorydash.collector import FactorydashCollector
from factorydash.follower import Phase
from factorydash.landing import render_landing_page
from factorydash.parser import DevicesDocument, ErrorDocument, InvalidDocument, StreamsDocument, parse_document
from tests.conftest import require_program
from tests.exporter import agentdocs
from tests.exporter.agentdocs import Obs, ts

from .agents import FaultyAgent, Reply, follower_for, step_until

pytestmark = pytest.mark.integration  # every test here starts a server or a process

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<MTConnectStreams><Header instanceId="1"/><Streams>&lol9;</Streams></MTConnectStreams>"""


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def refused(data: bytes, max_bytes: int = 1 << 20) -> InvalidDocument:
    with pytest.raises(InvalidDocument) as caught:
        parse_document(data, max_bytes)
    return caught.value


def test_an_entity_expansion_bomb_is_refused_without_expanding_it() -> None:
    before, started = rss_kib(), time.monotonic()
    error = refused(BOMB)
    assert error.reason == "forbidden_dtd"
    assert time.monotonic() - started < 0.5
    assert rss_kib() - before < 20_000  # a billion "lol"s would be gigabytes


def test_an_external_file_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-4711")
    document = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<MTConnectStreams><Header instanceId="&x;"/></MTConnectStreams>'
    ).encode()
    error = refused(document)
    assert error.reason == "forbidden_dtd"
    assert "TOPSECRET" not in str(error)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE r [<!ENTITY x SYSTEM "{url}entity">]>',
        '<!DOCTYPE r [<!ENTITY % p SYSTEM "{url}parameter"> %p;]>',
        '<!DOCTYPE r SYSTEM "{url}external.dtd">',
    ],
    ids=["general-entity", "parameter-entity", "external-dtd"],
)
def test_network_entities_and_external_dtds_never_reach_the_network(scripted: FaultyAgent, doctype: str) -> None:
    scripted.script("*", Reply(b"<!ENTITY y 'z'>", content_type="application/xml-dtd"))
    document = ('<?xml version="1.0"?>' + doctype.format(url=scripted.url) + "<MTConnectStreams/>").encode()
    error = refused(document)
    assert error.reason in ("forbidden_dtd", "invalid_document")
    time.sleep(0.05)  # any fetch would have arrived by now on loopback
    assert scripted.requests == []


def test_very_deep_nesting_is_refused_cheaply() -> None:
    depth = 100_000
    document = b"<MTConnectStreams>" + b"<a>" * depth + b"</a>" * depth + b"</MTConnectStreams>"
    started = time.monotonic()
    assert refused(document, 10 << 20).reason == "invalid_document"
    assert time.monotonic() - started < 0.5


def test_a_document_over_the_size_limit_is_refused_before_parsing() -> None:
    error = refused(agentdocs.streams([]), max_bytes=100)
    assert error.reason == "document_too_large"


def test_an_endless_body_is_cut_off_at_the_size_limit_by_the_client(scripted: FaultyAgent) -> None:
    scripted.script("probe", Reply(b"<MTConnectDevices>" + b"<x/>" * 1000, endless=True))
    follower = follower_for(scripted.url, max_document_bytes=64 * 1024)
    started = time.monotonic()
    follower.step()
    assert time.monotonic() - started < 1.0
    assert follower.state.counters.errors == {"document_too_large": 1}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (BOMB, "forbidden_dtd"),
        (b'<?xml version="1.0" encoding="UTF-8"?><MTConnectStreams>\xff\xfe</MTConnectStreams>', "invalid_document"),
        (b"<MTConnectStreams>" * 5, "invalid_document"),
    ],
    ids=["dtd", "invalid-utf8", "malformed"],
)
def test_hostile_documents_are_counted_by_reason_and_logged_once_per_agent(
    scripted: FaultyAgent, caplog: pytest.LogCaptureFixture, body: bytes, reason: str
) -> None:
    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill()))
    scripted.script("sample", Reply(body))
    follower = follower_for(scripted.url, name="hostile")
    step_until(follower, Phase.SAMPLE)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            follower.step()
    assert follower.state.counters.errors == {reason: 5}
    warnings = [record for record in caplog.records if "agent=hostile" in record.getMessage()]
    assert len(warnings) == 1


def test_unparsable_values_are_logged_once_per_data_item_not_per_observation(
    scripted: FaultyAgent, caplog: pytest.LogCaptureFixture
) -> None:
    garbage = [Obs("cspeed", 7 + i, f"fast{i}", ts(i), "RotaryVelocity", "Samples", "Rotary", "c") for i in range(50)]
    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill()))
    scripted.script("sample", Reply(agentdocs.streams(garbage, last=56, next_=57)))
    follower = follower_for(scripted.url, name="noisy")
    step_until(follower, Phase.SAMPLE)
    with caplog.at_level(logging.WARNING):
        follower.step()
    assert follower.state.counters.observations == 50
    assert len([r for r in caplog.records if "data_item=cspeed" in r.getMessage()]) == 1


# -- strings from agents -------------------------------------------------------------------

NASTY = 'Mill "A" \\ back\nslash <script>alert(1)</script>'


def _nasty_follower(scripted: FaultyAgent, message: str, encoding: str = "UTF-8"):
    sample = agentdocs.streams(
        [
            agentdocs.condition(7, "Fault", 1, code='C"1\\', message=message),
            Obs("program", 8, 'O1000 "rough" \\ <b>pass</b>', ts(1), "Program"),
        ],
        last=8,
        next_=9,
    )
    if encoding != "UTF-8":
        # Real Latin-1 bytes: 0xE9 is invalid UTF-8 but valid in a document that declares Latin-1.
        sample = sample.decode().replace('encoding="UTF-8"', f'encoding="{encoding}"').encode("latin-1")
    scripted.script("probe", Reply(agentdocs.probe(device=NASTY, uuid='u"1\\')))
    scripted.script("current", Reply(agentdocs.current_mill()))
    scripted.script("sample", Reply(sample))
    follower = follower_for(scripted.url)
    step_until(follower, Phase.SAMPLE)
    follower.step()
    assert follower.state.counters.errors == {}
    return follower


def exposition(follower) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FactorydashCollector(lambda: [follower.state]))
    return generate_latest(registry).decode()


def test_agent_strings_are_escaped_on_the_landing_page(scripted: FaultyAgent) -> None:
    follower = _nasty_follower(scripted, "<script>alert('alarm')</script> &amp; more")
    page = render_landing_page([follower.state]).decode()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#x27;alarm&#x27;)" in page


def test_long_agent_strings_are_capped_in_labels(scripted: FaultyAgent) -> None:
    follower = _nasty_follower(scripted, "E" * 5000)
    text = exposition(follower)
    message = re.search(r'message="([^"]*)"', text).group(1)
    assert 0 < len(message) <= 200
    assert all(len(value) <= 200 for value in re.findall(r'="((?:[^"\\]|\\.)*)"', text))


@pytest.mark.parametrize(
    ("encoding", "message", "label"),
    [
        ("UTF-8", 'Spindle "hot"\\ line1\nline2 \u00e9', 'message="Spindle \\"hot\\"\\\\ line1\\nline2 \u00e9"'),
        ("ISO-8859-1", "Temp\u00e9rature", 'message="Temp\u00e9rature"'),
    ],
    ids=["utf-8", "latin-1"],
)
def test_quotes_backslashes_newlines_and_non_ascii_bytes_still_give_valid_exposition(
    scripted: FaultyAgent, encoding: str, message: str, label: str
) -> None:
    promtool = require_program("promtool")
    text = exposition(_nasty_follower(scripted, message, encoding))
    assert label in text
    assert 'device="Mill \\"A\\" \\\\ back\\nslash <script>alert(1)</script>"' in text
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


# -- the parser never raises anything but InvalidDocument ------------------------------------

DOCUMENTS = [
    agentdocs.probe(),
    agentdocs.current_mill(),
    agentdocs.streams([agentdocs.condition(7, "Fault", 1, code="F1", message="x")], last=7, next_=8),
    agentdocs.error("OUT_OF_RANGE", "from"),
]


def _parses_or_refuses(data: bytes) -> None:
    try:
        result = parse_document(data, 1 << 20)
    except InvalidDocument:
        return
    assert isinstance(result, (DevicesDocument, StreamsDocument, ErrorDocument))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_document_or_invalid_document(data: bytes) -> None:
    _parses_or_refuses(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(DOCUMENTS),
    st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 5000), st.binary(max_size=12)), max_size=6),
)
def test_mutated_real_looking_documents_give_a_document_or_invalid_document(
    document: bytes, edits: list[tuple[int, int, bytes]]
) -> None:
    data = bytearray(document)
    for start, length, replacement in edits:
        start %= len(data) + 1
        data[start : start + length % 40] = replacement
    _parses_or_refuses(bytes(data))


# -- names an agent chooses never collide with the exporter's families --------------------------

HOSTILE_ITEMS = """
<DataItem category="SAMPLE" id="h1" type="PARTS"/>
<DataItem category="SAMPLE" id="h2" type="AGENT_UP"/>
<DataItem category="EVENT" id="h3" type="AGENT_RESTARTS" units="COUNT"/>
<DataItem category="SAMPLE" id="h4" type="AGENT_REQUEST_DURATION" units="SECOND"/>
<DataItem category="SAMPLE" id="h5" type="EXECUTION_STATE" units="SECOND"/>
<DataItem category="SAMPLE" id="h6" type="CONDITION_LEVEL"/>
<DataItem category="SAMPLE" id="h7" type="SERIES_DROPPED"/>
<DataItem category="SAMPLE" id="h8" type="x:FOO_GAUGE"/>
<DataItem category="SAMPLE" id="h9" type="D" units="HOURS"/>
<DataItem category="SAMPLE" id="h10" type="PARTS_TOTAL"/>
<DataItem category="SAMPLE" id="h11" type="AGENT_UP" units="MILLISECOND"/>
"""
# What each hostile item becomes, by the README's naming rule applied by hand.
HOSTILE_NAMES = {
    "h1": "mtconnect_parts_value",
    "h2": "mtconnect_agent_up_value",
    "h3": "mtconnect_agent_restarts_value",
    "h4": "mtconnect_agent_request_duration_seconds_value",
    "h5": "mtconnect_execution_state_seconds_value",
    "h6": "mtconnect_condition_level_value",
    "h7": "mtconnect_series_dropped_value",
    "h8": "mtconnect_x_foogauge",
    "h9": "mtconnect_dhoursvalue",
    "h10": "mtconnect_parts_total_value",
    "h11": "mtconnect_agent_up_millisecond_value",
}


def promtool_accepts(text: str) -> None:
    promtool = require_program("promtool")
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_data_items_named_like_the_exporter_s_own_families_get_their_own_names_and_promtool_accepts_it(
    scripted: FaultyAgent,
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    items = agentdocs.MILL_DATA_ITEMS.replace("<DataItems>", "<DataItems>" + HOSTILE_ITEMS, 1)
    hostile = [Obs(item, 20 + index, "7", ts(1), "Hostile", "Samples", "Device", "d1") for index, item in enumerate(HOSTILE_NAMES)]
    scripted.script("probe", Reply(agentdocs.probe(data_items=items)))
    scripted.script("current", Reply(agentdocs.current_mill()))
    scripted.script(
        "sample",
        Reply(agentdocs.streams([*hostile, agentdocs.part_count(40, "3", 2)], first=1, last=40, next_=41)),
    )
    follower = follower_for(scripted.url, name="hostile")
    step_until(follower, Phase.SAMPLE)
    follower.step()
    text = exposition(follower)
    promtool_accepts(text)
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for name, kind in [
        ("mtconnect_parts", "counter"),
        ("mtconnect_agent_up", "gauge"),
        ("mtconnect_agent_restarts", "counter"),
        ("mtconnect_agent_request_duration_seconds", "histogram"),
        ("mtconnect_execution_state_seconds", "counter"),
        ("mtconnect_series_dropped", "counter"),
    ]:
        assert families[name].type == kind, name
        assert not [sample for sample in families[name].samples if sample.labels.get("data_item_id") in HOSTILE_NAMES]
    for item, name in HOSTILE_NAMES.items():
        assert [sample.value for sample in families[name].samples if sample.labels["data_item_id"] == item] == [7.0]
    assert [sample.value for sample in families["mtconnect_parts"].samples if sample.labels["sub_type"] == "ALL"] == [3.0]
    # Every family the exporter names itself is reserved by the rule (a new family must be added there).
    from factorydash.units import is_exporter_family

    with follower.state.lock:
        data_item_families = {
            tracker.metric + suffix
            for tracker in follower.state.trackers.values()
            for suffix in ("", "_seconds", "_transitions")
        }
    own = set(families) - data_item_families - {"factorydash_build_info"}
    assert own and all(is_exporter_family(name) for name in own), own


# -- one agent can never make /metrics fail -------------------------------------------------------


def test_extreme_values_and_a_broken_agent_state_never_fail_the_scrape_of_the_others(
    scripted: FaultyAgent, caplog: pytest.LogCaptureFixture
) -> None:
    import dataclasses

    import requests

    from factorydash.config import parse_config
    from factorydash.exporter import Exporter
    from factorydash.web import ExporterApp, WebServer

    from .agents import wait_until

    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill()))
    scripted.script("sample", Reply(agentdocs.streams([], first=1, last=6, next_=7)))
    names = ("extreme", "broken", "healthy")
    agents = "".join(f'  - {{name: {name}, url: "{scripted.url}"}}\n' for name in names)
    exporter = Exporter(parse_config(f"defaults: {{poll_interval: 20ms, timeout: 300ms}}\nagents:\n{agents}"))
    server = WebServer(ExporterApp(exporter), "127.0.0.1", 0)
    exporter.start()
    server.start()
    try:
        wait_until(lambda: all(state.up for state in exporter.states()))
        exporter.stop()  # the followers would overwrite what the test plants
        extreme, broken = exporter.agents["extreme"].state, exporter.agents["broken"].state
        with extreme.lock:
            extreme.header = dataclasses.replace(
                extreme.header, buffer_size=10**400, last_sequence=10**400, next_sequence=-(10**400)
            )
            extreme.trackers["xpos"].value = float("inf")
            extreme.trackers["cload"].value = float("nan")
            extreme.counters.lost = 10**500
        with broken.lock:
            broken.trackers["xpos"].value = "not a number"  # what a bug could leave behind
        with caplog.at_level(logging.ERROR):
            texts = []
            for _ in range(3):
                response = requests.get(server.url + "metrics", timeout=5)
                assert response.status_code == 200
                texts.append(response.text)
    finally:
        server.stop()
        exporter.stop()
    text = texts[-1]
    promtool_accepts(text)
    assert 'mtconnect_agent_buffer_size{agent="extreme"} +Inf' in text
    assert 'mtconnect_agent_observations_lost_total{agent="extreme"} +Inf' in text
    healthy = [line for line in text.splitlines() if 'agent="healthy"' in line]
    extreme_lines = [line for line in text.splitlines() if 'agent="extreme"' in line]
    assert len(healthy) + 2 == len(extreme_lines)  # the same series, plus the two planted sample values
    assert 'mtconnect_agent_up{agent="healthy"} 1.0' in healthy
    assert not [line for line in text.splitlines() if 'agent="broken"' in line and "collect_errors" not in line]
    assert 'mtconnect_agent_collect_errors_total{agent="broken"} 3.0' in text
    assert 'mtconnect_agent_collect_errors_total{agent="healthy"} 0.0' in text
    assert len([r for r in caplog.records if "agent=broken" in r.getMessage()]) == 1
