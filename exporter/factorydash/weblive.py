"""The web configuration in force for the next connection: re-read when its file or its certificates change.

exporter-toolkit reads the web config file for every new connection, so a
renewed certificate (cert-manager, certbot) is served without a restart.
Here each new connection stats the config file and the files it names (a few
microseconds) and rebuilds the TLS context and the basic auth checker only
when one of them changed. A change that does not load (a key written after
its certificate, a typo) is logged once and the last good configuration
stays until the files change again. Whether the server speaks TLS is fixed
at start (the listening socket's scheme cannot change): a change that
switches TLS on or off is refused the same way.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .config import ConfigError
from .webconfig import NO_WEB_CONFIG, BasicAuthChecker, WebConfig, load_web_config

log = logging.getLogger(__name__)

FileStamp = tuple[int, int, int] | None  # (inode, size, mtime_ns) of a file, None if it cannot be read


@dataclass(frozen=True)
class ActiveWebConfig:
    """A web config ready to serve: its TLS context and its basic auth checker built once."""

    config: WebConfig
    tls: ssl.SSLContext | None
    auth: BasicAuthChecker | None

    @classmethod
    def build(cls, config: WebConfig, previous: ActiveWebConfig | None = None) -> ActiveWebConfig:
        """Raises ConfigError if the certificates do not load. Keeps the previous auth checker (and its
        remembered verdicts) while the users did not change."""
        tls = config.tls.context() if config.tls is not None else None
        if previous is not None and previous.auth is not None and previous.config.users == config.users:
            auth: BasicAuthChecker | None = previous.auth
        else:
            auth = BasicAuthChecker(config.users) if config.requires_auth else None
        return cls(config, tls, auth)

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return self.config.http.headers


class WebConfigSource(Protocol):
    def current(self) -> ActiveWebConfig: ...


class StaticWebConfig:
    """A web config that never changes (no --web.config.file, or tests)."""

    def __init__(self, config: WebConfig = NO_WEB_CONFIG) -> None:
        self._active = ActiveWebConfig.build(config)

    def current(self) -> ActiveWebConfig:
        return self._active


NO_WEB_SECURITY = StaticWebConfig()


class LiveWebConfig:
    """`--web.config.file`, checked for changes at every new connection. Raises ConfigError at start
    if the file is invalid; later invalid versions are logged and skipped."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._active = ActiveWebConfig.build(load_web_config(self.path))
        self._stamps = self._stamp(self._active.config)

    def _stamp(self, config: WebConfig) -> tuple[FileStamp, ...]:
        files = (self.path, *(config.tls.files if config.tls is not None else ()))
        return tuple(_file_stamp(path) for path in files)

    def current(self) -> ActiveWebConfig:
        active = self._active
        stamps = self._stamp(active.config)
        if stamps == self._stamps:
            return active
        with self._lock:
            if stamps != self._stamps:  # another connection may have reloaded it meanwhile
                self._stamps = stamps  # a broken version is tried once, not at every connection
                self._reload()
            return self._active

    def _reload(self) -> None:
        try:
            config = load_web_config(self.path)
            if (config.tls is None) != (self._active.config.tls is None):
                raise ConfigError([f"{self.path}: TLS cannot be switched on or off without a restart"])
            self._active = ActiveWebConfig.build(config, self._active)
        except ConfigError as error:
            log.error("web config changed but does not load, keeping the previous one:\n%s", error)
            return
        self._stamps = self._stamp(config)  # the files it names now (a new cert_file path, say)
        log.info("web config %s re-read: certificates, users and headers of new connections updated", self.path)


def _file_stamp(path: Path) -> FileStamp:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns
