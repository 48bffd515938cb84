"""The running exporter: one state and one follower per configured agent, and config reloads."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .client import AgentClient
from .config import AgentConfig, Config, Settings
from .follower import AgentFollower
from .limits import SeriesBudget
from .planning import DevicePlan
from .snapshot import Snapshot, resume, take
from .state import AgentState, PlanLookup, StateSettings
from .storage import DEFAULT_INTERVAL_SECONDS, SnapshotStore, SnapshotWriter

log = logging.getLogger(__name__)

ClientFactory = Callable[[AgentConfig, int], AgentClient]


def agents_text(count: int) -> str:
    """"1 agent", "3 agents": for log lines and messages."""
    return f"{count} agent" if count == 1 else f"{count} agents"


@dataclass(frozen=True, slots=True)
class ReloadHealth:
    """How the last configuration (re)load went, as Prometheus reports its own: the start counts as a success."""

    successful: bool
    success_timestamp: float  # wall clock of the last load that succeeded


@dataclass(slots=True)
class FollowedAgent:
    config: AgentConfig
    state: AgentState
    follower: AgentFollower


def new_agent_state(
    agent: AgentConfig, settings: Settings, total_budget: SeriesBudget, plan_for: PlanLookup | None = None
) -> AgentState:
    """The state of one configured agent, its series budget drawn from the exporter-wide one; `plan_for`
    gives each device's planning, read at every booking (so a reloaded config's planning applies)."""
    return AgentState(
        agent.name,
        agent.url,
        StateSettings(
            event_info_types=settings.event_info_types,
            numeric_event_types=settings.numeric_event_types,
            max_label_value_length=settings.max_label_value_length,
            part_count_max_step=settings.part_count_max_step,
            devices=agent.devices,
            max_clock_skew=settings.max_clock_skew,
            timestamp_outlier_window=settings.timestamp_outlier_window,
        ),
        SeriesBudget(settings.max_series_per_agent, parent=total_budget),
        plan_for,
    )


class Exporter:
    """With a `storage`, each agent continues at start-up from its snapshot, and snapshots are written every
    `storage_interval` seconds while running and once more by `stop()`."""

    def __init__(
        self,
        config: Config,
        client_factory: ClientFactory = AgentClient,
        storage: SnapshotStore | None = None,
        storage_interval: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_factory = client_factory
        self._writer = SnapshotWriter(storage, self.snapshots, storage_interval) if storage is not None else None
        self._lock = threading.Lock()
        self._started = False
        self._clock = clock
        self.config = config
        self.reload_health = ReloadHealth(True, clock())
        self.total_budget = SeriesBudget(config.settings.max_series_total)
        self.agents: dict[str, FollowedAgent] = {}
        for agent in config.agents:
            followed = self.agents[agent.name] = self._follow(agent, config.settings)
            snapshot = storage.read(agent.name) if storage is not None else None
            if snapshot is not None:
                resume(followed.follower, snapshot)

    def _follow(self, agent: AgentConfig, settings: Settings) -> FollowedAgent:
        state = new_agent_state(agent, settings, self.total_budget, self.plan_for)
        client = self._client_factory(agent, settings.max_document_bytes)
        return FollowedAgent(agent, state, AgentFollower(agent, state, client, settings.max_document_bytes))

    def snapshots(self) -> dict[str, Snapshot | None]:
        """Each followed agent's snapshot (None while it has no consistent one: its file stays as it is)."""
        return {name: take(followed.follower) for name, followed in list(self.agents.items())}

    def states(self) -> list[AgentState]:
        return [followed.state for followed in self.agents.values()]

    def plan_for(self, agent: str, device: str) -> DevicePlan:
        return self.config.planning.plan_for(agent, device)

    def start(self) -> None:
        with self._lock:
            self._started = True
            for followed in self.agents.values():
                followed.follower.start()
            if self._writer is not None:
                self._writer.start()

    def stop(self) -> None:
        with self._lock:
            self._started = False
            for followed in self.agents.values():
                followed.follower.stop(timeout=0)
            # One deadline for all: followers stuck in a request must not add up to seconds.
            deadline = time.monotonic() + 0.5
            for followed in self.agents.values():
                followed.follower.stop(timeout=max(deadline - time.monotonic(), 0.0))
            if self._writer is not None:
                self._writer.stop()  # after the followers: the last snapshot holds all they applied

    def reload_from(self, load: Callable[[], Config]) -> None:
        """`load` a new config and apply it, recording the outcome in `reload_health` (SIGHUP and /-/reload).
        Raises what `load` raised; the old configuration then stays."""
        try:
            config = load()
        except Exception:
            self.reload_health = ReloadHealth(False, self.reload_health.success_timestamp)
            raise
        self.reload(config)
        self.reload_health = ReloadHealth(True, self._clock())

    def reload(self, config: Config) -> None:
        """Apply a new config: unchanged agents keep their state and their follower."""
        with self._lock:
            keep_settings = config.settings == self.config.settings
            if not keep_settings:
                self.total_budget.limit = config.settings.max_series_total
            agents: dict[str, FollowedAgent] = {}
            for agent in config.agents:
                current = self.agents.get(agent.name)
                if current is not None and current.config == agent and keep_settings:
                    agents[agent.name] = current
                    continue
                agents[agent.name] = self._follow(agent, config.settings)
            retired = [followed for name, followed in self.agents.items() if agents.get(name) is not followed]
            self.config = config
            self.agents = agents
            for followed in retired:
                followed.follower.stop(timeout=0.5)
                followed.state.release()
            fresh = [followed for followed in agents.values() if not followed.follower.started]
            if self._started:
                for followed in fresh:
                    followed.follower.start()
            log.info("configuration reloaded: %s, %d (re)started", agents_text(len(agents)), len(fresh))
