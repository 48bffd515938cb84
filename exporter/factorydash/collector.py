"""Agent state -> Prometheus metric families, built at scrape time.

`FactorydashCollector.collect()` reads each agent's state under that agent's
lock (a consistent view per agent) and yields metric families; it never
sets global metrics and is registered on a private registry only.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone

from prometheus_client.registry import Collector
from prometheus_client.metrics_core import Metric

from . import __version__
from .planning import DevicePlan
from .state import (
    CONDITION_LEVELS,
    AgentState,
    ConditionTracker,
    NumericEventTracker,
    SampleTracker,
    StateTracker,
    TextEventTracker,
)

DATA_ITEM_LABELS = ("agent", "device", "component", "component_id", "data_item_id", "name", "sub_type")
_AXES = ("x", "y", "z")

PlanLookup = Callable[[str, str], DevicePlan]


class Families:
    """Metric families by name, created on first use (so empty families are never exposed)."""

    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}

    def get(self, name: str, documentation: str, kind: str) -> Metric:
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = Metric(name, documentation, kind)
        return family

    def gauge(self, name: str, documentation: str, labels: dict[str, str], value: float) -> None:
        self.get(name, documentation, "gauge").add_sample(name, labels, value)

    def counter(self, name: str, documentation: str, labels: dict[str, str], value: float) -> None:
        base = name.removesuffix("_total")
        self.get(base, documentation, "counter").add_sample(base + "_total", labels, value)

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._families.values())


class FactorydashCollector(Collector):
    def __init__(self, states: Callable[[], Iterable[AgentState]], plan_for: PlanLookup | None = None) -> None:
        self._states = states
        self._plan_for = plan_for

    def describe(self) -> list[Metric]:
        return []  # the metric set depends on the agents: never collect at registration time

    def collect(self) -> Iterator[Metric]:
        families = Families()
        families.gauge(
            "factorydash_build_info",
            "factorydash version and the Python it runs on; always 1.",
            {"version": __version__, "python_version": platform.python_version()},
            1,
        )
        families.get("mtconnect_agent_up", "1 if the last exchange with the agent succeeded, else 0.", "gauge")
        for state in self._states():
            with state.lock:
                self._collect_agent(state, families)
        yield from families

    # -- agent -----------------------------------------------------------------

    def _collect_agent(self, state: AgentState, families: Families) -> None:
        agent = {"agent": state.name}
        families.gauge("mtconnect_agent_up", "", agent, 1 if state.up else 0)
        header = state.header
        if header is not None:
            families.gauge(
                "mtconnect_agent_info",
                "Identity of the agent: instance, software version, schema version, sender; always 1.",
                {
                    "agent": state.name,
                    "url": state.url,
                    "instance_id": header.instance_id,
                    "version": header.version,
                    "schema_version": state.schema_version,
                    "sender": header.sender,
                },
                1,
            )
            if header.buffer_size is not None:
                families.gauge(
                    "mtconnect_agent_buffer_size", "Observations the agent's buffer holds.", agent, header.buffer_size
                )
        counters = state.counters
        families.counter(
            "mtconnect_agent_restarts_total",
            "Agent restarts seen (new instanceId or deviceModelChangeTime).",
            agent,
            counters.restarts,
        )
        families.counter(
            "mtconnect_agent_observations_total", "Observations applied from the agent's stream.", agent,
            counters.observations,
        )
        families.counter(
            "mtconnect_agent_observations_lost_total",
            "Observations lost because the agent's buffer overran before they were read.",
            agent,
            counters.lost,
        )
        families.counter(
            "mtconnect_series_dropped_total", "Series not created because a series cap was reached.", agent,
            counters.dropped_series,
        )
        errors = families.get(
            "mtconnect_agent_request_errors", "Failed exchanges with the agent by reason.", "counter"
        )
        for reason, count in sorted(counters.errors.items()):
            errors.add_sample("mtconnect_agent_request_errors_total", {"agent": state.name, "reason": reason}, count)
        durations = families.get(
            "mtconnect_agent_request_duration_seconds", "Duration of requests to the agent by request.", "histogram"
        )
        for request, histogram in sorted(counters.durations.items()):
            labels = {"agent": state.name, "request": request}
            for bound, count in histogram.cumulative():
                durations.add_sample("mtconnect_agent_request_duration_seconds_bucket", {**labels, "le": bound}, count)
            durations.add_sample("mtconnect_agent_request_duration_seconds_count", labels, histogram.total)
            durations.add_sample("mtconnect_agent_request_duration_seconds_sum", labels, histogram.sum)
        lag = state.sequence_lag()
        if lag is not None:
            families.gauge(
                "mtconnect_agent_sequence_lag", "Observations the agent holds that the exporter has not read yet.",
                agent, lag,
            )
        if state.last_success is not None:
            families.gauge(
                "mtconnect_agent_last_success_timestamp_seconds",
                "Exporter clock of the last successful exchange with the agent.",
                agent,
                state.last_success,
            )
        self._collect_devices(state, families)
        agent_now = state.agent_time()
        for tracker in state.trackers.values():
            labels = dict(zip(DATA_ITEM_LABELS, tracker.labels))
            if isinstance(tracker, SampleTracker):
                _sample(tracker, labels, families)
            elif isinstance(tracker, StateTracker):
                _state(tracker, labels, families, agent_now)
            elif isinstance(tracker, ConditionTracker):
                _condition(tracker, labels, families)
            elif isinstance(tracker, NumericEventTracker):
                _numeric_event(tracker, labels, families)
            elif isinstance(tracker, TextEventTracker):
                if tracker.value is not None:
                    families.gauge(
                        "mtconnect_event_info",
                        "Current value of a free-text event enabled in the config; always 1.",
                        {**labels, "event": tracker.item.type, "value": tracker.value},
                        1,
                    )

    def _collect_devices(self, state: AgentState, families: Families) -> None:
        now = datetime.now(timezone.utc)
        availability = {
            tracker.item.device: tracker
            for tracker in state.trackers.values()
            if isinstance(tracker, StateTracker) and tracker.item.type == "AVAILABILITY"
            and tracker.item.component in ("Device", "Agent")
        }
        for device in state.devices:
            labels = {"agent": state.name, "device": device.name}
            families.gauge(
                "mtconnect_device_info",
                "Identity of the device from the agent's probe; always 1.",
                {
                    **labels,
                    "uuid": device.uuid,
                    "manufacturer": device.manufacturer,
                    "model": device.model,
                    "serial_number": device.serial_number,
                },
                1,
            )
            tracker = availability.get(device.name)
            if tracker is not None and tracker.current is not None:
                families.gauge(
                    "mtconnect_device_available",
                    "1 if the device's AVAILABILITY is AVAILABLE (its data source is connected), else 0.",
                    labels,
                    1 if tracker.current == "AVAILABLE" else 0,
                )
            last = state.device_last_observation.get(device.name)
            if last is not None:
                families.gauge(
                    "mtconnect_device_last_observation_timestamp_seconds",
                    "Exporter clock when the newest observation of the device arrived.",
                    labels,
                    last,
                )
            if self._plan_for is None or device.is_agent:
                continue
            plan = self._plan_for(state.name, device.name)
            if plan.calendar is not None:
                families.gauge(
                    "mtconnect_device_planned_production",
                    "1 inside a planned production shift of the device's calendar, 0 outside.",
                    labels,
                    1 if plan.calendar.is_planned(now) else 0,
                )
            if plan.ideal_cycle_time is not None:
                families.gauge(
                    "mtconnect_device_ideal_cycle_time_seconds",
                    "Configured ideal cycle time of one part on the device.",
                    labels,
                    plan.ideal_cycle_time,
                )


def _sample(tracker: SampleTracker, labels: dict[str, str], families: Families) -> None:
    documentation = f"MTConnect {tracker.item.type} {tracker.item.category.lower()} values, in base units."
    if tracker.vector is not None:
        for axis, value in zip(_AXES, tracker.vector):
            families.gauge(tracker.metric, documentation, {**labels, "axis": axis}, value)
    elif tracker.value is not None:
        families.gauge(tracker.metric, documentation, labels, tracker.value)
    for key, value in tracker.entries.items():
        families.gauge(tracker.metric, documentation, {**labels, "key": key}, value)


def _state(tracker: StateTracker, labels: dict[str, str], families: Families, agent_now: float) -> None:
    base = tracker.metric  # mtconnect_<type>_state
    kind = tracker.item.type
    seconds = tracker.seconds_at(agent_now)
    for value in tracker.all_states():
        state_labels = {**labels, "state": value}
        families.gauge(
            base, f"1 for the current {kind} value, 0 for every other.", state_labels,
            1 if tracker.current == value else 0,
        )
        families.counter(
            base + "_seconds_total",
            f"Seconds spent in each {kind} value, from the agent's timestamps.",
            state_labels,
            seconds.get(value, 0.0),
        )
        families.counter(
            base + "_transitions_total", f"Entries into each {kind} value.", state_labels,
            tracker.transitions.get(value, 0),
        )


def _condition(tracker: ConditionTracker, labels: dict[str, str], families: Families) -> None:
    condition = {**labels, "condition": tracker.item.type}
    for level in CONDITION_LEVELS:
        families.gauge(
            "mtconnect_condition_level",
            "1 for the condition's highest active level (normal, warning, fault, unavailable), 0 for the others.",
            {**condition, "level": level},
            1 if tracker.level == level else 0,
        )
    for level in ("warning", "fault"):
        families.counter(
            "mtconnect_condition_activations_total",
            "Onsets of warning and fault activations of the condition.",
            {**condition, "level": level},
            tracker.activations[level],
        )
    for activation in tracker.active.values():
        families.gauge(
            "mtconnect_condition_active",
            "1 for each active warning or fault activation, with its native code and message.",
            {
                **condition,
                "level": activation.level,
                "native_code": activation.native_code,
                "native_severity": activation.native_severity,
                "qualifier": activation.qualifier,
                "message": activation.message,
            },
            1,
        )


def _numeric_event(tracker: NumericEventTracker, labels: dict[str, str], families: Families) -> None:
    if tracker.value is not None:
        families.gauge(tracker.metric, f"MTConnect {tracker.item.type} event value.", labels, tracker.value)
    if tracker.counts_parts:
        families.counter(
            "mtconnect_parts_total",
            "Parts counted from increases of PART_COUNT, across controller resets.",
            # A PART_COUNT without subType counts ALL parts (the standard's default): rules can rely on it.
            {**labels, "sub_type": labels["sub_type"] or "ALL"},
            tracker.parts_total,
        )

