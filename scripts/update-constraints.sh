#!/usr/bin/env bash
# Regenerate constraints.txt: every runtime and test dependency of factorydash, pinned to the newest
# versions that install together today. Run it after changing dependencies in pyproject.toml, run
# `make test`, and commit both files together.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$PYTHON" -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install --quiet --upgrade pip
"$scratch/venv/bin/pip" install --quiet '.[test]'
{
    echo "# Every runtime and test dependency of factorydash, pinned (scripts/update-constraints.sh writes it)."
    echo "# Used by \`make venv\` and exporter/Dockerfile: pip install -c constraints.txt ..."
    "$scratch/venv/bin/pip" freeze --all --exclude pip --exclude setuptools --exclude wheel --exclude factorydash
} > constraints.txt
echo "constraints.txt: $(grep -vc '^#' constraints.txt) packages pinned"
