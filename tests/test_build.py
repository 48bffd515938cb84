"""A fresh clone builds the same way every time: `make` builds the venv and stops, `make help` lists the
targets, constraints.txt pins the whole dependency tree (used by make and the image), the package metadata
builds without deprecation warnings."""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from tests.conftest import ROOT, require_program

def make(*arguments: str) -> str:
    result = subprocess.run(
        [require_program("make"), "--no-print-directory", "-C", str(ROOT), *arguments],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.integration
def test_a_bare_make_only_builds_the_venv_pinned_by_the_constraints() -> None:
    commands = make("-n", "-B").splitlines()  # what `make` would run from scratch
    assert any("-m venv .venv" in command for command in commands)
    assert any("pip install" in command and "-c constraints.txt" in command for command in commands)
    assert not [command for command in commands if re.search(r"pytest|run-demo|install-system-deps|bench", command)]


@pytest.mark.integration
def test_make_help_lists_every_target_with_what_it_does() -> None:
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1).split()
    lines = make("help").splitlines()
    listed = {line.split()[1]: line for line in lines}
    assert {"venv", "run", "test", "help"} <= set(listed)
    assert set(listed) == set(phony)
    assert all(len(line.split(maxsplit=2)) == 3 for line in lines)  # each with its description


def pinned() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_canonical(name)] = version
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_tree(root: str, extras: frozenset[str]) -> set[str]:
    """Every distribution that `pip install root[extras]` installs here, from the installed metadata."""
    seen: set[str] = set()
    pending = [(root, extras)]
    while pending:
        name, wanted = pending.pop()
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            environments = [{"extra": extra} for extra in wanted] or [{"extra": ""}]
            if requirement.marker is not None and not any(requirement.marker.evaluate(env) for env in environments):
                continue
            key = _canonical(requirement.name)
            if key not in seen:
                seen.add(key)
                pending.append((requirement.name, frozenset(requirement.extras)))
    return seen


def test_constraints_pin_exactly_the_runtime_and_test_dependency_tree_and_this_venv_matches_them() -> None:
    tree = dependency_tree("factorydash", frozenset({"test"}))
    pins = pinned()
    assert {"prometheus-client", "requests", "pytest", "check-jsonschema", "urllib3"} <= tree
    assert sorted(tree - set(pins)) == [], "run `make constraints` after changing dependencies"
    assert sorted(set(pins) - tree) == [], "constraints.txt pins packages nothing needs"
    installed = {name: metadata.version(name) for name in tree}
    assert {name: version for name, version in installed.items() if pins[name] != version} == {}


def test_the_image_installs_with_the_same_constraints() -> None:
    dockerfile = (ROOT / "exporter" / "Dockerfile").read_text()
    assert re.search(r"^COPY .*constraints\.txt", dockerfile, re.MULTILINE)
    assert re.search(r"^RUN pip install .*-c constraints\.txt", dockerfile, re.MULTILINE)
    assert "!constraints.txt" in (ROOT / ".dockerignore").read_text().splitlines()


def test_the_license_is_an_spdx_string_with_a_setuptools_that_reads_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in project["build-system"]["requires"]
