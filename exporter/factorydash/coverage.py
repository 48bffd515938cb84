"""Coverage: which of an agent's data items have series now, and why the others do not.

Shown per agent on the landing page and by `--config.check.coverage`, so a plant engineer sees what
to turn on (a free-text event in `event_info_types`, a vendor number in `numeric_event_types`, a
higher series cap) instead of wondering where a data item went.
"""

from __future__ import annotations

from dataclasses import dataclass

from .parser import DataItem
from .state import (
    AgentState,
    ConditionTracker,
    NumericEventTracker,
    SampleTracker,
    StateTracker,
    TextEventTracker,
    Tracker,
)

VALUE_UNAVAILABLE = "value unavailable (no series until the agent sends one)"


@dataclass(frozen=True, slots=True)
class Uncovered:
    """A data item without series: where it is and what it is."""

    device: str
    item_id: str
    type: str
    sub_type: str
    category: str


@dataclass(frozen=True, slots=True)
class Coverage:
    agent: str
    declared: int  # data items of the followed devices
    with_series: int
    without_series: dict[str, tuple[Uncovered, ...]]  # reason -> data items, in probe order
    unfollowed_devices: dict[str, int]  # devices left out by the agent's devices filter -> their data items


def has_series(tracker: Tracker) -> bool:
    """True when the tracker's item is exposed in a scrape right now."""
    if isinstance(tracker, (StateTracker, ConditionTracker)):
        return True  # the one-hot state and the level always are
    if isinstance(tracker, SampleTracker):
        return tracker.value is not None or tracker.vector is not None or bool(tracker.entries)
    if isinstance(tracker, NumericEventTracker):
        return tracker.value is not None or tracker.counts_parts
    assert isinstance(tracker, TextEventTracker), type(tracker)
    return tracker.value is not None


def agent_coverage(state: AgentState) -> Coverage:
    """The coverage of one agent; hold `state.lock`."""
    reasons: dict[str, list[Uncovered]] = {}
    with_series = 0
    for tracker in state.trackers.values():
        if has_series(tracker):
            with_series += 1
        else:
            reasons.setdefault(VALUE_UNAVAILABLE, []).append(_uncovered(tracker.item))
    for item, reason in state.untracked.values():
        reasons.setdefault(reason, []).append(_uncovered(item))
    return Coverage(
        agent=state.name,
        declared=len(state.trackers) + len(state.untracked),
        with_series=with_series,
        without_series={reason: tuple(items) for reason, items in sorted(reasons.items())},
        unfollowed_devices=dict(state.unfollowed_devices),
    )


def _uncovered(item: DataItem) -> Uncovered:
    return Uncovered(item.device, item.id, item.type, item.sub_type, item.category)


def coverage_text(coverage: Coverage) -> str:
    """Plain text for the command line: one line per reason, then the data items under it."""
    lines = [f"agent {coverage.agent}: {coverage.with_series} of {coverage.declared} data items have series"]
    for reason, items in coverage.without_series.items():
        lines.append(f"  {len(items)} {reason}:")
        lines.extend(f"    {item.device} {item.item_id} {_kind(item)}" for item in items)
    for device, count in coverage.unfollowed_devices.items():
        lines.append(f"  device {device} not followed (devices filter): {count} data items")
    return "\n".join(lines)


def _kind(item: Uncovered) -> str:
    return f"{item.category} {item.type}" + (f" subType={item.sub_type}" if item.sub_type else "")
