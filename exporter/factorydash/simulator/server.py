"""The HTTP face of the agent: probe, current, sample (polling and interval= streaming), assets.

Two admin endpoints under `/-/`, answered to loopback clients only (403 to anyone else, also when
the simulator listens on 0.0.0.0), let out-of-process tests drive and check it:
`POST /-/restart` restarts the agent (new instanceId, empty buffer) and answers the new instanceId;
`GET /-/produced` answers a JSON object instanceId -> sequences that instance produced.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

from .agent import AgentError, Response, schema_at_least
from .clock import ManualClock
from .floor import Floor

log = logging.getLogger(__name__)
DEFAULT_COUNT = 100
DEFAULT_HEARTBEAT_MS = 10_000
MIN_INTERVAL_MS = 10
_REQUESTS = ("probe", "current", "sample", "assets")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log.debug("simulator %s - %s", self.address_string(), format % args)

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        if urlsplit(self.path).path != "/-/restart":
            self._send(Response(404, b"only POST /-/restart\n", "text/plain"))
        elif self._admin_allowed():
            floor = self.server.floor
            floor.restart()
            log.info("simulator: agent restarted on request, instanceId %d", floor.agent.instance_id)
            self._send(Response(200, f"{floor.agent.instance_id}\n".encode(), "text/plain"))

    def _admin_allowed(self) -> bool:
        if ipaddress.ip_address(self.client_address[0].removeprefix("::ffff:")).is_loopback:
            return True
        self._send(Response(403, b"admin endpoints answer loopback clients only\n", "text/plain"))
        return False

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        floor = self.server.floor
        url = urlsplit(self.path)
        if url.path == "/-/produced":
            if self._admin_allowed():
                floor.sync()
                body = json.dumps({str(k): v for k, v in floor.agent.produced.items()}).encode()
                self._send(Response(200, body, "application/json"))
            return
        parts = [unquote(p) for p in url.path.split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if not parts:
            parts = ["probe"]
        request, device = parts[-1], (parts[0] if len(parts) == 2 else None)
        if len(parts) > 2 or request not in _REQUESTS and not (parts[0] in ("asset", "assets")):
            self._send(floor.agent.error("INVALID_URI", f"Cannot find handler for: GET {url.path}"))
            return
        if parts[0] in ("asset", "assets"):
            self._send(Response(200, floor.agent.assets()))
            return
        floor.sync()
        try:
            if request == "probe":
                self._send(Response(200, floor.agent.probe(device)))
                return
            selection = floor.agent.select(device, query.get("path"))
            if request == "current":
                self._send(Response(200, floor.agent.current(selection, _int(query, "at"))))
                return
            from_ = _int(query, "from")
            count = _int(query, "count") or DEFAULT_COUNT
            interval = _int(query, "interval")
            if interval is None:
                body, _, _ = floor.agent.sample(selection, from_, count)
                self._send(Response(200, body))
                return
            heartbeat = _int(query, "heartbeat") or DEFAULT_HEARTBEAT_MS
            floor.agent.sample(selection, from_, count)  # validates before the stream starts
        except AgentError as e:
            self._send(floor.agent.error(e.code, e.message))
            return
        self._stream(selection, from_, count, max(interval, MIN_INTERVAL_MS) / 1000, heartbeat / 1000)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-cache, no-store, max-age=0")
        self.end_headers()
        self.wfile.write(response.body)

    def _stream(self, selection: frozenset[str] | None, cursor: int | None, count: int, interval: float, heartbeat: float) -> None:
        """One full Streams document per part until the client leaves or the server stops."""
        floor, stop = self.server.floor, self.server.stopping
        boundary = uuid.uuid4().hex
        chunked = schema_at_least(floor.agent.schema_version, 1, 7)
        kind = "multipart/mixed" if chunked else "multipart/x-mixed-replace"
        self.send_response(200)
        self.send_header("Content-Type", f"{kind};boundary={boundary}")
        self.send_header("Cache-Control", "no-cache, no-store, max-age=0")
        self.send_header("Connection", "close")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True

        def write(body: bytes) -> None:
            part = f"--{boundary}\r\nContent-type: text/xml\r\nContent-length: {len(body)}\r\n\r\n".encode() + body + b"\r\n"
            if chunked:
                part = f"{len(part):x}\r\n".encode() + part + b"\r\n"
            self.wfile.write(part)
            self.wfile.flush()

        last_sent = 0.0
        try:
            while not stop.is_set():
                floor.sync()
                try:
                    body, next_seq, found = floor.agent.sample(selection, cursor, count)
                except AgentError as e:
                    write(floor.agent.error(e.code, e.message).body)
                    break
                now = time.monotonic()
                if found or now - last_sent >= heartbeat:
                    write(body)
                    last_sent = now
                    cursor = next_seq
                stop.wait(interval)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            log.debug("simulator: stream client went away")


def _int(query: dict[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        return int(query[name])
    except ValueError:
        raise AgentError(
            "INVALID_PARAMETER_VALUE", f"for query parameter '{name}': cannot convert string '{query[name]}' to integer"
        ) from None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], floor: Floor) -> None:
        self.floor = floor
        self.stopping = threading.Event()
        super().__init__(address, _Handler)


class SimulatorServer:
    """Serve a ShopFloor/ReplayFloor on host:port (0 = a free port); start()/stop() or `with`."""

    def __init__(self, floor: Floor, host: str = "127.0.0.1", port: int = 0, tick_seconds: float = 0.1) -> None:
        self.floor = floor
        self._server = _Server((host, port), floor)
        self._threads: list[threading.Thread] = []
        self._tick_seconds = tick_seconds

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> SimulatorServer:
        serve = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="simulator-http", daemon=True)
        self._threads.append(serve)
        if not isinstance(self.floor.clock, ManualClock):
            # Keeps the agent filling its buffer in real time, as a real one does, between requests.
            self._threads.append(threading.Thread(target=self._tick, name="simulator-ticker", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def _tick(self) -> None:
        while not self._server.stopping.wait(self._tick_seconds):
            self.floor.sync()

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
