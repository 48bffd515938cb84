"""The exporter's HTTP interface as a WSGI application (testable without sockets) and its server.

- `/metrics`: every agent plus the exporter's own process metrics.
- `/probe?target=<agent name>`: one configured agent only, fresh registry per request.
- `/-/healthy`, `/-/reload` (POST), `/config` (secrets redacted), `/` landing page.

With a `--web.config.file`, every endpoint asks for basic auth, every
response carries its headers and the server speaks TLS only (see
webconfig.py); the file is re-checked at each new connection (weblive.py). A scrape never waits on an agent
(followers fill the state in their own threads), so a scrape always answers
well within Prometheus' X-Prometheus-Scrape-Timeout-Seconds.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from .collector import FactorydashCollector, ReloadHealthCollector
from .exporter import Exporter
from .exposition import render_metrics
from .landing import DEFAULT_REFRESH_SECONDS, render_landing_page, utc_text
from .webconfig import REALM
from .weblive import NO_WEB_SECURITY, WebConfigSource

log = logging.getLogger(__name__)

StartResponse = Callable[..., object]
Reloader = Callable[[], None]


class ExporterApp:
    """WSGI application. `reload` re-reads the configuration (raises on an invalid one).

    With basic auth users in `web`, every endpoint (the health check too) needs valid credentials;
    its headers go on every response.
    """

    def __init__(
        self, exporter: Exporter, reload: Reloader | None = None, web: WebConfigSource = NO_WEB_SECURITY
    ) -> None:
        self.exporter = exporter
        self.reload = reload
        self.web = web
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = FactorydashCollector(exporter.states, exporter.plan_for)
        self.registry.register(self.collector)
        self.registry.register(ReloadHealthCollector(lambda: exporter.reload_health))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        web = self.web.current()
        if web.headers:
            start_response = _with_headers(start_response, web.headers)
        if web.auth is not None and not web.auth.check(environ.get("HTTP_AUTHORIZATION")):
            return _respond(
                start_response, "401 Unauthorized", "text/plain; charset=utf-8", b"Unauthorized\n",
                [("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')],
            )
        try:
            if path == "/metrics":
                return self._metrics(environ, start_response, self.registry)
            if path == "/probe":
                return self._probe(environ, start_response)
            if path in ("/-/healthy", "/health"):
                return _text(start_response, "200 OK", self._health())
            if path == "/-/reload":
                return self._reload(method, start_response)
            if path == "/config":
                body = json.dumps(self.exporter.config.redacted(), indent=2, default=str) + "\n"
                return _respond(start_response, "200 OK", "application/json", body.encode())
            if path == "/":
                page = render_landing_page(self.exporter.states(), _refresh_seconds(environ))
                return _respond(start_response, "200 OK", "text/html; charset=utf-8", page)
            return _text(start_response, "404 Not Found", "Not found\n")
        except Exception:  # never let a bug take the server down
            log.exception("error serving %s", path)
            return _text(start_response, "500 Internal Server Error", "Internal error, see the exporter log\n")

    def _health(self) -> str:
        """Always 200: this is the exporter's health (a restart would not bring an agent back). The body says
        which agents are down and why, for the person who opens it; alert on mtconnect_agent_up instead."""
        states = self.exporter.states()
        down = []
        for state in states:
            with state.lock:
                if not state.up and state.down_since is not None:
                    down.append(f"{state.name}: {state.last_error} (down since {utc_text(state.down_since)})")
        if not down:
            return "Healthy\n"
        return f"Healthy (the exporter); {len(down)} of {len(states)} agents down:\n" + "".join(f"{line}\n" for line in down)

    def _metrics(self, environ: dict, start_response: StartResponse, registry: CollectorRegistry) -> Iterable[bytes]:
        body = render_metrics(registry)
        headers = [("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [body]

    def _probe(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        targets = query.get("target", [])
        if len(targets) != 1 or not targets[0]:
            return _text(start_response, "400 Bad Request", "exactly one 'target' parameter is required\n")
        followed = self.exporter.agents.get(targets[0])
        if followed is None:
            # Only configured agents: the exporter never fetches a URL a scraper hands it.
            return _text(start_response, "400 Bad Request", "unknown target: not a configured agent name\n")
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector.for_agents(lambda: [followed.state]))
        return self._metrics(environ, start_response, registry)

    def _reload(self, method: str, start_response: StartResponse) -> Iterable[bytes]:
        if method != "POST":
            return _respond(start_response, "405 Method Not Allowed", "text/plain", b"use POST\n", [("Allow", "POST")])
        if self.reload is None:
            return _text(start_response, "400 Bad Request", "no configuration file to reload\n")
        try:
            self.reload()
        except Exception as error:  # an invalid new config keeps the old one
            return _text(start_response, "500 Internal Server Error", f"reload failed, old config kept:\n{error}\n")
        return _text(start_response, "200 OK", "Reloaded\n")


def _with_headers(start_response: StartResponse, headers: tuple[tuple[str, str], ...]) -> StartResponse:
    def start(status: str, response_headers: list, *args: object) -> object:
        return start_response(status, [*response_headers, *headers], *args)

    return start


def _refresh_seconds(environ: dict) -> int:
    """`/?refresh=N`: how often the landing page reloads itself (1 to 3600 s)."""
    values = parse_qs(environ.get("QUERY_STRING", "")).get("refresh", [])
    if values and values[0].isdigit():
        return min(max(int(values[0]), 1), 3600)
    return DEFAULT_REFRESH_SECONDS


def _respond(
    start_response: StartResponse, status: str, content_type: str, body: bytes, extra: list | None = None
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *(extra or [])])
    return [body]


def _text(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    return _respond(start_response, status, "text/plain; charset=utf-8", text.encode())


CLIENT_TIMEOUT_SECONDS = 30.0  # a client that stalls (handshake or response) holds one thread this long at most
REQUEST_DEADLINE_SECONDS = 10.0  # the whole request (line, headers, body), however slowly it trickles in
POLL_SECONDS = 0.1  # how soon serve_forever notices shutdown()
LISTEN_BACKLOG = 1024  # connections the kernel queues while every thread is busy (socketserver's default is 5)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG
    web: WebConfigSource = NO_WEB_SECURITY

    def finish_request(self, request: socket.socket, client_address: object) -> None:
        # The TLS handshake runs here, in the request's own thread: a client that never completes
        # it stalls only itself, never the accept loop. Each connection gets the web config as it is
        # now, so a renewed certificate is served from the next connection on.
        web = self.web.current()
        if web.tls is not None and web.config.tls is not None:
            request.settimeout(CLIENT_TIMEOUT_SECONDS)
            try:
                request = web.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as error:
                log.debug("TLS handshake with %s failed: %s", client_address, error)
                return
            if not web.config.tls.allows_peer(request.getpeercert()):
                log.debug("client certificate of %s has none of client_allowed_sans", client_address)
                request.close()
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _IPv6WSGIServer(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _DeadlineSocketReader(io.RawIOBase):
    """The request bytes with one deadline for the whole request: a client trickling a byte at a time
    (slowloris) is cut off at the deadline instead of holding its thread for as long as it likes."""

    def __init__(self, connection: socket.socket, deadline: float) -> None:
        self._connection = connection
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request deadline passed")
        self._connection.settimeout(remaining)  # every wait for bytes ends by the deadline
        try:
            return self._connection.recv_into(buffer)
        finally:
            self._connection.settimeout(CLIENT_TIMEOUT_SECONDS)  # the response gets its own time to be sent


class _QuietHandler(WSGIRequestHandler):
    timeout = CLIENT_TIMEOUT_SECONDS
    request_deadline = REQUEST_DEADLINE_SECONDS

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # replaced by a reader with a deadline (closing it leaves the socket open)
        self.rfile = io.BufferedReader(_DeadlineSocketReader(self.connection, time.monotonic() + self.request_deadline))

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class WebServer:
    """Serves a WSGI app on host:port in a background thread; HTTPS when the web config has TLS."""

    def __init__(self, app: Callable, host: str, port: int, web: WebConfigSource = NO_WEB_SECURITY) -> None:
        server_class = _IPv6WSGIServer if ":" in host else _ThreadingWSGIServer
        self.server = make_server(host, port, app, server_class=server_class, handler_class=_QuietHandler)
        self.server.web = web
        self.host, self.port = self.server.server_address[:2]
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(POLL_SECONDS,), name="web", daemon=True
        )

    @property
    def url(self) -> str:
        scheme = "https" if self.server.web.current().tls is not None else "http"
        host = f"[{self.host}]" if ":" in str(self.host) else self.host
        return f"{scheme}://{host}:{self.port}/"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse_listen_address(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` (all interfaces) or `[::1]:PORT`; the error says what is wrong with the text."""
    expected = "expected HOST:PORT such as 127.0.0.1:9700, :9700 or [::1]:9700"
    scheme, separator, rest = text.partition("://")
    if separator:
        return _refuse(text, f"a listen address has no scheme: use {rest.rstrip('/')!r} (TLS comes from --web.config.file)")
    host, colon, port = text.rpartition(":")
    if not colon:
        return _refuse(text, f"no port: {expected}")
    if not port.isdigit():
        return _refuse(text, f"the port {port!r} is not a number: {expected}")
    if not 0 <= int(port) <= 65535:
        return _refuse(text, f"the port {port} is out of range (0 to 65535)")
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        return _refuse(text, f"an IPv6 host goes in brackets: [{host}]:{port}")
    if "/" in host:
        return _refuse(text, f"a host has no path: {expected}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _refuse(text: str, why: str) -> tuple[str, int]:
    raise ValueError(f"invalid --web.listen-address {text!r}: {why}")
