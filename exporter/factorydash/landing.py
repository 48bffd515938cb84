"""The landing page at `/`: agents and devices at a glance. Every agent-sent string is escaped."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from html import escape

from . import __version__
from .conditions import ConditionTracker
from .coverage import Coverage, agent_coverage
from .state import AgentState
from .trackers import StateTracker

DEFAULT_REFRESH_SECONDS = 5

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin-bottom:1.5rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
th{background:#f3f3f3}
.up{color:#1a7f37;font-weight:bold}.down{color:#cf222e;font-weight:bold}
.ACTIVE{background:#d3f9d8}.FEED_HOLD,.INTERRUPTED{background:#fff3bf}
.STOPPED,.PROGRAM_STOPPED{background:#ffe3e3}.UNAVAILABLE{background:#e9ecef}
.fault{color:#cf222e}.warning{color:#9a6700}
"""


def render_landing_page(states: Iterable[AgentState], refresh_seconds: int = DEFAULT_REFRESH_SECONDS) -> bytes:
    agent_rows: list[str] = []
    device_rows: list[str] = []
    coverage_sections: list[str] = []
    for state in states:
        with state.lock:
            agent_rows.append(_agent_row(state))
            device_rows.extend(_device_rows(state))
            coverage = agent_coverage(state)
        coverage_sections.append(_coverage_section(coverage))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{refresh_seconds}">
<title>factorydash exporter</title><style>{_STYLE}</style></head>
<body>
<h1>factorydash exporter</h1>
<p>Version {escape(__version__)} &middot; <a href="metrics">Metrics</a> &middot; <a href="-/healthy">Health</a>
&middot; <a href="config">Configuration</a></p>
<h2>Agents</h2>
<table id="agents"><thead><tr><th>Agent</th><th>URL</th><th>Up</th><th>Instance</th><th>Sequence lag</th>
<th>Observations</th><th>Lost</th><th>Last error</th></tr></thead>
<tbody>{"".join(agent_rows)}</tbody></table>
<h2>Devices</h2>
<table id="devices"><thead><tr><th>Agent</th><th>Device</th><th>Availability</th><th>Execution</th>
<th>Controller mode</th><th>Active alarms</th></tr></thead>
<tbody>{"".join(device_rows)}</tbody></table>
<h2>Coverage</h2>
<p>Data items of the followed devices that have series, and why the others do not.</p>
{"".join(coverage_sections)}
</body></html>
"""
    return page.encode("utf-8")


def _agent_row(state: AgentState) -> str:
    header = state.header
    lag = state.sequence_lag()
    if state.up:
        up = '<span class="up">up</span>'
    elif state.down_since is None:
        up = '<span class="down">connecting</span>'
    else:
        up = f'<span class="down">down</span> since {utc_text(state.down_since)}'
    return (
        f'<tr data-agent="{escape(state.name)}"><td>{escape(state.name)}</td><td>{escape(state.url)}</td>'
        f"<td>{up}</td><td>{escape(header.instance_id) if header else ''}</td>"
        f"<td>{'' if lag is None else lag}</td><td>{state.counters.observations}</td>"
        f"<td>{state.counters.lost}</td><td>{escape(state.last_error)}</td></tr>"
    )


def utc_text(timestamp: float) -> str:
    """A wall-clock moment as people read it on the page and in /-/healthy."""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _device_rows(state: AgentState) -> list[str]:
    by_device: dict[str, dict[str, str]] = {}
    alarms: dict[str, list[str]] = {}
    for tracker in state.trackers.values():
        device = tracker.item.device
        if isinstance(tracker, StateTracker) and tracker.item.type in ("AVAILABILITY", "EXECUTION", "CONTROLLER_MODE"):
            by_device.setdefault(device, {}).setdefault(tracker.item.type, tracker.current or "")
        elif isinstance(tracker, ConditionTracker):
            for activation in tracker.active.values():
                alarms.setdefault(device, []).append(
                    f'<li class="{escape(activation.level)}">{escape(activation.level)} '
                    f"{escape(activation.native_code)} {escape(activation.message)}</li>"
                )
    rows = []
    for device in state.devices:
        values = by_device.get(device.name, {})
        cells = "".join(
            f'<td class="{escape(values.get(kind, ""))}">{escape(values.get(kind, ""))}</td>'
            for kind in ("AVAILABILITY", "EXECUTION", "CONTROLLER_MODE")
        )
        device_alarms = alarms.get(device.name, [])
        alarm_cell = f"<ul>{''.join(device_alarms)}</ul>" if device_alarms else "none"
        rows.append(
            f'<tr data-device="{escape(device.name)}"><td>{escape(state.name)}</td><td>{escape(device.name)}</td>'
            f"{cells}<td>{alarm_cell}</td></tr>"
        )
    return rows


def _coverage_section(coverage: Coverage) -> str:
    agent = escape(coverage.agent)
    rows = []
    for reason, group in coverage.without_series.items():
        listed = ", ".join(
            f'<code data-item="{escape(item.item_id)}" title="{escape(item.category)} {escape(item.type)}'
            f'{" " + escape(item.sub_type) if item.sub_type else ""}">{escape(item.device)}/{escape(item.item_id)}</code>'
            f" {escape(item.type)}"
            for item in group.items
        )
        if group.count > len(group.items):
            listed += f" and {group.count - len(group.items)} more"
        rows.append(f'<tr data-reason="{escape(reason)}"><td>{escape(reason)}</td><td>{group.count}</td>'
                    f"<td>{listed}</td></tr>")
    for device, count in coverage.unfollowed_devices.items():
        reason = "device not followed (the agent's devices filter)"
        rows.append(f'<tr data-reason="{escape(reason)}"><td>{escape(reason)}</td><td>{count}</td>'
                    f"<td>{escape(device)}</td></tr>")
    table = (
        '<table class="coverage"><thead><tr><th>Reason</th><th>Data items</th><th>Which</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>" if rows else ""
    )
    return (
        f'<section class="coverage" data-agent="{agent}"><h3>{agent}: {coverage.with_series} of '
        f"{coverage.declared} data items have series</h3>{table}</section>"
    )
