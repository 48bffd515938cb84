"""Coverage: which of an agent's data items have series now, and why the others do not.

Shown per agent on the landing page and by `--config.check.coverage`, so a plant engineer sees what
to turn on (a free-text event in `event_info_types`, a vendor number in `numeric_event_types`, a
higher series cap) instead of wondering where a data item went.
"""

from __future__ import annotations

from dataclasses import dataclass

from .conditions import ConditionTracker
from .parser import DataItem
from .state import AgentState
from .trackers import NumericEventTracker, SampleTracker, StateTracker, TextEventTracker, Tracker

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
class Reason:
    count: int
    items: tuple[Uncovered, ...]  # the first ones (state.MAX_LISTED_UNTRACKED per reason), in probe order


@dataclass(frozen=True, slots=True)
class Coverage:
    agent: str
    declared: int  # data items of the followed devices
    with_series: int
    without_series: dict[str, Reason]
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
    unavailable = [_uncovered(tracker.item) for tracker in state.trackers.values() if not has_series(tracker)]
    reasons = {
        reason: Reason(count, tuple(_uncovered(item) for item in state.untracked[reason]))
        for reason, count in state.untracked_counts.items()
    }
    if unavailable:
        reasons[VALUE_UNAVAILABLE] = Reason(len(unavailable), tuple(unavailable))
    return Coverage(
        agent=state.name,
        declared=len(state.trackers) + sum(state.untracked_counts.values()),
        with_series=len(state.trackers) - len(unavailable),
        without_series=dict(sorted(reasons.items())),
        unfollowed_devices=dict(state.unfollowed_devices),
    )


def _uncovered(item: DataItem) -> Uncovered:
    return Uncovered(item.device, item.id, item.type, item.sub_type, item.category)


def coverage_text(coverage: Coverage) -> str:
    """Plain text for the command line: one line per reason, then the data items under it."""
    lines = [f"agent {coverage.agent}: {coverage.with_series} of {coverage.declared} data items have series"]
    for text, reason in coverage.without_series.items():
        lines.append(f"  {reason.count} {text}:")
        lines.extend(f"    {item.device} {item.item_id} {_kind(item)}" for item in reason.items)
        if reason.count > len(reason.items):
            lines.append(f"    and {reason.count - len(reason.items)} more")
    for device, count in coverage.unfollowed_devices.items():
        lines.append(f"  device {device} not followed (devices filter): {count} data items")
    return "\n".join(lines)


def _kind(item: Uncovered) -> str:
    return f"{item.category} {item.type}" + (f" subType={item.sub_type}" if item.sub_type else "")
