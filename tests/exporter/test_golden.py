"""Golden /metrics: a config and the XML an agent serves give exactly this exposition.

Run with UPDATE_GOLDEN=1 to rewrite golden/metrics.prom after an intended change,
then review the diff. Series that depend on the clock or the host are filtered.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import responses

from factorydash.config import load_config
from factorydash.exporter import Exporter
from factorydash.follower import Phase
from factorydash.web import ExporterApp
from tests.conftest import require_program

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
NON_DETERMINISTIC = re.compile(
    r"^(process_|python_|factorydash_build_info|mtconnect_agent_request_duration_seconds"
    r"|mtconnect_agent_last_success_timestamp_seconds|mtconnect_device_last_observation_timestamp_seconds"
    r"|factorydash_config_last_reload_success_timestamp_seconds)"
)


def wsgi_get(app: ExporterApp, path: str, query: str = "") -> tuple[str, dict[str, str], bytes]:
    captured: dict[str, object] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"], captured["headers"] = status, dict(headers)

    body = b"".join(app({"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "GET"}, start_response))
    return captured["status"], captured["headers"], body  # type: ignore[return-value]


def deterministic(exposition: str) -> str:
    kept = []
    for line in exposition.splitlines():
        name = line.split(" ", 3)[2] if line.startswith("# ") else line
        if not NON_DETERMINISTIC.match(name):
            kept.append(line)
    return "\n".join(kept) + "\n"


@pytest.fixture
def exposition() -> str:
    config = load_config(GOLDEN / "config.yml")
    exporter = Exporter(config)
    with responses.RequestsMock() as agent:
        agent.get("http://agent.test/mtc/probe", body=(GOLDEN / "probe.xml").read_bytes())
        agent.get("http://agent.test/mtc/current", body=(GOLDEN / "current.xml").read_bytes())
        agent.get("http://agent.test/mtc/sample", body=(GOLDEN / "sample.xml").read_bytes())
        follower = exporter.agents["cell-3"].follower
        for _ in range(3):
            follower.step()
        assert follower.phase is Phase.SAMPLE and follower.cursor == 120
    status, headers, body = wsgi_get(ExporterApp(exporter), "/metrics")
    assert status == "200 OK" and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return body.decode()


def test_metrics_match_the_golden_file(exposition):
    golden = GOLDEN / "metrics.prom"
    actual = deterministic(exposition)
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(actual)
    assert actual == golden.read_text()


@pytest.mark.integration
def test_the_golden_exposition_passes_promtool_check_metrics(exposition):
    promtool = require_program("promtool")
    result = subprocess.run([promtool, "check", "metrics"], input=exposition.encode(), capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_no_metric_has_a_label_called_type_and_every_name_is_prefixed(exposition):
    for line in exposition.splitlines():
        if line.startswith("#") or not line:
            continue
        assert ' type="' not in line and "{type=" not in line and ",type=" not in line
        assert line.startswith(("mtconnect_", "factorydash_", "process_", "python_")), line
