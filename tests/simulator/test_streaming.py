"""interval= streaming: one Streams document per multipart part, heartbeats, a clean stop."""

from __future__ import annotations

import threading

import pytest
from lxml import etree

from factorydash.simulator import ShopFloor, SimulatorServer

from .helpers import START, MultipartReader, get, header, local, observations

pytestmark = pytest.mark.integration  # every test here starts a server or a process


@pytest.mark.parametrize(
    ("version", "kind", "chunked"),
    [("2.0", "multipart/mixed", True), ("1.8", "multipart/mixed", True), ("1.3", "multipart/x-mixed-replace", False)],
)
def test_stream_sends_every_observation_once_in_order_across_parts(version, kind, chunked):
    shop = ShopFloor(seed=5, clock="manual", start=START, schema_version=version)
    with SimulatorServer(shop) as server:
        start = int(header(get(server.url + "current").root)["nextSequence"])
        reader = MultipartReader(server.url + f"sample?from={start}&interval=10&heartbeat=200&count=1000")
        try:
            assert reader.content_type.startswith(kind + ";boundary=")
            assert (reader.transfer_encoding == "chunked") is chunked
            seen: list[int] = []
            cursor = start
            for _ in range(5):
                shop.advance(20)
                target = shop.agent.last_sequence + 1
                while cursor < target:
                    headers, body = reader.next_part()
                    assert headers["content-type"] == "text/xml"
                    assert int(headers["content-length"]) == len(body)
                    root = etree.fromstring(body)
                    assert local(root) == "MTConnectStreams"
                    seen += [int(o.get("sequence")) for o in observations(root)]
                    cursor = int(header(root)["nextSequence"])
            assert seen == list(range(start, cursor))
        finally:
            reader.close()


def test_stream_sends_an_empty_streams_document_as_heartbeat_when_nothing_is_new(shop):
    with SimulatorServer(shop) as server:
        start = shop.agent.last_sequence + 1
        reader = MultipartReader(server.url + f"sample?from={start}&interval=10&heartbeat=50")
        try:
            for _ in range(2):
                _, body = reader.next_part()
                root = etree.fromstring(body)
                assert len(root.find("{*}Streams")) == 0
                assert int(header(root)["nextSequence"]) == start
        finally:
            reader.close()


def test_stopping_the_server_ends_open_streams(shop):
    server = SimulatorServer(shop).start()
    reader = MultipartReader(server.url + "sample?interval=10&heartbeat=50")
    reader.next_part()
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(timeout=5)
    assert not stopper.is_alive()
    with pytest.raises(EOFError):
        for _ in range(1000):
            reader.next_part()
    reader.close()


def test_a_stream_that_falls_behind_the_buffer_gets_an_out_of_range_part():
    shop = ShopFloor(seed=5, clock="manual", start=START, buffer_size=512)
    with SimulatorServer(shop) as server:
        reader = MultipartReader(server.url + "sample?interval=10&heartbeat=1000&count=1&from=" + str(shop.agent.first_sequence))
        try:
            reader.next_part()
            shop.advance(600)
            for _ in range(50):
                _, body = reader.next_part()
                root = etree.fromstring(body)
                if local(root) == "MTConnectError":
                    assert root.find("{*}Errors/{*}Error").get("errorCode") == "OUT_OF_RANGE"
                    break
            else:
                pytest.fail("no OUT_OF_RANGE part")
        finally:
            reader.close()
