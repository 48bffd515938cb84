"""The compose `scale` profile: the topology of the VictoriaMetrics test, wired consistently.

No Docker engine runs here: `docker-compose config` checks the file, promtool
the agents' configs, the exporter its shard configs, and the hashmod split of
the exporters' configs must equal the one the Prometheus agents keep.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, require_program
from tests.sharding.test_hashmod_sharding import hashmod
from tests.test_compose import compose_config

pytestmark = pytest.mark.integration  # every test here starts a server or a process

SHARDS = 2


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    result = compose_config(profile="scale")
    assert result.returncode == 0, result.stderr
    return {name: service for name, service in yaml.safe_load(result.stdout)["services"].items()
            if service.get("profiles") == ["scale"]}  # fmt: skip


def mounted(service: dict[str, Any], target: str) -> Path:
    (source,) = [volume.split(":")[0] for volume in service["volumes"] if volume.split(":")[1] == target]
    return Path(source)


def test_the_profile_runs_the_whole_topology(services):
    assert set(services) == {
        "sim-cell-1", "sim-cell-2", "exporter-shard-0", "exporter-shard-1",
        "agent-shard-0", "agent-shard-1", "victoriametrics", "vmalert",
    }  # fmt: skip


@pytest.mark.parametrize("shard", range(SHARDS))
def test_each_shard_exporter_follows_exactly_the_agents_its_prometheus_agent_keeps(services, shard):
    exporter_config = mounted(services[f"exporter-shard-{shard}"], "/etc/factorydash/factorydash.yml")
    check = subprocess.run([sys.executable, "-m", "factorydash", f"--config.file={exporter_config}", "--config.check"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    followed = [agent["name"] for agent in yaml.safe_load(exporter_config.read_text())["agents"]]

    agent_config = mounted(services[f"agent-shard-{shard}"], "/etc/prometheus/agent.yml")
    promtool = subprocess.run([require_program("promtool"), "check", "config", "--agent", str(agent_config)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert promtool.returncode == 0, promtool.stdout + promtool.stderr
    agent = yaml.safe_load(agent_config.read_text())
    (probe,) = [job for job in agent["scrape_configs"] if job.get("metrics_path") == "/probe"]
    targets = probe["static_configs"][0]["targets"]
    relabel = {rule.get("action", "replace"): rule for rule in probe["relabel_configs"]}
    assert relabel["hashmod"]["modulus"] == SHARDS and relabel["keep"]["regex"] == str(shard)
    assert [name for name in targets if hashmod(name, SHARDS) == shard] == followed
    assert {"replacement": f"exporter-shard-{shard}:9700", "target_label": "__address__"} in probe["relabel_configs"]
    assert [target["url"] for target in agent["remote_write"]] == ["http://victoriametrics:8428/api/v1/write"]
    assert agent["global"]["external_labels"] == {"shard": str(shard)}


def test_every_agent_has_its_simulator_and_one_shard(services):
    followed = [
        agent
        for shard in range(SHARDS)
        for agent in yaml.safe_load(mounted(services[f"exporter-shard-{shard}"], "/etc/factorydash/factorydash.yml").read_text())["agents"]
    ]
    assert sorted(agent["name"] for agent in followed) == ["cell-1", "cell-2"]
    assert all(agent["url"] == f"http://sim-{agent['name']}:5000/" and f"sim-{agent['name']}" in services for agent in followed)


def test_vmalert_evaluates_the_projects_rules_against_victoriametrics_and_alerts_the_alertmanager(services):
    command = services["vmalert"]["command"]
    assert f"{ROOT / 'prometheus'}:/etc/prometheus:ro" in services["vmalert"]["volumes"]
    assert "-rule=/etc/prometheus/rules/*.yml" in command
    assert "-datasource.url=http://victoriametrics:8428" in command
    assert "-remoteWrite.url=http://victoriametrics:8428" in command
    assert "-notifier.url=http://alertmanager:9093" in command
