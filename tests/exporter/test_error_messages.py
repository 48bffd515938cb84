"""What a person reads when an agent cannot be reached: a short reason ("connection refused") and since
when, on the landing page, in the log and in /-/healthy; never urllib3's retry wrapper text. The metric
reason label stays the fixed machine word."""

from __future__ import annotations

import logging
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from factorydash.client import AgentClient, AgentRequestError
from factorydash.config import parse_config
from factorydash.exporter import Exporter
from factorydash.web import ExporterApp
from tests.exporter.test_client import LIMIT, agent_config, closed_port
from tests.exporter.test_web import call

pytestmark = pytest.mark.integration  # every test here starts a server or a process

RAW_LIBRARY_TEXT = re.compile(r"HTTPConnectionPool|HTTPSConnectionPool|Max retries|NewConnectionError|object at 0x")


def failing_exporter(*urls: str) -> Exporter:
    agents = "".join(f'  - {{name: line{index}, url: "{url}", timeout: 2s}}\n' for index, url in enumerate(urls, 1))
    return Exporter(parse_config(f"agents:\n{agents}"))


def test_a_refused_agent_reads_connection_refused_with_since_when_everywhere(caplog) -> None:
    exporter = failing_exporter(f"http://127.0.0.1:{closed_port()}/")
    app = ExporterApp(exporter)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    with caplog.at_level(logging.WARNING, logger="factorydash"):
        exporter.agents["line1"].follower.step()
        exporter.agents["line1"].follower.step()  # a second failure: still down since the first
    state = exporter.agents["line1"].state
    assert state.last_error == "probe: connection refused"
    assert [record.getMessage() for record in caplog.records] == ["agent=line1 probe: connection refused"]

    page = call(app, "/")[2].decode()
    row = re.search(r'<tr data-agent="line1">.*?</tr>', page).group(0)
    assert "probe: connection refused" in row and not RAW_LIBRARY_TEXT.search(page)
    since = datetime.strptime(re.search(r"down</span> since ([^<]+) UTC", row).group(1), "%Y-%m-%d %H:%M:%S")
    assert before <= since.replace(tzinfo=timezone.utc) <= datetime.now(timezone.utc)

    metrics = call(app, "/metrics")[2].decode()
    assert 'mtconnect_agent_request_errors_total{agent="line1",reason="connection"} 2.0' in metrics


def test_healthy_stays_200_and_says_which_agents_are_down_and_why() -> None:
    exporter = failing_exporter(f"http://127.0.0.1:{closed_port()}/", "http://127.0.0.1:9/")
    app = ExporterApp(exporter)
    assert call(app, "/-/healthy")[2] == b"Healthy\n"  # nothing tried yet: nothing is down
    exporter.agents["line1"].follower.step()
    status, _, body = call(app, "/-/healthy")
    lines = body.decode().splitlines()
    assert status == "200 OK"
    assert lines[0] == "Healthy (the exporter); 1 of 2 agents down:"
    assert re.fullmatch(r"line1: probe: connection refused \(down since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)", lines[1])
    assert len(lines) == 2


def test_an_unknown_host_reads_host_name_not_found() -> None:
    client = AgentClient(agent_config("http://agent.invalid:5000/"), LIMIT)  # .invalid never resolves (RFC 6761)
    with pytest.raises(AgentRequestError) as raised:
        client.probe()
    assert (raised.value.reason, str(raised.value)) == ("connection", "probe: host name not found")


@pytest.fixture
def self_signed_agent(tmp_path) -> Iterator[int]:
    """A TLS server with a self-signed certificate that the client does not trust."""
    from tests.robustness.test_security import make_certificate

    cert, key = make_certificate(tmp_path, "agent")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            try:
                context.wrap_socket(connection, server_side=True)
            except (ssl.SSLError, OSError):
                pass  # the client refuses our certificate: exactly what is tested

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()
    thread.join(5)


def test_an_untrusted_certificate_reads_certificate_verify_failed_with_the_reason(self_signed_agent: int) -> None:
    client = AgentClient(agent_config(f"https://127.0.0.1:{self_signed_agent}/"), LIMIT)
    with pytest.raises(AgentRequestError) as raised:
        client.probe()
    assert raised.value.reason == "tls"
    assert str(raised.value) == "probe: TLS error: certificate verify failed (self-signed certificate)"
