"""The WSGI app without sockets, the web config (exporter-toolkit format) and basic auth."""

from __future__ import annotations

import base64
import time

import bcrypt
import pytest

from factorydash.config import ConfigError, parse_config
from factorydash.exporter import Exporter
from factorydash.web import ExporterApp, parse_listen_address
from factorydash.webconfig import NO_WEB_CONFIG, BasicAuthChecker, WebConfig, parse_web_config
from factorydash.weblive import StaticWebConfig

HASH = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()


def call(app: ExporterApp, path: str, method: str = "GET", query: str = "", auth: str | None = None):
    captured: dict[str, object] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"], captured["headers"] = status, dict(headers)

    environ = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method}
    if auth is not None:
        environ["HTTP_AUTHORIZATION"] = auth
    body = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], body


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def exporter() -> Exporter:
    return Exporter(parse_config('agents:\n  - {name: line1, url: "http://127.0.0.1:9/"}\n'))


def test_a_reload_that_fails_answers_500_with_the_reason_and_the_old_config_is_kept(exporter: Exporter) -> None:
    def reload() -> None:
        raise ConfigError(["agents: at least one agent is required"])

    status, _, body = call(ExporterApp(exporter, reload), "/-/reload", "POST")
    assert status.startswith("500")
    assert body == b"reload failed, old config kept:\nagents: at least one agent is required\n"
    assert list(exporter.agents) == ["line1"]


def test_reload_needs_post_and_a_config_file(exporter: Exporter) -> None:
    assert call(ExporterApp(exporter, lambda: None), "/-/reload")[0].startswith("405")
    assert call(ExporterApp(exporter), "/-/reload", "POST")[0].startswith("400")
    assert call(ExporterApp(exporter, lambda: None), "/-/reload", "POST")[2] == b"Reloaded\n"


@pytest.mark.parametrize("query", ["target=http%3A%2F%2F169.254.169.254%2F", "target=other", "", "target=line1&target=line1"])
def test_probe_refuses_anything_but_one_configured_agent_name(exporter: Exporter, query: str) -> None:
    status, _, body = call(ExporterApp(exporter), "/probe", query=query)
    assert status.startswith("400")
    assert body.count(b"\n") == 1


def test_with_basic_auth_every_path_needs_credentials(exporter: Exporter) -> None:
    app = ExporterApp(exporter, web=StaticWebConfig(WebConfig(users={"prom": HASH.encode()})))
    for path in ("/metrics", "/", "/-/healthy", "/config", "/probe", "/nothing"):
        status, headers, _ = call(app, path)
        assert status.startswith("401") and headers["WWW-Authenticate"].startswith("Basic ")
    assert call(app, "/-/healthy", auth=basic("prom", "s3cret"))[0].startswith("200")
    assert call(app, "/-/healthy", auth=basic("prom", "S3cret"))[0].startswith("401")


@pytest.mark.parametrize(
    "header", [None, "", "Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), basic("prom", "x" * 200)]
)
def test_malformed_authorization_headers_are_refused(header: str | None) -> None:
    assert not BasicAuthChecker({"prom": HASH.encode()}).check(header)


def test_accepted_credentials_are_remembered_so_scrapes_do_not_pay_bcrypt_each_time() -> None:
    slow = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=10))
    checker = BasicAuthChecker({"prom": slow})
    started = time.process_time()
    assert checker.check(basic("prom", "s3cret"))  # the first time pays one bcrypt check
    first = time.process_time() - started
    started = time.process_time()
    for _ in range(20):
        assert checker.check(basic("prom", "s3cret"))
    remembered = time.process_time() - started
    # Twenty remembered checks together cost a fraction of the one bcrypt check (measured: well under 1 %).
    assert remembered < first / 4, f"20 remembered checks cost {remembered / first:.2f} bcrypt checks"
    assert not checker.check(basic("prom", "wrong"))


def test_an_empty_web_config_changes_nothing() -> None:
    assert parse_web_config("") == NO_WEB_CONFIG
    assert not parse_web_config("basic_auth_users: {}\n").requires_auth


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tls_config: {}", "tls_config: unknown key"),
        ("tls_server_config: {key_file: k}", "tls_server_config.cert_file: required"),
        ("tls_server_config: {cert_file: c, key_file: k, min_version: SSL3}", "min_version: 'SSL3' is not one of"),
        ("tls_server_config: {cert_file: c, key_file: k, cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]}", "cipher_suites: 'TLS_RSA_WITH_RC4_128_SHA' is not one of"),
        ("tls_server_config: {cert_file: c, key_file: k, curve_preferences: [X25519, CurveP256]}", "curve_preferences: Python's ssl module restricts"),
        ("tls_server_config: {cert_file: c, key_file: k, curve_preferences: [P-256]}", "curve_preferences: 'P-256' is not one of CurveP256"),
        ("tls_server_config: {cert_file: c, key_file: k, prefer_server_cipher_suites: yes please}", "expected true or false"),
        ("tls_server_config: {cert_file: c, key_file: k, client_allowed_sans: [a]}", "needs client_auth_type RequireAndVerifyClientCert"),
        ("http_server_config: {http3: true}", "http_server_config.http3: unknown or unsupported key"),
        ("http_server_config: {headers: {X-Frame-Options: allow}}", "X-Frame-Options: 'allow' is not one of deny, sameorigin"),
        ("http_server_config: {headers: {Server: factorydash}}", "headers.Server: not one of Content-Security-Policy"),
        ("http_server_config: {http2: maybe}", "http_server_config.http2: expected true or false"),
        ("tls_server_config: {cert_file: c, key_file: k, client_auth_type: RequireAnyClientCert, client_ca_file: ca}", "is not supported"),
        ("tls_server_config: {cert_file: c, key_file: k, client_ca_file: ca}", "set client_auth_type too"),
        ("tls_server_config: {cert_file: c, key_file: k, client_auth_type: RequireAndVerifyClientCert}", "needs a client_ca_file"),
        ("tls_server_config: {cert_file: c, key_file: k, min_version: TLS13, max_version: TLS12}", "lower than min_version"),
        ("basic_auth_users: {prom: plaintext-password}", "basic_auth_users.prom: expected a bcrypt hash"),
        ("basic_auth_users: [prom]", "expected a mapping of user name"),
        ("tls_server_config: {cert_file: missing.crt, key_file: missing.key}", "cannot load certificate"),
    ],
)
def test_each_invalid_web_config_names_its_key(tmp_path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_web_config(text, source="web.yml", base_dir=tmp_path)
    assert message in str(caught.value)
    assert "plaintext-password" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"), [("127.0.0.1:9700", ("127.0.0.1", 9700)), (":9700", ("0.0.0.0", 9700)), ("[::1]:0", ("::1", 0))]
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("http://127.0.0.1:9700", "a listen address has no scheme: use '127.0.0.1:9700' (TLS comes from --web.config.file)"),
        ("https://0.0.0.0:9700/", "a listen address has no scheme: use '0.0.0.0:9700' (TLS comes from --web.config.file)"),
        ("127.0.0.1:99999", "the port 99999 is out of range (0 to 65535)"),
        ("9700", "no port: expected HOST:PORT such as 127.0.0.1:9700, :9700 or [::1]:9700"),
        ("host:port", "the port 'port' is not a number: expected HOST:PORT such as 127.0.0.1:9700, :9700 or [::1]:9700"),
        ("::1:9700", "an IPv6 host goes in brackets: [::1]:9700"),
        ("127.0.0.1/metrics:9700", "a host has no path: expected HOST:PORT such as 127.0.0.1:9700, :9700 or [::1]:9700"),
    ],
)
def test_invalid_listen_addresses_say_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_listen_address(text)
    assert str(caught.value) == f"invalid --web.listen-address {text!r}: {why}"


# -- bcrypt under a flood of wrong passwords: ratios of bcrypt's own cost, never absolute times --------


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def one_bcrypt_cpu_seconds(hashed: bytes) -> float:
    started = time.process_time()
    bcrypt.checkpw(b"anything", hashed)
    return time.process_time() - started


def test_wrong_passwords_cost_at_most_a_burst_of_bcrypt_checks_and_remembered_ones_nothing() -> None:
    from factorydash.webconfig import FAILED_CHECKS_BURST

    slow = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=10))
    clock = FrozenClock()
    checker = BasicAuthChecker({"prom": slow}, clock=clock)
    one = one_bcrypt_cpu_seconds(slow)
    assert checker.check(basic("prom", "s3cret"))  # Prometheus, known before the flood
    started = time.process_time()
    for attempt in range(100):
        assert not checker.check(basic("prom", f"guess-{attempt}"))
    distinct = (time.process_time() - started) / one
    started = time.process_time()
    for _ in range(100):
        assert not checker.check(basic("prom", "guess-0"))  # one client repeating its wrong password
    repeated = (time.process_time() - started) / one
    assert distinct < FAILED_CHECKS_BURST + 2, f"100 wrong passwords cost {distinct:.1f} bcrypt checks"
    assert repeated < 0.5, f"a remembered wrong password cost {repeated:.2f} bcrypt checks"
    assert checker.check(basic("prom", "s3cret"))  # the known client is never locked out
    fresh = BasicAuthChecker({"prom": slow}, clock=clock)
    for attempt in range(FAILED_CHECKS_BURST + 5):
        fresh.check(basic("prom", f"guess-{attempt}"))
    assert not fresh.check(basic("prom", "s3cret"))  # during the flood a new client waits...
    clock.now += 3.0
    assert fresh.check(basic("prom", "s3cret"))  # ...until the bucket refills


# -- reload health ---------------------------------------------------------------------------


def exposed(app: ExporterApp, name: str, path: str = "/metrics", query: str = "") -> float | None:
    body = call(app, path, query=query)[2].decode()
    values = [line.split()[1] for line in body.splitlines() if line.startswith(name + " ")]
    return float(values[0]) if values else None


def test_reload_health_follows_each_reload_through_the_app_and_only_on_plain_metrics() -> None:
    now = [1_000.0]
    exporter = Exporter(parse_config('agents:\n  - {name: line1, url: "http://127.0.0.1:9/"}\n'), clock=lambda: now[0])
    good = parse_config('agents:\n  - {name: line2, url: "http://127.0.0.1:9/"}\n')
    outcome: list[object] = [ConfigError(["agents: at least one agent is required"])]

    def load():
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        return outcome[0]

    app = ExporterApp(exporter, lambda: exporter.reload_from(load))
    assert exposed(app, "factorydash_config_last_reload_successful") == 1  # the start is a successful load
    assert exposed(app, "factorydash_config_last_reload_success_timestamp_seconds") == 1_000.0
    now[0] = 1_060.0
    assert call(app, "/-/reload", "POST")[0].startswith("500")
    assert exposed(app, "factorydash_config_last_reload_successful") == 0
    assert exposed(app, "factorydash_config_last_reload_success_timestamp_seconds") == 1_000.0  # still the start
    now[0] = 1_120.0
    outcome[0] = good
    assert call(app, "/-/reload", "POST")[0].startswith("200")
    assert list(exporter.agents) == ["line2"]
    assert exposed(app, "factorydash_config_last_reload_successful") == 1
    assert exposed(app, "factorydash_config_last_reload_success_timestamp_seconds") == 1_120.0
    assert exposed(app, "factorydash_config_last_reload_successful", "/probe", "target=line2") is None
