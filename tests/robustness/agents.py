"""A misbehaving MTConnect agent for fault tests: a threaded http.server on 127.0.0.1.

By default it forwards every request to an upstream agent (the simulator),
so the exporter sees real sequences; a scripted `Reply` per request name
(probe, current, sample) replaces the answer with a fault: a status, a
body, a delay, a hang or a close in the middle of the body, an endless body.
"""

from __future__ import annotations

import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from factorydash.client import AgentClient
from factorydash.config import AgentConfig, config_from_agent_flags
from factorydash.follower import AgentFollower, Phase
from factorydash.limits import SeriesBudget
from factorydash.state import AgentState, StateSettings

MAX_HANG_SECONDS = 5.0  # a hanging reply ends on its own even if a test forgets to stop the server


@dataclass(frozen=True)
class Reply:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/xml"
    delay: float = 0.0  # seconds before the status line
    cut_after: int | None = None  # send only this many bytes of the whole response...
    hang: bool = False  # ...then hang (True) or close the connection (False)
    trickle: float = 0.0  # seconds between single bytes of the body
    endless: bool = False  # repeat `body` until the client goes away
    length: bool = True  # send Content-Length


REFUSE = Reply(cut_after=0)  # close the connection before answering


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        agent = self.server.agent
        request = urlsplit(self.path).path.rstrip("/").rpartition("/")[2] or "probe"
        agent.requests.append(self.path)
        agent.headers.append(dict(self.headers))
        reply = agent.reply_for(request)
        if reply is None:
            reply = agent.forward(self.path)
        self._answer(reply)

    def _answer(self, reply: Reply) -> None:
        stop = self.server.agent.stopping
        if reply.delay and stop.wait(reply.delay):
            return
        head = [f"HTTP/1.1 {reply.status} Status", f"Content-Type: {reply.content_type}"]
        if reply.length and not reply.endless:
            head.append(f"Content-Length: {len(reply.body)}")
        head.append("Connection: close")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + reply.body
        self.close_connection = True
        try:
            if reply.cut_after is not None:
                self.wfile.write(raw[: reply.cut_after])
                self.wfile.flush()
                if reply.hang:
                    stop.wait(MAX_HANG_SECONDS)
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if reply.trickle:
                self.wfile.write(raw[: len(raw) - len(reply.body)])
                for index in range(len(reply.body)):
                    self.wfile.write(reply.body[index : index + 1])
                    self.wfile.flush()
                    if stop.wait(reply.trickle):
                        return
                return
            self.wfile.write(raw)
            deadline = time.monotonic() + MAX_HANG_SECONDS
            while reply.endless and not stop.is_set() and time.monotonic() < deadline:
                self.wfile.write(reply.body)
        except OSError:
            pass  # the client went away: that is what some tests want


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], agent: FaultyAgent) -> None:
        self.agent = agent
        super().__init__(address, _Handler)


class FaultyAgent:
    """`with FaultyAgent(upstream) as agent:`; `agent.script("sample", Reply(...))` injects a fault."""

    def __init__(self, upstream: str | None = None, port: int = 0) -> None:
        self.upstream = upstream
        self.requests: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.stopping = threading.Event()
        self._replies: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), self)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def script(self, request: str, *replies: Reply) -> None:
        """Answer `request` (probe/current/sample, or * for all) with these replies in turn; the last one sticks."""
        with self._lock:
            self._replies[request] = list(replies)

    def heal(self) -> None:
        with self._lock:
            self._replies.clear()

    def reply_for(self, request: str) -> Reply | None:
        with self._lock:
            replies = self._replies.get(request) or self._replies.get("*")
            if not replies:
                return None
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def forward(self, path: str) -> Reply:
        if self.upstream is None:
            return Reply(b"no upstream", 503, "text/plain")
        try:
            with urllib.request.urlopen(self.upstream.rstrip("/") + path, timeout=5) as response:
                return Reply(response.read(), response.status, response.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as error:
            return Reply(error.read(), error.code, error.headers.get("Content-Type", ""))

    def start(self) -> FaultyAgent:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultyAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def agent_config(url: str, name: str = "line1", **overrides: object) -> AgentConfig:
    config = config_from_agent_flags([f"{name}={url}"]).agents[0]
    return replace(config, **{"timeout": 0.3, "poll_interval": 0.01, "heartbeat": 0.2, **overrides})


def follower_for(
    url: str, name: str = "line1", max_document_bytes: int = 1 << 20, budget: int = 100_000, **overrides: object
) -> AgentFollower:
    """A follower driven synchronously with step(): deterministic, no threads."""
    config = agent_config(url, name, **overrides)
    state = AgentState(name, config.url, StateSettings(), SeriesBudget(budget))
    client = AgentClient(config, max_document_bytes)
    return AgentFollower(config, state, client, max_document_bytes, rng=random.Random(0))


def step_until(follower: AgentFollower, phase: Phase, limit: int = 20) -> None:
    for _ in range(limit):
        if follower.phase is phase and follower.failures == 0 and follower.state.up:
            return
        follower.step()
    raise AssertionError(f"follower did not reach {phase} (at {follower.phase}, last error {follower.state.last_error!r})")


def catch_up(follower: AgentFollower, limit: int = 1000) -> int:
    """Sample until the agent has nothing more buffered; returns the number of requests."""
    for count in range(1, limit + 1):
        delay = follower.step()
        if follower.phase is Phase.SAMPLE and delay > 0 and follower.failures == 0:
            return count
    raise AssertionError("follower did not catch up")


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def iter_lines(text: str, prefix: str) -> Iterator[str]:
    return (line for line in text.splitlines() if line.startswith(prefix))
