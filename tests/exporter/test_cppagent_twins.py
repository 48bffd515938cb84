"""The reference agent's own answers, fed the NIST Mazak03 log, as the parser and the multipart splitter read them.

cppagent 2.5.0.11 published the same device file as schema 1.3 (like the NIST agent) and as schema 2.5 (with
the Agent device). What a follower relies on is checked against what the real agent sent: every observation
names a declared data item, `/sample` answers hold exactly the sequences from `from` to `nextSequence - 1`,
the log's 2016 adapter stamps and the agent's own 2026 stamps arrive side by side, and a captured stream
splits into documents whose sequences follow on from each other without a gap.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from factorydash.client import iter_multipart
from factorydash.parser import DevicesDocument, StreamsDocument, parse_document, parse_timestamp
from tests.conftest import require_sample

SCHEMAS = {"1.3": "cppagent-2.5.0.11-mazak03-schema1.3", "2.5": "cppagent-2.5.0.11-mazak03-schema2.5"}
YEAR_2020 = 1577836800.0


def folder(schema: str) -> Path:
    return require_sample(SCHEMAS[schema] + "/INDEX.tsv").parent


def requested_from(schema: str, file: str) -> int:
    """The `from=` of the request that produced `file`, as INDEX.tsv records it."""
    for line in (folder(schema) / "INDEX.tsv").read_text().splitlines():
        name, *_, request = line.split("\t")
        if name == file:
            return int(re.search(r"from=(\d+)", request).group(1))
    raise AssertionError(f"{file} not in INDEX.tsv")


def declared(schema: str) -> DevicesDocument:
    document = parse_document((folder(schema) / "probe.xml").read_bytes())
    assert isinstance(document, DevicesDocument)
    return document


def item_ids(probe: DevicesDocument) -> set[str]:
    return {item.id for device in probe.devices for item in device.data_items}


def dechunk(body: bytes) -> bytes:
    """An HTTP/1.1 chunked body as one byte string (the capture is a raw socket read, cut off mid-stream)."""
    out, position = bytearray(), 0
    while True:
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            return bytes(out)
        size = int(body[position:line_end].split(b";")[0] or b"0", 16)
        if size == 0:
            return bytes(out)
        start = line_end + 2
        out += body[start : start + size]
        if start + size + 2 > len(body):
            return bytes(out)  # the capture ended inside this chunk
        position = start + size + 2


@pytest.mark.parametrize("schema", SCHEMAS)
def test_the_probe_declares_the_devices_of_its_schema(schema: str) -> None:
    probe = declared(schema)
    assert probe.schema_version == schema
    names = {device.name for device in probe.devices if not device.is_agent}
    assert "Mazak03" in names
    agents = [device for device in probe.devices if device.is_agent]
    # Schema 2.x publishes the agent itself as a device; 1.3 has no Agent device.
    assert len(agents) == (1 if schema == "2.5" else 0)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_current_names_only_declared_items_and_mixes_the_two_clocks(schema: str) -> None:
    ids = item_ids(declared(schema))
    current = parse_document((folder(schema) / "current.xml").read_bytes())
    assert isinstance(current, StreamsDocument)
    assert current.observations
    assert {o.data_item_id for o in current.observations} <= ids
    stamps = [parse_timestamp(o.timestamp) for o in current.observations]
    # The adapter's data carries the log's 2016 stamps, the agent's own values (start-up UNAVAILABLE, the
    # Agent device) today's clock: both must be there for the two-clock tests to mean anything.
    assert min(stamps) < YEAR_2020 < max(stamps)
    assert parse_timestamp(current.header.creation_time) > YEAR_2020


@pytest.mark.parametrize("schema", SCHEMAS)
def test_a_sample_answer_holds_exactly_the_sequences_from_from_to_next_sequence(schema: str) -> None:
    ids = item_ids(declared(schema))
    sample = parse_document((folder(schema) / "sample-200.xml").read_bytes())
    assert isinstance(sample, StreamsDocument)
    header = sample.header
    start = requested_from(schema, "sample-200.xml")
    sequences = sorted(o.sequence for o in sample.observations)
    assert sequences == list(range(start, header.next_sequence))
    assert len(sequences) == 200
    assert header.first_sequence <= start < header.next_sequence <= header.last_sequence + 1
    assert {o.data_item_id for o in sample.observations} <= ids


@pytest.mark.parametrize("schema", SCHEMAS)
def test_a_captured_stream_splits_into_documents_that_follow_on_without_a_gap(schema: str) -> None:
    raw = (folder(schema) / "stream-sample-interval500.xml.raw").read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    boundary = re.search(rb"boundary=([^\r\n;]+)", head).group(1)
    parts = list(iter_multipart([dechunk(body)], boundary, 1 << 22))
    documents = [parse_document(part) for part in parts]
    assert len(documents) >= 2
    assert all(isinstance(document, StreamsDocument) for document in documents)
    cursor = requested_from(schema, "stream-sample-interval500.xml.raw")
    for document in documents:
        sequences = sorted(o.sequence for o in document.observations)
        # Each part continues where the previous one ended (an empty part is a heartbeat).
        assert sequences == list(range(cursor, document.header.next_sequence))
        cursor = document.header.next_sequence
