"""exporter-toolkit parity of --web.config.file, checked with real TLS clients (openssl s_client, Python ssl,
requests): cipher suites, server preference, curves, ALPN, response headers, client SANs, and certificates
that rotate without a restart."""

from __future__ import annotations

import logging
import re
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from factorydash.web import WebServer
from factorydash.weblive import LiveWebConfig
from tests.conftest import require_program

from .test_security import make_certificate, serve

pytestmark = pytest.mark.integration  # every test here starts a server or a process

CERT = "cert_file: server.crt, key_file: server.key"


@pytest.fixture
def servers() -> Iterator[list[WebServer]]:
    started: list[WebServer] = []
    yield started
    for server in started:
        server.stop()


def start(tmp_path: Path, servers: list[WebServer], web_config: str) -> WebServer:
    if not (tmp_path / "server.crt").exists():
        make_certificate(tmp_path, "server")
    server = serve(tmp_path, web_config)
    servers.append(server)
    return server


def s_client(server: WebServer, *options: str, brief: bool = True) -> tuple[bool, str]:
    """One handshake by openssl s_client: (completed, what it printed)."""
    openssl = require_program("openssl")
    result = subprocess.run(
        [openssl, "s_client", "-connect", f"{server.host}:{server.port}", *(["-brief"] if brief else []), *options],
        input=b"", capture_output=True, timeout=30,
    )
    text = (result.stdout + result.stderr).decode(errors="replace")
    return "CONNECTION ESTABLISHED" in text, text


def negotiated(text: str, field: str) -> str:
    match = re.search(rf"^(?:{field}): (.+)$", text, re.MULTILINE)
    assert match, text
    return match.group(1).strip()


def test_cipher_suites_in_go_names_allow_only_those_suites_for_tls12(tmp_path: Path, servers) -> None:
    server = start(
        tmp_path, servers,
        f"tls_server_config: {{{CERT}, max_version: TLS12, cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]}}\n",
    )
    refused, _ = s_client(server, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
    accepted, text = s_client(server, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384")
    assert not refused
    assert accepted and negotiated(text, "Ciphersuite") == "ECDHE-ECDSA-AES256-GCM-SHA384"


@pytest.mark.parametrize(("prefer_server", "expected"), [(True, "ECDHE-ECDSA-AES128-GCM-SHA256"), (False, "ECDHE-ECDSA-AES256-GCM-SHA384")])
def test_prefer_server_cipher_suites_decides_whose_order_wins(tmp_path: Path, servers, prefer_server: bool, expected: str) -> None:
    server = start(
        tmp_path, servers,
        f"tls_server_config: {{{CERT}, max_version: TLS12, prefer_server_cipher_suites: {str(prefer_server).lower()},"
        " cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]}\n",
    )
    # The client prefers the server's second choice.
    done, text = s_client(server, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256")
    assert done and negotiated(text, "Ciphersuite") == expected


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_curve_preferences_restrict_the_key_exchange_to_that_curve(tmp_path: Path, servers, version: str) -> None:
    server = start(tmp_path, servers, f"tls_server_config: {{{CERT}, curve_preferences: [CurveP384]}}\n")
    refused, _ = s_client(server, version, "-groups", "P-256:X25519")
    accepted, text = s_client(server, version, "-groups", "X25519:P-256:P-384")  # P-256: the certificate's curve
    assert not refused
    assert accepted and "384" in negotiated(text, "Server Temp Key|Negotiated TLS1.3 group")


def test_tls13_suite_names_are_accepted_and_change_nothing_as_in_go(tmp_path: Path, servers) -> None:
    server = start(tmp_path, servers, f"tls_server_config: {{{CERT}, cipher_suites: [TLS_AES_256_GCM_SHA384]}}\n")
    done, text = s_client(server, "-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256")
    assert done and negotiated(text, "Ciphersuite") == "TLS_CHACHA20_POLY1305_SHA256"


def test_http2_is_never_negotiated_and_headers_go_on_every_response(tmp_path: Path, servers) -> None:
    server = start(
        tmp_path, servers,
        f"tls_server_config: {{{CERT}}}\n"
        "http_server_config:\n  http2: true\n"
        "  headers: {X-Frame-Options: deny, Strict-Transport-Security: max-age=31536000, X-XSS-Protection: ''}\n",
    )
    _, text = s_client(server, "-alpn", "h2,http/1.1", brief=False)
    assert negotiated(text, "ALPN protocol") == "http/1.1"
    for path in ("metrics", "", "-/healthy", "nothing"):
        response = requests.get(server.url + path, verify=str(tmp_path / "server.crt"), timeout=5)
        assert response.headers["X-Frame-Options"] == "deny"
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert "X-XSS-Protection" not in response.headers  # blank means unset, as in exporter-toolkit


def test_client_allowed_sans_admit_only_certificates_carrying_one_of_them(tmp_path: Path, servers) -> None:
    cert, _ = make_certificate(tmp_path, "server")
    client = tuple(str(path) for path in make_certificate(tmp_path, "client"))  # its SAN is IP:127.0.0.1
    mutual = "client_ca_file: client.crt, client_auth_type: RequireAndVerifyClientCert"
    allowed = start(tmp_path, servers, f"tls_server_config: {{{CERT}, {mutual}, client_allowed_sans: [10.0.0.1, 127.0.0.1]}}\n")
    assert requests.get(allowed.url + "-/healthy", verify=str(cert), cert=client, timeout=5).status_code == 200
    other = tmp_path / "other"
    other.mkdir()
    for name in ("server.crt", "server.key", "client.crt"):
        (other / name).write_bytes((tmp_path / name).read_bytes())
    refused = start(other, servers, f"tls_server_config: {{{CERT}, {mutual}, client_allowed_sans: [prometheus.example]}}\n")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(refused.url + "-/healthy", verify=str(cert), cert=client, timeout=5)


def presented_certificate(server: WebServer) -> bytes:
    """The DER certificate a fresh connection is served (no verification: we only look at it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((server.host, server.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server.host) as tls:
            certificate = tls.getpeercert(binary_form=True)
    assert certificate is not None
    return certificate


def test_a_renewed_certificate_is_served_from_the_next_connection_without_a_restart(tmp_path: Path, servers, caplog) -> None:
    make_certificate(tmp_path, "server")
    server = start(tmp_path, servers, f"tls_server_config: {{{CERT}}}\n")
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    old, old_key = old_dir / "server.crt", old_dir / "server.key"
    old.write_bytes((tmp_path / "server.crt").read_bytes())
    old_key.write_bytes((tmp_path / "server.key").read_bytes())
    new, new_key = make_certificate(new_dir, "server")
    assert presented_certificate(server) == ssl.PEM_cert_to_DER_cert(old.read_text())
    assert requests.get(server.url + "-/healthy", verify=str(old), timeout=5).status_code == 200

    (tmp_path / "server.key").write_bytes(new_key.read_bytes())  # as certbot or cert-manager renew it
    (tmp_path / "server.crt").write_bytes(new.read_bytes())
    assert presented_certificate(server) == ssl.PEM_cert_to_DER_cert(new.read_text())
    assert requests.get(server.url + "-/healthy", verify=str(new), timeout=5).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.url + "-/healthy", verify=str(old), timeout=5)

    # A half-written renewal (a certificate without its key) keeps the last good one and says why, once.
    with caplog.at_level(logging.ERROR, logger="factorydash.weblive"):
        (tmp_path / "server.crt").write_bytes(old.read_bytes())
        for _ in range(3):
            assert presented_certificate(server) == ssl.PEM_cert_to_DER_cert(new.read_text())
    assert [record.message.splitlines()[0] for record in caplog.records] == [
        "web config changed but does not load, keeping the previous one:"
    ]
    (tmp_path / "server.key").write_bytes(old_key.read_bytes())  # the pair is whole again: served at once
    assert presented_certificate(server) == ssl.PEM_cert_to_DER_cert(old.read_text())


def test_basic_auth_users_and_headers_change_with_the_file(tmp_path: Path, servers) -> None:
    import bcrypt

    hashed = bcrypt.hashpw(b"old", bcrypt.gensalt(rounds=4)).decode()
    server = start(tmp_path, servers, f"basic_auth_users: {{prom: '{hashed}'}}\n")
    assert requests.get(server.url + "-/healthy", auth=("prom", "old"), timeout=5).status_code == 200
    rehashed = bcrypt.hashpw(b"new", bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "web.yml").write_text(
        f"basic_auth_users: {{prom: '{rehashed}'}}\nhttp_server_config: {{headers: {{X-Content-Type-Options: nosniff}}}}\n"
    )
    assert requests.get(server.url + "-/healthy", auth=("prom", "old"), timeout=5).status_code == 401
    response = requests.get(server.url + "-/healthy", auth=("prom", "new"), timeout=5)
    assert response.status_code == 200 and response.headers["X-Content-Type-Options"] == "nosniff"


def test_switching_tls_on_needs_a_restart_and_is_refused_while_running(tmp_path: Path, servers) -> None:
    make_certificate(tmp_path, "server")
    server = start(tmp_path, servers, "http_server_config: {headers: {X-Frame-Options: deny}}\n")
    (tmp_path / "web.yml").write_text(f"tls_server_config: {{{CERT}}}\n")
    response = requests.get(server.url + "-/healthy", timeout=5)  # still plain HTTP, previous headers kept
    assert response.status_code == 200 and response.headers["X-Frame-Options"] == "deny"
    assert server.url.startswith("http://")


def test_checking_for_changes_costs_far_less_than_a_handshake(tmp_path: Path) -> None:
    import time

    make_certificate(tmp_path, "server")
    (tmp_path / "web.yml").write_text(f"tls_server_config: {{{CERT}}}\n")
    web = LiveWebConfig(tmp_path / "web.yml")
    started = time.perf_counter()
    for _ in range(200):
        web.current()
    check = (time.perf_counter() - started) / 200
    started = time.perf_counter()
    for _ in range(20):
        web.current().config.tls.context()  # what a re-read costs: loading certificate and key
    build = (time.perf_counter() - started) / 20
    assert check < build / 5, f"a change check costs {check * 1e6:.0f} us, a rebuild {build * 1e6:.0f} us"
