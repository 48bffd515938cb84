"""Scripted events a test or demo schedules on the shop floor (`ShopFloor.schedule`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmergencyStop:
    device: str
    duration: float


@dataclass(frozen=True)
class FeedHold:
    device: str
    duration: float


@dataclass(frozen=True)
class Interruption:
    device: str
    duration: float


@dataclass(frozen=True)
class ConditionFault:
    """A Fault on a condition role (see CONDITION_ROLES) that stops the machine for `duration`."""

    device: str
    duration: float
    condition: str = "system"
    native_code: str = "F900"
    text: str = "SCRIPTED FAULT"
    native_severity: str = "2"
    qualifier: str = ""


@dataclass(frozen=True)
class ConditionWarning:
    """A Warning on a condition role that clears after `duration`; the machine keeps running."""

    device: str
    duration: float
    condition: str = "system"
    native_code: str = "W900"
    text: str = "SCRIPTED WARNING"
    native_severity: str = "1"
    qualifier: str = ""


@dataclass(frozen=True)
class AdapterDropout:
    device: str
    duration: float


@dataclass(frozen=True)
class AgentRestart:
    pass


ScriptedEvent = EmergencyStop | FeedHold | Interruption | ConditionFault | ConditionWarning | AdapterDropout | AgentRestart
