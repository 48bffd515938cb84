"""The docker compose stack: valid, self-contained in the repository, pinned.

No Docker engine runs here; `docker-compose config` (Debian's 1.29) checks
the file and resolves every variable with the values of .env.example, and
the file is validated against the compose-spec JSON schema (Compose v2's
format; v1 is end of life) as check-jsonschema ships it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import require_program

pytestmark = pytest.mark.integration  # every test here starts a server or a process

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "exporter" / "Dockerfile"


def compose_config(
    *options: str, profile: str | None = None, env_file: Path = ENV_EXAMPLE
) -> subprocess.CompletedProcess[str]:
    """`docker-compose config`, with only `env_file` setting the stack's variables."""
    program = require_program("docker-compose")
    environment = {key: value for key, value in os.environ.items() if key not in env_example()}
    return subprocess.run(
        [program, "--project-directory", str(REPO_ROOT), "-f", str(REPO_ROOT / "docker-compose.yaml"),
         "--env-file", str(env_file), *(["--profile", profile] if profile else []), "config", *options],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        env=environment,
    )  # fmt: skip


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The stack with the demo profile, variables resolved from .env.example."""
    result = compose_config(profile="demo")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines())
    return {key.strip(): value.strip() for key, *rest in pairs for value in rest if not key.startswith("#")}


def scale_profile(service: dict[str, Any]) -> bool:
    """Services of the `scale` profile (tests/scaling/test_compose_scale.py); Compose v1 lists them in every profile."""
    return service.get("profiles") == ["scale"]


def test_compose_accepts_the_file_with_the_example_environment(config: dict[str, Any]) -> None:
    stack = {name for name, service in config["services"].items() if not scale_profile(service)}
    assert stack == {"exporter", "simulator", "prometheus", "alertmanager", "grafana"}


def test_the_simulator_runs_only_in_the_demo_profile(config: dict[str, Any]) -> None:
    assert config["services"]["simulator"]["profiles"] == ["demo"]
    assert config["services"]["simulator"]["command"] == ["factorydash-simulator", "--web.listen-address=0.0.0.0:5000"]
    others = {name: s.get("profiles") for name, s in config["services"].items() if name != "simulator" and not scale_profile(s)}
    assert not any(others.values()), "every other service starts without a profile"


def test_every_variable_the_file_uses_is_in_env_example() -> None:
    used = set(re.findall(r"\$\{(\w+)", (REPO_ROOT / "docker-compose.yaml").read_text(encoding="utf-8")))
    assert used <= set(env_example())


def test_the_grafana_admin_password_must_be_set(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    result = compose_config(env_file=empty)
    assert result.returncode != 0
    assert "GRAFANA_ADMIN_PASSWORD" in result.stderr


def test_every_mounted_host_path_exists_in_the_repository(config: dict[str, Any]) -> None:
    binds = [
        volume.split(":")[0]
        for service in config["services"].values()
        for volume in service.get("volumes", [])
        if volume.startswith("/")
    ]
    assert binds
    missing = [path for path in binds if not Path(path).exists() or REPO_ROOT not in Path(path).parents]
    assert not missing


def test_named_volumes_and_one_network(config: dict[str, Any]) -> None:
    assert set(config["volumes"]) == {"exporter-data", "prometheus-data", "alertmanager-data", "grafana-data"}
    assert list(config["networks"]) == ["factorydash"]
    assert all(list(service["networks"]) == ["factorydash"] for service in config["services"].values())


def test_every_image_is_pinned_to_a_version(config: dict[str, Any]) -> None:
    images = [service["image"] for service in config["services"].values()]
    images += re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    unpinned = [image for image in images if not re.search(r":[\w.-]*\d[\w.-]*$", image) or image.endswith(":latest")]
    assert not unpinned


def test_the_exporter_is_built_here_runs_read_only_as_configured_and_has_a_healthcheck(config: dict[str, Any]) -> None:
    exporter = config["services"]["exporter"]
    assert exporter["build"]["dockerfile"] == "exporter/Dockerfile"
    assert exporter["read_only"] is True
    assert exporter["command"] == [
        "factorydash-exporter",
        "--config.file=/etc/factorydash/factorydash.yml",
        "--web.listen-address=0.0.0.0:9700",
        "--storage.path=/var/lib/factorydash",
    ]
    assert any(volume.endswith(":/etc/factorydash/factorydash.yml:ro") for volume in exporter["volumes"])
    assert "exporter-data:/var/lib/factorydash:rw" in exporter["volumes"]  # writable: the snapshots survive restarts
    assert "http://127.0.0.1:9700/-/healthy" in " ".join(exporter["healthcheck"]["test"])
    assert exporter["environment"]["FACTORYDASH_POLL_INTERVAL"] == env_example()["FACTORYDASH_POLL_INTERVAL"]
    assert "LOAD_NIST_DATA_SCHEDULE_SECONDS" in exporter["environment"]


def test_the_exporter_image_runs_as_a_non_root_user_without_a_shell_command() -> None:
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    command = re.search(r"^CMD\s+(\[.*\])\s*$", dockerfile, re.M)
    assert command, "CMD in exec form: no shell at runtime"
    assert yaml.safe_load(command.group(1))[0] == "factorydash-exporter"
    assert "--storage.path=/var/lib/factorydash" in yaml.safe_load(command.group(1))
    # The volume's mount point belongs to the runtime user, so an empty named volume is writable by it.
    assert re.search(r"chown 10001:10001 /var/lib/factorydash", dockerfile)
    assert users[-1] == "10001:10001"


def test_the_demo_exporter_config_follows_the_simulator(config: dict[str, Any]) -> None:
    mount = next(v for v in config["services"]["exporter"]["volumes"] if v.endswith(":/etc/factorydash/factorydash.yml:ro"))
    exporter_config = yaml.safe_load(Path(mount.split(":")[0]).read_text(encoding="utf-8"))
    assert [agent["url"] for agent in exporter_config["agents"]] == ["http://simulator:5000/"]


def test_prometheus_gets_its_config_read_only_and_the_retention_flag(config: dict[str, Any]) -> None:
    prometheus = config["services"]["prometheus"]
    retention_days = env_example()["DATA_RETENTION_DAYS"]
    assert f"--storage.tsdb.retention.time={retention_days}d" in prometheus["command"]
    assert f"{REPO_ROOT / 'prometheus'}:/etc/prometheus:ro" in prometheus["volumes"]


def test_grafana_has_anonymous_viewers_and_the_overview_as_home(config: dict[str, Any]) -> None:
    environment = config["services"]["grafana"]["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].endswith("/factorydash-overview.json")
    assert environment["GF_SECURITY_ADMIN_PASSWORD"] == env_example()["GRAFANA_ADMIN_PASSWORD"]


def test_alertmanager_config_is_valid() -> None:
    amtool = require_program("amtool")
    result = subprocess.run(
        [amtool, "check-config", str(REPO_ROOT / "alertmanager" / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def compose_spec_check(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with the compose-spec schema it vendors (no network)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True, text=True, timeout=60,
    )


def test_the_compose_file_follows_the_compose_spec_schema() -> None:
    result = compose_spec_check(REPO_ROOT / "docker-compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_spec_check_catches_a_misspelt_service_key(tmp_path: Path) -> None:
    stack = yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text())
    stack["services"]["exporter"]["readonly"] = True  # read_only, misspelt
    broken = tmp_path / "docker-compose.yaml"
    broken.write_text(yaml.safe_dump(stack))
    result = compose_spec_check(broken)
    assert result.returncode == 1
    assert "$.services.exporter" in result.stdout and "'readonly' was unexpected" in result.stdout
