"""The system benchmark: N stand-in agents x M items, one exporter process following them.

The exporter runs as a real process (`python -m factorydash`), so its CPU and
memory are read from /proc/<pid> apart from the agents' and the scraper's.
`/metrics` is scraped on a fixed interval, as Prometheus would. The baseline
(`bench.baseline`) is run the same way against the same agents.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from .standin import FleetAgent, StandInServer

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SCRAPE_TIMEOUT = 10.0  # prometheus/prometheus.yml's scrape_timeout
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Load:
    agents: int
    items: int
    rate: float  # changes per item per second
    seconds: float  # measured time, after the warm-up
    scrape_interval: float


@dataclass(frozen=True)
class RunResult:
    cpu_seconds: float
    cpu_share: float  # of one core
    observations: int
    observations_per_second: float
    offered_per_second: float
    cpu_us_per_observation: float
    lag_seconds_median: float
    lag_seconds_max_first_half: float
    lag_seconds_max_second_half: float
    lag_keeps_up: bool
    render_seconds_median: float
    render_seconds_max: float
    exposition_bytes: int
    exposition_gzip_bytes: int
    series: int
    rss_bytes: int
    rss_bytes_per_series: float
    exposition_valid: bool | None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def fetch(url: str, gzip_ok: bool = False, timeout: float = 30) -> tuple[bytes, float, int]:
    """(body, seconds, bytes on the wire)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
        encoded = response.headers.get("Content-Encoding") == "gzip"
    seconds = time.perf_counter() - started
    return (gzip.decompress(raw) if encoded else raw), seconds, len(raw)


def counter_sum(exposition: str, name: str) -> float:
    return sum(
        float(line.rpartition(" ")[2]) for line in exposition.splitlines() if line.startswith(name + "{")
    )


def series_count(exposition: bytes) -> int:
    return sum(1 for line in exposition.splitlines() if line and not line.startswith(b"#"))


def check_exposition(exposition: bytes) -> bool | None:
    """promtool and prometheus_client's parser both accept it (None: promtool missing)."""
    samples = sum(len(family.samples) for family in text_string_to_metric_families(exposition.decode()))
    if samples != series_count(exposition):
        return False
    promtool = shutil.which("promtool")
    if promtool is None:
        return None
    result = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=120)
    return result.returncode == 0


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OSError:
            pass
        time.sleep(interval)
    return False


def exporter_command(config: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "factorydash", "--config.file", str(config),
            "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "warning"]


def baseline_command(server: StandInServer, sources: list[FleetAgent], port: int, interval: float) -> list[str]:
    return [sys.executable, "-m", "bench.baseline", "--interval", str(interval), "--listen", f"127.0.0.1:{port}",
            *(f"{source.name}={server.url(source.name)}" for source in sources)]


def write_config(directory: Path, server: StandInServer, sources: list[FleetAgent]) -> Path:
    lines = [
        "global:",
        "  max_series_per_agent: 1000000",
        "  max_series_total: 10000000",
        "defaults:",
        "  poll_interval: 1s",
        "agents:",
    ]
    for source in sources:
        lines += [f"  - name: {source.name}", f"    url: {server.url(source.name)}"]
    path = directory / "factorydash.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(load: Load, baseline: bool, validate: bool) -> RunResult:
    """One run: start the agents and the process under test, warm up, then measure `load.seconds`."""
    start = time.time()
    sources = [FleetAgent(index, load.items, load.rate, start, time.time) for index in range(load.agents)]
    port = free_port()
    with StandInServer(sources) as server, tempfile.TemporaryDirectory(prefix="factorydash-bench-") as tmp:
        if baseline:
            command = baseline_command(server, sources, port, 1.0)  # the exporter's default poll interval
            counter = "baseline_items_stored_total"
        else:
            command = exporter_command(write_config(Path(tmp), server, sources), port)
            counter = "mtconnect_agent_observations_total"
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            ready = wait_until(
                lambda: counter_sum(fetch(metrics_url)[0].decode(), counter) > 0
                and (baseline or _all_following(sources, time.time())),
                timeout=60 + load.agents * load.items / 2000,
            )
            if not ready:
                raise RuntimeError(f"{command[2]} did not start following: {process.stderr.read1(4000).decode()}")
            time.sleep(2)  # past the first current/sample burst
            body, _, _ = fetch(metrics_url)
            observed0, cpu0, started = counter_sum(body.decode(), counter), cpu_seconds(process.pid), time.monotonic()
            lags: list[float] = []
            renders: list[float] = []
            next_scrape = started + load.scrape_interval
            per_second = load.items * load.rate
            while (now := time.monotonic()) < started + load.seconds:
                if now >= next_scrape:
                    try:
                        body, seconds, _ = fetch(metrics_url, gzip_ok=True, timeout=SCRAPE_TIMEOUT)
                    except TimeoutError:  # an overloaded exporter: a failed scrape is a result, not a crash
                        seconds = float("inf")
                    renders.append(seconds)
                    next_scrape = time.monotonic() + load.scrape_interval
                if not baseline:  # the baseline reads /current: it has no sequence to lag behind
                    lags.append(max(source.lag(time.time()) for source in sources) / per_second)
                time.sleep(0.25)
            elapsed = time.monotonic() - started
            cpu = cpu_seconds(process.pid) - cpu0
            body, seconds, _ = fetch(metrics_url, timeout=300)
            renders.append(seconds)
            observed = counter_sum(body.decode(), counter) - observed0
            rss = rss_bytes(process.pid)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    half = len(lags) // 2
    series = series_count(body)
    first, second = max(lags[:half] or [0.0]), max(lags[half:] or [0.0])
    return RunResult(
        cpu_seconds=cpu,
        cpu_share=cpu / elapsed,
        observations=int(observed),
        observations_per_second=observed / elapsed,
        offered_per_second=load.agents * per_second,
        cpu_us_per_observation=cpu / observed * 1e6 if observed else float("inf"),
        lag_seconds_median=statistics.median(lags) if lags else 0.0,
        lag_seconds_max_first_half=first,
        lag_seconds_max_second_half=second,
        # Polling at 1 s shows up to ~2 s of lag; growth beyond one more poll interval means falling behind.
        lag_keeps_up=second <= max(first, 2.0) + 1.0,
        render_seconds_median=statistics.median(renders),
        render_seconds_max=max(renders),
        exposition_bytes=len(body),
        exposition_gzip_bytes=len(gzip.compress(body, compresslevel=1)),
        series=series,
        rss_bytes=rss,
        rss_bytes_per_series=rss / series,
        exposition_valid=check_exposition(body) if validate else None,
    )


def _all_following(sources: list[FleetAgent], now: float) -> bool:
    return all(source.requested_from > source.first for source in sources)


def median_result(results: list[RunResult]) -> dict[str, float]:
    """Field-wise medians (booleans: all runs must agree to be true)."""
    merged: dict[str, float] = {}
    for key, value in asdict(results[0]).items():
        values = [asdict(result)[key] for result in results]
        if isinstance(value, bool) or value is None:
            merged[key] = None if any(v is None for v in values) else all(values)
        else:
            merged[key] = statistics.median(values)
    return merged
