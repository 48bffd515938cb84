"""`--web.config.file`: TLS, HTTP headers and basic auth in the Prometheus exporter-toolkit format.

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      min_version: TLS12              # TLS10 | TLS11 | TLS12 (default) | TLS13
      max_version: TLS13
      client_ca_file: clients-ca.crt  # needs a client_auth_type
      client_auth_type: RequireAndVerifyClientCert
      client_allowed_sans: [prometheus.example.com]
      cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]   # Go names, TLS 1.2 and below
      prefer_server_cipher_suites: true
      curve_preferences: [X25519]
    http_server_config:
      http2: true
      headers: {X-Frame-Options: deny}
    basic_auth_users:
      prometheus: $2b$12$...          # bcrypt hash (htpasswd -nBC 12 prometheus)

The same file serves the node_exporter and every Go exporter, so one file
and one habit secure the whole stack. Paths are relative to the file.
Unknown keys are errors. Where Python's ssl module cannot do what Go does,
the key is either refused with the reason (a config error) or documented as
having no effect here, never silently weakened:

- client_auth_type RequestClientCert and RequireAnyClientCert: refused
  (Python always verifies a client certificate it accepts).
- curve_preferences: one curve only (Python's ssl sets a single ECDH group);
  a list of several is refused.
- cipher_suites: TLS 1.3 suite names are accepted and have no effect, as in
  Go (TLS 1.3 suites are not configurable); Go's insecure suites are refused.
- http_server_config.http2: accepted, no effect (this server speaks HTTP/1.1;
  ALPN offers http/1.1 only, so clients never try HTTP/2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from .config import ConfigError

log = logging.getLogger(__name__)

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
CLIENT_AUTH_TYPES = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_UNSUPPORTED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")
# Go's tls.CipherSuites() (the ones exporter-toolkit accepts) for TLS 1.0-1.2, with their OpenSSL names.
CIPHER_SUITES = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}
# Go lists these too, but TLS 1.3 suites are not configurable there either: accepted, no effect.
TLS13_CIPHER_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
# Go's tls.CurveID names -> OpenSSL group names.
CURVES = {"CurveP256": "prime256v1", "CurveP384": "secp384r1", "CurveP521": "secp521r1", "X25519": "X25519"}
# exporter-toolkit's http_server_config.headers: only these, each with its allowed values (None: any).
RESPONSE_HEADERS: dict[str, tuple[str, ...] | None] = {
    "Content-Security-Policy": None,
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-Content-Type-Options": ("nosniff",),
    "X-XSS-Protection": None,
    "Strict-Transport-Security": None,
}
_TLS_KEYS = (
    "cert_file", "key_file", "client_ca_file", "client_auth_type", "client_allowed_sans", "min_version",
    "max_version", "cipher_suites", "prefer_server_cipher_suites", "curve_preferences",
)
_HTTP_KEYS = ("http2", "headers")
_TOP_KEYS = ("tls_server_config", "http_server_config", "basic_auth_users")
REALM = "factorydash"


@dataclass(frozen=True)
class TLSServerConfig:
    cert_file: Path
    key_file: Path
    min_version: str = "TLS12"
    max_version: str | None = None
    client_ca_file: Path | None = None
    client_auth_type: str = "NoClientCert"
    client_allowed_sans: tuple[str, ...] = ()
    cipher_suites: tuple[str, ...] = ()  # Go names; empty: OpenSSL's defaults
    prefer_server_cipher_suites: bool = True
    curve_preferences: tuple[str, ...] = ()  # Go names; at most one

    @property
    def files(self) -> tuple[Path, ...]:
        """The files a handshake depends on: a change to any of them means a new context."""
        return (self.cert_file, self.key_file) + ((self.client_ca_file,) if self.client_ca_file else ())

    def context(self) -> ssl.SSLContext:
        """A server context; raises ConfigError if a file cannot be loaded."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = TLS_VERSIONS[self.min_version]
        if self.max_version is not None:
            context.maximum_version = TLS_VERSIONS[self.max_version]
        if self.prefer_server_cipher_suites:
            context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
        else:
            context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
        context.set_alpn_protocols(["http/1.1"])  # no HTTP/2 here: never let a client negotiate it
        legacy_suites = [CIPHER_SUITES[name] for name in self.cipher_suites if name in CIPHER_SUITES]
        try:
            if legacy_suites:
                context.set_ciphers(":".join(legacy_suites))
        except ssl.SSLError as error:
            raise ConfigError([f"tls_server_config.cipher_suites: OpenSSL accepts none of them: {error}"]) from None
        for curve in self.curve_preferences:
            context.set_ecdh_curve(CURVES[curve])
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
            if self.client_ca_file is not None:
                context.load_verify_locations(cafile=self.client_ca_file)
        except (OSError, ssl.SSLError) as error:
            raise ConfigError([f"tls_server_config: cannot load certificate, key or CA: {error}"]) from None
        context.verify_mode = CLIENT_AUTH_TYPES[self.client_auth_type]
        return context

    def allows_peer(self, peer_certificate: dict | None) -> bool:
        """client_allowed_sans: a verified client certificate must carry one of the names (any SAN kind)."""
        if not self.client_allowed_sans:
            return True
        if not peer_certificate:
            return False
        names = {value for _, value in peer_certificate.get("subjectAltName", ())}
        return any(allowed in names for allowed in self.client_allowed_sans)


@dataclass(frozen=True)
class HTTPServerConfig:
    http2: bool = True  # accepted for compatibility; this server speaks HTTP/1.1 only
    headers: tuple[tuple[str, str], ...] = ()  # added to every response


@dataclass(frozen=True)
class WebConfig:
    tls: TLSServerConfig | None = None
    users: Mapping[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash
    http: HTTPServerConfig = HTTPServerConfig()

    @property
    def requires_auth(self) -> bool:
        return bool(self.users)


NO_WEB_CONFIG = WebConfig()


def load_web_config(path: str | Path) -> WebConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: cannot read the web configuration: {error}"]) from None
    return parse_web_config(text, source=str(path), base_dir=path.parent)


def parse_web_config(text: str, source: str = "<web config>", base_dir: Path | None = None) -> WebConfig:
    """Validate the whole file; every problem is reported at once with its key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError([f"{source}: YAML syntax error: {error}"]) from None
    problems: list[str] = []
    if data is None:
        return NO_WEB_CONFIG
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: expected a mapping with tls_server_config, http_server_config and/or basic_auth_users"])
    for key in data:
        if key not in _TOP_KEYS:
            problems.append(f"{key}: unknown key (expected one of {', '.join(_TOP_KEYS)})")
    tls = _tls(data.get("tls_server_config"), base_dir or Path("."), problems)
    http = _http(data.get("http_server_config"), problems)
    users = _users(data.get("basic_auth_users"), problems)
    if problems:
        raise ConfigError([f"{source}: {problem}" for problem in problems])
    config = WebConfig(tls, users, http)
    if tls is not None:
        tls.context()  # a certificate that does not load is a startup error, not a failed handshake later
    return config


def _names(value: Any, key: str, known: Mapping[str, object] | tuple[str, ...], problems: list[str]) -> tuple[str, ...]:
    """A list of names, each one of `known`."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        problems.append(f"tls_server_config.{key}: expected a list of names")
        return ()
    unknown = [name for name in value if name not in known]
    for name in unknown:
        problems.append(f"tls_server_config.{key}: {name!r} is not one of {', '.join(known)}")
    return tuple(name for name in value if name in known)


def _tls(value: Any, base_dir: Path, problems: list[str]) -> TLSServerConfig | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append("tls_server_config: expected a mapping")
        return None
    for key in value:
        if key not in _TLS_KEYS:
            problems.append(f"tls_server_config.{key}: unknown or unsupported key")
    files: dict[str, Path | None] = {}
    for key in ("cert_file", "key_file", "client_ca_file"):
        raw = value.get(key)
        if raw is None:
            files[key] = None
        elif not isinstance(raw, str) or not raw:
            problems.append(f"tls_server_config.{key}: expected a file name")
            files[key] = None
        else:
            files[key] = base_dir / raw
    for key in ("cert_file", "key_file"):
        if key not in value:
            problems.append(f"tls_server_config.{key}: required")
    versions: dict[str, str | None] = {}
    for key, default in (("min_version", "TLS12"), ("max_version", None)):
        version = value.get(key, default)
        if version is not None and version not in TLS_VERSIONS:
            problems.append(f"tls_server_config.{key}: {version!r} is not one of {', '.join(TLS_VERSIONS)}")
            version = default
        versions[key] = version
    client_auth = value.get("client_auth_type", "NoClientCert")
    if client_auth in _UNSUPPORTED_CLIENT_AUTH:
        problems.append(
            f"tls_server_config.client_auth_type: {client_auth} is not supported "
            "(a client certificate is always verified: use VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
        )
        client_auth = "NoClientCert"
    elif client_auth not in CLIENT_AUTH_TYPES:
        problems.append(f"tls_server_config.client_auth_type: {client_auth!r} is not one of {', '.join(CLIENT_AUTH_TYPES)}")
        client_auth = "NoClientCert"
    if files["client_ca_file"] is not None and client_auth == "NoClientCert" and "client_auth_type" not in value:
        problems.append("tls_server_config.client_ca_file: set client_auth_type too (a CA without a policy checks nothing)")
    if client_auth != "NoClientCert" and files["client_ca_file"] is None:
        problems.append(f"tls_server_config.client_auth_type: {client_auth} needs a client_ca_file")
    min_version, max_version = versions["min_version"], versions["max_version"]
    if max_version is not None and min_version is not None and TLS_VERSIONS[max_version] < TLS_VERSIONS[min_version]:
        problems.append("tls_server_config.max_version: lower than min_version")
    sans = value.get("client_allowed_sans")
    if sans is not None and (not isinstance(sans, list) or not all(isinstance(name, str) and name for name in sans)):
        problems.append("tls_server_config.client_allowed_sans: expected a list of names")
        sans = None
    if sans and client_auth != "RequireAndVerifyClientCert":
        problems.append("tls_server_config.client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert")
    suites = _names(value.get("cipher_suites"), "cipher_suites", (*CIPHER_SUITES, *TLS13_CIPHER_SUITES), problems)
    curves = _names(value.get("curve_preferences"), "curve_preferences", CURVES, problems)
    if len(curves) > 1:
        problems.append(
            "tls_server_config.curve_preferences: Python's ssl module restricts the key exchange to one curve only: "
            "list exactly one, or leave the key out for OpenSSL's default order"
        )
        curves = curves[:1]
    prefer_server = value.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer_server, bool):
        problems.append("tls_server_config.prefer_server_cipher_suites: expected true or false")
        prefer_server = True
    if files["cert_file"] is None or files["key_file"] is None:
        return None
    return TLSServerConfig(
        files["cert_file"], files["key_file"], min_version or "TLS12", max_version, files["client_ca_file"],
        client_auth, tuple(sans or ()), suites, prefer_server, curves,
    )


def _http(value: Any, problems: list[str]) -> HTTPServerConfig:
    if value is None:
        return HTTPServerConfig()
    if not isinstance(value, dict):
        problems.append("http_server_config: expected a mapping")
        return HTTPServerConfig()
    for key in value:
        if key not in _HTTP_KEYS:
            problems.append(f"http_server_config.{key}: unknown or unsupported key")
    http2 = value.get("http2", True)
    if not isinstance(http2, bool):
        problems.append("http_server_config.http2: expected true or false")
        http2 = True
    raw_headers = value.get("headers") or {}
    headers: list[tuple[str, str]] = []
    if not isinstance(raw_headers, dict):
        problems.append("http_server_config.headers: expected a mapping of header name to value")
        raw_headers = {}
    for name, header_value in raw_headers.items():
        if name not in RESPONSE_HEADERS:
            problems.append(f"http_server_config.headers.{name}: not one of {', '.join(RESPONSE_HEADERS)}")
            continue
        if header_value in (None, ""):
            continue  # exporter-toolkit: blank means unset
        allowed = RESPONSE_HEADERS[name]
        if not isinstance(header_value, str) or "\n" in header_value or "\r" in header_value:
            problems.append(f"http_server_config.headers.{name}: expected a one-line string")
        elif allowed is not None and header_value.lower() not in allowed:
            problems.append(f"http_server_config.headers.{name}: {header_value!r} is not one of {', '.join(allowed)}")
        else:
            headers.append((name, header_value))
    return HTTPServerConfig(http2, tuple(headers))


def _users(value: Any, problems: list[str]) -> dict[str, bytes]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append("basic_auth_users: expected a mapping of user name to bcrypt hash")
        return {}
    users: dict[str, bytes] = {}
    for user, hashed in value.items():
        if not isinstance(user, str) or not user or ":" in user:
            problems.append(f"basic_auth_users: {user!r} is not a valid user name")
            continue
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            # Never echo the value: it might be a plain password pasted by mistake.
            problems.append(f"basic_auth_users.{user}: expected a bcrypt hash ($2a$, $2b$ or $2y$)")
            continue
        users[user] = hashed.encode()
    return users


# bcrypt verdicts remembered (keyed digests, never passwords): successes so scrapes skip bcrypt, failures so
# a client repeating a wrong password costs nothing after its first attempt.
VERDICT_CACHE_SIZE = 1024
# New wrong credentials are checked with bcrypt at most this often (a burst, then a steady rate) across
# all clients; past that they are refused without a check, so wrong passwords cannot eat the CPU.
FAILED_CHECKS_BURST = 10
FAILED_CHECKS_PER_SECOND = 1.0


class BasicAuthChecker:
    """Checks `Authorization: Basic` headers against bcrypt hashes.

    bcrypt is slow on purpose (tens of milliseconds). Verdicts are remembered
    by a keyed SHA-256 digest of user and password (as exporter-toolkit does;
    the key is random per process, so the cache reveals nothing), and bcrypt
    checks that fail draw on a small token bucket: while it is empty, unknown
    credentials are refused without a check (and logged once per episode).
    Credentials accepted before keep working during such a flood.
    """

    def __init__(self, users: Mapping[str, bytes], clock=time.monotonic) -> None:
        self.users = dict(users)
        self._key = hashlib.sha256(ssl.RAND_bytes(32)).digest()
        self._verdicts: OrderedDict[bytes, bool] = OrderedDict()
        self._lock = threading.Lock()
        self._clock = clock
        self._tokens = float(FAILED_CHECKS_BURST)
        self._tokens_at = clock()
        self._throttling = False
        # Unknown users still pay for one bcrypt check at the same cost, so timing does not tell who exists.
        self._dummy = next(iter(self.users.values()), b"")

    def check(self, header: str | None) -> bool:
        if not self.users:
            return True
        credentials = _decode_basic(header)
        if credentials is None:
            return False
        user, password = credentials
        digest = hmac.new(self._key, user.encode() + b"\0" + password, hashlib.sha256).digest()
        with self._lock:
            verdict = self._verdicts.get(digest)
            if verdict is not None:
                self._verdicts.move_to_end(digest)
                return verdict
            if not self._take_token():
                return False
        hashed = self.users.get(user)
        try:
            accepted = bcrypt.checkpw(password, hashed if hashed is not None else self._dummy) and hashed is not None
        except ValueError:  # a malformed hash: never a match
            accepted = False
        with self._lock:
            if accepted:
                self._tokens = min(self._tokens + 1, FAILED_CHECKS_BURST)  # only failures spend the bucket
            self._verdicts[digest] = accepted
            if len(self._verdicts) > VERDICT_CACHE_SIZE:
                self._verdicts.popitem(last=False)
        return accepted

    def _take_token(self) -> bool:
        now = self._clock()
        self._tokens = min(self._tokens + (now - self._tokens_at) * FAILED_CHECKS_PER_SECOND, FAILED_CHECKS_BURST)
        self._tokens_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            self._throttling = False
            return True
        if not self._throttling:
            log.warning("basic auth: too many wrong credentials, refusing new ones without a check for now")
            self._throttling = True
        return False


def _decode_basic(header: str | None) -> tuple[str, bytes] | None:
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, separator, password = decoded.partition(b":")
    if not separator:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None
