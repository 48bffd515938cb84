"""PromQL building blocks shared by the dashboards: selectors, state codes, durations."""

from __future__ import annotations

from .states import State

DEVICE = 'agent=~"$agent", device=~"$device"'
AGENT = 'agent=~"$agent"'


def state_code(metric: str, states: tuple[State, ...]) -> str:
    """One series per machine whose value is the code of its current state."""
    terms = [f'{metric}{{{DEVICE}, state="{s.value}"}} * {s.code}' for s in states]
    return "max by (agent, device) (\n    " + "\n  or ".join(terms) + "\n)"


def seconds_in_current_state(metric: str) -> str:
    """How long each machine has been in its current state, in seconds.

    The run started after the last moment the current state's one-hot series
    was 0; if it was never 0 in the range, at the first moment it was seen.
    """
    series = f"{metric}{{{DEVICE}}}"
    return (
        "time() - max by (agent, device) (\n"
        "  (\n"
        f"      max_over_time(timestamp({series} == 0)[$__range:$__interval])\n"
        f"    or\n"
        f"      min_over_time(timestamp({series} == 1)[$__range:$__interval])\n"
        "  )\n"
        f"  and {series} == 1\n"
        ")"
    )


def per_machine_zero() -> str:
    """0 for every selected machine, to complete counts that are absent at 0."""
    return f"0 * max by (agent, device) (mtconnect_device_info{{{DEVICE}}})"


def shift_average(rule: str) -> str:
    """A 5-minute recording rule averaged over the selected range (the shift)."""
    return f"avg_over_time({rule}{{{DEVICE}}}[$__range])"
