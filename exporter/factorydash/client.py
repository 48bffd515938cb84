"""HTTP client for MTConnect agents: URLs, auth, TLS, timeouts, body limits, multipart streams.

It returns bytes and knows nothing about XML. Every failure is an
`AgentRequestError` with a short `reason` used as a metric label.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin

import requests
import urllib3

from . import __version__
from .config import AgentConfig

USER_AGENT = f"factorydash/{__version__}"
_CHUNK = 64 * 1024
_BOUNDARY = re.compile(r'boundary="?([^";,]+)"?', re.IGNORECASE)


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

    def url(self, request: str, params: dict[str, int | str] | None = None) -> str:
        url = urljoin(self.config.url, request)
        return f"{url}?{urlencode(params)}" if params else url

    def probe(self) -> AgentResponse:
        return self.get("probe")

    def current(self) -> AgentResponse:
        return self.get("current")

    def sample(self, start: int, count: int) -> AgentResponse:
        return self.get("sample", {"from": start, "count": count})

    def get(self, request: str, params: dict[str, int | str] | None = None) -> AgentResponse:
        started = time.perf_counter()
        try:
            with self.session.get(self.url(request, params), timeout=self.config.timeout, stream=True) as response:
                body = _read_limited(response.iter_content(_CHUNK), self.max_document_bytes)
                return AgentResponse(
                    response.status_code,
                    response.headers.get("Content-Type", ""),
                    body,
                    time.perf_counter() - started,
                )
        except requests.exceptions.RequestException as error:
            raise _request_error(request, error, f"timed out after {self.config.timeout:g}s") from error

    def stream(self, start: int, count: int, interval_ms: int, heartbeat_ms: int) -> Iterator[bytes]:
        """`sample?interval=`: yields each part's body of the multipart response.

        The read timeout is a few heartbeats: a silent stream is a dead one.
        """
        params = {"from": start, "count": count, "interval": interval_ms, "heartbeat": heartbeat_ms}
        read_timeout = max(self.config.timeout, 3 * heartbeat_ms / 1000)
        try:
            with self.session.get(
                self.url("sample", params), timeout=(self.config.timeout, read_timeout), stream=True
            ) as response:
                content_type = response.headers.get("Content-Type", "")
                match = _BOUNDARY.search(content_type)
                if not content_type.lower().startswith("multipart/") or match is None:
                    # An agent may answer a stream request with a plain document (an error, say).
                    yield _read_limited(response.iter_content(_CHUNK), self.max_document_bytes)
                    return
                yield from iter_multipart(
                    response.iter_content(_CHUNK), match.group(1).encode(), self.max_document_bytes
                )
        except requests.exceptions.RequestException as error:
            raise _request_error("stream", error, f"no data for {read_timeout:g}s") from error

    def close(self) -> None:
        self.session.close()


def _request_error(request: str, error: requests.exceptions.RequestException, timed_out: str) -> AgentRequestError:
    """A requests failure as an AgentRequestError with its metric reason."""
    if isinstance(error, requests.exceptions.Timeout) or _read_timed_out(error):
        return AgentRequestError("timeout", f"{request}: {timed_out}")
    if isinstance(error, requests.exceptions.SSLError):
        return AgentRequestError("tls", f"{request}: TLS error: {_short(error)}")
    if isinstance(error, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return AgentRequestError("connection", f"{request}: {_short(error)}")
    return AgentRequestError("http", f"{request}: {_short(error)}")


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
    stream ends inside a part.
    """
    delimiter = b"--" + boundary
    buffer = b""
    iterator = iter(chunks)

    def fill() -> bool:
        nonlocal buffer
        for chunk in iterator:
            if chunk:
                # fill() runs only while the bytes in hand hold no complete part: measure those, not a read of many.
                if len(buffer) > limit + 4096:
                    raise AgentRequestError("document_too_large", f"stream part larger than {limit} bytes refused")
                buffer += chunk
                return True
        return False

    while True:
        start = buffer.find(delimiter)
        while start < 0:
            if not fill():
                return
            start = buffer.find(delimiter)
        buffer = buffer[start + len(delimiter) :]
        while len(buffer) < 2 and fill():
            pass
        if buffer.startswith(b"--"):
            return  # closing delimiter
        header_end = buffer.find(b"\r\n\r\n")
        while header_end < 0:
            if not fill():
                if buffer.strip():
                    raise AgentRequestError("stream_closed", "stream closed inside a part's headers")
                return
            header_end = buffer.find(b"\r\n\r\n")
        headers = buffer[:header_end].decode("latin-1")
        buffer = buffer[header_end + 4 :]
        length_match = re.search(r"content-length:\s*(\d+)", headers, re.IGNORECASE)
        if length_match:
            length = int(length_match.group(1))
            if length > limit:
                raise AgentRequestError("document_too_large", f"stream part of {length} bytes refused")
            while len(buffer) < length:
                if not fill():
                    raise AgentRequestError("stream_closed", "stream closed inside a part")
            yield buffer[:length]
            buffer = buffer[length:]
        else:
            end = buffer.find(delimiter)
            while end < 0:
                if not fill():
                    raise AgentRequestError("stream_closed", "stream closed inside a part")
                end = buffer.find(delimiter)
            yield buffer[:end].rstrip(b"\r\n")
            buffer = buffer[end:]
