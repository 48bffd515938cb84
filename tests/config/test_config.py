"""The configuration loader: strict, every problem reported with its key path, secrets never shown."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from factorydash.config import (
    AgentDefaults,
    ConfigError,
    Secret,
    Settings,
    config_from_agent_flags,
    load_config,
    parse_config,
)

HERE = Path(__file__).resolve().parent
INVALID_DIR = HERE / "invalid"
EXAMPLE = HERE.parents[1] / "exporter" / "factorydash.example.yml"

NIST = "https://smstestbed.nist.gov/vds/"
MINIMAL = f"agents:\n  - name: nist\n    url: {NIST}\n"


def _header(path: Path, key: str) -> list[str]:
    prefix = f"# {key}: "
    return [line[len(prefix):] for line in path.read_text().splitlines() if line.startswith(prefix)]


def _invalid_files() -> list[Path]:
    return sorted(INVALID_DIR.glob("*.yml"))


@pytest.mark.parametrize("path", _invalid_files(), ids=lambda p: p.stem)
def test_each_invalid_file_is_rejected_with_exactly_its_expected_messages(path: Path) -> None:
    expected = [line.replace("{dir}", str(INVALID_DIR)) for line in _header(path, "expect")]
    env = dict(line.split("=", 1) for line in _header(path, "env"))
    assert expected, f"{path.name} has no '# expect:' line"

    with pytest.raises(ConfigError) as caught:
        parse_config(path.read_text(), source=path.name, env=env, base_dir=path.parent)

    assert caught.value.problems == expected
    assert str(caught.value) == "\n".join(expected)


def test_the_invalid_files_cover_every_kind_of_error_the_brief_names() -> None:
    names = {path.stem for path in _invalid_files()}
    assert {
        "unknown-agent-key", "sample-count-not-an-integer", "duplicate-agent-name", "url-bad-scheme",
        "bad-duration", "missing-env-secret", "bad-timezone", "unknown-calendar", "bad-time-of-day",
        "several-problems", "negative-max-clock-skew", "zero-timestamp-outlier-window", "break-outside-its-shift",
        "overlapping-breaks", "break-end-not-after-start", "bad-ideal-cycle-times", "bad-quality-source",
    } <= names  # fmt: skip


def test_the_example_config_loads_with_the_nist_test_bed_agent() -> None:
    config = load_config(EXAMPLE, env={})

    assert [(agent.name, agent.url) for agent in config.agents] == [("nist", NIST)]
    assert [calendar.name for calendar in config.planning.calendars] == ["two-shifts"]
    assert config.planning.plan_for("nist", "Mazak01").ideal_cycle_time == 95.0
    assert config.planning.plan_for("nist", "Mazak01").calendar is config.planning.calendars[0]


def test_the_example_config_shows_the_defaults_as_values() -> None:
    config = load_config(EXAMPLE, env={})
    defaults = AgentDefaults()
    agent = config.agents[0]

    assert config.settings == Settings()
    assert (agent.poll_interval, agent.timeout, agent.sample_count, agent.stream, agent.heartbeat) == (
        1.0, defaults.timeout, defaults.sample_count, defaults.stream, defaults.heartbeat,
    )  # fmt: skip
    assert (agent.tls_verify, agent.ca_file) == (defaults.tls_verify, defaults.ca_file)
    assert (agent.devices, agent.basic_auth, agent.headers) == ((), None, ())


def test_a_minimal_config_gets_every_documented_default() -> None:
    config = parse_config(MINIMAL, env={})
    agent = config.agents[0]

    assert config.settings == Settings(
        event_info_types=frozenset({"PROGRAM"}),
        max_label_value_length=200,
        max_series_per_agent=50_000,
        max_series_total=500_000,
        max_document_bytes=64 * 1024 * 1024,
        part_count_max_step=10_000,
        max_clock_skew=300.0,
        timestamp_outlier_window=21600.0,
    )
    assert (agent.poll_interval, agent.timeout, agent.sample_count, agent.stream, agent.heartbeat) == (
        1.0, 10.0, 1000, False, 10.0,
    )  # fmt: skip
    assert (agent.tls_verify, agent.ca_file, agent.basic_auth, agent.headers, agent.devices) == (
        True, None, None, (), (),
    )  # fmt: skip
    assert config.planning.plan_for("nist", "Mazak01").calendar is None


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("https://smstestbed.nist.gov/vds", NIST),
        (NIST, NIST),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000/"),
        ("HTTP://[::1]:5000/agent", "http://[::1]:5000/agent/"),
    ],
)
def test_the_agent_url_keeps_its_path_prefix_and_ends_in_a_slash(written: str, normalised: str) -> None:
    config = parse_config(f"agents:\n  - name: a\n    url: {written}\n", env={})

    assert config.agents[0].url == normalised


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("2", 2.0), ("1.5", 1.5), ('"3"', 3.0), ("500ms", 0.5), ("2s", 2.0), ("1m30s", 90.0), ("1h", 3600.0), ("1d", 86400.0)],
)
def test_durations_are_numbers_of_seconds_or_unit_strings(written: str, seconds: float) -> None:
    config = parse_config(MINIMAL + f"    poll_interval: {written}\n", env={})

    assert config.agents[0].poll_interval == seconds


def test_the_defaults_block_applies_to_agents_that_do_not_set_a_key() -> None:
    text = f"""
defaults: {{poll_interval: 5s, timeout: 3s, sample_count: 200, stream: true, heartbeat: 2s, tls: {{verify: false}}}}
agents:
  - {{name: a, url: {NIST}}}
  - {{name: b, url: {NIST}, poll_interval: 250ms, sample_count: 50}}
"""
    a, b = parse_config(text, env={}).agents

    assert (a.poll_interval, a.timeout, a.sample_count, a.stream, a.heartbeat, a.tls_verify) == (
        5.0, 3.0, 200, True, 2.0, False,
    )  # fmt: skip
    assert (b.poll_interval, b.timeout, b.sample_count) == (0.25, 3.0, 50)


def test_tls_settings_merge_key_by_key_with_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not parsed here\n")
    (tmp_path / "factorydash.yml").write_text(
        f"defaults: {{tls: {{ca_file: ca.pem}}}}\nagents:\n  - {{name: a, url: {NIST}, tls: {{verify: true}}}}\n"
    )

    agent = load_config(tmp_path / "factorydash.yml", env={}).agents[0]

    assert (agent.tls_verify, agent.ca_file) == (True, str(tmp_path / "ca.pem"))


def test_a_ca_file_with_verification_off_is_a_contradiction() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(MINIMAL + f"    tls: {{verify: false, ca_file: {EXAMPLE}}}\n", env={})

    assert caught.value.problems == ["agents[0].tls: ca_file has no effect when verify is false"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, 1.0),
        ({"LOAD_NIST_DATA_SCHEDULE_SECONDS": "30"}, 30.0),
        ({"FACTORYDASH_POLL_INTERVAL": "2s", "LOAD_NIST_DATA_SCHEDULE_SECONDS": "30"}, 2.0),
        ({"FACTORYDASH_POLL_INTERVAL": "", "LOAD_NIST_DATA_SCHEDULE_SECONDS": "30"}, 30.0),
    ],
)
def test_the_poll_interval_falls_back_to_the_environment_then_to_one_second(
    env: dict[str, str], expected: float
) -> None:
    assert parse_config(MINIMAL, env=env).agents[0].poll_interval == expected


def test_a_poll_interval_in_the_file_wins_over_the_environment_whose_bad_value_is_then_unused() -> None:
    env = {"FACTORYDASH_POLL_INTERVAL": "fast"}

    from_defaults = parse_config("defaults: {poll_interval: 3s}\n" + MINIMAL, env=env)
    from_agent = parse_config(MINIMAL + "    poll_interval: 4s\n", env=env)

    assert from_defaults.agents[0].poll_interval == 3.0
    assert from_agent.agents[0].poll_interval == 4.0


def test_the_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTORYDASH_POLL_INTERVAL", "7s")

    assert parse_config(MINIMAL).agents[0].poll_interval == 7.0


def test_an_unquoted_time_of_day_is_read_as_a_time_not_as_a_yaml_1_1_sexagesimal_number() -> None:
    text = MINIMAL + """
planning:
  calendars:
    night: {timezone: UTC, weekly: [{days: [mon], start: 22:00, end: 6:00}]}
"""
    calendar = parse_config(text, env={}).planning.calendars[0]

    assert (calendar.weekly[0].shift.start, calendar.weekly[0].shift.end) == (22 * 3600, 6 * 3600)


# --- secrets --------------------------------------------------------------------------------

SECRETS = f"""
agents:
  - name: nist
    url: {NIST}
    basic_auth: {{username: factorydash, password: {{env: NIST_PASSWORD}}}}
    headers:
      X-Api-Key: {{file: api-key}}
      X-Tenant: {{value: tenant-literal-value}}
"""
SECRET_VALUES = ("password-from-env", "api-key-from-file", "tenant-literal-value")


@pytest.fixture
def secret_config(tmp_path: Path):
    (tmp_path / "api-key").write_text("api-key-from-file\n")
    (tmp_path / "factorydash.yml").write_text(SECRETS)
    return load_config(tmp_path / "factorydash.yml", env={"NIST_PASSWORD": "password-from-env"})


def test_secrets_come_from_the_environment_a_file_next_to_the_config_or_a_literal(secret_config) -> None:
    agent = secret_config.agents[0]

    assert agent.basic_auth is not None
    assert agent.basic_auth.username == "factorydash"
    assert agent.basic_auth.password.reveal() == "password-from-env"
    assert [(name, secret.reveal()) for name, secret in agent.headers] == [
        ("X-Api-Key", "api-key-from-file"),
        ("X-Tenant", "tenant-literal-value"),
    ]


def test_secrets_never_appear_in_the_str_or_repr_of_the_config(secret_config) -> None:
    shown = [str(secret_config), repr(secret_config), f"{secret_config}", repr(secret_config.agents[0].headers)]

    for text in shown:
        assert "<secret>" in text
        for value in SECRET_VALUES:
            assert value not in text


def test_a_secret_shows_itself_as_a_placeholder_in_every_formatting() -> None:
    secret = Secret("hunter2")

    assert [str(secret), repr(secret), f"{secret}", f"{secret!r}", f"{secret:>20}", "%s" % secret] == ["<secret>"] * 6
    assert secret.reveal() == "hunter2"


def test_a_config_with_secrets_can_be_copied_and_turned_into_dicts(secret_config) -> None:
    as_dict = dataclasses.asdict(secret_config)

    assert copy.deepcopy(secret_config) == secret_config
    assert as_dict["agents"][0]["basic_auth"]["password"].reveal() == "password-from-env"
    assert "password-from-env" not in repr(as_dict)


def test_the_redacted_config_is_plain_data_with_secrets_replaced(secret_config) -> None:
    redacted = secret_config.redacted()
    text = json.dumps(redacted)

    for value in SECRET_VALUES:
        assert value not in text
    agent = redacted["agents"][0]
    assert agent["basic_auth"] == {"username": "factorydash", "password": "<secret>"}
    assert agent["headers"] == {"X-Api-Key": "<secret>", "X-Tenant": "<secret>"}
    assert agent["url"] == NIST
    assert redacted["global"]["event_info_types"] == ["PROGRAM"]


def test_the_redacted_example_config_shows_the_planning_in_the_file_s_own_terms() -> None:
    planning = load_config(EXAMPLE, env={}).redacted()["planning"]

    calendar = planning["calendars"]["two-shifts"]
    assert calendar["timezone"] == "Europe/Berlin"
    assert calendar["weekly"][2] == {
        "days": ["mon", "tue", "wed", "thu", "sun"], "start": "22:00", "end": "06:00",
        "breaks": [{"start": "02:00", "end": "02:30"}],
    }  # fmt: skip
    assert calendar["exceptions"][1] == {
        "date": "2026-12-24",
        "shifts": [{"start": "06:00", "end": "12:00", "breaks": [{"start": "09:00", "end": "09:15"}]}],
    }
    assert planning["default"] == {
        "calendar": "two-shifts", "ideal_cycle_time": None, "ideal_cycle_times": {}, "quality_source": None
    }  # fmt: skip
    assert planning["devices"] == [
        {"agent": "nist", "device": "Mazak01", "calendar": "two-shifts", "ideal_cycle_time": 95.0,
         "ideal_cycle_times": {"O1234": 150.0, "5001": 45.0}, "quality_source": "assume_good"}
    ]  # fmt: skip


def test_the_redacted_example_config_shows_the_time_accounting_settings() -> None:
    settings = load_config(EXAMPLE, env={}).redacted()["global"]

    assert (settings["max_clock_skew"], settings["timestamp_outlier_window"]) == (300.0, 21600.0)


def test_a_missing_secret_variable_is_named_and_no_other_secret_value_is_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(SECRETS.replace("{file: api-key}", "{value: api-key-literal}"), env={})

    assert caught.value.problems == [
        "agents[0].basic_auth.password.env: environment variable NIST_PASSWORD is not set"
    ]
    assert "api-key-literal" not in str(caught.value)


def test_the_config_is_frozen(secret_config) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        secret_config.agents[0].url = "http://elsewhere/"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        secret_config.agents[0].basic_auth.password._value = "leaked"  # type: ignore[union-attr]


# --- files and flags ------------------------------------------------------------------------


def test_a_yaml_syntax_error_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "factorydash.yml"
    path.write_text("agents:\n  - name: nist\n    url: [unclosed\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})

    assert caught.value.problems == [f"{path}:4:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"]


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.yml"

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert caught.value.problems == [f"{path}: cannot read the configuration: No such file or directory"]


def test_agent_flags_make_a_config_with_every_default() -> None:
    config = config_from_agent_flags(["nist=https://smstestbed.nist.gov/vds", "sim=http://127.0.0.1:5000"], env={})

    assert [(a.name, a.url, a.poll_interval) for a in config.agents] == [
        ("nist", NIST, 1.0),
        ("sim", "http://127.0.0.1:5000/", 1.0),
    ]
    assert config.settings == Settings()
    assert config.planning.calendars == ()


def test_agent_flags_take_the_poll_interval_from_the_environment() -> None:
    config = config_from_agent_flags([f"nist={NIST}"], env={"LOAD_NIST_DATA_SCHEDULE_SECONDS": "15"})

    assert config.agents[0].poll_interval == 15.0


def test_bad_agent_flags_are_all_reported() -> None:
    flags = ["nist", f"nist={NIST}", "sim=ftp://127.0.0.1/", f"nist={NIST}", f"bad name={NIST}"]

    with pytest.raises(ConfigError) as caught:
        config_from_agent_flags(flags, env={})

    assert caught.value.problems == [
        '--agent[0]: expected NAME=URL, got "nist"',
        '--agent[2].url: expected an http:// or https:// URL, got "ftp://127.0.0.1/"',
        '--agent[4].name: expected a name of letters, digits, _ . -, got "bad name"',
        '--agent[3].name: duplicate agent name "nist" (also --agent[1])',
    ]


def test_no_agent_flags_is_an_error() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_agent_flags([], env={})

    assert caught.value.problems == ["--agent: at least one NAME=URL is required"]


# --- planning block -------------------------------------------------------------------------

PLANNING = MINIMAL + """
planning:
  calendars:
    day: {timezone: Europe/Berlin, weekly: [{days: [mon, tue, wed, thu, fri], start: "06:00", end: "14:00"}]}
    night: {timezone: Europe/Berlin, weekly: [{days: [mon, tue, wed, thu], start: "22:00", end: "06:00"}]}
  default: {calendar: day, ideal_cycle_time: 60s}
  devices:
    - {agent: nist, device: Mazak01, ideal_cycle_time: 95s}
    - {agent: nist, device: Hurco01, calendar: night}
    - {agent: nist, device: GFAgie01, calendar: null, ideal_cycle_time: null}
"""


def test_a_device_entry_overrides_the_default_key_by_key() -> None:
    planning = parse_config(PLANNING, env={}).planning
    day, night = planning.calendars

    assert planning.plan_for("nist", "Mazak01") == planning.default.__class__(calendar=day, ideal_cycle_time=95.0)
    assert planning.plan_for("nist", "Hurco01").calendar is night
    assert planning.plan_for("nist", "Hurco01").ideal_cycle_time == 60.0


def test_null_in_a_device_entry_removes_the_default_value() -> None:
    plan = parse_config(PLANNING, env={}).planning.plan_for("nist", "GFAgie01")

    assert (plan.calendar, plan.ideal_cycle_time) == (None, None)


def test_the_time_accounting_settings_are_durations_and_a_zero_clock_skew_is_allowed() -> None:
    settings = parse_config("global: {max_clock_skew: 0, timestamp_outlier_window: 1h30m}\n" + MINIMAL, env={}).settings

    assert (settings.max_clock_skew, settings.timestamp_outlier_window) == (0.0, 5400.0)


BREAKS = MINIMAL + """
planning:
  calendars:
    plant:
      timezone: Europe/Berlin
      weekly:
        - {days: [mon], start: "06:00", end: "14:00", breaks: [{start: "12:00", end: "12:30"}, {start: "09:00", end: "09:15"}]}
        - {days: [mon], start: "22:00", end: "06:00", breaks: [{start: "23:45", end: "00:15"}, {start: "03:00", end: "03:30"}]}
        - {days: [tue], start: "14:00", end: "24:00", breaks: [{start: "23:30", end: "24:00"}]}
      exceptions:
        - {date: 2026-12-24, shifts: [{start: "22:00", end: "04:00", breaks: [{start: "00:00", end: "00:30"}]}]}
"""


def test_breaks_are_read_on_the_scale_of_the_day_the_shift_starts() -> None:
    calendar = parse_config(BREAKS, env={}).planning.calendars[0]
    hour = 3600

    assert [weekly.shift.breaks for weekly in calendar.weekly] == [
        ((9 * hour, 9 * hour + 900), (12 * hour, 12 * hour + 1800)),  # sorted
        ((23 * hour + 2700, 24 * hour + 900), (27 * hour, 27 * hour + 1800)),  # after midnight: the next day
        ((23 * hour + 1800, 24 * hour),),
    ]
    assert calendar.exceptions[0].shifts[0].breaks == ((24 * hour, 24 * hour + 1800),)


def test_breaks_and_the_new_plan_keys_survive_a_round_trip_through_the_redacted_config() -> None:
    text = BREAKS + """
  default: {calendar: plant, ideal_cycle_time: 60s, ideal_cycle_times: {O1: 90s}, quality_source: bad_count}
  devices:
    - {agent: nist, device: Mazak01, ideal_cycle_times: {"0042": 1m}, quality_source: null}
"""
    config = parse_config(text, env={})
    planning = config.redacted()["planning"]
    # Written back as YAML in the file's own terms, the redacted planning reads as the same planning.
    rewritten = MINIMAL + yaml.safe_dump({"planning": planning})

    assert parse_config(rewritten, env={}).planning == config.planning


def test_per_program_cycle_times_and_the_quality_source_are_inherited_replaced_or_removed() -> None:
    text = MINIMAL + """
planning:
  default: {ideal_cycle_time: 60s, ideal_cycle_times: {O1: 90s, O2: 2m}, quality_source: bad_count}
  devices:
    - {agent: nist, device: Inherits}
    - {agent: nist, device: Replaces, ideal_cycle_times: {O3: 30s}, quality_source: assume_good}
    - {agent: nist, device: Removes, ideal_cycle_times: null, quality_source: null}
"""
    planning = parse_config(text, env={}).planning

    inherits, replaces, removes = (planning.plan_for("nist", name) for name in ("Inherits", "Replaces", "Removes"))
    assert (dict(inherits.ideal_cycle_times), inherits.quality_source) == ({"O1": 90.0, "O2": 120.0}, "bad_count")
    assert (dict(replaces.ideal_cycle_times), replaces.quality_source) == ({"O3": 30.0}, "assume_good")
    assert (dict(removes.ideal_cycle_times), removes.quality_source) == ({}, None)
    assert replaces.ideal_cycle_time_for("O1") == 60.0  # replaced, not merged: O1 falls back to the device's
    assert inherits.ideal_cycle_time_for("O2") == 120.0


def test_a_device_without_an_entry_gets_the_default_plan() -> None:
    planning = parse_config(PLANNING, env={}).planning

    assert planning.plan_for("nist", "Okuma") is planning.default
    assert planning.plan_for("other-agent", "Mazak01") is planning.default
    assert planning.default.ideal_cycle_time == 60.0


def test_the_config_sketch_in_the_design_document_is_a_valid_config() -> None:
    design = (HERE.parents[1] / "docs" / "design.md").read_text()
    sketch = design.split("## Config", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]

    config = parse_config(sketch, source="docs/design.md", env={"VAR": "from-env"})

    assert config.agents[0].basic_auth is not None
    assert config.agents[0].basic_auth.password.reveal() == "from-env"
    assert config.planning.plan_for("nist", "Mazak01").ideal_cycle_time == 95.0


def _reference_configuration_rows() -> dict[str, str]:
    """key -> default cell of the key table in docs/configuration.md."""
    reference = (HERE.parents[1] / "docs" / "configuration.md").read_text()
    section = reference.split("\n## The configuration file\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[2]
    return rows


def test_the_reference_table_states_the_defaults_the_loader_applies() -> None:
    rows = _reference_configuration_rows()
    settings = Settings()
    agent = AgentDefaults()

    assert rows["global.event_info_types"] == "`[PROGRAM]`" and settings.event_info_types == {"PROGRAM"}
    assert rows["global.numeric_event_types"] == "`[]`" and settings.numeric_event_types == frozenset()
    for name in ("max_label_value_length", "max_series_per_agent", "max_series_total", "max_document_bytes",
                 "part_count_max_step"):  # fmt: skip
        assert rows[f"global.{name}"].split()[0] == f"`{getattr(settings, name)}`", name
    assert rows["global.max_clock_skew"] == "`5m`" and settings.max_clock_skew == 5 * 60
    assert rows["global.timestamp_outlier_window"] == "`6h`" and settings.timestamp_outlier_window == 6 * 3600
    assert rows["planning.default.quality_source"].startswith("`null`")
    assert rows["planning.default.ideal_cycle_times"] == "`{}`"
    assert rows["planning.calendars.<name>.weekly[].breaks"] == "`[]`"
    assert rows["agents[].timeout"] == f"`{agent.timeout:g}s`"
    assert rows["agents[].heartbeat"] == f"`{agent.heartbeat:g}s`"
    assert rows["agents[].sample_count"] == f"`{agent.sample_count}`"
    assert rows["agents[].stream"] == "`false`" and agent.stream is False
    assert rows["agents[].tls.verify"] == "`true`" and agent.tls_verify is True
    assert rows["agents[].poll_interval"].endswith("else `1s`")


# --- secret files that are not small regular files ----------------------------------------------------


def _header_secret_config(secret: Path) -> str:
    return f"agents:\n  - name: nist\n    url: {NIST}\n    headers:\n      X-Api-Key: {{file: {secret}}}\n"


def test_a_secret_file_that_is_dev_zero_or_too_large_is_a_config_error_not_a_memory_error(tmp_path: Path) -> None:
    from factorydash.config import MAX_SECRET_FILE_BYTES

    big = tmp_path / "big"
    big.write_bytes(b"k" * (MAX_SECRET_FILE_BYTES + 1))
    for secret, reason in ((Path("/dev/zero"), "not a regular file"), (big, f"larger than {MAX_SECRET_FILE_BYTES} bytes")):
        with pytest.raises(ConfigError) as caught:
            parse_config(_header_secret_config(secret))
        (problem,) = caught.value.problems  # the path in it is shortened when long
        assert problem.startswith('agents[0].headers.X-Api-Key.file: cannot read secret file "')
        assert problem.endswith(f'": {reason}')
    big.write_bytes(b"k" * MAX_SECRET_FILE_BYTES)  # exactly at the limit is fine
    assert parse_config(_header_secret_config(big)).agents[0].headers[0][1].reveal() == "k" * MAX_SECRET_FILE_BYTES


@pytest.mark.integration
def test_config_check_with_a_fifo_secret_reports_a_config_error_instead_of_hanging(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    os.mkfifo(tmp_path / "api-key")  # nobody ever writes to it: reading would wait forever
    config = tmp_path / "factorydash.yml"
    config.write_text(_header_secret_config(Path("api-key")))
    result = subprocess.run(
        [sys.executable, "-m", "factorydash", "--config.file", str(config), "--config.check"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert 'agents[0].headers.X-Api-Key.file: cannot read secret file "' in result.stderr
    assert '": not a regular file' in result.stderr
    assert "Traceback" not in result.stderr


def test_numeric_event_types_are_read_and_shown_sorted_in_the_redacted_config() -> None:
    config = parse_config(
        "global:\n  numeric_event_types: [x:SEQUENCE_NUMBER, x:PALLET_NUMBER]\n" + MINIMAL, env={}
    )
    assert config.settings.numeric_event_types == {"x:PALLET_NUMBER", "x:SEQUENCE_NUMBER"}
    assert config.redacted()["global"]["numeric_event_types"] == ["x:PALLET_NUMBER", "x:SEQUENCE_NUMBER"]
