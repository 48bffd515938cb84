"""Writes grafana/dashboards/*.json, the five factorydash dashboards.

The JSON files are what Grafana provisions and what the tests lint; the
package `dashgen` beside this script is their source (shared panel builders,
one module per dashboard), so that the panel skeleton, the datasource, the
variables, the links and the state colours are written once. Run it after
editing and commit both:

    .venv/bin/python grafana/generate_dashboards.py          # rewrite the JSON files
    .venv/bin/python grafana/generate_dashboards.py --check  # exit 1 if they are stale

Query conventions (checked by tests/grafana/test_dashboards.py):
- every rate/increase uses `[$__rate_interval]`, except panels about "the
  selected time range", which use `[$__range]` and say so in their
  description, and targets with a minimum step (the hourly heat map), which
  tile time with `[$__interval]`;
- counters appear only inside rate/increase; counts of things are rounded;
- no mean of ratios: shift and day figures come from the exporter's gauges,
  windows from the ratio-of-increases recording rules;
- every query about devices leaves the MTConnect Agent device out;
- every OEE threshold is the target rule's value (dashgen/rules.py);
- a panel whose description contains "Empty when" may legitimately return
  no data (no emergency stop happened, nothing was lost).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dashgen import alarms, exporter, machine, oee, overview

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "factorydash-overview.json": overview.build,
    "factorydash-machine.json": machine.build,
    "factorydash-alarms.json": alarms.build,
    "factorydash-oee.json": oee.build,
    "factorydash-exporter.json": exporter.build,
}


def render(build: Callable[[], dict[str, Any]]) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a dashboard file differs from the generator")
    args = parser.parse_args()
    stale = []
    for name, build in DASHBOARDS.items():
        path = DASHBOARDS_DIR / name
        text = render(build)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale, run python grafana/generate_dashboards.py: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
