"""The agent HTTP client: URLs, auth, limits, failures as reasons, and multipart streams.

`LocalAgent` (a tiny threaded stdlib HTTP server on 127.0.0.1) is also used by
the follower tests for what `responses` cannot fake: refused connections,
timeouts and a real multipart stream.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from factorydash.client import USER_AGENT, AgentClient, AgentRequestError, iter_multipart
from factorydash.config import AgentConfig, config_from_agent_flags, parse_config
from factorydash.parser import StreamsDocument, parse_document

from ..conftest import require_sample
from .agentdocs import execution, streams

BASE = "http://agent.test/"
LIMIT = 1_000_000

# -- a tiny real agent ---------------------------------------------------------

Answer = tuple[int, str, bytes | Iterable[bytes]]  # status, Content-Type, body (an iterable is written piece by piece)
Route = Callable[[dict[str, str]], Answer]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that timed out and hung up is expected here, not an error worth a traceback."""


class LocalAgent:
    """An HTTP server on 127.0.0.1 answering from `routes` (URL path -> function of the query).

    HTTP/1.0: every answer ends by closing the connection, so an iterable body
    without Content-Length is a stream that ends when the iterable does.
    `delay` holds every answer back (for timeouts); `stop()` releases held
    answers at once, so a test never waits for them.
    """

    def __init__(self, routes: dict[str, Route], port: int = 0) -> None:
        self.routes = routes
        self.delay = 0.0
        self.requests: list[str] = []
        self._release = threading.Event()
        self.server = _QuietServer(("127.0.0.1", port), self._handler_class())
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                agent.requests.append(self.path)
                if agent.delay:
                    agent._release.wait(agent.delay)
                split = urlsplit(self.path)
                route = agent.routes.get(split.path)
                status, content_type, body = (
                    (404, "text/plain", b"no such route") if route is None else route(dict(parse_qsl(split.query)))
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if isinstance(body, bytes):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for piece in [body] if isinstance(body, bytes) else body:
                    self.wfile.write(piece)
                    self.wfile.flush()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
                """Silent: the tests assert on `requests` instead."""

        return Handler

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(1.0)

    def __enter__(self) -> LocalAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def agent_config(url: str = BASE, **changes: object) -> AgentConfig:
    """The defaults of `--agent mill=URL`, with `changes` applied."""
    return dataclasses.replace(config_from_agent_flags([f"mill={url}"]).agents[0], **changes)


# -- multipart bodies ------------------------------------------------------------


def part(body: bytes, boundary: bytes = b"BOUNDARY", length: bool = True, header_case: str = "Content-Length") -> bytes:
    head = b"--" + boundary + b"\r\nContent-Type: text/xml\r\n"
    if length:
        head += f"{header_case}: {len(body)}\r\n".encode()
    return head + b"\r\n" + body + b"\r\n"


def in_pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[index : index + size] for index in range(0, len(data), size))


DOC_A = streams([execution(7, "ACTIVE", 60)], last=7, next_=8)
DOC_B = streams([execution(8, "FEED_HOLD", 300), execution(9, "ACTIVE", 303)], last=9, next_=10)
HEARTBEAT = streams([], last=9, next_=10)


@pytest.mark.parametrize("piece_size", [1, 7, 100_000], ids=["byte by byte", "ragged", "one piece"])
def test_multipart_parts_with_content_length_come_out_whole_however_the_bytes_arrive(piece_size: int) -> None:
    body = part(DOC_A) + part(HEARTBEAT) + part(DOC_B) + b"--BOUNDARY--\r\n"

    parts = list(iter_multipart(in_pieces(body, piece_size), b"BOUNDARY", LIMIT))

    assert parts == [DOC_A, HEARTBEAT, DOC_B]


def test_multipart_parts_without_content_length_end_at_the_next_boundary() -> None:
    body = part(DOC_A, length=False) + part(DOC_B, length=False) + b"--BOUNDARY--\r\n"

    parts = list(iter_multipart(in_pieces(body, 13), b"BOUNDARY", LIMIT))

    assert parts == [DOC_A.rstrip(b"\r\n"), DOC_B.rstrip(b"\r\n")]


def test_multipart_accepts_cppagent_1_8s_lower_case_content_length_and_a_preamble() -> None:
    body = b"preamble to ignore\r\n" + part(DOC_A, header_case="Content-length") + part(DOC_B)

    assert list(iter_multipart([body], b"BOUNDARY", LIMIT)) == [DOC_A, DOC_B]


def test_a_heartbeat_part_is_a_streams_document_without_observations() -> None:
    (body,) = iter_multipart([part(HEARTBEAT)], b"BOUNDARY", LIMIT)

    document = parse_document(body)

    assert isinstance(document, StreamsDocument)
    assert document.observations == ()
    assert document.header.next_sequence == 10


@pytest.mark.parametrize(
    "cut",
    [
        part(DOC_A)[:-200],  # inside a body announced by Content-Length
        part(DOC_A, length=False),  # a body without Content-Length and no boundary after it
        b"--BOUNDARY\r\nContent-Type: text/xml\r\nContent-Le",  # inside a part's headers
    ],
    ids=["inside a counted body", "inside an uncounted body", "inside the headers"],
)
def test_a_stream_closed_mid_part_raises_stream_closed_after_the_complete_parts(cut: bytes) -> None:
    parts = iter_multipart(in_pieces(part(DOC_B) + cut, 64), b"BOUNDARY", LIMIT)

    assert next(parts) == DOC_B
    with pytest.raises(AgentRequestError) as raised:
        next(parts)
    assert raised.value.reason == "stream_closed"


def test_a_multipart_part_larger_than_the_limit_is_refused_before_it_is_read() -> None:
    announced = b"--BOUNDARY\r\nContent-Type: text/xml\r\nContent-Length: 5000\r\n\r\n<MTConnectStreams"

    with pytest.raises(AgentRequestError) as raised:
        next(iter_multipart([announced], b"BOUNDARY", 4096))

    assert raised.value.reason == "document_too_large"
    assert str(raised.value) == "stream part of 5000 bytes refused"


def test_many_small_parts_arriving_in_one_read_larger_than_the_limit_are_all_accepted() -> None:
    # An agent without chunked encoding (HTTP/1.0, body until close) lets requests hand over 64 KiB reads;
    # while catching up, one read holds many parts. Only a single part may be refused for its size.
    body = b"".join(part(DOC_A, length=False) for _ in range(40)) + b"--BOUNDARY--\r\n"
    limit = 2 * len(DOC_A)
    assert len(body) > limit + 4096

    parts = list(iter_multipart([body], b"BOUNDARY", limit))

    assert parts == [DOC_A.rstrip(b"\r\n")] * 40


def test_a_part_without_content_length_growing_beyond_the_limit_is_refused() -> None:
    endless = [b"--BOUNDARY\r\nContent-Type: text/xml\r\n\r\n<MTConnectStreams>"] + [b"<x/>" * 256] * 100

    with pytest.raises(AgentRequestError) as raised:
        next(iter_multipart(endless, b"BOUNDARY", 10_000))

    assert raised.value.reason == "document_too_large"


# -- real captures of cppagent's interval= answer ------------------------------------


def dechunk_capture(raw: bytes) -> tuple[str, bytes]:
    """A raw HTTP/1.1 response capture -> (Content-Type, de-chunked body). The capture may stop mid-stream."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    content_type = next(
        line.split(":", 1)[1].strip()
        for line in head.decode("latin-1").split("\r\n")[1:]
        if line.lower().startswith("content-type:")
    )
    body = bytearray()
    position = 0
    while (end_of_size := rest.find(b"\r\n", position)) >= 0:
        size = int(rest[position:end_of_size].split(b";")[0], 16)
        if size == 0:
            break
        body += rest[end_of_size + 2 : end_of_size + 2 + size]
        position = end_of_size + 2 + size + 2
    return content_type, bytes(body)


# (first sequence, nextSequence, observations) of every part of each capture.
CAPTURES = {
    "cppagent-2.5.0.11": [(4556, 4566, 10), (4566, 4576, 10), (4576, 4588, 12), (4588, 4597, 9), (4597, 4604, 7)],
    "cppagent-1.8.0.3": [
        (None, 4392, 0),  # cppagent 1.8 opens the stream with an empty part
        (4392, 4403, 11),
        (4403, 4410, 7),
        (4410, 4422, 10),
        (4422, 4432, 10),
        (4432, 4444, 12),
    ],
}


@pytest.mark.parametrize("version", sorted(CAPTURES))
def test_every_part_of_a_real_cppagent_stream_capture_parses_and_continues_the_previous_one(version: str) -> None:
    content_type, body = dechunk_capture(require_sample(f"{version}/stream-sample-interval1000.raw").read_bytes())
    boundary = re.search(r"boundary=([^;]+)", content_type).group(1).encode()  # type: ignore[union-attr]

    documents = [parse_document(body) for body in iter_multipart(in_pieces(body, 1000), boundary, LIMIT)]

    assert content_type.startswith("multipart/mixed")
    assert all(isinstance(document, StreamsDocument) for document in documents)
    assert [
        (
            document.observations[0].sequence if document.observations else None,
            document.header.next_sequence,
            len(document.observations),
        )
        for document in documents
    ] == CAPTURES[version]


@pytest.mark.parametrize("version", sorted(CAPTURES))
def test_the_client_streams_a_real_capture_served_with_its_content_type(version: str) -> None:
    content_type, body = dechunk_capture(require_sample(f"{version}/stream-sample-interval1000.raw").read_bytes())
    client = AgentClient(agent_config(), LIMIT)

    with responses.RequestsMock() as mock:
        mock.get(BASE + "sample", body=body, content_type=content_type)
        parts = list(client.stream(4556, 200, 1000, 10000))
        url = mock.calls[0].request.url

    assert len(parts) == len(CAPTURES[version])
    assert url == BASE + "sample?from=4556&count=200&interval=1000&heartbeat=10000"


@pytest.mark.parametrize(
    "content_type",
    [
        'multipart/x-mixed-replace;boundary="BOUNDARY"',  # what the standard and cppagent 1.4 send
        "multipart/mixed; boundary=BOUNDARY",  # cppagent 1.8 and 2.x
    ],
)
def test_the_client_splits_both_multipart_flavours(content_type: str) -> None:
    client = AgentClient(agent_config(), LIMIT)
    body = part(DOC_A) + part(HEARTBEAT) + part(DOC_B, length=False) + b"--BOUNDARY--\r\n"

    with responses.RequestsMock() as mock:
        mock.get(BASE + "sample", body=body, content_type=content_type)
        parts = list(client.stream(7, 1000, 500, 10000))

    assert parts == [DOC_A, HEARTBEAT, DOC_B.rstrip(b"\r\n")]


def test_a_stream_request_answered_with_a_plain_document_yields_that_document() -> None:
    client = AgentClient(agent_config(), LIMIT)

    with responses.RequestsMock() as mock:
        mock.get(BASE + "sample", body=DOC_A, status=400, content_type="text/xml")
        parts = list(client.stream(7, 1000, 500, 10000))

    assert parts == [DOC_A]


@pytest.mark.integration
def test_a_real_stream_that_closes_mid_part_raises_stream_closed() -> None:
    def sample(query: dict[str, str]) -> Answer:
        return 200, "multipart/mixed;boundary=BOUNDARY", [part(DOC_A), part(DOC_B)[:150]]

    with LocalAgent({"/sample": sample}) as agent:
        parts = AgentClient(agent_config(agent.url), LIMIT).stream(7, 1000, 500, 10000)
        assert next(parts) == DOC_A
        with pytest.raises(AgentRequestError) as raised:
            next(parts)

    assert raised.value.reason == "stream_closed"


# -- plain requests ---------------------------------------------------------------


def test_urls_keep_the_agents_path_prefix_and_carry_from_and_count() -> None:
    client = AgentClient(agent_config("https://smstestbed.nist.gov/vds/"), LIMIT)

    assert client.url("probe") == "https://smstestbed.nist.gov/vds/probe"
    assert client.url("sample", {"from": 18446744073709551615, "count": 1000}) == (
        "https://smstestbed.nist.gov/vds/sample?from=18446744073709551615&count=1000"
    )


def test_requests_carry_the_user_agent_configured_headers_and_basic_auth() -> None:
    config = parse_config(
        """
agents:
  - name: mill
    url: http://agent.test/
    basic_auth: {username: reader, password: {value: s3cret}}
    headers: {X-Api-Key: {env: MILL_KEY}}
""",
        env={"MILL_KEY": "k-123"},
    )
    client = AgentClient(config.agents[0], LIMIT)

    with responses.RequestsMock() as mock:
        mock.get(BASE + "probe", body=b"<x/>")
        answer = client.probe()
        request = mock.calls[0].request

    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["X-Api-Key"] == "k-123"
    assert request.headers["Authorization"] == "Basic cmVhZGVyOnMzY3JldA=="  # reader:s3cret
    assert (answer.status, answer.body) == (200, b"<x/>")


def test_the_client_returns_status_content_type_and_body_whatever_the_status() -> None:
    client = AgentClient(agent_config(), LIMIT)

    with responses.RequestsMock() as mock:
        mock.get(BASE + "current", body=b"<MTConnectError/>", status=404, content_type="text/xml")
        answer = client.current()

    assert (answer.status, answer.content_type, answer.body) == (404, "text/xml", b"<MTConnectError/>")
    assert answer.seconds >= 0


def test_a_body_larger_than_the_limit_is_refused_as_document_too_large() -> None:
    client = AgentClient(agent_config(), 1000)

    with responses.RequestsMock() as mock:
        mock.get(BASE + "current", body=b"x" * 1001)
        with pytest.raises(AgentRequestError) as raised:
            client.current()

    assert raised.value.reason == "document_too_large"


@pytest.mark.integration
def test_a_refused_connection_is_reason_connection() -> None:
    client = AgentClient(agent_config(f"http://127.0.0.1:{closed_port()}/"), LIMIT)

    with pytest.raises(AgentRequestError) as raised:
        client.probe()

    assert raised.value.reason == "connection"
    assert str(raised.value).startswith("probe: ")


@pytest.mark.integration
def test_an_agent_slower_than_the_timeout_is_reason_timeout() -> None:
    with LocalAgent({"/probe": lambda query: (200, "text/xml", b"<late/>")}) as agent:
        agent.delay = 1.0
        client = AgentClient(agent_config(agent.url, timeout=0.2), LIMIT)
        with pytest.raises(AgentRequestError) as raised:
            client.probe()

    assert raised.value.reason == "timeout"
    assert str(raised.value) == "probe: timed out after 0.2s"


# -- deadlines, small reads, linear parsing ------------------------------------------


def trickle(body: bytes, every: float, stop: threading.Event) -> Iterator[bytes]:
    for index in range(len(body)):
        if stop.wait(every):
            return
        yield body[index : index + 1]


@pytest.mark.integration
def test_a_body_trickling_faster_than_the_read_timeout_is_cut_at_the_whole_response_deadline() -> None:
    stop = threading.Event()
    body = DOC_A  # ~600 bytes at one per 20 ms would take 12 s; every single wait is far below the timeout
    with LocalAgent({"/probe": lambda query: (200, "text/xml", trickle(body, 0.02, stop))}) as agent:
        client = AgentClient(agent_config(agent.url, timeout=0.3), LIMIT)
        started = time.monotonic()
        with pytest.raises(AgentRequestError) as raised:
            client.probe()
        elapsed = time.monotonic() - started
        stop.set()

    assert raised.value.reason == "timeout"
    assert elapsed < 0.3 * 3  # the deadline plus at most one wait for bytes, never the 12 s of the trickle


@pytest.mark.integration
def test_a_stream_that_trickles_bytes_without_completing_a_part_ends_after_a_few_heartbeats() -> None:
    stop = threading.Event()

    def sample(query: dict[str, str]) -> Answer:
        return 200, "multipart/mixed;boundary=BOUNDARY", itertools.chain([part(DOC_A)], trickle(part(DOC_B), 0.02, stop))

    with LocalAgent({"/sample": sample}) as agent:
        client = AgentClient(agent_config(agent.url, timeout=0.2), LIMIT)
        parts = client.stream(7, 1000, 100, 100)  # heartbeat 0.1 s: dead after max(timeout, 3 heartbeats) = 0.3 s
        started = time.monotonic()
        assert next(parts) == DOC_A
        with pytest.raises(AgentRequestError) as raised:
            next(parts)
        elapsed = time.monotonic() - started
        stop.set()

    assert raised.value.reason == "timeout"
    assert str(raised.value) == "stream: no complete part for 0.3s"
    assert elapsed < 0.3 * 3


@pytest.mark.integration
def test_a_small_stream_part_is_handed_over_as_soon_as_it_is_complete() -> None:
    # cppagent sends one part per interval and keeps the connection open: a 620-byte part must not wait
    # for 64 KiB to gather (issue 11: 0 observations in 60 s at one part a second).
    held = threading.Event()
    small = streams([execution(7, "ACTIVE", 60)], last=7, next_=8)
    assert 500 < len(part(small)) < 700

    def sample(query: dict[str, str]) -> Iterator[bytes]:
        yield part(small)
        held.wait(5.0)  # the agent's next part would come much later
        yield b"--BOUNDARY--\r\n"

    with LocalAgent({"/sample": lambda query: (200, "multipart/mixed;boundary=BOUNDARY", sample(query))}) as agent:
        parts = AgentClient(agent_config(agent.url), LIMIT).stream(7, 1000, 1000, 10000)
        started = time.monotonic()
        first = next(parts)
        elapsed = time.monotonic() - started
        held.set()
        assert list(parts) == []

    assert first == small
    assert elapsed < 1.0


def multipart_seconds(part_bytes: int, parts: int, length: bool) -> float:
    body = b"<MTConnectStreams>" + b"x" * part_bytes + b"</MTConnectStreams>"
    stream = part(body, length=length) * parts + b"--BOUNDARY--\r\n"
    pieces = list(in_pieces(stream, 16 * 1024))  # what read1 hands over from a busy socket
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        split = list(iter_multipart(pieces, b"BOUNDARY", 64 * 1024 * 1024))
        best = min(best, time.perf_counter() - started)
    assert split == [body] * parts
    return best


@pytest.mark.parametrize("length", [True, False], ids=["Content-Length", "boundary search"])
def test_multipart_parsing_is_linear_in_the_part_size(length: bool) -> None:
    # The same 16 MiB as sixteen 1 MiB parts and as one 16 MiB part: linear work takes about as long
    # either way (measured 0.7-1.9 times); the old quadratic splitter took 16-28 times as long for the big part.
    ratio = multipart_seconds(16 << 20, 1, length) / multipart_seconds(1 << 20, 16, length)
    assert ratio < 6


@pytest.mark.integration
def test_reloads_with_a_trickling_agent_leave_no_threads_and_no_connections_behind() -> None:
    from factorydash.config import parse_config as parse
    from factorydash.exporter import Exporter

    stop = threading.Event()
    served = []

    def probe_route(query: dict[str, str]) -> Answer:
        served.append(1)
        return 200, "text/xml", trickle(DOC_A, 0.02, stop)

    with LocalAgent({"/probe": probe_route}) as agent:
        exporter = Exporter(parse(f"agents:\n  - name: mill\n    url: {agent.url}\n    timeout: 0.3s\n"))
        exporter.start()
        for index in range(30):
            wait_for(lambda: len(served) > index)  # each follower is inside its trickling answer when retired
            exporter.reload(parse(f"agents:\n  - name: mill\n    url: {agent.url}\n    timeout: {0.3 + index / 1000:g}s\n"))
        wait_for(lambda: len(follower_threads()) <= 1)  # retired followers end at once: their read is aborted
        threads = len(follower_threads())
        connections = _established_connections(agent.port)
        exporter.stop()
        stop.set()  # lets the server's handler threads end before it closes

    assert len(served) >= 30
    assert threads <= 1  # the one live follower
    assert connections <= 1


def follower_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("follow-") and thread.is_alive()]


def wait_for(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def _established_connections(port: int) -> int:
    """Established TCP connections to 127.0.0.1:port from this process, from /proc/net/tcp."""
    count = 0
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            remote_port = int(fields[2].split(":")[1], 16)
            if remote_port == port and fields[3] == "01":
                count += 1
    return count


# -- redirects ---------------------------------------------------------------------------


class RecordingServer(LocalAgent):
    """A second server that records the headers it receives: the secrets must never get there."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        super().__init__({"/probe": lambda query: (200, "text/xml", b"<MTConnectDevices/>")})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        base = super()._handler_class()
        recorder = self

        class Handler(base):  # type: ignore[misc, valid-type]
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                recorder.headers.append(dict(self.headers))
                super().do_GET()

        return Handler


class RedirectingAgent(LocalAgent):
    """/probe answers 302 to `location`; /real/probe answers a document."""

    def __init__(self, location: Callable[[LocalAgent], str]) -> None:
        self.location = location
        super().__init__({"/real/probe": lambda query: (200, "text/xml", b"<MTConnectDevices/>")})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        base = super()._handler_class()
        agent = self

        class Handler(base):  # type: ignore[misc, valid-type]
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                if urlsplit(self.path).path == "/probe":
                    agent.requests.append(self.path)
                    self.send_response(302)
                    self.send_header("Location", agent.location(agent))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                super().do_GET()

        return Handler


def secret_config(url: str, **changes: object) -> AgentConfig:
    config = parse_config(
        f"""
agents:
  - name: mill
    url: {url}
    basic_auth: {{username: reader, password: {{value: s3cret}}}}
    headers: {{X-Api-Key: {{value: k-123}}}}
""",
        env={},
    )
    return dataclasses.replace(config.agents[0], **changes)


@pytest.mark.integration
def test_a_redirect_is_not_followed_by_default_and_is_reason_redirect() -> None:
    with RedirectingAgent(lambda agent: agent.url + "real/probe") as agent:
        with pytest.raises(AgentRequestError) as raised:
            AgentClient(secret_config(agent.url), LIMIT).probe()

    assert raised.value.reason == "redirect"
    assert agent.requests == ["/probe"]


@pytest.mark.integration
def test_same_origin_redirects_are_followed_with_the_credentials() -> None:
    with RedirectingAgent(lambda agent: "/real/probe") as agent:
        answer = AgentClient(secret_config(agent.url, redirects="same_origin"), LIMIT).probe()

    assert answer.body == b"<MTConnectDevices/>"
    assert agent.requests == ["/probe", "/real/probe"]


@pytest.mark.integration
@pytest.mark.parametrize("redirects", ["none", "same_origin"])
def test_secrets_never_reach_another_origin(redirects: str) -> None:
    with RecordingServer() as other, RedirectingAgent(lambda agent: other.url + "probe") as agent:
        with pytest.raises(AgentRequestError) as raised:
            AgentClient(secret_config(agent.url, redirects=redirects), LIMIT).probe()

    assert raised.value.reason == "redirect"
    assert other.headers == []  # not even a request: the other server never hears of us


def test_the_redirects_option_is_checked_in_the_config() -> None:
    from factorydash.config import ConfigError

    with pytest.raises(ConfigError) as raised:
        parse_config("agents:\n  - name: mill\n    url: http://agent.test/\n    redirects: always\n", env={})

    assert "redirects" in str(raised.value) and "none, same_origin" in str(raised.value)
    assert parse_config("agents:\n  - name: mill\n    url: http://a.test/\n    redirects: same_origin\n").agents[0].redirects == "same_origin"
