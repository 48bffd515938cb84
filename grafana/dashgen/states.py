"""MTConnect state vocabularies: the code each state gets in a timeline and its colour."""

from __future__ import annotations

from dataclasses import dataclass

GREEN, AMBER, RED, BLUE, PURPLE, GREY = "green", "#FFBF00", "red", "blue", "purple", "#8E8E8E"


@dataclass(frozen=True)
class State:
    """One value of a closed MTConnect vocabulary, drawn as `code` in a timeline."""

    value: str
    code: int
    colour: str


# Codes grow with what a supervisor wants to see first: when a machine has
# several paths, `max by (agent, device)` shows ACTIVE if any path is cutting.
EXECUTION = (
    State("UNAVAILABLE", 1, GREY),
    State("STOPPED", 2, RED),
    State("PROGRAM_STOPPED", 3, "dark-red"),
    State("PROGRAM_OPTIONAL_STOP", 4, PURPLE),
    State("OPTIONAL_STOP", 5, PURPLE),
    State("PROGRAM_COMPLETED", 6, "light-blue"),
    State("WAIT", 7, BLUE),
    State("READY", 8, BLUE),
    State("INTERRUPTED", 9, AMBER),
    State("FEED_HOLD", 10, AMBER),
    State("ACTIVE", 11, GREEN),
)
CONTROLLER_MODE = (
    State("UNAVAILABLE", 1, GREY),
    State("EDIT", 2, PURPLE),
    State("FEED_HOLD", 3, AMBER),
    State("MANUAL", 4, "yellow"),
    State("MANUAL_DATA_INPUT", 5, BLUE),
    State("SEMI_AUTOMATIC", 6, "light-green"),
    State("AUTOMATIC", 7, GREEN),
)
AVAILABILITY = (State("UNAVAILABLE", 1, GREY), State("AVAILABLE", 2, GREEN))
EMERGENCY_STOP = (State("UNAVAILABLE", 1, GREY), State("ARMED", 2, GREEN), State("TRIGGERED", 3, RED))
AGENT_UP = (State("DOWN", 0, RED), State("UP", 1, GREEN))
