"""HTTP client for MTConnect agents: URLs, auth, TLS, deadlines, body limits, redirects, multipart streams.

It returns bytes and knows nothing about XML. Every failure is an
`AgentRequestError` with a short `reason` used as a metric label, one of a
fixed few: connection, timeout, tls, http, redirect, document_too_large,
stream_closed.

Bodies are read with `read1`: whatever the socket has, at most `_READ`
bytes, so a small stream part is handed over the moment it is complete
rather than when 64 KiB have gathered. Every answer has a deadline for the
whole response, not only for each wait for bytes: an agent trickling a byte
a second is cut at the deadline. A stream's deadline moves on with each
complete part (a heartbeat is a part): a stream that sends no complete part
for three heartbeats is dead.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import re
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

import requests
import urllib3

from . import __version__
from .config import AgentConfig

USER_AGENT = f"factorydash/{__version__}"
_READ = 64 * 1024  # the most one read hands over; it returns sooner with what has arrived
_BOUNDARY = re.compile(r'boundary="?([^";,]+)"?', re.IGNORECASE)
_CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)
_MAX_REDIRECTS = 5
_HEARTBEATS_OF_SILENCE = 3


class AgentRequestError(Exception):
    """A request that produced no usable body: `reason` is a metric label value."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AgentResponse:
    status: int
    content_type: str
    body: bytes
    seconds: float


class Deadline:
    """A point in monotonic time that a read must not pass; a stream moves it on with each part."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def renew(self) -> None:
        self.at = time.monotonic() + self.seconds

    @property
    def passed(self) -> bool:
        return time.monotonic() > self.at


class AgentClient:
    """Talks to one agent. Not thread-safe: one client per follower thread."""

    def __init__(self, config: AgentConfig, max_document_bytes: int) -> None:
        self.config = config
        self.max_document_bytes = max_document_bytes
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/xml, text/xml"
        for name, secret in config.headers:
            self.session.headers[name] = secret.reveal()
        if config.basic_auth is not None:
            self.session.auth = (config.basic_auth.username, config.basic_auth.password.reveal())
        self.session.verify = config.ca_file if (config.tls_verify and config.ca_file) else config.tls_verify
        self.session.trust_env = False  # a shop-floor proxy must be configured, not inherited by accident
        self._origin = _origin(config.url)
        self._response: requests.Response | None = None  # the answer being read, for close() to abort

    def url(self, request: str, params: dict[str, int | str] | None = None) -> str:
        url = urljoin(self.config.url, request)
        return f"{url}?{urlencode(params)}" if params else url

    def probe(self) -> AgentResponse:
        return self.get("probe")

    def current(self, at: int | None = None) -> AgentResponse:
        return self.get("current", None if at is None else {"at": at})

    def sample(self, start: int, count: int) -> AgentResponse:
        return self.get("sample", {"from": start, "count": count})

    def get(self, request: str, params: dict[str, int | str] | None = None) -> AgentResponse:
        started = time.perf_counter()
        deadline = Deadline(self.config.timeout)
        timed_out = f"timed out after {self.config.timeout:g}s"
        try:
            with self._open(request, self.url(request, params), self.config.timeout, deadline) as response:
                body = _read_limited(_reads(response, deadline, request, timed_out), self.max_document_bytes)
                return AgentResponse(
                    response.status_code,
                    response.headers.get("Content-Type", ""),
                    body,
                    time.perf_counter() - started,
                )
        except requests.exceptions.RequestException as error:
            raise _request_error(request, error, timed_out) from error

    def stream(self, start: int, count: int, interval_ms: int, heartbeat_ms: int) -> Iterator[bytes]:
        """`sample?interval=`: yields each part's body of the multipart response as soon as it is complete.

        The deadline is a few heartbeats and moves on with every part: a silent stream is a dead one,
        and so is one that trickles bytes without ever completing a part.
        """
        params = {"from": start, "count": count, "interval": interval_ms, "heartbeat": heartbeat_ms}
        liveness = max(self.config.timeout, _HEARTBEATS_OF_SILENCE * heartbeat_ms / 1000)
        deadline = Deadline(liveness)
        timed_out = f"no complete part for {liveness:g}s"
        try:
            with self._open("stream", self.url("sample", params), liveness, deadline) as response:
                reads = _reads(response, deadline, "stream", timed_out)
                content_type = response.headers.get("Content-Type", "")
                match = _BOUNDARY.search(content_type)
                if not content_type.lower().startswith("multipart/") or match is None:
                    # An agent may answer a stream request with a plain document (an error, say).
                    yield _read_limited(reads, self.max_document_bytes)
                    return
                for part in iter_multipart(reads, match.group(1).encode(), self.max_document_bytes):
                    deadline.renew()
                    yield part
        except requests.exceptions.RequestException as error:
            raise _request_error("stream", error, timed_out) from error

    def _open(self, request: str, url: str, read_timeout: float, deadline: Deadline) -> requests.Response:
        """GET with the headers of the connection, following redirects only as the agent's policy allows."""
        for _ in range(_MAX_REDIRECTS + 1):
            response = self.session.get(
                url, timeout=(self.config.timeout, read_timeout), stream=True, allow_redirects=False
            )
            if not response.is_redirect:
                self._response = response
                return response
            response.close()
            target = urljoin(url, response.headers.get("Location", ""))
            if self.config.redirects != "same_origin":
                raise AgentRequestError(
                    "redirect", f"{request}: HTTP {response.status_code} redirect not followed (redirects: none)"
                )
            if _origin(target) != self._origin:
                # Basic auth and configured headers must never reach another server.
                raise AgentRequestError(
                    "redirect", f"{request}: redirect to another origin refused: {_short_url(target)}"
                )
            if deadline.passed:
                raise AgentRequestError("timeout", f"{request}: no answer within {deadline.seconds:g}s")
            url = target
        raise AgentRequestError("redirect", f"{request}: more than {_MAX_REDIRECTS} redirects")

    def close(self) -> None:
        """Close the connections, and abort an answer another thread is reading: a retired follower blocked
        in a trickling agent's body must not live on until its deadline."""
        response = self._response
        sock = _socket_of(response) if response is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked read, unlike close()
        self.session.close()


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The socket an answer is read from. http.client drops the connection's reference once a
    `Connection: close` answer has begun, so look through the body's reader too (private attributes,
    hence every step guarded: at worst the answer ends at its deadline instead)."""
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is None:
        reader = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(reader, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


def _short_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"[:200]


def _reads(response: requests.Response, deadline: Deadline, request: str, timed_out: str) -> Iterator[bytes]:
    """The body as it arrives, in pieces of at most _READ bytes, until the end or the deadline."""
    raw = response.raw
    sock = _socket_of(response)
    try:
        while True:
            remaining = deadline.at - time.monotonic()
            if remaining <= 0:
                raise AgentRequestError("timeout", f"{request}: {timed_out}")
            if sock is not None:
                with contextlib.suppress(OSError):  # closed once the body is complete: the read says so
                    sock.settimeout(remaining)  # no wait for bytes may outlast the deadline
            piece = raw.read1(_READ, decode_content=True)
            if not piece:
                return
            yield piece
    except urllib3.exceptions.ReadTimeoutError:
        raise AgentRequestError("timeout", f"{request}: {timed_out}") from None
    except urllib3.exceptions.SSLError as error:
        raise AgentRequestError("tls", f"{request}: TLS error: {_tls_problem(error)}") from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise AgentRequestError("connection", f"{request}: {_connection_problem(error)}") from None


def _request_error(request: str, error: requests.exceptions.RequestException, timed_out: str) -> AgentRequestError:
    """A requests failure as an AgentRequestError with its metric reason and a message a person reads
    (the landing page and the log show it): "connection refused", never urllib3's retry wrapper text."""
    if isinstance(error, requests.exceptions.Timeout) or _read_timed_out(error):
        return AgentRequestError("timeout", f"{request}: {timed_out}")
    if isinstance(error, requests.exceptions.SSLError):
        return AgentRequestError("tls", f"{request}: TLS error: {_tls_problem(error)}")
    if isinstance(error, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return AgentRequestError("connection", f"{request}: {_connection_problem(error)}")
    return AgentRequestError("http", f"{request}: {_short(error)}")


# The usual ways a connection fails, by errno, as a person says them.
_SOCKET_PROBLEMS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by the agent",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed by the agent",
    errno.ETIMEDOUT: "connection timed out",
}


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and everything it wraps: urllib3 hides the socket's error in `.reason`, in `args` and in
    `__cause__`/`__context__`, depending on where it failed."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        pending.extend(item for item in wrapped if isinstance(item, BaseException))


def _connection_problem(error: BaseException) -> str:
    for cause in _causes(error):
        if isinstance(cause, OSError) and cause.errno in _SOCKET_PROBLEMS:
            return _SOCKET_PROBLEMS[cause.errno]
        if isinstance(cause, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
            return "host name not found"
        if isinstance(cause, (http.client.RemoteDisconnected, urllib3.exceptions.IncompleteRead)):
            return "connection closed by the agent before the answer was complete"
    return _short(error)


def _tls_problem(error: BaseException) -> str:
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate verify failed ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError) and cause.reason:
            return cause.reason.replace("_", " ").lower()
    return _short(error)


def _read_timed_out(error: Exception) -> bool:
    """requests reports a read timeout in the middle of a body as a ConnectionError around urllib3's ReadTimeoutError."""
    return any(isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in error.args)


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 300 else text[:297] + "..."


def _read_limited(chunks: Iterable[bytes], limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise AgentRequestError("document_too_large", f"response larger than {limit} bytes refused")
        parts.append(chunk)
    return b"".join(parts)


def iter_multipart(chunks: Iterable[bytes], boundary: bytes, limit: int) -> Iterator[bytes]:
    """Split a multipart/mixed or multipart/x-mixed-replace body into part bodies.

    Uses each part's Content-length when present (cppagent sends it), else
    the next boundary. Raises AgentRequestError("stream_closed") if the
    stream ends inside a part. Linear in the bytes read: the buffer is a
    bytearray appended to, and every search resumes where the previous one
    stopped instead of scanning a growing part from its start again.
    """
    delimiter = b"--" + boundary
    buffer = bytearray()
    iterator = iter(chunks)

    def fill() -> bool:
        for chunk in iterator:
            if chunk:
                # fill() runs only while the bytes in hand hold no complete part: measure those, not a read of many.
                if len(buffer) > limit + 4096:
                    raise AgentRequestError("document_too_large", f"stream part larger than {limit} bytes refused")
                buffer.extend(chunk)
                return True
        return False

    def find(needle: bytes, start: int) -> int:
        """Index of `needle` at or after `start`, reading on as needed; -1 if the stream ends first."""
        searched = start
        while True:
            found = buffer.find(needle, searched)
            if found >= 0:
                return found
            searched = max(start, len(buffer) - len(needle) + 1)
            if not fill():
                return -1

    while True:
        start = find(delimiter, 0)
        if start < 0:
            return
        del buffer[: start + len(delimiter)]
        while len(buffer) < 2 and fill():
            pass
        if buffer.startswith(b"--"):
            return  # closing delimiter
        header_end = find(b"\r\n\r\n", 0)
        if header_end < 0:
            if buffer.strip():
                raise AgentRequestError("stream_closed", "stream closed inside a part's headers")
            return
        length_match = _CONTENT_LENGTH.search(buffer, 0, header_end)
        length = int(length_match.group(1)) if length_match else None
        del buffer[: header_end + 4]
        if length is not None:
            if length > limit:
                raise AgentRequestError("document_too_large", f"stream part of {length} bytes refused")
            while len(buffer) < length:
                if not fill():
                    raise AgentRequestError("stream_closed", "stream closed inside a part")
            with memoryview(buffer) as view:
                part = bytes(view[:length])
            del buffer[:length]
            yield part
        else:
            end = find(delimiter, 0)
            if end < 0:
                raise AgentRequestError("stream_closed", "stream closed inside a part")
            stop = end
            while stop > 0 and buffer[stop - 1] in b"\r\n":
                stop -= 1
            with memoryview(buffer) as view:
                part = bytes(view[:stop])
            del buffer[:end]
            yield part
