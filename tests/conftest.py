"""Suite-wide test support.

Tests that need a program that is not installed skip locally with a reason.
In CI (CI=true) everything is installed by `make test`, so a skip there means
something is broken: the session fails and names the skipped tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# The end-to-end stack (simulator -> exporter -> Prometheus), shared by the Prometheus and Grafana tests.
pytest_plugins = ["tests.integration.stack"]

ROOT = Path(__file__).resolve().parents[1]
# FACTORYDASH_SAMPLES points elsewhere, e.g. from a git worktree that does not sit beside shared/.
SAMPLES = Path(os.environ.get("FACTORYDASH_SAMPLES") or ROOT.parent / "shared" / "samples")


def require_program(name: str) -> str:
    """The path of `name`, or skip the test (fail in CI) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_sample(relative: str) -> Path:
    """A real agent document from ../shared/samples, or skip when the samples are absent."""
    path = SAMPLES / relative
    if not path.exists():
        pytest.skip(f"sample {relative} not present beside the project")
    return path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI: {len(skipped)} tests skipped; in CI nothing may skip:", red=True)
        for report in skipped:
            reporter.write_line(f"  {report.nodeid}: {report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
