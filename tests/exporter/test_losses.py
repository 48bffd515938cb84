"""The downtime Pareto: loss seconds by cause and alarm seconds by native code (docs/time-accounting.md section 5).

Each scenario is a timeline written out here; the expected seconds are worked out by hand from it, never
by the code under test, and read back from the collector's exposition.
"""

from __future__ import annotations

from factorydash.parser import parse_document
from factorydash.planning import DevicePlan
from factorydash.state import StateSettings
from factorydash.vocabularies import CLOSED_VOCABULARIES

from .agentdocs import probe
from .test_accounting import CALENDAR, HOUR, Timeline, current, elements, exposition, follow

# A two-path lathe with a device-level FUNCTIONAL_MODE and a SYSTEM condition on its controller.
LATHE_ITEMS = """
<DataItems>
  <DataItem category="EVENT" id="avail" type="AVAILABILITY"/>
  <DataItem category="EVENT" id="fmode" type="FUNCTIONAL_MODE"/>
</DataItems>
<Components><Controller id="cont" name="controller">
  <DataItems><DataItem category="CONDITION" id="system" type="SYSTEM"/></DataItems>
  <Components>
    <Path id="p1" name="main"><DataItems>
      <DataItem category="EVENT" id="exec1" type="EXECUTION"/>
      <DataItem category="EVENT" id="mode1" type="CONTROLLER_MODE"/>
    </DataItems></Path>
    <Path id="p2" name="sub"><DataItems>
      <DataItem category="EVENT" id="exec2" type="EXECUTION"/>
      <DataItem category="EVENT" id="mode2" type="CONTROLLER_MODE"/>
    </DataItems></Path>
  </Components>
</Controller></Components>
"""
AT_REST = [
    ("avail", "AVAILABLE", "Availability", "Device", "d1"),
    ("fmode", "PRODUCTION", "FunctionalMode", "Device", "d1"),
    ("exec1", "READY", "Execution", "Path", "p1"),
    ("mode1", "AUTOMATIC", "ControllerMode", "Path", "p1"),
    ("exec2", "READY", "Execution", "Path", "p2"),
    ("mode2", "AUTOMATIC", "ControllerMode", "Path", "p2"),
    ("system", "", "Normal", "Controller", "cont"),
]
# Every cause of the closed set, at 0: what a scrape shows before anything is booked.
NO_LOSS = {
    "delay": {"INTERRUPTED": 0, "FEED_HOLD": 0, "OPTIONAL_STOP": 0, "FAULT": 0},
    "down": {"STOPPED": 0, "PROGRAM_STOPPED": 0, "WAIT": 0, "PROGRAM_OPTIONAL_STOP": 0, "PROGRAM_COMPLETED": 0,
             "READY": 0, "OTHER": 0},
    "setup": {"FUNCTIONAL_MODE_SETUP": 0, "MANUAL_MODE": 0},
    "unavailable": {"AVAILABILITY": 0, "EXECUTION_UNAVAILABLE": 0, "AGENT_RESTART": 0},
}


def test_every_execution_value_but_active_and_unavailable_is_a_delay_or_down_cause():
    named = {*NO_LOSS["delay"], *NO_LOSS["down"]} - {"FAULT", "OTHER"}
    assert named == set(CLOSED_VOCABULARIES["EXECUTION"]) - {"ACTIVE", "UNAVAILABLE"}


def losses(metrics: dict) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for (name, pairs), amount in metrics.items():
        if name == "mtconnect_device_loss_seconds_total":
            labels = dict(pairs)
            found.setdefault(labels["element"], {})[labels["cause"]] = amount
    return found


def alarms(metrics: dict) -> dict[tuple[str, str], float]:
    return {
        (dict(pairs)["condition"], dict(pairs)["native_code"]): amount
        for (name, pairs), amount in metrics.items()
        if name == "mtconnect_device_alarm_seconds_total"
    }


def with_losses(**causes: dict[str, float]) -> dict[str, dict[str, float]]:
    return {element: {**zeros, **causes.get(element, {})} for element, zeros in NO_LOSS.items()}


def fault(timeline: Timeline, t: float, level: str, code: str = "", condition_id: str = "") -> None:
    attributes = {"type": "SYSTEM", **({"nativeCode": code} if code else {}),
                  **({"conditionId": condition_id} if condition_id else {})}
    timeline.add(t, "system", "", level, "Condition", "Controller", "cont", attributes)


def device_event(timeline: Timeline, t: float, item: str, value: str, element: str) -> None:
    timeline.add(t, item, value, element, component="Device", component_id="d1")


def lathe_shift() -> Timeline:
    """06:00-14:00 with a break 10:00-10:30; seconds after 06:00 (break 14400-16200, shift end 28800)."""
    shift = Timeline()
    device_event(shift, 300, "fmode", "SETUP", "FunctionalMode")  # setup by FUNCTIONAL_MODE ...
    shift.execution(600, "ACTIVE", "exec1")  # ... also while the path runs
    device_event(shift, 900, "fmode", "PRODUCTION", "FunctionalMode")
    shift.mode(1200, "MANUAL_DATA_INPUT", "mode1")  # setup by a manual mode while ACTIVE
    shift.mode(1500, "AUTOMATIC", "mode1")
    shift.execution(2000, "FEED_HOLD", "exec1")
    shift.execution(2060, "ACTIVE", "exec1")
    shift.execution(2500, "FEED_HOLD", "exec1")
    shift.execution(2590, "ACTIVE", "exec1")
    fault(shift, 3000, "Fault", "E17")  # a fault while ACTIVE: production, its alarm seconds still count
    fault(shift, 3400, "Normal", "E17")
    shift.execution(3600, "INTERRUPTED", "exec1")
    shift.execution(3700, "FEED_HOLD", "exec2", "p2")  # paths differ: INTERRUPTED comes first
    shift.execution(3800, "READY", "exec1")  # the sub path's FEED_HOLD alone
    shift.execution(3850, "READY", "exec2", "p2")
    shift.execution(4000, "STOPPED", "exec1")  # STOPPED beside an idle READY path
    shift.execution(4300, "READY", "exec1")
    fault(shift, 5000, "Fault", "E42")  # a fault while READY: delay
    fault(shift, 5300, "Fault", condition_id="c-77")  # a second fault without a native code
    fault(shift, 5500, "Normal", condition_id="c-77")
    fault(shift, 5600, "Normal", "E42")
    fault(shift, 14000, "Fault", "E42")  # into the break: only its planned part counts
    fault(shift, 14700, "Normal", "E42")
    shift.execution(17000, "ACTIVE", "exec1")
    device_event(shift, 20000, "avail", "UNAVAILABLE", "Availability")  # the adapter disconnects
    shift.execution(20000, "UNAVAILABLE", "exec1")
    shift.execution(20000, "UNAVAILABLE", "exec2", "p2")
    fault(shift, 20000, "Unavailable")
    device_event(shift, 21000, "avail", "AVAILABLE", "Availability")  # and reconnects
    shift.execution(21000, "READY", "exec1")
    shift.execution(21000, "READY", "exec2", "p2")
    fault(shift, 21000, "Normal")
    shift.execution(22000, "UNAVAILABLE", "exec1")  # the control is off, the adapter still connected
    shift.execution(22000, "UNAVAILABLE", "exec2", "p2")
    shift.execution(22300, "X_HALTED", "exec1")  # a vendor value outside the vocabulary
    shift.execution(22600, "READY", "exec2", "p2")  # READY comes before OTHER
    shift.execution(22900, "READY", "exec1")
    shift.execution(24000, "ACTIVE", "exec1")
    shift.execution(27000, "WAIT", "exec1")
    shift.execution(27200, "ACTIVE", "exec1")
    shift.execution(28000, "PROGRAM_COMPLETED", "exec1")
    shift.execution(29000, "READY", "exec1")  # after the shift end
    return shift


def test_a_shift_splits_delay_down_setup_and_unavailable_by_cause_and_counts_each_alarms_planned_seconds():
    state = follow(DevicePlan(CALENDAR, 60.0), LATHE_ITEMS, "Lathe")
    state.apply_current(current(0, AT_REST), initial=True)
    assert losses(exposition(state)) == NO_LOSS  # every cause from the start, at 0
    assert alarms(exposition(state)) == {}
    state.apply_sample(lathe_shift().document(creation=29400))
    metrics = exposition(state)

    expected = with_losses(
        delay={"FEED_HOLD": 60 + 90 + (3850 - 3800), "INTERRUPTED": 3800 - 3600,
               "FAULT": (5600 - 5000) + (14400 - 14000)},
        down={"READY": 300 + (4000 - 3850) + (5000 - 4300) + (14000 - 5600) + (17000 - 16200) + (22000 - 21000)
              + (24000 - 22600),
              "STOPPED": 300, "OTHER": 22600 - 22300, "WAIT": 200, "PROGRAM_COMPLETED": 28800 - 28000},
        setup={"FUNCTIONAL_MODE_SETUP": 900 - 300, "MANUAL_MODE": 1500 - 1200},
        unavailable={"AVAILABILITY": 21000 - 20000, "EXECUTION_UNAVAILABLE": 22300 - 22000},
    )
    production = (1200 - 900) + (2000 - 1500) + (2500 - 2060) + (3600 - 2590) + (20000 - 17000) + (27000 - 24000) + (
        28000 - 27200)
    planned_busy = 8 * HOUR - 1800
    assert production + sum(sum(causes.values()) for causes in expected.values()) == planned_busy  # hand check

    assert losses(metrics) == expected
    time_elements = elements(metrics, "mtconnect_device_time_seconds_total")
    assert time_elements["production"] == production and time_elements["planned_busy"] == planned_busy
    for element, causes in losses(metrics).items():
        assert sum(causes.values()) == time_elements[element], element  # the causes add up to the element
    assert alarms(metrics) == {
        ("SYSTEM", "E17"): 3400 - 3000,  # during production
        ("SYSTEM", "E42"): (5600 - 5000) + (14400 - 14000),  # its part in the break does not count
        ("SYSTEM", "c-77"): 5500 - 5300,  # named by its conditionId
    }


def test_a_different_execution_on_each_path_gives_the_cause_of_the_precedence():
    pairs = [  # (path 1, path 2) -> (element, cause)
        (("FEED_HOLD", "INTERRUPTED"), ("delay", "INTERRUPTED")),
        (("OPTIONAL_STOP", "FEED_HOLD"), ("delay", "FEED_HOLD")),
        (("STOPPED", "OPTIONAL_STOP"), ("delay", "OPTIONAL_STOP")),
        (("READY", "PROGRAM_STOPPED"), ("down", "PROGRAM_STOPPED")),
        (("WAIT", "PROGRAM_STOPPED"), ("down", "PROGRAM_STOPPED")),
        (("PROGRAM_COMPLETED", "WAIT"), ("down", "WAIT")),
        (("PROGRAM_COMPLETED", "PROGRAM_OPTIONAL_STOP"), ("down", "PROGRAM_OPTIONAL_STOP")),
        (("READY", "PROGRAM_COMPLETED"), ("down", "PROGRAM_COMPLETED")),
        (("UNAVAILABLE", "READY"), ("down", "READY")),
        (("X_HALTED", "UNAVAILABLE"), ("down", "OTHER")),
    ]
    for (first, second), (element, cause) in pairs:
        state = follow(DevicePlan(None, None), LATHE_ITEMS, "Lathe")
        state.apply_current(current(0, AT_REST), initial=True)
        timeline = Timeline()
        timeline.execution(100, first, "exec1")
        timeline.execution(100, second, "exec2", "p2")
        timeline.execution(400, "READY", "exec1")
        timeline.execution(400, "READY", "exec2", "p2")
        state.apply_sample(timeline.document(creation=400))
        found = losses(exposition(state))
        expected = with_losses(down={"READY": 100})
        expected[element][cause] += 300
        assert found == expected, (first, second)


def test_the_causes_and_alarms_survive_a_reprobe_and_an_agent_restart_whose_gap_is_agent_restart():
    state = follow(DevicePlan(CALENDAR, 60.0), LATHE_ITEMS, "Lathe")
    state.apply_current(current(27600, AT_REST), initial=True)  # 13:40
    faulted = Timeline()
    fault(faulted, 27700, "Fault", "E42")
    state.apply_sample(faulted.document(creation=27700))
    state.apply_sample(Timeline().document(creation=27760))  # a heartbeat: the open fault has shown 60 s
    metrics = exposition(state)
    assert alarms(metrics) == {("SYSTEM", "E42"): 60}
    assert losses(metrics) == with_losses(down={"READY": 100}, delay={"FAULT": 60})
    used = state.budget.used

    # The agent comes back at 14:10 with a new instance: 13:42:40-14:00 of the gap is planned.
    state.load_model(parse_document(probe(device="Lathe", data_items=LATHE_ITEMS, instance_id="1700000002")))
    restarted = [(item, "UNAVAILABLE", element, component, component_id)
                 for item, _, element, component, component_id in AT_REST[:-1]]
    state.apply_current(current(8 * HOUR + 600, [*restarted, ("system", "", "Unavailable", "Controller", "cont")],
                                instance_id="1700000002"), initial=True)
    metrics = exposition(state)
    assert alarms(metrics) == {("SYSTEM", "E42"): 60}
    assert losses(metrics) == with_losses(
        down={"READY": 100}, delay={"FAULT": 60}, unavailable={"AGENT_RESTART": 8 * HOUR - 27760}
    )
    assert elements(metrics, "mtconnect_device_time_seconds_total")["unavailable"] == 8 * HOUR - 27760
    # E42's activation series went with its activation; its alarm series was reserved once, and is kept.
    assert state.budget.used == used - 1
    state.release()  # the agent is removed from the config: its alarm series go back too
    assert state.budget.used == 0


def test_alarm_series_are_capped_by_the_series_budget_and_per_device_and_the_dropped_ones_are_counted():
    state = follow(DevicePlan(None, None), LATHE_ITEMS, "Lathe")
    state.apply_current(current(0, AT_REST), initial=True)
    state.budget.limit = state.budget.used + 2  # one activation series and one alarm series
    timeline = Timeline()
    fault(timeline, 100, "Fault", "E1")
    fault(timeline, 200, "Normal", "E1")  # gives its activation series back; its alarm series stays
    fault(timeline, 300, "Fault", "E2")  # an activation series, but no room for an alarm series
    fault(timeline, 400, "Normal", "E2")
    fault(timeline, 500, "Fault", "E1")  # E1 again: it has its series
    fault(timeline, 650, "Normal", "E1")
    timeline.execution(1000, "ACTIVE", "exec1")
    state.apply_sample(timeline.document(creation=1000))
    metrics = exposition(state)
    assert alarms(metrics) == {("SYSTEM", "E1"): 100 + 150}
    assert losses(metrics)["delay"]["FAULT"] == 100 + 100 + 150  # the delay is booked all the same
    assert state.counters.dropped_series == 1

    state.budget.limit = 1_000_000  # the budget has room: the device's own cap still holds
    many = Timeline()
    for code in range(150):
        fault(many, 2000 + 10 * code, "Fault", f"A{code}")
        fault(many, 2005 + 10 * code, "Normal", f"A{code}")
    state.apply_sample(many.document(creation=4000))
    assert len(alarms(exposition(state))) == 100
    assert state.counters.dropped_series == 1 + (150 - 99)


def test_an_alarm_named_by_a_long_condition_id_is_cut_like_other_label_values():
    state = follow(DevicePlan(None, None), LATHE_ITEMS, "Lathe", settings=StateSettings(max_label_value_length=8))
    state.apply_current(current(0, AT_REST), initial=True)
    timeline = Timeline()
    fault(timeline, 100, "Fault", condition_id="spindle-overload-17")
    fault(timeline, 160, "Fault", "LONG-NATIVE-CODE")
    timeline.execution(200, "ACTIVE", "exec1")
    state.apply_sample(timeline.document(creation=200))
    assert alarms(exposition(state)) == {("SYSTEM", "spindle\u2026"): 100, ("SYSTEM", "LONG-NA\u2026"): 40}
