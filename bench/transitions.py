"""What the baseline misses: a scripted stream of short feed holds and faults.

A scripted agent (its own script is the ground truth) runs on a manual
clock. The exporter's follower reads it once per simulated second; the
baseline polls `/current` every `baseline_interval` seconds, as the old
application did. Each side counts the transitions it saw: entries into
FEED_HOLD and fault onsets. Simulated time: a 10-minute script takes about a
second.
"""

from __future__ import annotations

import random
import urllib.request
from dataclasses import dataclass

from factorydash.conditions import ConditionTracker
from factorydash.config import config_from_agent_flags
from factorydash.exporter import Exporter
from factorydash.trackers import StateTracker

from .baseline import rows_of
from .standin import Item, Scripted, ScriptedAgent, StandInServer

START = 1_767_600_000.0
ITEMS = (
    Item("avail", "EVENT", "AVAILABILITY", "Availability"),
    Item("execution", "EVENT", "EXECUTION", "Execution"),
    Item("system", "CONDITION", "SYSTEM", "System"),
)
AVAIL, EXECUTION, SYSTEM = range(3)


@dataclass(frozen=True)
class TransitionsResult:
    scripted: int
    exporter_seen: int
    baseline_seen: int
    exporter_share: float
    baseline_share: float
    baseline_interval_seconds: float
    longest_hold_seconds: float


def script(seconds: float, seed: int = 7) -> tuple[list[Scripted], int, float]:
    """Feed holds and faults of 0.5..4 s, every 15..40 s; returns (script, transitions, longest)."""
    rng = random.Random(seed)
    events = [Scripted(0.0, AVAIL, "AVAILABLE"), Scripted(0.0, EXECUTION, "ACTIVE"), Scripted(0.0, SYSTEM, "Normal")]
    transitions, longest = 0, 0.0
    at = 5.0
    while at < seconds - 10:
        length = round(rng.uniform(0.5, 4.0), 3)
        if rng.random() < 0.5:
            events += [Scripted(at, EXECUTION, "FEED_HOLD"), Scripted(at + length, EXECUTION, "ACTIVE")]
        else:
            code = f"F{transitions}"
            events += [
                Scripted(at, SYSTEM, "Fault", code, "SPINDLE ORIENTATION FAULT"),
                Scripted(at + length, SYSTEM, "Normal", code),
            ]
        transitions += 1
        longest = max(longest, length)
        at += length + rng.uniform(15, 40)
    return events, transitions, longest


def run(seconds: float = 600, baseline_interval: float = 10.0) -> TransitionsResult:
    events, transitions, longest = script(seconds)
    now = [START]
    agent = ScriptedAgent("scripted", ITEMS, events, START)
    with StandInServer([agent], clock=lambda: now[0]) as server:
        exporter = Exporter(config_from_agent_flags([f"scripted={server.url('scripted')}"], env={}))
        followed = exporter.agents["scripted"]
        try:
            for _ in range(2):
                followed.follower.step()  # probe, current
            baseline_seen, previous = 0, rows_of(_get(server.url("scripted") + "current"))
            for second in range(1, int(seconds) + 1):
                now[0] = START + second
                while followed.follower.step() == 0.0:  # more buffered: read on at once
                    pass
                if second % baseline_interval == 0:
                    rows = rows_of(_get(server.url("scripted") + "current"))
                    baseline_seen += _changes(previous, rows)
                    previous = rows
        finally:
            followed.follower.stop(timeout=0)
        execution = followed.state.trackers["execution"]
        system = followed.state.trackers["system"]
        assert isinstance(execution, StateTracker) and isinstance(system, ConditionTracker)
        exporter_seen = execution.transitions.get("FEED_HOLD", 0) + system.activations["fault"]
    return TransitionsResult(
        scripted=transitions,
        exporter_seen=exporter_seen,
        baseline_seen=baseline_seen,
        exporter_share=exporter_seen / transitions,
        baseline_share=baseline_seen / transitions,
        baseline_interval_seconds=baseline_interval,
        longest_hold_seconds=longest,
    )


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def _changes(before: dict, after: dict) -> int:
    """Transitions a poller can see: into FEED_HOLD, and a fault that was not there at the last poll."""
    seen = 0
    if after["execution"].value == "FEED_HOLD" and before["execution"].value != "FEED_HOLD":
        seen += 1
    if after["system"].element == "Fault" and (
        before["system"].element != "Fault" or before["system"].value != after["system"].value
    ):
        seen += 1
    return seen
