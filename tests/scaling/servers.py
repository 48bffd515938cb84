"""VictoriaMetrics, vmalert and Prometheus in agent mode as loopback processes for the scale-out test.

Each server runs from the Debian binaries on a free 127.0.0.1 port with its own
data directory, answers its readiness URL within a bounded time or raises with
the tail of its log, and is terminated (then killed) by `stop()`.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests

from tests.conftest import require_program
from tests.integration.stack import free_port

READY_SECONDS = 30


class LoopbackServer:
    """One server process; `url` is its http://127.0.0.1:PORT."""

    def __init__(self, program: str, arguments: list[str], port: int, ready_path: str, workdir: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = workdir / f"{program}-{port}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [require_program(program), *arguments], stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir
        )
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(self.url + ready_path, timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{program} did not start: {self.log_path.read_text(errors='replace')[-2000:]}")

    def query(self, expr: str) -> list[dict]:
        """An instant query at the present through the Prometheus-compatible API."""
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        payload = response.json()
        assert payload["status"] == "success", payload
        return payload["data"]["result"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


def victoria_metrics(workdir: Path) -> LoopbackServer:
    """A single-node VictoriaMetrics whose queries see a sample as soon as it is written.

    The default -search.latencyOffset (30 s) hides the newest samples from
    instant queries, and the rollup cache would keep answers computed on
    partial data; a test that compares the present needs neither.
    """
    port = free_port()
    return LoopbackServer(
        "victoria-metrics",
        [f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={workdir / 'victoria-metrics'}",
         "-retentionPeriod=1d", "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN"],
        port, "/health", workdir,
    )  # fmt: skip


def vmalert(rule_files: list[Path], store: LoopbackServer, notifier_url: str, workdir: Path) -> LoopbackServer:
    """vmalert evaluating `rule_files` every second against `store`, writing the results back to it."""
    port = free_port()
    return LoopbackServer(
        "vmalert",
        [f"-httpListenAddr=127.0.0.1:{port}", *(f"-rule={path}" for path in rule_files),
         f"-datasource.url={store.url}", f"-remoteWrite.url={store.url}", "-remoteWrite.flushInterval=500ms",
         f"-notifier.url={notifier_url}", "-evaluationInterval=1s", "-loggerLevel=WARN"],
        port, "/health", workdir,
    )  # fmt: skip


def prometheus_agent(config_text: str, workdir: Path) -> LoopbackServer:
    """Prometheus in agent mode: scrapes and remote-writes, keeps only a write-ahead log."""
    port = free_port()
    directory = workdir / f"agent-{port}"
    directory.mkdir()
    (directory / "prometheus.yml").write_text(config_text)
    return LoopbackServer(
        "prometheus",
        ["--enable-feature=agent", f"--config.file={directory / 'prometheus.yml'}",
         f"--storage.agent.path={directory / 'wal'}", f"--web.listen-address=127.0.0.1:{port}"],
        port, "/-/ready", workdir,
    )  # fmt: skip
