"""TLS and basic auth from --web.config.file, secrets that never leak, /probe limited to configured agents,
and a container that runs as a non-root user on a read-only root file system."""

from __future__ import annotations

import base64
import json
import logging
import socket
import ssl
import subprocess
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
import requests
import yaml

from factorydash.config import parse_config
from factorydash.exporter import Exporter
from factorydash.web import ExporterApp, WebServer
from factorydash.weblive import LiveWebConfig
from tests.conftest import ROOT, require_program
from tests.exporter import agentdocs

from .agents import REFUSE, FaultyAgent, Reply, wait_until

pytestmark = pytest.mark.integration  # every test here starts a server or a process

PASSWORD = "correct horse battery staple"
ENDPOINTS = [("GET", "metrics"), ("GET", ""), ("GET", "-/healthy"), ("GET", "config"), ("GET", "probe?target=a"), ("POST", "-/reload")]


def make_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    openssl = require_program("openssl")
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={name}",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )
    return cert, key


def idle_exporter(url: str = "http://127.0.0.1:9/") -> Exporter:
    return Exporter(parse_config(f'agents:\n  - {{name: a, url: "{url}"}}\n'))


def serve(tmp_path: Path, web_config: str) -> WebServer:
    """The exporter's server as `--web.config.file web.yml` starts it (the file stays live)."""
    (tmp_path / "web.yml").write_text(web_config)
    web = LiveWebConfig(tmp_path / "web.yml")
    server = WebServer(ExporterApp(idle_exporter(), web=web), "127.0.0.1", 0, web)
    server.start()
    return server


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebServer, Path]]:
    tmp_path = tmp_path_factory.mktemp("https")
    cert, _ = make_certificate(tmp_path, "server")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    server = serve(
        tmp_path,
        f"tls_server_config: {{cert_file: server.crt, key_file: server.key, min_version: TLS12}}\n"
        f"basic_auth_users: {{prometheus: '{hashed}'}}\n",
    )
    yield server, cert
    server.stop()


def test_https_with_the_right_password_serves_every_endpoint(https) -> None:
    server, cert = https
    assert server.url.startswith("https://")
    response = requests.get(server.url + "metrics", auth=("prometheus", PASSWORD), verify=str(cert), timeout=5)
    assert response.status_code == 200
    assert "mtconnect_agent_up" in response.text


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "auth", [None, ("prometheus", "wrong"), ("nobody", PASSWORD), ("prometheus", "x" * 100)], ids=["none", "wrong-password", "unknown-user", "overlong"]
)
def test_every_endpoint_refuses_missing_or_wrong_credentials_with_401(https, method: str, path: str, auth) -> None:
    server, cert = https
    response = requests.request(method, server.url + path, auth=auth, verify=str(cert), timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="factorydash"')
    assert "mtconnect" not in response.text


def test_plain_http_to_the_https_port_gets_nothing(https) -> None:
    server, _ = https
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(server.url.replace("https://", "http://") + "metrics", timeout=5)


def test_an_untrusted_certificate_is_refused_by_a_verifying_client(https) -> None:
    server, _ = https
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.url + "metrics", auth=("prometheus", PASSWORD), timeout=5)


def test_min_version_tls13_refuses_a_tls12_client(tmp_path: Path) -> None:
    cert, _ = make_certificate(tmp_path, "server")
    server = serve(tmp_path, "tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: TLS13}\n")
    try:
        host, port = server.host, server.port
        tls12 = ssl.create_default_context(cafile=str(cert))
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError):
            with socket.create_connection((host, port), timeout=5) as raw, tls12.wrap_socket(raw, server_hostname=host):
                pass
        assert requests.get(server.url + "-/healthy", verify=str(cert), timeout=5).status_code == 200
    finally:
        server.stop()


def test_a_client_ca_requires_a_client_certificate_signed_by_it(tmp_path: Path) -> None:
    cert, _ = make_certificate(tmp_path, "server")
    client_cert, client_key = make_certificate(tmp_path, "client")
    server = serve(
        tmp_path,
        "tls_server_config: {cert_file: server.crt, key_file: server.key, client_ca_file: client.crt,"
        " client_auth_type: RequireAndVerifyClientCert}\n",
    )
    try:
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            requests.get(server.url + "-/healthy", verify=str(cert), timeout=5)
        response = requests.get(
            server.url + "-/healthy", verify=str(cert), cert=(str(client_cert), str(client_key)), timeout=5
        )
        assert response.status_code == 200
    finally:
        server.stop()


# -- secrets ---------------------------------------------------------------------------------


def test_agent_credentials_and_header_secrets_never_appear_in_any_output(
    tmp_path: Path, scripted: FaultyAgent, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    password, token = f"pw-{uuid.uuid4().hex}", f"tok-{uuid.uuid4().hex}"
    monkeypatch.setenv("AGENT_PASSWORD", password)
    (tmp_path / "token").write_text(token + "\n")
    config = parse_config(
        f"""
defaults: {{poll_interval: 20ms, timeout: 300ms}}
agents:
  - name: guarded
    url: "{scripted.url}"
    basic_auth: {{username: reader, password: {{env: AGENT_PASSWORD}}}}
    headers: {{X-Api-Key: {{file: token}}}}
""",
        base_dir=tmp_path,
    )
    scripted.script(
        "probe",
        Reply(b"<html><body>401 Authorization Required</body></html>", 401, "text/html"),
        REFUSE,
        Reply(agentdocs.error("INTERNAL_ERROR", "try again"), 500),
        Reply(b"<MTConnectDevices><broken", 200),
        Reply(agentdocs.probe()),
    )
    scripted.script("current", Reply(agentdocs.current_mill()))
    scripted.script("sample", Reply(b"", 503))
    exporter = Exporter(config)
    server = WebServer(ExporterApp(exporter), "127.0.0.1", 0)
    outputs: list[str] = []
    with caplog.at_level(logging.DEBUG):
        exporter.start()
        server.start()
        try:
            state = exporter.agents["guarded"].state
            errors_seen: set[str] = set()

            def every_fault_seen() -> bool:
                with state.lock:
                    outputs.append(state.last_error)
                    errors_seen.update(state.counters.errors)
                return {"http_status", "connection", "mtconnect_internal_error", "invalid_document"} <= errors_seen

            wait_until(every_fault_seen, timeout=10)
            for path in ("metrics", "", "config", "probe?target=guarded", "-/healthy"):
                outputs.append(requests.get(server.url + path, timeout=5).text)
        finally:
            server.stop()
            exporter.stop()
    outputs.append(caplog.text)
    outputs.append(repr(config))
    outputs.append(json.dumps(config.redacted(), default=str))
    sent = scripted.headers[-1]
    assert sent["X-Api-Key"] == token  # the agent did get the secrets...
    assert base64.b64decode(sent["Authorization"].split()[1]).decode() == f"reader:{password}"
    for output in outputs:  # ...and no output shows them
        assert password not in output and token not in output
    assert '"password": "<secret>"' in json.dumps(config.redacted())


# -- /probe ----------------------------------------------------------------------------------


def test_probe_accepts_only_configured_agent_names_and_never_fetches_a_given_url(scripted: FaultyAgent) -> None:
    server = WebServer(ExporterApp(idle_exporter()), "127.0.0.1", 0)
    server.start()
    try:
        assert requests.get(server.url + "probe?target=a", timeout=5).status_code == 200
        for query in (
            "target=" + urllib.parse.quote(scripted.url + "probe"),
            "target=b",
            "target=a&target=a",
            "",
            "target=",
        ):
            response = requests.get(server.url + "probe?" + query, timeout=5)
            assert response.status_code == 400, query
            assert response.text.count("\n") == 1
    finally:
        server.stop()
    assert scripted.requests == []


# -- the container ---------------------------------------------------------------------------


def test_the_exporter_image_runs_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "exporter" / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    users = [line.split(None, 1)[1].strip() for line in final_stage.splitlines() if line.startswith("USER ")]
    assert users, "the final stage sets no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert "PYTHONDONTWRITEBYTECODE=1" in final_stage  # nothing written next to the code at runtime


def test_compose_runs_the_exporter_on_a_read_only_root_file_system() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    exporter = compose["services"]["exporter"]
    assert exporter.get("read_only") is True
    assert "ALL" in exporter.get("cap_drop", [])
    assert str(exporter.get("user", "image default")).split(":")[0] not in ("root", "0")


# -- the HTTP side under load and abuse ---------------------------------------------------------------


def test_sixteen_clients_with_wrong_passwords_cost_a_bounded_number_of_bcrypt_checks(tmp_path: Path) -> None:
    import threading
    import time

    from factorydash.webconfig import FAILED_CHECKS_BURST

    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10))
    started = time.process_time()
    bcrypt.checkpw(b"wrong", hashed)
    one = time.process_time() - started
    server = serve(tmp_path, f"basic_auth_users: {{prometheus: '{hashed.decode()}'}}\n")
    statuses: list[int] = []

    def attacker(number: int) -> None:
        with requests.Session() as session:
            for attempt in range(10):
                response = session.get(server.url + "metrics", auth=("prometheus", f"{number}-{attempt}"), timeout=10)
                statuses.append(response.status_code)

    try:
        started = time.process_time()
        threads = [threading.Thread(target=attacker, args=(number,)) for number in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        spent = time.process_time() - started
    finally:
        server.stop()
    assert statuses == [401] * 160
    # 160 distinct wrong passwords; each used to cost one bcrypt check (160x). Now the burst and the
    # refill over the run, plus the HTTP work itself.
    assert spent / one < FAILED_CHECKS_BURST + 15, f"160 wrong attempts cost {spent / one:.1f} bcrypt checks"


def test_hundreds_of_connections_queue_while_the_server_is_busy_and_all_are_answered() -> None:
    server = WebServer(ExporterApp(idle_exporter()), "127.0.0.1", 0)  # listening, not yet accepting
    sockets: list[socket.socket] = []
    try:
        for _ in range(300):
            connection = socket.socket()
            connection.settimeout(2)
            connection.connect((server.host, server.port))  # completes only if the backlog has room
            sockets.append(connection)
        server.start()
        for connection in sockets:
            connection.sendall(b"GET /-/healthy HTTP/1.0\r\nHost: x\r\n\r\n")
        answers = []
        for connection in sockets:
            connection.settimeout(10)
            answers.append(connection.makefile("rb").readline())
        assert answers == [b"HTTP/1.0 200 OK\r\n"] * 300
    finally:
        for connection in sockets:
            connection.close()
        server.stop()


def test_a_client_trickling_its_request_is_cut_off_at_the_request_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from factorydash import web

    monkeypatch.setattr(web._QuietHandler, "request_deadline", 0.5)
    server = WebServer(ExporterApp(idle_exporter()), "127.0.0.1", 0)
    server.start()
    try:
        with socket.create_connection((server.host, server.port), timeout=5) as connection:
            connection.sendall(b"GET /-/healthy HTTP/1.1\r\n")
            started = time.monotonic()
            closed_after = None
            while time.monotonic() - started < 5:  # a header byte every 50 ms: each well within any timeout
                try:
                    connection.sendall(b"X")
                    connection.settimeout(0.05)
                    if connection.recv(1024) == b"":
                        closed_after = time.monotonic() - started
                        break
                except TimeoutError:
                    continue
                except OSError:
                    closed_after = time.monotonic() - started
                    break
        assert closed_after is not None and closed_after < 2.0, closed_after
        assert requests.get(server.url + "-/healthy", timeout=5).status_code == 200
    finally:
        server.stop()


def test_an_ipv6_listen_address_serves_on_ipv6_loopback() -> None:
    from factorydash.web import parse_listen_address

    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    host, port = parse_listen_address("[::1]:0")
    server = WebServer(ExporterApp(idle_exporter()), host, port)
    server.start()
    try:
        assert server.url.startswith("http://[::1]:")
        assert requests.get(server.url + "-/healthy", timeout=5).text == "Healthy\n"
    finally:
        server.stop()
