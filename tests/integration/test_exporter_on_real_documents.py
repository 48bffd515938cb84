"""The exporter against the real NIST test bed and cppagent documents, served over HTTP on 127.0.0.1.

Every data item of every device must appear with the right value, labels and units.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from factorydash.config import config_from_agent_flags
from factorydash.exporter import Exporter
from factorydash.follower import Phase
from factorydash.parser import parse_document
from factorydash.units import metric_name, type_name, unit_for
from factorydash.vocabularies import CLOSED_VOCABULARIES
from factorydash.web import ExporterApp
from tests.conftest import require_sample
from tests.exporter.test_golden import wsgi_get

pytestmark = pytest.mark.integration  # every test here starts a server or a process

AGENTS = {
    "nist": ("nist-vds-probe-2025.xml", "nist-vds-current-2025.xml"),
    "cppagent25": ("cppagent-2.5.0.11/probe.xml", "cppagent-2.5.0.11/current.xml"),
    "cppagent18": ("cppagent-1.8.0.3/probe.xml", "cppagent-1.8.0.3/current.xml"),
}


def empty_sample(current: bytes) -> bytes:
    """A /sample answer with nothing new: the current document's header, no observations."""
    header = parse_document(current).header
    ns = "urn:mtconnect.org:MTConnectStreams:1.3"
    return (
        f'<MTConnectStreams xmlns="{ns}"><Header creationTime="{header.creation_time}" sender="{header.sender}" '
        f'instanceId="{header.instance_id}" version="{header.version}" bufferSize="{header.buffer_size}" '
        f'nextSequence="{header.next_sequence}" firstSequence="{header.first_sequence}" '
        f'lastSequence="{header.last_sequence}"'
        + (f' deviceModelChangeTime="{header.device_model_change_time}"' if header.device_model_change_time else "")
        + "/><Streams/></MTConnectStreams>"
    ).encode()


class StaticAgent:
    """Serves probe, current and an empty sample under /vds/, like the NIST agent's path prefix."""

    def __init__(self, probe: bytes, current: bytes) -> None:
        routes = {"/vds/probe": probe, "/vds/current": current, "/vds/sample": empty_sample(current)}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = routes.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/vds/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_every_data_item_appears_with_its_value_labels_and_units(agent):
    probe_path, current_path = (require_sample(name) for name in AGENTS[agent])
    probe_bytes, current_bytes = Path(probe_path).read_bytes(), Path(current_path).read_bytes()
    served = StaticAgent(probe_bytes, current_bytes)
    try:
        exporter = Exporter(config_from_agent_flags([f"{agent}={served.url}"]))
        follower = exporter.agents[agent].follower
        for _ in range(3):
            follower.step()
        assert follower.phase is Phase.SAMPLE and exporter.agents[agent].state.up
        _, _, body = wsgi_get(ExporterApp(exporter), "/metrics")
    finally:
        served.close()
    samples: dict[tuple[str, str], list] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if "data_item_id" in sample.labels:
                samples.setdefault((sample.name, sample.labels["data_item_id"]), []).append(sample)

    items = {item.id: item for device in parse_document(probe_bytes).devices for item in device.data_items}
    latest = {}
    for observation in parse_document(current_bytes).observations:
        latest[observation.data_item_id] = observation
    checked = 0
    for item_id, observation in latest.items():
        item = items[item_id]
        labels_of = lambda sample: (sample.labels["device"], sample.labels["component_id"], sample.labels["sub_type"])  # noqa: E731
        expected_labels = (item.device, item.component_id, item.sub_type)
        if item.category == "SAMPLE" and item.representation == "VALUE" and observation.value != "UNAVAILABLE":
            series = samples[(metric_name(item.type, item.units), item_id)]
            values = [float(part) * unit_for(item.units).scale for part in observation.value.split()]
            got = [s.value for s in sorted(series, key=lambda s: s.labels.get("axis", ""))]
            assert got == pytest.approx(values), item_id
            assert all(labels_of(s) == expected_labels for s in series)
            checked += 1
        elif item.category == "SAMPLE" and observation.value == "UNAVAILABLE":
            assert (metric_name(item.type, item.units), item_id) not in samples, f"{item_id} is UNAVAILABLE: no series"
            checked += 1
        elif item.category == "EVENT" and item.type in CLOSED_VOCABULARIES:
            series = samples[(f"mtconnect_{type_name(item.type)}_state", item_id)]
            current = {s.labels["state"] for s in series if s.value == 1}
            assert current == {observation.value or "UNAVAILABLE"}, item_id
            assert all(labels_of(s) == expected_labels for s in series)
            checked += 1
        elif item.category == "CONDITION":
            series = samples[("mtconnect_condition_level", item_id)]
            levels = {s.labels["level"] for s in series if s.value == 1}
            active = [o for o in parse_document(current_bytes).observations if o.data_item_id == item_id]
            expected = {o.level for o in active}
            expected_level = "fault" if "fault" in expected else "warning" if "warning" in expected else expected.pop()
            assert levels == {expected_level}, item_id
            checked += 1
    assert checked > 50
