"""Test-side helpers: HTTP GET, document parsing, a multipart reader."""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree


START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # a Monday, 06:00 UTC: a shift starts
SAMPLES = Path(os.environ.get("FACTORYDASH_SAMPLES") or Path(__file__).resolve().parents[2] / ".." / "shared" / "samples")


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes

    @property
    def root(self) -> etree._Element:
        return etree.fromstring(self.body)


def get(url: str) -> Reply:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return Reply(r.status, r.headers["Content-Type"], r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers["Content-Type"], e.read())


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


def header(root: etree._Element) -> dict[str, str]:
    return dict(root.find("{*}Header").attrib)


def error_code(root: etree._Element) -> str:
    assert local(root) == "MTConnectError"
    return root.find("{*}Errors/{*}Error").get("errorCode")


def observations(root: etree._Element) -> list[etree._Element]:
    """Every observation element of a Streams document, in sequence order."""
    found = [el for el in root.iterfind(".//{*}ComponentStream/*/*") if el.get("sequence")]
    return sorted(found, key=lambda el: int(el.get("sequence")))


class MultipartReader:
    """Reads an agent's interval= response part by part (multipart/mixed chunked or x-mixed-replace raw)."""

    def __init__(self, url: str, timeout: float = 10) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.connection.request("GET", f"{parts.path}?{parts.query}")
        self.response = self.connection.getresponse()
        self.content_type = self.response.headers["Content-Type"]
        self.transfer_encoding = self.response.headers.get("Transfer-Encoding")
        self.boundary = self.content_type.split("boundary=")[1].encode()

    def next_part(self) -> tuple[dict[str, str], bytes]:
        line = b"\r\n"
        while line.strip() == b"":
            line = self.response.readline()
            if not line:
                raise EOFError("the stream ended")
        assert line.strip() == b"--" + self.boundary, line
        headers = {}
        while (line := self.response.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self.response.read(int(headers["content-length"]))
        return headers, body

    def close(self) -> None:
        self.connection.close()
