"""The simulated shop floor: a real MTConnect agent over HTTP for demos, tests and benchmarks.

    shop = ShopFloor(seed=1, clock="manual", start=datetime(2026, 1, 5, 6, tzinfo=UTC))
    with SimulatorServer(shop) as server:   # server.url == "http://127.0.0.1:PORT/"
        shop.schedule(60, EmergencyStop("Mill5X-01", duration=120))
        shop.advance(3600)                   # one simulated hour, no sleeping
        truth = shop.ground_truth("Mill5X-01", 0, 3600)
"""

from .agent import SCHEMA_VERSIONS, Agent, AgentError, Condition
from .clock import ManualClock, RealClock
from .events import (
    AdapterDropout,
    AgentRestart,
    ConditionFault,
    ConditionWarning,
    EmergencyStop,
    FeedHold,
    Interruption,
    ScriptedEvent,
)
from .floor import Floor
from .machines import CONDITION_ROLES, MachineInfo
from .replay import ReplayFloor
from .server import SimulatorServer
from .shopfloor import ShopFloor
from .truth import GroundTruth, Onset

__all__ = [
    "CONDITION_ROLES",
    "SCHEMA_VERSIONS",
    "AdapterDropout",
    "Agent",
    "AgentError",
    "AgentRestart",
    "Condition",
    "ConditionFault",
    "ConditionWarning",
    "EmergencyStop",
    "FeedHold",
    "Floor",
    "GroundTruth",
    "Interruption",
    "MachineInfo",
    "ManualClock",
    "Onset",
    "RealClock",
    "ReplayFloor",
    "ScriptedEvent",
    "ShopFloor",
    "SimulatorServer",
]
