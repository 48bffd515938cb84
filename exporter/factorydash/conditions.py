"""The tracker of a CONDITION data item: its level, every active Warning/Fault activation, and their onsets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .limits import cap_label_value
from .parser import Observation
from .trackers import Tracker

if TYPE_CHECKING:
    from .state import AgentState

CONDITION_LEVELS = ("normal", "warning", "fault", "unavailable")


@dataclass(frozen=True, slots=True)
class Activation:
    level: str
    native_code: str
    native_severity: str
    qualifier: str
    message: str
    since: str


# Activations active beyond the series cap are remembered (a repeat is no new onset, and they keep the
# level) up to this many per condition item; beyond it they are only counted, so a flood of alarm codes
# costs neither memory nor CPU.
MAX_UNEXPORTED_ACTIVATIONS = 100


@dataclass(slots=True)
class ConditionTracker(Tracker):
    """A CONDITION item: its level, every active Warning/Fault, and their onsets."""

    level: str = "unavailable"
    active: dict[str, Activation] = field(default_factory=dict)
    # Activations active beyond the series cap: no series, but known, so a repeat is no new onset.
    unexported: dict[str, Activation] = field(default_factory=dict)
    activations: dict[str, int] = field(default_factory=lambda: {"warning": 0, "fault": 0})
    # How many active + unexported activations are at each level: the level without a scan.
    active_levels: dict[str, int] = field(default_factory=lambda: {"warning": 0, "fault": 0})

    def apply(self, observation: Observation, state: AgentState) -> None:
        level = observation.level or "unavailable"
        if level == "unavailable":
            self._clear_all()
            self.level = "unavailable"
            return
        key = _activation_key(observation, state)
        if level == "normal":
            if key:
                self._forget(key)
            else:
                self._clear_all()
            self._relevel()
            return
        limit = state.settings_label_limit
        activation = Activation(
            level,
            cap_label_value(observation.native_code, limit),
            cap_label_value(observation.native_severity, limit),
            cap_label_value(observation.qualifier, limit),
            cap_label_value(observation.value, limit),
            observation.timestamp,
        )
        previous = self.active.get(key)
        if previous is None:
            unexported = self.unexported.get(key)
            unexported_level = None if unexported is None else unexported.level
            if unexported_level != level:
                self.activations[level] += 1
            if unexported_level is not None:
                self._count_level(unexported_level, -1)
                self.unexported[key] = activation
                self._count_level(level, 1)
                self._relevel()
                return
            if not self.reserve(1):
                state.count_dropped(self.item, 1)
                if len(self.unexported) < MAX_UNEXPORTED_ACTIVATIONS:
                    self.unexported[key] = activation
                    self._count_level(level, 1)
                self._relevel()
                return
            self._count_level(level, 1)
        elif previous.level != level:
            self.activations[level] += 1
            self._count_level(previous.level, -1)
            self._count_level(level, 1)
        else:
            activation = Activation(
                level, activation.native_code, activation.native_severity, activation.qualifier,
                activation.message, previous.since,
            )
        self.active[key] = activation
        self._relevel()

    def replace_from_current(self, observations: list[Observation], state: AgentState) -> None:
        """A `/current` document lists every active activation: it replaces what we had."""
        before = {key: activation.level for key, activation in (*self.active.items(), *self.unexported.items())}
        self._clear_all()
        self.level = "normal"
        for observation in observations:
            key = _activation_key(observation, state)
            self.apply(observation, state)
            if observation.level in ("warning", "fault") and before.get(key) == observation.level:
                self.activations[observation.level] -= 1  # not a new onset: it was active before
            if state.initial_current and observation.level in ("warning", "fault") and key not in before:
                self.activations[observation.level] -= 1  # active before we started: onset not seen

    def _forget(self, key: str) -> None:
        removed = self.active.pop(key, None)
        if removed is not None:
            self.give_back(1)
            self._count_level(removed.level, -1)
        unexported = self.unexported.pop(key, None)
        if unexported is not None:
            self._count_level(unexported.level, -1)

    def _clear_all(self) -> None:
        self.unexported.clear()
        if self.active:
            self.give_back(len(self.active))
            self.active.clear()
        for level in self.active_levels:
            self.active_levels[level] = 0

    def _count_level(self, level: str, change: int) -> None:
        self.active_levels[level] += change

    def _relevel(self) -> None:
        levels = self.active_levels
        self.level = "fault" if levels["fault"] else "warning" if levels["warning"] else "normal"

    def fault_codes(self) -> tuple[str, ...]:
        """Native codes (the conditionId where there is none) of the active Fault activations, with a
        series or not: what the device's alarm seconds are booked for."""
        return tuple(
            activation.native_code or key
            for key, activation in (*self.active.items(), *self.unexported.items())
            if activation.level == "fault"
        )


def _activation_key(observation: Observation, state: AgentState) -> str:
    """An activation's identity (conditionId, else nativeCode), capped: an agent's string is never kept whole."""
    return cap_label_value(observation.condition_id or observation.native_code, state.settings_label_limit)
