"""`factorydash-exporter`: flags, logging, signals, and the main loop."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from . import __version__
from .config import Config, ConfigError, config_from_agent_flags, load_config
from .coverage import agent_coverage, coverage_text
from .durations import parse_duration
from .exporter import Exporter, agents_text
from .follower import Phase
from .storage import DEFAULT_INTERVAL_SECONDS, SnapshotStore, StorageError
from .web import ExporterApp, WebServer, parse_listen_address
from .weblive import NO_WEB_SECURITY, LiveWebConfig, WebConfigSource

log = logging.getLogger("factorydash")

DEFAULT_LISTEN_ADDRESS = "127.0.0.1:9700"
LOG_LEVELS = ("debug", "info", "warning", "error")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="factorydash-exporter",
        description="Follow MTConnect agents and expose devices, samples, events and conditions to Prometheus.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config.file", dest="config_file", metavar="FILE", help="YAML configuration file")
    source.add_argument(
        "--agent",
        dest="agents",
        action="append",
        metavar="NAME=URL",
        help="follow this agent with default settings (repeatable), instead of a config file",
    )
    parser.add_argument(
        "--config.check",
        dest="config_check",
        action="store_true",
        help="validate the configuration, print every problem, and exit (0: valid, 2: invalid)",
    )
    parser.add_argument(
        "--config.check.coverage",
        dest="config_check_coverage",
        action="store_true",
        help="with --config.check: also ask each agent for its probe and current once and print which data "
        "items get series and why the others do not (exit 1 if an agent does not answer)",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default=DEFAULT_LISTEN_ADDRESS,
        metavar="HOST:PORT",
        help=f"address of /metrics and the landing page (default {DEFAULT_LISTEN_ADDRESS})",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="FILE",
        help="TLS and basic auth for every endpoint, in the Prometheus exporter-toolkit format",
    )
    parser.add_argument(
        "--storage.path",
        dest="storage_path",
        metavar="DIR",
        help="keep each agent's position and counters here (created if missing), so a restart continues them",
    )
    parser.add_argument(
        "--storage.interval",
        dest="storage_interval",
        type=_positive_duration,
        default=DEFAULT_INTERVAL_SECONDS,
        metavar="DURATION",
        help=f"how often the snapshots are written, and once more at shutdown (default {DEFAULT_INTERVAL_SECONDS:g}s)",
    )
    parser.add_argument("--log.level", dest="log_level", choices=LOG_LEVELS, default="info")
    parser.add_argument("--version", action="version", version=f"factorydash-exporter {__version__}")
    return parser


def _positive_duration(text: str) -> float:
    seconds = parse_duration(text)
    if seconds is None or not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f'expected a positive duration like "5s", got {text!r}')
    return seconds


def _load(args: argparse.Namespace) -> Config:
    if args.config_file:
        return load_config(args.config_file)
    return config_from_agent_flags(args.agents)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        stream=sys.stderr,
    )
    try:
        config = _load(args)
    except ConfigError as error:
        print(f"invalid configuration:\n{error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"cannot read configuration: {error}", file=sys.stderr)
        return 2
    try:
        web: WebConfigSource = LiveWebConfig(args.web_config_file) if args.web_config_file else NO_WEB_SECURITY
    except ConfigError as error:
        print(f"invalid web configuration:\n{error}", file=sys.stderr)
        return 2
    if args.config_check:
        print(f"configuration is valid: {agents_text(len(config.agents))}")
        return _check_coverage(config) if args.config_check_coverage else 0
    if args.config_check_coverage:
        print("--config.check.coverage needs --config.check", file=sys.stderr)
        return 2
    try:
        host, port = parse_listen_address(args.listen_address)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2

    try:
        storage = SnapshotStore(args.storage_path) if args.storage_path else None
    except StorageError as error:
        print(error, file=sys.stderr)
        return 1
    exporter = Exporter(config, storage=storage, storage_interval=args.storage_interval)

    def load() -> Config:
        if not args.config_file:
            raise ConfigError(["no configuration file: agents came from --agent flags"])
        return load_config(args.config_file)

    def reload() -> None:
        """Load and apply the config file again; logs and raises when it is invalid (the old one stays)."""
        try:
            exporter.reload_from(load)
        except ConfigError as error:
            log.error("reload failed, keeping the old configuration:\n%s", error)
            raise

    try:
        server = WebServer(ExporterApp(exporter, reload if args.config_file else None, web), host, port, web)
    except OSError as error:
        print(f"cannot listen on {args.listen_address}: {error}", file=sys.stderr)
        return 1
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    # The handler only starts a thread: loading a config must not run inside a signal handler.
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=_safe_reload, args=(reload,), daemon=True).start())
    exporter.start()
    server.start()
    log.info("factorydash-exporter %s listening on %s, following %s", __version__, server.url, agents_text(len(config.agents)))
    stopping.wait()
    log.info("stopping")
    server.stop()
    exporter.stop()
    return 0


def _check_coverage(config: Config) -> int:
    """One probe and one current per agent, applied as the exporter would: 0 if every agent answered."""
    exporter = Exporter(config)
    answered = True
    try:
        for followed in exporter.agents.values():
            follower = followed.follower
            for _ in range(2):  # probe, then current
                follower.step()
            if follower.phase is not Phase.SAMPLE:
                answered = False
                print(f"agent {followed.config.name}: no coverage, the agent did not answer: "
                      f"{followed.state.last_error}")
                continue
            with followed.state.lock:
                print(coverage_text(agent_coverage(followed.state)))
    finally:
        exporter.stop()
    return 0 if answered else 1


def _safe_reload(reload) -> None:
    try:
        reload()
    except ConfigError:  # already logged; the old configuration stays
        pass
    except Exception:
        log.exception("reload failed, keeping the old configuration")
