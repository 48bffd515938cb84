"""`python -m bench` (`make bench`): how far one exporter goes, against the old way, as medians.

Writes JSON (`--output`, default bench/results/latest.json) and prints a
Markdown table for docs/performance.md. `--quick` is a smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path

from . import micro, system, transitions

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"
TARGET_LOAD = (100, 1000, 1.0)  # agents, items per agent, changes per item per second
TARGETS = {
    "parse_apply_us_per_observation": 4.0,
    "cpu_share_of_one_core": 0.75,
    "render_seconds_100k_series": 0.5,
    "rss_bytes_per_series": 600.0,
    "baseline_cpu_ratio": 10.0,
    "transitions_share": 1.0,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small load, one repeat, a few seconds each")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--items", type=int, default=1000, help="data items per agent")
    parser.add_argument("--rate", type=float, default=1.0, help="changes per item per second")
    parser.add_argument("--low-rate", type=float, default=0.1, help="second load point: most items change rarely")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured time per run, after warm-up")
    parser.add_argument("--scrape-interval", type=float, default=15.0)
    parser.add_argument("--runs", type=int, default=3, help="repeated runs; medians are reported")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.agents, args.items, args.seconds, args.scrape_interval, args.runs = 5, 200, 6.0, 2.0, 1
    return args


def run(args: argparse.Namespace) -> dict:
    log = logging.getLogger("bench")
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "load": {"agents": args.agents, "items": args.items, "rate": args.rate, "seconds": args.seconds,
                 "scrape_interval": args.scrape_interval, "runs": args.runs},
    }
    series_agents = max(args.agents, 1) if args.quick else 100
    log.info("micro-benchmarks")
    result["micro"] = {
        "parse_apply_us_per_observation": micro.parse_apply_us(items=args.items, repeats=3 if args.quick else 7),
        "exposition": micro.exposition(series_agents, args.items if args.quick else 1000, repeats=3 if args.quick else 5),
        "memory": micro.memory_in_fresh_process(series_agents, args.items if args.quick else 1000),
    }
    for name, rate in (("high_rate", args.rate), ("low_rate", args.low_rate)):
        # Measure at least two change periods: a 6 s run of items changing every 10 s may see none.
        load = system.Load(args.agents, args.items, rate, max(args.seconds, 2 / rate), args.scrape_interval)
        runs = {"exporter": [], "baseline": []}
        for index in range(args.runs):
            for kind in runs:
                log.info("system %s run %d/%d: %s", name, index + 1, args.runs, kind)
                runs[kind].append(system.measure(load, baseline=kind == "baseline", validate=index == 0))
        exporter, baseline = (system.median_result(runs[kind]) for kind in ("exporter", "baseline"))
        # The common denominator is the agents' stream: the baseline re-reads every item each poll
        # whether it changed or not, the exporter reads each observation once.
        offered = exporter["offered_per_second"]
        result[name] = {
            "load": asdict(load),
            "exporter": exporter,
            "baseline": baseline,
            "baseline_cpu_us_per_agent_observation": baseline["cpu_share"] / offered * 1e6,
            "exporter_cpu_us_per_agent_observation": exporter["cpu_share"] / offered * 1e6,
            "cpu_ratio_baseline_to_exporter": baseline["cpu_share"] / exporter["cpu_share"],
            "render_ratio_baseline_to_exporter": baseline["render_seconds_median"] / exporter["render_seconds_median"],
            "runs": {kind: [asdict(run) for run in runs[kind]] for kind in runs},
        }
    log.info("scripted feed holds and faults")
    result["transitions"] = asdict(transitions.run(seconds=120 if args.quick else 600))
    result["targets"] = evaluate(result)
    return result


def evaluate(result: dict) -> dict[str, dict]:
    high = result["high_rate"]
    exposition = result["micro"]["exposition"]
    measured = {
        "parse_apply_us_per_observation": result["micro"]["parse_apply_us_per_observation"],
        "cpu_share_of_one_core": high["exporter"]["cpu_share"],
        "render_seconds_100k_series": exposition["seconds"] * 100_000 / exposition["series"],
        "rss_bytes_per_series": result["micro"]["memory"]["bytes_per_series"],
        "baseline_cpu_ratio": high["cpu_ratio_baseline_to_exporter"],
        "transitions_share": result["transitions"]["exporter_share"],
    }
    higher_is_better = {"baseline_cpu_ratio", "transitions_share"}
    targets = {
        name: {
            "target": TARGETS[name],
            "measured": value,
            "met": value >= TARGETS[name] if name in higher_is_better else value <= TARGETS[name],
        }
        for name, value in measured.items()
    } | {"lag_does_not_grow": {"target": True, "measured": high["exporter"]["lag_keeps_up"],
                               "met": bool(high["exporter"]["lag_keeps_up"])}}
    load = result["load"]
    if (load["agents"], load["items"], load["rate"]) != TARGET_LOAD:
        for name in ("cpu_share_of_one_core", "lag_does_not_grow"):
            targets[name]["met"] = None  # defined for the target load only: reported, not judged
    return targets


def table(result: dict) -> str:
    micro_result, transitions_result = result["micro"], result["transitions"]
    load = result["load"]
    lines = [
        f"Load: {load['agents']} agents x {load['items']} items, {load['seconds']:g} s per run, "
        f"/metrics every {load['scrape_interval']:g} s, medians of {load['runs']} runs; "
        f"{result['machine']['cpus']} CPUs, Python {result['machine']['python']}.",
        "",
        "| measure | factorydash | baseline (ElementTree, /current every poll) | ratio |",
        "|---|---|---|---|",
    ]
    for name in ("high_rate", "low_rate"):
        point = result[name]
        exporter, baseline = point["exporter"], point["baseline"]
        rate = point["load"]["rate"]
        lines += [
            f"| **items change {rate:g}/s** ({exporter['offered_per_second']:,.0f} observations/s offered) | | | |",
            f"| CPU, share of one core | {exporter['cpu_share']:.0%} | {baseline['cpu_share']:.0%} "
            f"| {point['cpu_ratio_baseline_to_exporter']:.1f}x |",
            f"| CPU per agent observation | {point['exporter_cpu_us_per_agent_observation']:.1f} us "
            f"| {point['baseline_cpu_us_per_agent_observation']:.1f} us | {point['cpu_ratio_baseline_to_exporter']:.1f}x |",
            f"| observations (items) ingested/s | {exporter['observations_per_second']:,.0f} "
            f"| {baseline['observations_per_second']:,.0f} | |",
            f"| sequence lag median / max (first, second half) | {exporter['lag_seconds_median']:.1f} s / "
            f"{exporter['lag_seconds_max_first_half']:.1f} s, {exporter['lag_seconds_max_second_half']:.1f} s "
            f"({'keeps up' if exporter['lag_keeps_up'] else 'GROWS'}) | - | |",
            f"| /metrics: series, size (gzip) | {exporter['series']:,.0f}, {exporter['exposition_bytes'] / 1e6:.1f} MB "
            f"({exporter['exposition_gzip_bytes'] / 1e6:.1f} MB) | {baseline['series']:,.0f}, "
            f"{baseline['exposition_bytes'] / 1e6:.1f} MB | |",
            f"| /metrics scrape time median (max) | {exporter['render_seconds_median']:.2f} s "
            f"({exporter['render_seconds_max']:.2f} s) | {baseline['render_seconds_median']:.2f} s "
            f"({baseline['render_seconds_max']:.2f} s) | {point['render_ratio_baseline_to_exporter']:.1f}x |",
            f"| resident memory per series (whole process) | {exporter['rss_bytes_per_series']:.0f} B "
            f"| {baseline['rss_bytes_per_series']:.0f} B | |",
        ]
    exposition, memory = micro_result["exposition"], micro_result["memory"]
    lines += [
        f"| **scripted feed holds and faults** (0.5-{transitions_result['longest_hold_seconds']:.0f} s) | | | |",
        f"| transitions seen of {transitions_result['scripted']} | {transitions_result['exporter_share']:.0%} "
        f"| {transitions_result['baseline_share']:.0%} (polls every {transitions_result['baseline_interval_seconds']:g} s) | |",
        "",
        "| micro-benchmark (in-process, CPU time) | median |",
        "|---|---|",
        f"| parse + apply, per observation | {micro_result['parse_apply_us_per_observation']:.2f} us |",
        f"| /metrics render, {exposition['series']:,} series | {exposition['seconds']:.2f} s "
        f"({exposition['us_per_series']:.1f} us per series, {exposition['bytes'] / 1e6:.1f} MB) |",
        f"| resident memory added per series ({memory['series']:,} series) | {memory['bytes_per_series']:.0f} B |",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for name, target in result["targets"].items():
        measured = target["measured"]
        shown = f"{measured:.3g}" if isinstance(measured, float) else str(measured)
        met = {True: "yes", False: "NO", None: "n/a (target load is 100 agents x 1,000 items at 1 Hz)"}[target["met"]]
        lines.append(f"| {name} (target {target['target']}) | {shown} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    result = run(args)
    result["table"] = table(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(result["table"])
    print(f"\nJSON: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
