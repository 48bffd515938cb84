"""State: applying observations gives exact time in state, transitions, parts and alarm onsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from factorydash.conditions import ConditionTracker
from factorydash.limits import SeriesBudget
from factorydash.parser import parse_document
from factorydash.state import AgentState, StateSettings
from factorydash.trackers import NumericEventTracker, SampleTracker, StateTracker, TextEventTracker

from .agentdocs import T0, Obs, condition, current_mill, execution, part_count, probe, streams, ts

FIXTURES = Path(__file__).parent / "fixtures"


def new_state(settings: StateSettings | None = None, limit: int = 100_000) -> AgentState:
    state = AgentState("mill", "http://agent.test/", settings or StateSettings(), SeriesBudget(limit))
    state.load_model(parse_document(probe()))
    state.apply_current(parse_document(current_mill()), initial=True)
    return state


def sample(*observations: Obs, **header_kw) -> object:
    return parse_document(streams(observations, **header_kw))


def test_each_data_item_gets_the_tracker_of_its_kind():
    trackers = new_state().trackers
    assert isinstance(trackers["exec"], StateTracker)
    assert isinstance(trackers["xpos"], SampleTracker) and trackers["xpos"].metric == "mtconnect_position_meters"
    assert trackers["cspeed"].metric == "mtconnect_rotary_velocity_revolutions_per_minute"
    assert trackers["cload"].metric == "mtconnect_load_ratio"
    assert trackers["feed"].metric == "mtconnect_path_feedrate_meters_per_second"
    assert isinstance(trackers["pc"], NumericEventTracker) and trackers["pc"].metric == "mtconnect_part_count_value"
    assert isinstance(trackers["program"], TextEventTracker)
    assert "block" not in trackers  # free text not enabled in the config
    assert isinstance(trackers["system"], ConditionTracker)


def test_time_in_state_and_transitions_follow_the_scripted_sequence_to_the_second():
    state = new_state()
    script = [(60, "ACTIVE"), (300, "FEED_HOLD"), (303, "ACTIVE"), (600, "PROGRAM_COMPLETED"), (610, "READY")]
    for sequence, (at, value) in enumerate(script, start=10):
        state.apply_sample(sample(execution(sequence, value, at)))
    tracker = state.trackers["exec"]
    assert tracker.seconds == {"READY": 60.0, "ACTIVE": 240.0 + 297.0, "FEED_HOLD": 3.0, "PROGRAM_COMPLETED": 10.0}
    assert tracker.transitions == {"ACTIVE": 2, "FEED_HOLD": 1, "PROGRAM_COMPLETED": 1, "READY": 1}
    # The current state grows up to the agent's present.
    assert tracker.seconds_at(T0 + 650)["READY"] == 100.0


def test_a_value_outside_the_vocabulary_gets_its_own_state():
    state = new_state()
    state.apply_sample(sample(execution(10, "WARMING_UP", 10)))
    tracker = state.trackers["exec"]
    assert tracker.current == "WARMING_UP"
    assert "WARMING_UP" in list(tracker.all_states())
    assert tracker.transitions["WARMING_UP"] == 1


def test_parts_are_counted_across_resets_and_implausible_jumps_are_ignored():
    state = new_state(StateSettings(part_count_max_step=1000))
    values = ["1", "2", "3", "0", "1", "2", "UNAVAILABLE", "2", "599999", "3", "4"]
    for sequence, value in enumerate(values, start=10):
        state.apply_sample(sample(part_count(sequence, value, sequence)))
    tracker = state.trackers["pc"]
    # 0->1->2->3 (3), reset, 0->1->2 (2), UNAVAILABLE keeps the baseline, jump ignored, 2->3->4 (2)
    assert tracker.parts_total == 7
    assert tracker.value == 4


def test_a_controller_that_really_moves_its_counter_is_followed_after_the_jump():
    state = new_state(StateSettings(part_count_max_step=1000))
    for sequence, value in enumerate(["5", "50000", "50001", "50002"], start=10):
        state.apply_sample(sample(part_count(sequence, value, sequence)))
    assert state.trackers["pc"].parts_total == 5 + 2  # 0->5, the jump not counted, then 2 more


def test_several_faults_are_active_at_once_and_normal_clears_them():
    state = new_state()
    tracker = state.trackers["system"]
    state.apply_sample(sample(condition(10, "Fault", 1, "3AA", "Key non-functional")))
    state.apply_sample(sample(condition(11, "Fault", 2, "454B", "Limit switch Y-")))
    state.apply_sample(sample(condition(12, "Warning", 3, "W1", "Lube low")))
    assert tracker.level == "fault"
    assert sorted(tracker.active) == ["3AA", "454B", "W1"]
    state.apply_sample(sample(condition(13, "Normal", 4, "3AA")))
    assert sorted(tracker.active) == ["454B", "W1"]
    state.apply_sample(sample(condition(14, "Fault", 5, "454B", "Limit switch Y- again")))  # still active: no onset
    assert tracker.activations == {"warning": 1, "fault": 2}
    state.apply_sample(sample(condition(15, "Normal", 6)))
    assert tracker.active == {} and tracker.level == "normal"
    state.apply_sample(sample(condition(16, "Unavailable", 7)))
    assert tracker.level == "unavailable"


def test_a_warning_escalating_to_a_fault_is_a_fault_onset():
    state = new_state()
    state.apply_sample(sample(condition(10, "Warning", 1, "T1", "Spindle warm")))
    state.apply_sample(sample(condition(11, "Fault", 2, "T1", "Spindle hot")))
    tracker = state.trackers["system"]
    assert tracker.activations == {"warning": 1, "fault": 1}
    assert tracker.active["T1"].level == "fault" and tracker.active["T1"].message == "Spindle hot"


def test_a_resync_from_current_counts_only_activations_that_are_new():
    state = new_state()
    state.apply_sample(sample(condition(10, "Fault", 1, "A", "one")))
    current = streams([condition(20, "Fault", 1, "A", "one"), condition(21, "Fault", 30, "B", "two")], next_=22, last=21)
    state.apply_current(parse_document(current), initial=False)
    tracker = state.trackers["system"]
    assert sorted(tracker.active) == ["A", "B"]
    assert tracker.activations["fault"] == 2


def test_alarms_active_before_the_exporter_started_are_shown_but_not_counted_as_onsets():
    state = AgentState("mill", "http://agent.test/", StateSettings(), SeriesBudget(10_000))
    state.load_model(parse_document(probe()))
    state.apply_current(parse_document(streams([condition(5, "Fault", 0, "A", "old alarm")])), initial=True)
    tracker = state.trackers["system"]
    assert list(tracker.active) == ["A"] and tracker.activations["fault"] == 0


def test_samples_are_scaled_to_base_units_and_unavailable_removes_the_value():
    state = new_state()
    state.apply_sample(
        sample(
            Obs("xpos", 10, "150.5", ts(1), "Position", "Samples", "Linear", "x"),
            Obs("cload", 11, "42", ts(1), "Load", "Samples", "Rotary", "c"),
            Obs("ppos", 12, "1000 -20 5", ts(1), "PathPosition", "Samples"),
        )
    )
    assert state.trackers["xpos"].value == pytest.approx(0.1505)
    assert state.trackers["cload"].value == pytest.approx(0.42)
    assert state.trackers["ppos"].vector == pytest.approx((1.0, -0.02, 0.005))
    state.apply_sample(sample(Obs("xpos", 13, "UNAVAILABLE", ts(2), "Position", "Samples", "Linear", "x")))
    assert state.trackers["xpos"].value is None


def test_data_set_deltas_add_update_and_remove_keys():
    state = new_state()

    def dataset(sequence, children, **attributes):
        return Obs("vars", sequence, "", ts(sequence), "VariableDataSet", children=children, attributes=attributes)

    state.apply_sample(sample(dataset(10, '<Entry key="a">1</Entry><Entry key="b">2</Entry>')))
    state.apply_sample(sample(dataset(11, '<Entry key="b">3</Entry><Entry key="c">x</Entry>')))
    assert state.trackers["vars"].entries == {"a": 1.0, "b": 3.0}  # text entries are not numbers
    state.apply_sample(sample(dataset(12, '<Entry key="a" removed="true"/>')))
    assert state.trackers["vars"].entries == {"b": 3.0}
    state.apply_sample(sample(dataset(13, '<Entry key="z">9</Entry>', resetTriggered="MANUAL")))
    assert state.trackers["vars"].entries == {"z": 9.0}


def test_the_series_cap_drops_new_series_and_counts_them():
    state = new_state(limit=10_000)
    state.budget.limit = state.budget.used + 1
    state.apply_sample(sample(condition(10, "Fault", 1, "A"), condition(11, "Fault", 1, "B")))
    tracker = state.trackers["system"]
    assert list(tracker.active) == ["A"]
    # B's activation series, and the alarm seconds series of A and B (mtconnect_device_alarm_seconds_total)
    assert state.counters.dropped_series == 3
    assert tracker.level == "fault"


def test_a_probe_bigger_than_the_cap_exports_what_fits_and_counts_the_rest():
    state = AgentState("mill", "http://agent.test/", StateSettings(), SeriesBudget(20))
    state.load_model(parse_document(probe()))
    assert 0 < sum(t.static_series for t in state.trackers.values()) <= 20
    assert state.counters.dropped_series > 0


def test_observations_of_undeclared_items_are_set_aside_and_counted_apart_from_declared_unexported_ones():
    state = new_state()
    state.apply_sample(sample(Obs("new-item", 10, "1", ts(1), "Line")))
    assert (state.counters.undeclared, state.counters.observations) == (1, 1)
    assert "new-item" not in state.trackers
    state.apply_sample(sample(Obs("block", 11, "G01 X1", ts(1), "Block")))  # declared, just not exported
    assert (state.counters.undeclared, state.counters.observations) == (1, 2)


def test_the_device_filter_keeps_only_the_named_devices():
    state = AgentState("cell", "http://agent.test/", StateSettings(devices=("hmc-1",)), SeriesBudget(10_000))
    state.load_model(parse_document((FIXTURES / "agent-2.x-probe.xml").read_bytes()))
    assert [device.name for device in state.devices] == ["HMC1"]
    assert "adapter_conn" not in state.trackers and "exec" in state.trackers


def test_an_activation_beyond_the_cap_repeated_later_is_not_a_second_onset():
    state = new_state(limit=10_000)
    state.budget.limit = state.budget.used  # no room for any activation series
    for sequence in (10, 11):  # the agent repeats the same active Fault
        state.apply_sample(sample(condition(sequence, "Fault", sequence, "A", "over the cap")))
    tracker = state.trackers["system"]
    assert tracker.activations["fault"] == 1 and tracker.active == {}
    # its activation series and its alarm seconds series, each counted once
    assert tracker.level == "fault" and state.counters.dropped_series == 2
    state.apply_current(parse_document(streams([condition(20, "Fault", 20, "A", "over the cap")], next_=21, last=20)), initial=False)
    assert tracker.activations["fault"] == 1  # a resync still lists it: not new
    state.apply_sample(sample(condition(21, "Normal", 21, "A")))
    assert tracker.level == "normal" and tracker.unexported == {}
