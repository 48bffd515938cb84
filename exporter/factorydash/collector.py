"""Agent state -> Prometheus text exposition, built at scrape time.

`FactorydashCollector.collect()` reads each agent's state under that agent's
lock (a consistent view per agent) and yields metric families; it never
sets global metrics and is registered on a private registry only.

The families carry their samples as lines of the text format (`exposition`);
label strings of data-item series are rendered once per tracker and kept in
the collector's `LabelCache` (`serieslabels`): the state is only read.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from prometheus_client.registry import Collector

from . import __version__
from . import metrics as m
from .accounting import ELEMENTS, AccountView, Period, good_parts, ratios
from .conditions import CONDITION_LEVELS, ConditionTracker
from .exposition import Families, RenderedFamily, render_labels
from .planning import DevicePlan, calendar_for
from .serieslabels import AgentLabels, LabelCache, Pairs, capped
from .state import AgentState
from .trackers import AdapterItemTracker, NumericEventTracker, SampleTracker, StateTracker, TextEventTracker
from .vocabularies import ADAPTER_INFO_LABELS

if TYPE_CHECKING:
    from .exporter import ReloadHealth

log = logging.getLogger(__name__)

_AXES = ("x", "y", "z")

PlanLookup = Callable[[str, str], DevicePlan]


class RenderFailures:
    """Scrapes that left an agent's series out because rendering them failed, by agent name: the collector's
    own count, shared by the /metrics and /probe collectors (the state is only read)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, agent: str) -> int:
        with self._lock:
            count = self._counts[agent] = self._counts.get(agent, 0) + 1
        return count

    def count(self, agent: str) -> int:
        return self._counts.get(agent, 0)


class ReloadHealthCollector(Collector):
    """Whether the last configuration reload worked: exporter-wide, so on plain /metrics only (as Prometheus'
    own prometheus_config_last_reload_successful)."""

    def __init__(self, health: Callable[[], ReloadHealth]) -> None:
        self._health = health

    def describe(self) -> list[RenderedFamily]:
        return []

    def collect(self) -> Iterator[RenderedFamily]:
        health = self._health()
        families = Families()
        families.gauge(m.CONFIG_RELOAD_SUCCESSFUL, "", 1 if health.successful else 0)
        families.gauge(m.CONFIG_RELOAD_SUCCESS_TIMESTAMP, "", health.success_timestamp)
        yield from families


class FactorydashCollector(Collector):
    """Agent states in, metric families out; reads the states under their locks and writes nothing into them.

    `wall_clock` gives the exporter's time for the gauges that depend on it (planned production now).
    """

    def __init__(
        self,
        states: Callable[[], Iterable[AgentState]],
        plan_for: PlanLookup | None = None,
        *,
        wall_clock: Callable[[], float] = time.time,
        labels: LabelCache | None = None,
        failures: RenderFailures | None = None,
        every_agent: bool = True,
    ) -> None:
        self._states = states
        self._plan_for = plan_for
        self._wall_clock = wall_clock
        self._labels = labels or LabelCache()
        self._failures = failures or RenderFailures()
        self._every_agent = every_agent  # False: a subset (/probe), so keep the cache of the others

    def for_agents(self, states: Callable[[], Iterable[AgentState]]) -> FactorydashCollector:
        """A collector of some of the agents (/probe) sharing this one's label cache and failure counts."""
        return FactorydashCollector(
            states, self._plan_for, wall_clock=self._wall_clock, labels=self._labels, failures=self._failures,
            every_agent=False,
        )

    def describe(self) -> list[RenderedFamily]:
        return []  # the metric set depends on the agents: never collect at registration time

    def collect(self) -> Iterator[RenderedFamily]:
        families = Families()
        families.gauge(
            m.BUILD_INFO,
            render_labels((("version", __version__), ("python_version", platform.python_version()))),
            1,
        )
        families.get(m.AGENT_UP)
        names = set()
        for state in self._states():
            names.add(state.name)
            with state.lock:
                self._collect_isolated(state, families)
        if self._every_agent:
            self._labels.keep_only(names)
        yield from families

    def _collect_isolated(self, state: AgentState, families: Families) -> None:
        """One agent's series, rendered apart: a bug or a value that breaks them costs only that agent's
        series in this scrape (counted, logged once per agent), never the scrape of the others."""
        own = Families()
        try:
            self._collect_agent(state, own)
        except Exception:
            if self._failures.add(state.name) == 1:
                log.exception("agent=%s its series could not be rendered and are left out of the scrape", state.name)
        else:
            families.merge(own)
        families.counter(
            m.AGENT_COLLECT_ERRORS, render_labels((("agent", state.name),)), self._failures.count(state.name)
        )

    # -- agent -----------------------------------------------------------------

    def _collect_agent(self, state: AgentState, families: Families) -> None:
        agent = render_labels((("agent", state.name),))
        families.gauge(m.AGENT_UP, agent, 1 if state.up else 0)
        header = state.header
        if header is not None:
            families.gauge(
                m.AGENT_INFO,
                render_labels(
                    (
                        ("agent", state.name),
                        ("url", state.url),
                        *capped(
                            state,
                            (
                                ("instance_id", header.instance_id),
                                ("version", header.version),
                                ("schema_version", state.schema_version),
                                ("sender", header.sender),
                            ),
                        ),
                    )
                ),
                1,
            )
            if header.buffer_size is not None:
                families.gauge(m.AGENT_BUFFER_SIZE, agent, header.buffer_size)
        counters = state.counters
        families.counter(m.AGENT_RESTARTS, agent, counters.restarts)
        families.counter(m.AGENT_OBSERVATIONS, agent, counters.observations)
        families.counter(m.AGENT_OBSERVATIONS_LOST, agent, counters.lost)
        families.counter(m.AGENT_OBSERVATIONS_UNDECLARED, agent, counters.undeclared)
        families.counter(m.SERIES_DROPPED, agent, counters.dropped_series)
        families.get(m.AGENT_REQUEST_ERRORS)
        for reason, count in sorted(counters.errors.items()):
            families.counter(m.AGENT_REQUEST_ERRORS, render_labels((("agent", state.name), ("reason", reason))), count)
        durations = families.get(m.AGENT_REQUEST_DURATION)
        for request, histogram in sorted(counters.durations.items()):
            pairs = (("agent", state.name), ("request", request))
            for bound, count in histogram.cumulative():
                durations.add(durations.name + "_bucket", render_labels((*pairs, ("le", bound))), count)
            labels = render_labels(pairs)
            durations.add(durations.name + "_count", labels, histogram.total)
            durations.add(durations.name + "_sum", labels, histogram.sum)
        families.get(m.AGENT_TIMESTAMPS_REJECTED)
        for reason, count in counters.timestamps_rejected.items():
            families.counter(
                m.AGENT_TIMESTAMPS_REJECTED, render_labels((("agent", state.name), ("reason", reason))), count
            )
        lag = state.sequence_lag()
        if lag is not None:
            families.gauge(m.AGENT_SEQUENCE_LAG, agent, lag)
        if state.last_success is not None:
            families.gauge(m.AGENT_LAST_SUCCESS, agent, state.last_success)
        self._collect_devices(state, families)
        agent_now = state.clock.now
        labels = self._labels.of(state)
        adapters: dict[tuple[str, str], list[AdapterItemTracker]] = {}
        for tracker in state.trackers.values():
            if isinstance(tracker, AdapterItemTracker):
                adapters.setdefault((tracker.item.device, tracker.item.component_id), []).append(tracker)
            elif isinstance(tracker, SampleTracker):
                _sample(labels, tracker, families)
            elif isinstance(tracker, StateTracker):
                _state(labels, tracker, families, agent_now)
            elif isinstance(tracker, ConditionTracker):
                _condition(labels, tracker, families)
            elif isinstance(tracker, NumericEventTracker):
                _numeric_event(labels, tracker, families)
            elif isinstance(tracker, TextEventTracker):
                if tracker.value is not None:
                    families.gauge(
                        m.EVENT_INFO,
                        labels.unbounded(tracker, (("event", tracker.item.type), ("value", tracker.value))),
                        1,
                    )
        for items in adapters.values():
            _adapter_info(state, items, families)

    def _collect_devices(self, state: AgentState, families: Families) -> None:
        now = datetime.fromtimestamp(self._wall_clock(), timezone.utc)
        availability = {
            tracker.item.device: tracker
            for tracker in state.trackers.values()
            if isinstance(tracker, StateTracker) and tracker.item.type == "AVAILABILITY"
            and tracker.item.component in ("Device", "Agent")
        }
        for device in state.devices:
            pairs = (("agent", state.name), *capped(state, (("device", device.name),)))
            labels = render_labels(pairs)
            families.gauge(
                m.DEVICE_INFO,
                render_labels(
                    (
                        *pairs,
                        *capped(
                            state,
                            (
                                ("uuid", device.uuid),
                                ("manufacturer", device.manufacturer),
                                ("model", device.model),
                                ("serial_number", device.serial_number),
                            ),
                        ),
                        ("is_agent", "true" if device.is_agent else "false"),
                    )
                ),
                1,
            )
            tracker = availability.get(device.name)
            if tracker is not None and tracker.current is not None:
                families.gauge(m.DEVICE_AVAILABLE, labels, 1 if tracker.current == "AVAILABLE" else 0)
            last = state.device_last_observation.get(device.name)
            if last is not None:
                families.gauge(m.DEVICE_LAST_OBSERVATION, labels, last)
            account = state.accounts.get(device.name)
            if account is not None and not device.is_agent:
                plan = state.plan_for(state.name, device.name)
                _account(pairs, account.view(state.clock.now, plan, calendar_for(plan)), families)
            if self._plan_for is None or device.is_agent:
                continue
            plan = self._plan_for(state.name, device.name)
            if plan.calendar is not None:
                families.gauge(m.DEVICE_PLANNED_PRODUCTION, labels, 1 if plan.calendar.is_planned(now) else 0)
            if plan.ideal_cycle_time is not None:
                families.gauge(m.DEVICE_IDEAL_CYCLE_TIME, labels, plan.ideal_cycle_time)


def _account(pairs: Pairs, view: AccountView, families: Families) -> None:
    """ISO 22400 time elements, parts and the shift and day gauges of one device."""
    labels = render_labels(pairs)
    for element in ELEMENTS:
        families.counter(m.DEVICE_TIME, render_labels((*pairs, ("element", element))), view.totals.seconds[element])
    for element, causes in view.losses.causes.items():
        for cause, seconds in causes.items():
            families.counter(m.DEVICE_LOSS, render_labels((*pairs, ("element", element), ("cause", cause))), seconds)
    for condition, codes in view.losses.alarms.items():
        for code, seconds in codes.items():
            families.counter(
                m.DEVICE_ALARM, render_labels((*pairs, ("condition", condition), ("native_code", code))), seconds
            )
    families.counter(m.DEVICE_PARTS_PRODUCED, labels, view.totals.produced)
    if view.quality_source == "bad_count":
        # produced - bad would drop whenever a part is judged bad after it was counted: not a counter.
        families.counter(m.DEVICE_PARTS_BAD, labels, view.totals.bad)
    else:
        good = good_parts(view.totals, view.quality_source)
        if good is not None:
            families.counter(m.DEVICE_PARTS_GOOD, labels, good)
    if view.has_ideal:
        families.counter(m.DEVICE_IDEAL_PRODUCTION, labels, view.totals.ideal)
    for kind, current, previous in (("shift", view.shift, view.previous_shift), ("day", view.day, view.previous_day)):
        for period_name, period in (("current", current), ("previous", previous)):
            if period is not None:
                _period(m.PERIODS[kind], (*pairs, ("period", period_name)), period, view, families)


def _period(names: m.PeriodFamilies, pairs: Pairs, period: Period, view: AccountView, families: Families) -> None:
    labels = render_labels(pairs)
    families.gauge(names.start, labels, period.start)
    families.gauge(names.end, labels, period.end)
    tally = period.tally
    for element in ELEMENTS:
        families.gauge(names.seconds, render_labels((*pairs, ("element", element))), tally.seconds[element])
    good = good_parts(tally, view.quality_source)
    for part_kind, count in (("produced", tally.produced), ("good", good)):
        if count is not None:
            families.gauge(names.parts, render_labels((*pairs, ("kind", part_kind))), count)
    if view.has_ideal:
        families.gauge(names.ideal, labels, tally.ideal)
    kpis = ratios(tally, view.quality_source, view.has_ideal)
    for family, value in (
        (names.oee, kpis.oee), (names.availability, kpis.availability),
        (names.performance, kpis.performance), (names.quality, kpis.quality),
    ):
        if value is not None:
            families.gauge(family, labels, value)


def _sample(labels: AgentLabels, tracker: SampleTracker, families: Families) -> None:
    name, documentation = tracker.metric, m.SAMPLE.help_for(tracker.item.type, tracker.item.category)
    if tracker.vector is not None:
        for axis, value in zip(_AXES, tracker.vector):
            families.gauge(m.SAMPLE, labels.item(tracker, (("axis", axis),)), value, name, documentation)
    elif tracker.value is not None:
        families.gauge(m.SAMPLE, labels.item(tracker), tracker.value, name, documentation)
    for key, value in tracker.entries.items():
        families.gauge(m.SAMPLE, labels.unbounded(tracker, (("key", key),)), value, name, documentation)


def _state(labels: AgentLabels, tracker: StateTracker, families: Families, agent_now: float) -> None:
    kind = tracker.item.type
    seconds = tracker.seconds_at(agent_now)
    for value in tracker.all_states():
        series = labels.item(tracker, (("state", value),))
        families.gauge(
            m.STATE, series, 1 if tracker.current == value else 0, tracker.metric, m.STATE.help_for(kind)
        )
        families.counter(
            m.STATE_SECONDS, series, seconds.get(value, 0.0),
            m.STATE_SECONDS.name_for(tracker.metric), m.STATE_SECONDS.help_for(kind),
        )
        families.counter(
            m.STATE_TRANSITIONS, series, tracker.transitions.get(value, 0),
            m.STATE_TRANSITIONS.name_for(tracker.metric), m.STATE_TRANSITIONS.help_for(kind),
        )


def _condition(labels: AgentLabels, tracker: ConditionTracker, families: Families) -> None:
    condition = (("condition", tracker.item.type),)
    for level in CONDITION_LEVELS:
        families.gauge(
            m.CONDITION_LEVEL,
            labels.item(tracker, (*condition, ("level", level))),
            1 if tracker.level == level else 0,
        )
    for level in ("warning", "fault"):
        families.counter(
            m.CONDITION_ACTIVATIONS,
            labels.item(tracker, (*condition, ("level", level))),
            tracker.activations[level],
        )
    for activation in tracker.active.values():
        families.gauge(
            m.CONDITION_ACTIVE,
            labels.unbounded(
                tracker,
                (
                    *condition,
                    ("level", activation.level),
                    ("native_code", activation.native_code),
                    ("native_severity", activation.native_severity),
                    ("qualifier", activation.qualifier),
                    ("message", activation.message),
                ),
            ),
            1,
        )


def _numeric_event(labels: AgentLabels, tracker: NumericEventTracker, families: Families) -> None:
    series = labels.item(tracker)
    if tracker.value is not None:
        families.gauge(
            m.NUMERIC_EVENT, series, tracker.value, tracker.metric, m.NUMERIC_EVENT.help_for(tracker.item.type)
        )
    if tracker.counts_parts:
        families.counter(m.PARTS, series, tracker.parts_total)


def _adapter_info(state: AgentState, items: list[AdapterItemTracker], families: Families) -> None:
    """One series per adapter of the Agent device, once any of its identity items has a value."""
    if all(tracker.value is None for tracker in items):
        return
    values = dict.fromkeys(ADAPTER_INFO_LABELS.values(), "")
    values.update((ADAPTER_INFO_LABELS[t.item.type], t.value) for t in items if t.value is not None)
    item = items[0].item
    families.gauge(
        m.ADAPTER_INFO,
        render_labels(
            (
                ("agent", state.name),
                *capped(
                    state,
                    (("device", item.device), ("component_id", item.component_id), ("adapter", item.component_name)),
                ),
                *sorted(values.items()),
            )
        ),
        1,
    )
