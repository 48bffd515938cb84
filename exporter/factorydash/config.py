"""Strict YAML configuration -> frozen dataclasses.

Every problem of a file is collected with its key path and reported at once in
one ConfigError; unknown keys, wrong types and out-of-range values are errors,
and every default is applied here, while parsing, never patched in later.
exporter/factorydash.example.yml is the commented reference of every key.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from factorydash.durations import parse_duration
from factorydash.planning import (
    NO_PLANNING,
    QUALITY_SOURCES,
    SECONDS_PER_DAY,
    WEEKDAYS,
    CalendarException,
    DeviceEntry,
    DevicePlan,
    Planning,
    Shift,
    ShiftCalendar,
    WeeklyShift,
)

POLL_INTERVAL_ENV = "FACTORYDASH_POLL_INTERVAL"
# The variable of the application factorydash replaces, kept so old deployments keep their pace.
LEGACY_POLL_INTERVAL_ENV = "LOAD_NIST_DATA_SCHEDULE_SECONDS"
DEFAULT_POLL_INTERVAL = 1.0
MIN_TIMEOUT = 0.1
MAX_SAMPLE_COUNT = 1_000_000
# How an agent's HTTP redirects are treated: never followed (a redirect is reason `redirect`), or followed
# only to the configured scheme, host and port, so credentials and headers never reach another server.
REDIRECT_POLICIES = ("none", "same_origin")
REDACTED = "<secret>"
MAX_SECRET_FILE_BYTES = 64 * 1024  # a password, a token or a key: never more

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_NAME_EXPECTED = "name of letters, digits, _ . -"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
_EVENT_TYPE = re.compile(r"(?:[A-Za-z][A-Za-z0-9_]*:)?[A-Z][A-Z0-9_]*")  # PROGRAM, x:CUTTING_TIME
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d\d)(?::(\d\d))?")
_DURATION_EXPECTED = 'expected a duration like "2s" or a number of seconds'


class ConfigError(Exception):
    """Every problem of one configuration, one line each, each starting with its key path."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


class Secret:
    """A credential resolved at load time; it never shows itself in repr, str or format."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return self._value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # copy, deepcopy (dataclasses.asdict) and pickle would otherwise trip over the frozen __setattr__.
        return (Secret, (self._value,))


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: Secret


@dataclass(frozen=True)
class Settings:
    """The `global:` block."""

    event_info_types: frozenset[str] = frozenset({"PROGRAM"})
    # EVENT types (vendor x: events) whose values are numbers: exported as gauges.
    numeric_event_types: frozenset[str] = frozenset()
    max_label_value_length: int = 200
    max_series_per_agent: int = 50_000
    max_series_total: int = 500_000
    max_document_bytes: int = 64 * 1024 * 1024
    part_count_max_step: int = 10_000
    # Device time past a document's creationTime by more than this is clamped (docs/time-accounting.md, 3).
    max_clock_skew: float = 300.0
    # An observation this far off its device's timeline is a jump (docs/time-accounting.md, 3).
    timestamp_outlier_window: float = 21600.0


@dataclass(frozen=True)
class AgentDefaults:
    """The `defaults:` block; poll_interval None means: from the environment, else 1s."""

    poll_interval: float | None = None
    timeout: float = 10.0
    sample_count: int = 1000
    stream: bool = False
    heartbeat: float = 10.0
    tls_verify: bool = True
    ca_file: str | None = None


@dataclass(frozen=True)
class AgentConfig:
    name: str
    url: str  # ends in "/"
    devices: tuple[str, ...]  # empty: every device
    poll_interval: float
    timeout: float
    sample_count: int
    stream: bool
    heartbeat: float
    tls_verify: bool
    ca_file: str | None
    basic_auth: BasicAuth | None
    headers: tuple[tuple[str, Secret], ...]
    redirects: str = "none"  # none | same_origin (see REDIRECT_POLICIES)


@dataclass(frozen=True)
class Config:
    settings: Settings
    agents: tuple[AgentConfig, ...]
    planning: Planning = field(default=NO_PLANNING)

    def redacted(self) -> dict[str, Any]:
        """Plain data for display (a /config page, logs): every secret shown as <secret>."""
        return {
            "global": {
                "event_info_types": sorted(self.settings.event_info_types),
                "numeric_event_types": sorted(self.settings.numeric_event_types),
                **{
                    f.name: getattr(self.settings, f.name)
                    for f in fields(Settings)
                    if f.name not in ("event_info_types", "numeric_event_types")
                },
            },
            "agents": [_redact_agent(agent) for agent in self.agents],
            "planning": _redact_planning(self.planning),
        }


def _redact_agent(agent: AgentConfig) -> dict[str, Any]:
    return {
        "name": agent.name,
        "url": agent.url,
        "devices": list(agent.devices),
        "poll_interval": agent.poll_interval,
        "timeout": agent.timeout,
        "sample_count": agent.sample_count,
        "stream": agent.stream,
        "heartbeat": agent.heartbeat,
        "tls": {"verify": agent.tls_verify, "ca_file": agent.ca_file},
        "basic_auth": None
        if agent.basic_auth is None
        else {"username": agent.basic_auth.username, "password": REDACTED},
        "headers": {name: REDACTED for name, _ in agent.headers},
        "redirects": agent.redirects,
    }


def _format_time_of_day(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, second = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{second:02d}" if second else "")


def _redact_shift(shift: Shift) -> dict[str, Any]:
    # Break times after midnight are written as the file writes them: wall-clock times of the next day.
    return {
        "start": _format_time_of_day(shift.start),
        "end": _format_time_of_day(shift.end),
        "breaks": [
            {
                "start": _format_time_of_day(start % SECONDS_PER_DAY),
                "end": _format_time_of_day(end - SECONDS_PER_DAY if end > SECONDS_PER_DAY else end),
            }
            for start, end in shift.breaks
        ],
    }


def _redact_plan(plan: DevicePlan) -> dict[str, Any]:
    return {
        "calendar": None if plan.calendar is None else plan.calendar.name,
        "ideal_cycle_time": plan.ideal_cycle_time,
        "ideal_cycle_times": dict(plan.ideal_cycle_times),
        "quality_source": plan.quality_source,
    }


def _redact_planning(planning: Planning) -> dict[str, Any]:
    return {
        "calendars": {
            calendar.name: {
                "timezone": calendar.timezone.key,
                "weekly": [
                    {"days": [WEEKDAYS[day] for day in sorted(weekly.days)], **_redact_shift(weekly.shift)}
                    for weekly in calendar.weekly
                ],
                "exceptions": [
                    {"date": exception.date.isoformat(), "shifts": [_redact_shift(s) for s in exception.shifts]}
                    for exception in calendar.exceptions
                ],
            }
            for calendar in planning.calendars
        },
        "default": _redact_plan(planning.default),
        "devices": [
            {"agent": entry.agent, "device": entry.device, **_redact_plan(entry.plan)} for entry in planning.devices
        ],
    }


# --- YAML loading ---------------------------------------------------------------------------


class _Mapping(dict[Any, Any]):
    """A YAML mapping that remembers keys it saw twice (PyYAML silently keeps the last one)."""

    duplicate_keys: list[tuple[Any, int]]
    key_lines: dict[Any, int]  # the line of each key, for messages


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 numbers: unquoted 22:00 stays a string (YAML 1.1 reads it as 1320)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Mapping:
    loader.flatten_mapping(node)
    mapping = _Mapping()
    mapping.duplicate_keys = []
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            seen = key in mapping
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if seen:
            mapping.duplicate_keys.append((key, key_node.start_mark.line + 1))
        else:
            mapping.key_lines[key] = key_node.start_mark.line + 1
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _read_secret_file(path: Path) -> bytes:
    """A regular file of at most MAX_SECRET_FILE_BYTES. Opened without blocking and checked before reading,
    so a FIFO cannot hang the exporter (or --config.check) and /dev/zero cannot fill its memory."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(0, "not a regular file")
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(descriptor, MAX_SECRET_FILE_BYTES + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_SECRET_FILE_BYTES:
                raise OSError(0, f"larger than {MAX_SECRET_FILE_BYTES} bytes")
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a configuration file; relative file paths in it are relative to its directory."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{path}: cannot read the configuration: {error.strerror or error}"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"]) from None
    return parse_config(text, source=str(path), env=env, base_dir=path.parent)


def parse_config(
    text: str,
    source: str = "<config>",
    env: Mapping[str, str] | None = None,
    *,
    base_dir: Path | None = None,
) -> Config:
    """Validate configuration text; ``source`` names it in messages, ``base_dir`` anchors relative paths."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        position = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        raise ConfigError([f"{position}: YAML syntax error: {error.problem}"]) from None
    except yaml.YAMLError as error:
        raise ConfigError([f"{source}: YAML syntax error: {error}"]) from None
    reader = _Reader(os.environ if env is None else env, base_dir)
    config = reader.config(data, source)
    if reader.problems:
        raise ConfigError(reader.problems)
    assert config is not None
    return config


def config_from_agent_flags(flags: Sequence[str], env: Mapping[str, str] | None = None) -> Config:
    """A configuration from repeated ``--agent NAME=URL`` flags, everything else at its default."""
    reader = _Reader(os.environ if env is None else env, None)
    if not flags:
        reader.problem("--agent", "at least one NAME=URL is required")
    agents: list[tuple[str, AgentConfig | None]] = []
    names: list[tuple[str, object]] = []
    for index, flag in enumerate(flags):
        path = f"--agent[{index}]"
        name, separator, url = flag.partition("=")
        if not separator or not name or not url:
            reader.problem(path, f"expected NAME=URL, got {_describe(flag)}")
            continue
        agents.append((path, reader.agent(_Mapping(name=name, url=url), path, AgentDefaults())))
        names.append((path, name))
    reader.check_unique_names(names)
    if reader.problems:
        raise ConfigError(reader.problems)
    return Config(settings=Settings(), agents=tuple(a for _, a in agents if a is not None))


# --- validation -----------------------------------------------------------------------------

T = TypeVar("T")


class _Invalid:
    """Marks a value that was reported as a problem."""


_INVALID = _Invalid()


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _describe(value: object) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return json.dumps(shown, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _kind(value: object) -> str:
    """Like _describe but never the value itself, for places that may hold a secret."""
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return _describe(value)


def _seconds_text(value: float) -> str:
    return f"{value:g}s"


def _unknown_key(key: str, allowed: Sequence[str], line: int | None) -> str:
    """"unknown key (line 3); did you mean "agents"?": where it is, and the likely intended key."""
    message = "unknown key" if line is None else f"unknown key (line {line})"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return f'{message}; did you mean "{close[0]}"?' if close else message


class _Reader:
    """Walks the parsed YAML, collecting problems instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str], base_dir: Path | None) -> None:
        self.env = env
        self.base_dir = base_dir
        self.problems: list[str] = []
        self._env_poll_interval: float | None | _Invalid = None
        self._env_poll_interval_read = False

    def problem(self, path: str, message: str) -> _Invalid:
        self.problems.append(f"{path}: {message}")
        return _INVALID

    # scalar readers: return the value or _INVALID (after reporting)

    def mapping(
        self, value: object, path: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> dict[str, Any] | _Invalid:
        if not isinstance(value, dict):
            return self.problem(path, f"expected a mapping, got {_describe(value)}")
        self.duplicate_keys(value, path)
        for key in value:
            if not isinstance(key, str):
                self.problem(path, f"keys must be strings, got {_describe(key)}")
            elif key not in allowed:
                self.problem(_join(path, key), _unknown_key(key, allowed, getattr(value, "key_lines", {}).get(key)))
        for key in required:
            if key not in value:
                self.problem(_join(path, key), "missing required key")
        return value

    def duplicate_keys(self, value: dict[Any, Any], path: str) -> None:
        for key, line in getattr(value, "duplicate_keys", ()):
            self.problem(_join(path, key), f"duplicate key (line {line})")

    def string(
        self, value: object, path: str, pattern: re.Pattern[str] | None = None, what: str = ""
    ) -> str | _Invalid:
        if not isinstance(value, str) or not value:
            return self.problem(path, f"expected a non-empty string, got {_describe(value)}")
        if pattern is not None and not pattern.fullmatch(value):
            return self.problem(path, f"expected {what}, got {_describe(value)}")
        return value

    def integer(self, value: object, path: str, minimum: int, maximum: int | None = None) -> int | _Invalid:
        if isinstance(value, bool) or not isinstance(value, int):
            return self.problem(path, f"expected an integer, got {_describe(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            return self.problem(path, f"must be {bounds}, got {value}")
        return value

    def boolean(self, value: object, path: str) -> bool | _Invalid:
        if not isinstance(value, bool):
            return self.problem(path, f"expected true or false, got {_describe(value)}")
        return value

    def duration(self, value: object, path: str, minimum: float = 0.0, allow_zero: bool = False) -> float | _Invalid:
        seconds = parse_duration(value)
        if seconds is None or not math.isfinite(seconds):
            return self.problem(path, f"{_DURATION_EXPECTED}, got {_describe(value)}")
        if (minimum > 0 or allow_zero) and seconds < minimum:
            return self.problem(path, f"must be at least {_seconds_text(minimum)}, got {_seconds_text(seconds)}")
        if seconds <= 0 and not allow_zero:
            return self.problem(path, f"must be greater than 0, got {_seconds_text(seconds)}")
        return seconds

    def string_list(
        self, value: object, path: str, pattern: re.Pattern[str] | None = None, what: str = ""
    ) -> tuple[str, ...] | _Invalid:
        if not isinstance(value, list):
            return self.problem(path, f"expected a list, got {_describe(value)}")
        before = len(self.problems)
        items: list[str] = []
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            checked = self.string(item, item_path, pattern, what)
            if isinstance(checked, str):
                if checked in items:
                    self.problem(item_path, f"duplicate {_describe(checked)} (also {path}[{items.index(checked)}])")
                items.append(checked)
        return tuple(items) if len(self.problems) == before else _INVALID

    def file(self, value: object, path: str) -> str | _Invalid:
        text = self.string(value, path)
        if isinstance(text, _Invalid):
            return text
        resolved = Path(text) if self.base_dir is None else self.base_dir / text
        if not resolved.is_file():
            return self.problem(path, f"file not found: {_describe(str(resolved))}")
        return str(resolved)

    def secret(self, value: object, path: str) -> Secret | _Invalid:
        """A credential given as {env: VAR}, {file: path} or {value: literal}."""
        if not isinstance(value, dict):  # checked here: the generic message would echo the secret
            return self.problem(
                path, f"expected a mapping {{env: VARIABLE}}, {{file: path}} or {{value: text}}, got {_kind(value)}"
            )
        spec = self.mapping(value, path, ("env", "file", "value"))
        if isinstance(spec, _Invalid):
            return spec
        given = [key for key in ("env", "file", "value") if key in spec]
        if len(given) != 1:
            return self.problem(path, "expected exactly one of env, file, value")
        source = given[0]
        raw = spec[source]
        source_path = _join(path, source)
        if not isinstance(raw, str) or not raw:
            return self.problem(source_path, f"expected a non-empty string, got {_kind(raw)}")
        if source == "value":
            return Secret(raw)
        if source == "env":
            if not _ENV_NAME.fullmatch(raw):
                return self.problem(source_path, f"expected an environment variable name, got {_describe(raw)}")
            if raw not in self.env:
                return self.problem(source_path, f"environment variable {raw} is not set")
            if not self.env[raw]:
                return self.problem(source_path, f"environment variable {raw} is empty")
            return Secret(self.env[raw])
        resolved = Path(raw) if self.base_dir is None else self.base_dir / raw
        try:
            content = _read_secret_file(resolved).decode("utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not UTF-8 text"
            return self.problem(source_path, f"cannot read secret file {_describe(str(resolved))}: {reason}")
        if not content:
            return self.problem(source_path, f"secret file {_describe(str(resolved))} is empty")
        return Secret(content)

    def url(self, value: object, path: str) -> str | _Invalid:
        text = self.string(value, path)
        if isinstance(text, _Invalid):
            return text
        try:
            parts = urlsplit(text)
        except ValueError as error:  # e.g. an unclosed IPv6 bracket
            return self.problem(path, f"invalid URL {_describe(text)}: {error}")
        # Checked first: the URL becomes a label of mtconnect_agent_info, and messages echo it.
        if "@" in parts.netloc:
            return self.problem(path, "credentials in the URL would be exported as a label; use basic_auth")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return self.problem(path, f"expected an http:// or https:// URL, got {_describe(text)}")
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            return self.problem(path, f"invalid port in {_describe(text)}")
        if not parts.hostname:
            return self.problem(path, f"URL has no host: {_describe(text)}")
        if parts.query or parts.fragment:
            return self.problem(path, f"a base URL has no query or fragment, got {_describe(text)}")
        base_path = parts.path if parts.path.endswith("/") else parts.path + "/"
        return urlunsplit((parts.scheme, parts.netloc, base_path, "", ""))

    def time_of_day(self, value: object, path: str, allow_midnight_end: bool) -> int | _Invalid:
        match = _TIME_OF_DAY.fullmatch(value) if isinstance(value, str) else None
        latest = SECONDS_PER_DAY if allow_midnight_end else SECONDS_PER_DAY - 1
        if match:
            hours, minutes, seconds = (int(group or 0) for group in match.groups())
            total = hours * 3600 + minutes * 60 + seconds
            if minutes < 60 and seconds < 60 and total <= latest:
                return total
        upper = "24:00" if allow_midnight_end else "23:59"
        return self.problem(path, f'expected a time of day "HH:MM" from 00:00 to {upper}, got {_describe(value)}')

    def read(
        self, mapping: Mapping[str, Any], key: str, path: str, reader: Callable[[Any, str], T], default: T
    ) -> T | _Invalid:
        return reader(mapping[key], _join(path, key)) if key in mapping else default

    # sections

    def config(self, data: object, source: str) -> Config | None:
        if data is None:
            self.problem(source, "the configuration is empty; at least an agents list is required")
            return None
        if not isinstance(data, dict):
            self.problem(source, f"expected a mapping at the top level, got {_describe(data)}")
            return None
        root = self.mapping(data, "", ("global", "defaults", "agents", "planning"), required=("agents",))
        assert isinstance(root, dict)
        settings = self.settings(root.get("global", {}), "global")
        defaults = self.agent_defaults(root["defaults"], "defaults") if "defaults" in root else AgentDefaults()
        agents = self.agents(root["agents"], "agents", defaults) if "agents" in root else _INVALID
        agent_names = {a.name for a in agents} if not isinstance(agents, _Invalid) else None
        planning = self.planning(root["planning"], "planning", agent_names) if "planning" in root else NO_PLANNING
        if any(isinstance(part, _Invalid) for part in (settings, defaults, agents, planning)):
            return None
        return Config(settings=settings, agents=agents, planning=planning)

    def settings(self, value: object, path: str) -> Settings | _Invalid:
        names = [f.name for f in fields(Settings)]
        block = self.mapping(value, path, names)
        if isinstance(block, _Invalid):
            return block
        before = len(self.problems)
        event_types = self.read(
            block, "event_info_types", path,
            lambda v, p: self.string_list(v, p, _EVENT_TYPE, "an MTConnect type like PROGRAM or x:CUTTING_TIME"),
            tuple(Settings.event_info_types),
        )
        numeric_types = self.read(
            block, "numeric_event_types", path,
            lambda v, p: self.string_list(v, p, _EVENT_TYPE, "an MTConnect type like x:PALLET_NUMBER"),
            tuple(Settings.numeric_event_types),
        )
        if isinstance(numeric_types, tuple) and isinstance(event_types, tuple):
            for index, kind in enumerate(numeric_types):
                if kind in event_types:
                    self.problem(
                        f"{path}.numeric_event_types[{index}]",
                        f"{kind} is also in event_info_types; an event is exported either as a number or as text",
                    )
        durations = {
            "max_clock_skew": self.read(
                block, "max_clock_skew", path, lambda v, p: self.duration(v, p, allow_zero=True),
                Settings.max_clock_skew,
            ),
            "timestamp_outlier_window": self.read(
                block, "timestamp_outlier_window", path, self.duration, Settings.timestamp_outlier_window
            ),
        }
        integers = {
            name: self.read(block, name, path, lambda v, p: self.integer(v, p, 1), getattr(Settings, name))
            for name in names
            if name not in ("event_info_types", "numeric_event_types") and name not in durations
        }
        if len(self.problems) != before:
            return _INVALID
        assert isinstance(event_types, tuple) and isinstance(numeric_types, tuple)
        return Settings(
            event_info_types=frozenset(event_types), numeric_event_types=frozenset(numeric_types),
            **integers, **durations,
        )

    def tls(self, value: object, path: str, inherited: AgentDefaults) -> tuple[bool, str | None] | _Invalid:
        block = self.mapping(value, path, ("verify", "ca_file"))
        if isinstance(block, _Invalid):
            return block
        verify = self.read(block, "verify", path, self.boolean, inherited.tls_verify)
        ca_file = self.read(
            block, "ca_file", path, lambda v, p: None if v is None else self.file(v, p), inherited.ca_file
        )
        if isinstance(verify, _Invalid) or isinstance(ca_file, _Invalid):
            return _INVALID
        return verify, ca_file

    def agent_defaults(self, value: object, path: str) -> AgentDefaults | _Invalid:
        block = self.mapping(value, path, ("poll_interval", "timeout", "sample_count", "stream", "heartbeat", "tls"))
        if isinstance(block, _Invalid):
            return block
        return self.agent_fields(block, path, AgentDefaults(), AgentDefaults)

    def agent_fields(
        self, block: Mapping[str, Any], path: str, inherited: AgentDefaults, build: Callable[..., T]
    ) -> T | _Invalid:
        """The settings an agent shares with `defaults:`, each from ``block`` else ``inherited``."""
        before = len(self.problems)
        values = {
            "poll_interval": self.read(block, "poll_interval", path, self.duration, inherited.poll_interval),
            "timeout": self.read(
                block, "timeout", path, lambda v, p: self.duration(v, p, MIN_TIMEOUT), inherited.timeout
            ),
            "sample_count": self.read(
                block, "sample_count", path, lambda v, p: self.integer(v, p, 1, MAX_SAMPLE_COUNT),
                inherited.sample_count,
            ),
            "stream": self.read(block, "stream", path, self.boolean, inherited.stream),
            "heartbeat": self.read(block, "heartbeat", path, self.duration, inherited.heartbeat),
        }
        tls = self.read(
            block, "tls", path, lambda v, p: self.tls(v, p, inherited), (inherited.tls_verify, inherited.ca_file)
        )
        if len(self.problems) != before or isinstance(tls, _Invalid):
            return _INVALID
        values["tls_verify"], values["ca_file"] = tls
        if values["ca_file"] is not None and not values["tls_verify"]:
            return self.problem(_join(path, "tls"), "ca_file has no effect when verify is false")
        return build(**values)

    def env_poll_interval(self) -> float | _Invalid:
        if not self._env_poll_interval_read:
            self._env_poll_interval_read = True
            for variable in (POLL_INTERVAL_ENV, LEGACY_POLL_INTERVAL_ENV):
                if self.env.get(variable):
                    self._env_poll_interval = self.duration(self.env[variable], f"environment variable {variable}")
                    break
        if self._env_poll_interval is None:
            return DEFAULT_POLL_INTERVAL
        return self._env_poll_interval

    def agents(
        self, value: object, path: str, defaults: AgentDefaults | _Invalid
    ) -> tuple[AgentConfig, ...] | _Invalid:
        if not isinstance(value, list):
            return self.problem(path, f"expected a list of agents, got {_describe(value)}")
        if not value:
            return self.problem(path, "at least one agent is required")
        inherited = AgentDefaults() if isinstance(defaults, _Invalid) else defaults
        agents = [self.agent(item, f"{path}[{i}]", inherited) for i, item in enumerate(value)]
        unique = self.check_unique_names(
            [(f"{path}[{i}]", item.get("name") if isinstance(item, dict) else None) for i, item in enumerate(value)]
        )
        checked = tuple(agent for agent in agents if agent is not None)
        if not unique or isinstance(defaults, _Invalid) or len(checked) != len(agents):
            return _INVALID
        return checked

    def check_unique_names(self, names: Sequence[tuple[str, object]]) -> bool:
        """Duplicates among the names that are valid, whether or not the rest of their agent is."""
        first_path: dict[str, str] = {}
        unique = True
        for path, name in names:
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                continue
            if name in first_path:
                unique = False
                self.problem(_join(path, "name"), f"duplicate agent name {_describe(name)} (also {first_path[name]})")
            else:
                first_path[name] = path
        return unique

    def agent(self, value: object, path: str, inherited: AgentDefaults) -> AgentConfig | None:
        allowed = ("name", "url", "devices", "poll_interval", "timeout", "sample_count", "stream", "heartbeat",
                   "tls", "basic_auth", "headers", "redirects")
        before = len(self.problems)
        block = self.mapping(value, path, allowed, required=("name", "url"))
        if isinstance(block, _Invalid):
            return None
        name = self.read(block, "name", path, lambda v, p: self.string(v, p, _NAME, f"a {_NAME_EXPECTED}"), _INVALID)
        url = self.read(block, "url", path, self.url, _INVALID)
        devices = self.read(block, "devices", path, self.string_list, ())
        shared = self.agent_fields(block, path, inherited, AgentDefaults)
        basic_auth = self.read(block, "basic_auth", path, self.basic_auth, None)
        headers = self.read(block, "headers", path, self.headers, ())
        redirects = self.read(block, "redirects", path, self.redirect_policy, "none")
        if not isinstance(headers, _Invalid) and basic_auth is not None:
            for header, _ in headers:
                if header.lower() == "authorization":
                    self.problem(_join(_join(path, "headers"), header), "conflicts with basic_auth")
        if isinstance(shared, _Invalid):
            return None
        poll_interval = shared.poll_interval if shared.poll_interval is not None else self.env_poll_interval()
        if len(self.problems) != before or isinstance(poll_interval, _Invalid):
            return None
        return AgentConfig(
            name=name, url=url, devices=devices, poll_interval=poll_interval, timeout=shared.timeout,
            sample_count=shared.sample_count, stream=shared.stream, heartbeat=shared.heartbeat,
            tls_verify=shared.tls_verify, ca_file=shared.ca_file, basic_auth=basic_auth, headers=headers,
            redirects=redirects,
        )  # fmt: skip

    def redirect_policy(self, value: object, path: str) -> str | _Invalid:
        if value not in REDIRECT_POLICIES:
            return self.problem(path, f"expected one of {', '.join(REDIRECT_POLICIES)}, got {_describe(value)}")
        return value  # type: ignore[return-value]

    def basic_auth(self, value: object, path: str) -> BasicAuth | _Invalid:
        block = self.mapping(value, path, ("username", "password"), required=("username", "password"))
        if isinstance(block, _Invalid):
            return block
        username = self.read(block, "username", path, self.string, _INVALID)
        password = self.read(block, "password", path, self.secret, _INVALID)
        if isinstance(username, _Invalid) or isinstance(password, _Invalid):
            return _INVALID
        return BasicAuth(username=username, password=password)

    def headers(self, value: object, path: str) -> tuple[tuple[str, Secret], ...] | _Invalid:
        if not isinstance(value, dict):
            return self.problem(path, f"expected a mapping of header names to secrets, got {_describe(value)}")
        self.duplicate_keys(value, path)
        before = len(self.problems)
        headers: list[tuple[str, Secret]] = []
        seen: dict[str, str] = {}
        for name, spec in value.items():
            if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
                self.problem(path, f"expected an HTTP header name, got {_describe(name)}")
                continue
            header_path = _join(path, name)
            if name.lower() in seen:
                self.problem(header_path, f"duplicate header (also {seen[name.lower()]})")
            seen[name.lower()] = name
            secret = self.secret(spec, header_path)
            if isinstance(secret, Secret):
                if "\r" in secret.reveal() or "\n" in secret.reveal():
                    self.problem(header_path, "the value contains a line break")
                headers.append((name, secret))
        return tuple(headers) if len(self.problems) == before else _INVALID

    # planning

    def planning(self, value: object, path: str, agent_names: set[str] | None) -> Planning | _Invalid:
        block = self.mapping(value, path, ("calendars", "default", "devices"))
        if isinstance(block, _Invalid):
            return block
        before = len(self.problems)
        calendars: dict[str, ShiftCalendar | None] = {}
        if "calendars" in block:
            calendars_path = _join(path, "calendars")
            raw_calendars = block["calendars"]
            if not isinstance(raw_calendars, dict):
                self.problem(
                    calendars_path, f"expected a mapping of calendar names to calendars, got {_describe(raw_calendars)}"
                )
            else:
                self.duplicate_keys(raw_calendars, calendars_path)
                for name, spec in raw_calendars.items():
                    if not isinstance(name, str) or not _NAME.fullmatch(name):
                        self.problem(calendars_path, f"expected a calendar {_NAME_EXPECTED}, got {_describe(name)}")
                        continue
                    calendars[name] = self.calendar(spec, _join(calendars_path, name), name)
        no_plan = DevicePlan(calendar=None, ideal_cycle_time=None)
        default = self.read(
            block, "default", path, lambda v, p: self.device_plan(v, p, calendars, no_plan, ()), no_plan
        )
        devices: list[DeviceEntry] = []
        if "devices" in block:
            devices_path = _join(path, "devices")
            raw_devices = block["devices"]
            if not isinstance(raw_devices, list):
                self.problem(devices_path, f"expected a list, got {_describe(raw_devices)}")
            else:
                inherited = no_plan if isinstance(default, _Invalid) else default
                first_path: dict[tuple[str, str], str] = {}
                for index, spec in enumerate(raw_devices):
                    entry_path = f"{devices_path}[{index}]"
                    entry = self.device_entry(spec, entry_path, calendars, inherited, agent_names)
                    if entry is None:
                        continue
                    key = (entry.agent, entry.device)
                    if key in first_path:
                        self.problem(
                            entry_path,
                            f"duplicate entry for agent {_describe(entry.agent)} device {_describe(entry.device)}"
                            f" (also {first_path[key]})",
                        )
                    first_path.setdefault(key, entry_path)
                    devices.append(entry)
        if len(self.problems) != before or isinstance(default, _Invalid):
            return _INVALID
        return Planning(
            calendars=tuple(c for c in calendars.values() if c is not None), default=default, devices=tuple(devices)
        )

    def device_plan(
        self, value: object, path: str, calendars: Mapping[str, ShiftCalendar | None], inherited: DevicePlan,
        extra_keys: Sequence[str],
    ) -> DevicePlan | _Invalid:
        block = self.mapping(
            value, path, ("calendar", "ideal_cycle_time", "ideal_cycle_times", "quality_source", *extra_keys),
            required=extra_keys,
        )
        if isinstance(block, _Invalid):
            return block

        def pick_calendar(name: object, key_path: str) -> ShiftCalendar | None | _Invalid:
            if name is None:
                return None
            checked = self.string(name, key_path)
            if isinstance(checked, _Invalid):
                return checked
            if checked not in calendars:
                known = ", ".join(sorted(calendars)) or "none defined"
                return self.problem(key_path, f"unknown calendar {_describe(checked)} (calendars: {known})")
            return calendars[checked] or _INVALID  # None: that calendar itself has problems, already reported

        chosen = self.read(block, "calendar", path, pick_calendar, inherited.calendar)
        ideal = self.read(
            block, "ideal_cycle_time", path, lambda v, p: None if v is None else self.duration(v, p),
            inherited.ideal_cycle_time,
        )
        per_program = self.read(
            block, "ideal_cycle_times", path, lambda v, p: {} if v is None else self.ideal_cycle_times(v, p),
            inherited.ideal_cycle_times,
        )
        quality_source = self.read(
            block, "quality_source", path,
            lambda v, p: None if v is None else self.string(
                v, p, re.compile("|".join(QUALITY_SOURCES)), "one of " + ", ".join(QUALITY_SOURCES)
            ),
            inherited.quality_source,
        )
        if any(isinstance(part, _Invalid) for part in (chosen, ideal, per_program, quality_source)):
            return _INVALID
        return DevicePlan(
            calendar=chosen, ideal_cycle_time=ideal, ideal_cycle_times=per_program, quality_source=quality_source
        )

    def ideal_cycle_times(self, value: object, path: str) -> dict[str, float] | _Invalid:
        if not isinstance(value, dict):
            return self.problem(path, f"expected a mapping of PROGRAM values to durations, got {_describe(value)}")
        self.duplicate_keys(value, path)
        before = len(self.problems)
        times: dict[str, float] = {}
        for program, spec in value.items():
            if not isinstance(program, str) or not program:
                # An unquoted 01234 would be read as a number (an octal one): the PROGRAM value is text.
                self.problem(path, f"expected a PROGRAM value as a string (quote numbers), got {_describe(program)}")
                continue
            seconds = self.duration(spec, _join(path, program))
            if not isinstance(seconds, _Invalid):
                times[program] = seconds
        return times if len(self.problems) == before else _INVALID

    def device_entry(
        self, value: object, path: str, calendars: Mapping[str, ShiftCalendar | None], inherited: DevicePlan,
        agent_names: set[str] | None,
    ) -> DeviceEntry | None:
        plan = self.device_plan(value, path, calendars, inherited, ("agent", "device"))
        if not isinstance(value, dict):
            return None
        agent = self.read(value, "agent", path, self.string, _INVALID)
        device = self.read(value, "device", path, self.string, _INVALID)
        if isinstance(agent, str) and agent_names is not None and agent not in agent_names:
            self.problem(_join(path, "agent"), f"unknown agent {_describe(agent)}")
            return None
        if isinstance(plan, _Invalid) or isinstance(agent, _Invalid) or isinstance(device, _Invalid):
            return None
        return DeviceEntry(agent=agent, device=device, plan=plan)

    def calendar(self, value: object, path: str, name: str) -> ShiftCalendar | None:
        before = len(self.problems)
        block = self.mapping(value, path, ("timezone", "weekly", "exceptions"), required=("timezone", "weekly"))
        if isinstance(block, _Invalid):
            return None
        zone = self.read(block, "timezone", path, self.timezone, _INVALID)
        weekly: list[WeeklyShift] = []
        if "weekly" in block:
            weekly_path = _join(path, "weekly")
            if not isinstance(block["weekly"], list):
                self.problem(weekly_path, f"expected a list of shifts, got {_describe(block['weekly'])}")
            else:
                for index, spec in enumerate(block["weekly"]):
                    item = self.weekly_shift(spec, f"{weekly_path}[{index}]")
                    if item is not None:
                        weekly.append(item)
        exceptions: list[CalendarException] = []
        if "exceptions" in block:
            exceptions_path = _join(path, "exceptions")
            if not isinstance(block["exceptions"], list):
                self.problem(exceptions_path, f"expected a list, got {_describe(block['exceptions'])}")
            else:
                first_path: dict[date, str] = {}
                for index, spec in enumerate(block["exceptions"]):
                    item_path = f"{exceptions_path}[{index}]"
                    exception = self.calendar_exception(spec, item_path)
                    if exception is None:
                        continue
                    if exception.date in first_path:
                        self.problem(
                            _join(item_path, "date"),
                            f"duplicate date {exception.date.isoformat()} (also {first_path[exception.date]})",
                        )
                    first_path.setdefault(exception.date, item_path)
                    exceptions.append(exception)
        if len(self.problems) != before or isinstance(zone, _Invalid):
            return None
        return ShiftCalendar(name=name, timezone=zone, weekly=tuple(weekly), exceptions=tuple(exceptions))

    def timezone(self, value: object, path: str) -> ZoneInfo | _Invalid:
        text = self.string(value, path)
        if isinstance(text, _Invalid):
            return text
        try:
            return ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            return self.problem(path, f"unknown timezone {_describe(text)} (expected an IANA name like Europe/Berlin)")

    def shift(self, block: Mapping[str, Any], path: str) -> Shift | None:
        start = self.read(block, "start", path, lambda v, p: self.time_of_day(v, p, False), _INVALID)
        end = self.read(block, "end", path, lambda v, p: self.time_of_day(v, p, True), _INVALID)
        if isinstance(start, _Invalid) or isinstance(end, _Invalid):
            return None
        if start == end:
            self.problem(path, 'start and end are equal; a shift of a whole day is "00:00" to "24:00"')
            return None
        breaks = self.read(block, "breaks", path, lambda v, p: self.breaks(v, p, start, end), ())
        if isinstance(breaks, _Invalid):
            return None
        return Shift(start=start, end=end, breaks=breaks)

    def breaks(self, value: object, path: str, start: int, end: int) -> tuple[tuple[int, int], ...] | _Invalid:
        """Breaks of the shift start-end, on the scale of the day the shift starts (Shift.breaks)."""
        if not isinstance(value, list):
            return self.problem(path, f"expected a list of breaks, got {_describe(value)}")
        before = len(self.problems)
        crosses_midnight = end <= start
        shift_end = end + SECONDS_PER_DAY if crosses_midnight else end
        shift_text = f"{_format_time_of_day(start)}-{_format_time_of_day(end)}"
        accepted: list[tuple[int, str, int, int]] = []  # index, as written, start, end
        for index, spec in enumerate(value):
            item_path = f"{path}[{index}]"
            block = self.mapping(spec, item_path, ("start", "end"), required=("start", "end"))
            if isinstance(block, _Invalid):
                continue
            first = self.read(block, "start", item_path, lambda v, p: self.time_of_day(v, p, False), _INVALID)
            last = self.read(block, "end", item_path, lambda v, p: self.time_of_day(v, p, True), _INVALID)
            if isinstance(first, _Invalid) or isinstance(last, _Invalid):
                continue
            break_text = f"{_format_time_of_day(first)}-{_format_time_of_day(last)}"
            # In a shift that crosses midnight, a time before the shift's start is on the next day.
            if crosses_midnight:
                first += SECONDS_PER_DAY if first < start else 0
                last += SECONDS_PER_DAY if last < start else 0
            if last <= first:
                self.problem(item_path, f"the break {break_text} does not end after it starts")
                continue
            if first < start or last > shift_end:
                self.problem(item_path, f"the break {break_text} is not inside the shift {shift_text}")
                continue
            for other_index, other_text, other_first, other_last in accepted:
                if first < other_last and other_first < last:
                    self.problem(item_path, f"the break {break_text} overlaps breaks[{other_index}] {other_text}")
                    break
            else:
                accepted.append((index, break_text, first, last))
        if len(self.problems) != before:
            return _INVALID
        return tuple(sorted((first, last) for _, _, first, last in accepted))

    def weekly_shift(self, value: object, path: str) -> WeeklyShift | None:
        block = self.mapping(value, path, ("days", "start", "end", "breaks"), required=("days", "start", "end"))
        if isinstance(block, _Invalid):
            return None
        days = self.read(
            block, "days", path,
            lambda v, p: self.string_list(v, p, re.compile("|".join(WEEKDAYS)), "one of " + ", ".join(WEEKDAYS)),
            _INVALID,
        )
        if isinstance(days, tuple) and not days:
            self.problem(_join(path, "days"), "at least one day is required")
        shift = self.shift(block, path)
        if shift is None or not isinstance(days, tuple) or not days:
            return None
        return WeeklyShift(days=frozenset(WEEKDAYS.index(day) for day in days), shift=shift)

    def calendar_exception(self, value: object, path: str) -> CalendarException | None:
        block = self.mapping(value, path, ("date", "shifts"), required=("date",))
        if isinstance(block, _Invalid):
            return None
        on = self.read(block, "date", path, self.calendar_date, _INVALID)
        shifts: list[Shift] = []
        ok = True
        if "shifts" in block:
            shifts_path = _join(path, "shifts")
            if not isinstance(block["shifts"], list):
                self.problem(shifts_path, f"expected a list of shifts, got {_describe(block['shifts'])}")
                ok = False
            else:
                for index, spec in enumerate(block["shifts"]):
                    item_path = f"{shifts_path}[{index}]"
                    shift_block = self.mapping(
                        spec, item_path, ("start", "end", "breaks"), required=("start", "end")
                    )
                    shift = None if isinstance(shift_block, _Invalid) else self.shift(shift_block, item_path)
                    if shift is None:
                        ok = False
                    else:
                        shifts.append(shift)
        if isinstance(on, _Invalid) or not ok:
            return None
        return CalendarException(date=on, shifts=tuple(shifts))

    def calendar_date(self, value: object, path: str) -> date | _Invalid:
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        return self.problem(path, f"expected a date like 2026-12-25, got {_describe(value)}")
